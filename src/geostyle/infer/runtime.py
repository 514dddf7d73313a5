"""Generator runtimes: the same two calls served by PyTorch, ONNX Runtime or OpenVINO.

Every runtime answers

* ``frame(image)``: the whole frame without a warp, ``image (1, 3, H, W)`` float32 in ``[-1, 1]``
  with ``H, W`` multiples of 8 -> ``(1, 3, H, W)``;
* ``face(crop, grid, warped)``: an aligned face crop ``(1, 3, S, S)``, the backward TPS field toward
  the style geometry at the resolution of the features it warps, ``grid (1, S/4, S/4, 2)``
  (normalised frame, ``align_corners=False``), and the crop already resampled by that field,
  ``warped (1, 3, S, S)`` (the compositor gets it in the same resampling that cuts the crop, so the
  graph skips its most expensive node) -> ``(1, 3, S, S)`` in the style geometry.

ONNX graphs have fixed input sizes (measured ~10 % faster than dynamic axes in ONNX Runtime here);
they are exported from the loaded PyTorch generator on first use of each size (about a second) and
kept. The exported graph is exactly what ``geostyle export`` writes, so parity tests cover both.
"""

from __future__ import annotations

import tempfile
import threading
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from geostyle.errors import BackendUnavailableError, GeostyleError
from geostyle.nets.blocks import pooled_box_filters

RUNTIMES = ("torch", "onnx", "openvino")
# Distinct input sizes kept per runtime (a folder of photos of many sizes re-exports beyond this).
MAX_CACHED_GRAPHS = 8


class GeneratorRuntime(Protocol):
    name: str

    def frame(self, image: np.ndarray) -> np.ndarray: ...

    def face(self, crop: np.ndarray, grid: np.ndarray, warped: np.ndarray) -> np.ndarray: ...


class TorchRuntime:
    """Runs the PyTorch generator directly (eval mode, no autograd). Box filters (a cartoon base's)
    pool as the exported graphs do (:func:`geostyle.nets.blocks.pooled_box_filters`; separable
    there, mostly one square pass in the graphs), so every runtime draws the same base, up to float
    rounding."""

    name = "torch"

    def __init__(self, generator: torch.nn.Module, threads: int = 0) -> None:
        if threads > 0:
            torch.set_num_threads(threads)
        self.generator = generator.eval()

    @torch.no_grad()
    def frame(self, image: np.ndarray) -> np.ndarray:
        with pooled_box_filters():
            return self.generator(torch.from_numpy(image)).numpy()

    @torch.no_grad()
    def face(self, crop: np.ndarray, grid: np.ndarray, warped: np.ndarray) -> np.ndarray:
        with pooled_box_filters():
            return self.generator(
                torch.from_numpy(crop), torch.from_numpy(grid), torch.from_numpy(warped)
            ).numpy()


def export_graph(
    generator: torch.nn.Module,
    path: str | Path,
    kind: str,
    height: int,
    width: int,
    gather_warp: bool = True,
    opset: int = 17,
) -> Path:
    """Export the ``"frame"`` graph (``image -> stylized``) or the ``"face"`` graph
    (``image, grid (S/4 field), warped -> stylized``) of ``generator`` at a fixed size."""
    from geostyle.nets.generator import export_generator_onnx

    if kind not in ("frame", "face"):
        raise GeostyleError(f"unknown graph kind {kind!r}; expected 'frame' or 'face'")
    if height % 8 or width % 8:
        raise GeostyleError(f"graph size must be a multiple of 8, got {height}x{width}")
    with warnings.catch_warnings():
        # TorchScript-path export warns about tracing asserts and constant folding; the graph is
        # checked by parity tests instead.
        warnings.simplefilter("ignore")
        return export_generator_onnx(
            generator,
            path,
            height,
            width,
            grid_size=(height // 4, width // 4),
            with_grid=kind == "face",
            warped_input=kind == "face",
            gather_warp=gather_warp,
            opset_version=opset,
        )


# One export at a time in the whole process: PyTorch's ONNX exporter keeps global state (two exports
# at once fail its assertions: a background pass asking for its graph while the face pass asks for
# another, or two models of the web app on their first frames).
_EXPORT_LOCK = threading.RLock()


class _GraphCache:
    """Exports and compiles graphs on first use of a (kind, size), least recently used dropped."""

    def __init__(self, generator: torch.nn.Module, compile_fn, gather_warp: bool) -> None:
        self.generator = generator
        self.compile_fn = compile_fn
        self.gather_warp = gather_warp
        self.graphs: OrderedDict[tuple[str, int, int], Any] = OrderedDict()

    def get(self, kind: str, height: int, width: int):
        key = (kind, height, width)
        with _EXPORT_LOCK:
            if key in self.graphs:
                self.graphs.move_to_end(key)
                return self.graphs[key]
            with tempfile.TemporaryDirectory() as tmp:
                path = export_graph(self.generator, Path(tmp) / "g.onnx", kind, height, width, self.gather_warp)
                graph = self.compile_fn(path)
            self.graphs[key] = graph
            if len(self.graphs) > MAX_CACHED_GRAPHS:
                self.graphs.popitem(last=False)
            return graph


def ort_session(path: str | Path | bytes, threads: int = 0, spinning: bool = False):
    """An ONNX Runtime CPU session; ``threads`` intra-op threads (0 = ONNX Runtime's default).

    ``spinning=False`` stops ORT's worker threads from busy-waiting after each run: in a pipeline
    the next stages (landmarks, TPS field, blending) need those cores at once.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(0, int(threads))
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    model = path if isinstance(path, bytes) else str(path)
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


_BLAS_LIMITED = False


def single_thread_numpy_blas() -> None:
    """Run NumPy's OpenBLAS on one thread, process-wide, from now on (once; torch's own thread pool
    is not touched). Why: after every matrix product (the TPS field, the affine maps) OpenBLAS's
    worker threads busy-wait for the next call, on the same two cores the generator's runtime and the
    background pass need. Measured on 480 px talking-head frames (render only, one face, ONNX Runtime
    2 threads): 28-30 ms a frame with OpenBLAS on 2 threads, 18.5-19 on one."""
    global _BLAS_LIMITED
    if _BLAS_LIMITED:
        return
    from threadpoolctl import ThreadpoolController

    # NumPy's own copy only (it ships in numpy.libs / numpy/.libs): a torch wheel built on OpenBLAS
    # (aarch64) loads a second one, which is torch's business.
    numpy_dir = Path(np.__file__).resolve().parent
    roots = (str(numpy_dir), str(numpy_dir.parent / "numpy.libs"))
    controller = ThreadpoolController()
    for lib in controller.lib_controllers:
        if lib.internal_api == "openblas" and str(Path(lib.filepath).resolve()).startswith(roots):
            lib.set_num_threads(1)
    _BLAS_LIMITED = True


class OnnxRuntime:
    """ONNX Runtime (CPU execution provider) on graphs exported from the loaded generator."""

    name = "onnx"

    def __init__(self, generator: torch.nn.Module, threads: int = 0, spinning: bool = False) -> None:
        self.threads = threads
        self.cache = _GraphCache(generator, lambda p: ort_session(p, threads, spinning), gather_warp=True)

    def frame(self, image: np.ndarray) -> np.ndarray:
        _, _, h, w = image.shape
        return self.cache.get("frame", h, w).run(None, {"image": image})[0]

    def face(self, crop: np.ndarray, grid: np.ndarray, warped: np.ndarray) -> np.ndarray:
        _, _, h, w = crop.shape
        session = self.cache.get("face", h, w)
        return session.run(None, {"image": crop, "grid": grid, "warped": warped})[0]


def openvino_model(path: str | Path, threads: int = 0):
    """An OpenVINO CPU compiled model in float32 (its bf16 default on AVX-512 CPUs moves the Gather
    warp's sampling positions: 0.3 max abs error on the face graph, measured)."""
    try:
        import openvino as ov
    except ImportError as exc:
        raise BackendUnavailableError(
            "runtime 'openvino' needs the openvino package: pip install 'geostyle[openvino]'"
        ) from exc
    config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
    if threads > 0:
        config["INFERENCE_NUM_THREADS"] = int(threads)
    return ov.Core().compile_model(str(path), "CPU", config)


class OpenVinoRuntime:
    """OpenVINO (CPU plugin, float32) on the same exported ONNX graphs."""

    name = "openvino"

    def __init__(self, generator: torch.nn.Module, threads: int = 0) -> None:
        try:
            import openvino  # noqa: F401  (fail at construction, not on the first frame)
        except ImportError as exc:
            raise BackendUnavailableError(
                "runtime 'openvino' needs the openvino package: pip install 'geostyle[openvino]'"
            ) from exc
        self.cache = _GraphCache(generator, lambda p: _OvGraph(openvino_model(p, threads)), gather_warp=True)

    def frame(self, image: np.ndarray) -> np.ndarray:
        _, _, h, w = image.shape
        return self.cache.get("frame", h, w)(image)

    def face(self, crop: np.ndarray, grid: np.ndarray, warped: np.ndarray) -> np.ndarray:
        _, _, h, w = crop.shape
        return self.cache.get("face", h, w)(crop, grid, warped)


class _OvGraph:
    def __init__(self, compiled) -> None:
        self.compiled = compiled
        self.request = compiled.create_infer_request()
        self.output = compiled.outputs[0]

    def __call__(self, *inputs: np.ndarray) -> np.ndarray:
        return np.asarray(self.request.infer(list(inputs))[self.output])


def make_runtime(name: str, generator: torch.nn.Module, threads: int = 0) -> GeneratorRuntime:
    """``"torch"``, ``"onnx"`` or ``"openvino"``."""
    if name == "torch":
        return TorchRuntime(generator, threads)
    if name == "onnx":
        return OnnxRuntime(generator, threads)
    if name == "openvino":
        return OpenVinoRuntime(generator, threads)
    raise GeostyleError(f"unknown runtime {name!r}; choose from {', '.join(RUNTIMES)}")


# ----------------------------------------------------------------------------- tensor conversion
def to_blob(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> ``(1, 3, H, W)`` float32 in ``[-1, 1]`` (the same values as
    :func:`geostyle.data.images.from_uint8`, computed without torch)."""
    import cv2

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"to_blob takes (H, W, 3) uint8 images, got {image.shape} {image.dtype}")
    h, w = image.shape[:2]
    blob = np.empty((1, 3, h, w), np.float32)
    # The planes split apart, each divided straight into its place in the blob: about two thirds of
    # the time of cv2.dnn.blobFromImage at 512 px (0.18 vs 0.28 ms), and torch's rounding exactly.
    for channel, plane in enumerate(cv2.split(image)):
        np.divide(plane, np.float32(127.5), out=blob[0, channel], dtype=np.float32, casting="unsafe")
    blob -= np.float32(1.0)
    return blob


def from_blob(blob: np.ndarray) -> np.ndarray:
    """``(1, 3, H, W)`` float in ``[-1, 1]`` -> ``(H, W, 3)`` uint8 (round to nearest, clipped),
    the inverse of :func:`to_blob`; equal to :func:`geostyle.data.images.to_uint8` except
    possibly at exact .5 ties."""
    import cv2

    planes = np.clip(blob[0], -1.0, 1.0)
    _, h, w = planes.shape
    # |127.5 x + 127.5| saturated to uint8 on the plane stack, then one interleave.
    u8 = cv2.convertScaleAbs(planes.reshape(3 * h, w), alpha=127.5, beta=127.5).reshape(3, h, w)
    return cv2.merge([u8[0], u8[1], u8[2]])
