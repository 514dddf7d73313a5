"""The generator runtimes agree with PyTorch on real inputs (the bundled anime model, a real face)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from geostyle.data.images import from_uint8, load_image, to_uint8
from geostyle.errors import GeostyleError
from geostyle.infer.runtime import OnnxRuntime, TorchRuntime, from_blob, make_runtime, to_blob
from geostyle.infer.stylize import Stylizer


@pytest.fixture(scope="module")
def anime(astronaut_path):
    stylizer = Stylizer("anime", strength=1.0, part_gains={})
    aligned = stylizer.align(load_image(astronaut_path))
    return stylizer, aligned


def test_blob_conversion_matches_torch_conversion(astronaut_path):
    image = load_image(astronaut_path)
    blob = to_blob(image)
    assert blob.shape == (1, 3, *image.shape[:2]) and blob.dtype == np.float32
    assert np.array_equal(blob, from_uint8(image).numpy())  # torch's rounding exactly
    y = np.random.default_rng(0).uniform(-1.2, 1.2, blob.shape).astype(np.float32)
    ours, theirs = from_blob(y).astype(int), to_uint8(torch.from_numpy(y))[0].astype(int)
    assert np.abs(ours - theirs).max() <= 1 and (ours == theirs).mean() > 0.999
    assert np.array_equal(from_blob(blob), image)
    for bad in (image[..., 0], np.dstack([image, image[..., :1]]), image.astype(np.float32)):
        with pytest.raises(ValueError, match="uint8"):
            to_blob(bad)


def _face_inputs(stylizer, aligned):
    import cv2

    full, quarter = stylizer.face_fields(aligned.landmarks)
    s = stylizer.size
    maps = ((full + 1.0) * (s / 2.0) - 0.5).astype(np.float32)
    warped = cv2.remap(aligned.crop, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return to_blob(aligned.crop), quarter, to_blob(warped)


def _assert_agree(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Float rounding differs between the runtimes: nearly every value agrees to 1e-4 (a 78th of a grey
    level); the odd pixel sitting at a threshold of the fixed filters after the residual (ink, dark
    colour) may differ more, never by a grey level (the bundled anime v39s under ONNX Runtime: one value
    of 153,600 and one of 196,608 over 1e-4, at 2.1e-4 and 1.1e-4)."""
    difference = np.abs(ours - theirs)
    assert (difference > 1e-4).mean() < 1e-4 and difference.max() < 2.0 / 255.0, (difference > 1e-4).sum()


@pytest.mark.parametrize("name", ["onnx", "openvino"])
def test_exported_runtimes_match_torch(anime, name):
    stylizer, aligned = anime
    reference = TorchRuntime(stylizer.release.generator)
    runtime = make_runtime(name, stylizer.release.generator, threads=1)
    frame = to_blob(np.ascontiguousarray(aligned.crop[:, :200]))[:, :, :, :200]
    frame = np.ascontiguousarray(frame[:, :, :, :200])
    _assert_agree(runtime.frame(frame), reference.frame(frame))
    crop, grid, warped = _face_inputs(stylizer, aligned)
    ours, theirs = runtime.face(crop, grid, warped), reference.face(crop, grid, warped)
    _assert_agree(ours, theirs)
    # The warp acts: the face graph is not the frame graph.
    assert np.abs(ours - reference.frame(crop)).mean() > 0.01


@pytest.mark.parametrize("name", ["onnx", "openvino"])
def test_exported_runtimes_match_torch_at_512_px(anime, name, tmp_path):
    """At 512 px the anime face graph draws its base on the reduced copy and lifts it before the
    one upsampling (the product path's size): the runtimes still take the graph's three inputs by
    name and agree with PyTorch."""
    from geostyle.export.exporter import parity_inputs

    stylizer, _ = anime
    crop, quarter, warped = parity_inputs(stylizer, "face", 512)
    reference = TorchRuntime(stylizer.release.generator).face(crop, quarter, warped)
    ours = make_runtime(name, stylizer.release.generator, threads=1).face(crop, quarter, warped)
    assert ours.shape == (1, 3, 512, 512)
    # quantisation and line thresholds can flip a pixel where float rounding differs
    assert np.mean(np.abs(ours - reference) < 1e-3) > 0.999
    if name == "openvino":  # and the compiled graph keeps the input names callers feed by
        from geostyle.infer.runtime import export_graph, openvino_model

        path = export_graph(stylizer.release.generator, tmp_path / "face.onnx", "face", 512, 512)
        assert [i.get_any_name() for i in openvino_model(path, 1).inputs] == ["image", "grid", "warped"]


def test_onnx_graphs_are_cached_per_size(anime):
    stylizer, _ = anime
    runtime = OnnxRuntime(stylizer.release.generator, threads=1)
    x = np.zeros((1, 3, 64, 96), np.float32)
    runtime.frame(x)
    first = runtime.cache.graphs[("frame", 64, 96)]
    runtime.frame(x)
    assert runtime.cache.graphs[("frame", 64, 96)] is first and len(runtime.cache.graphs) == 1
    with pytest.raises(GeostyleError, match="multiple of 8"):
        runtime.frame(np.zeros((1, 3, 60, 96), np.float32))


def test_stylizer_runtimes_give_the_same_frame(astronaut_path):
    image = load_image(astronaut_path)
    torch_frame = Stylizer("anime", runtime="torch").stylize_frame(image)
    onnx_frame = Stylizer("anime", runtime="onnx", threads=1).stylize_frame(image)
    diff = np.abs(torch_frame.astype(int) - onnx_frame)
    # The anime generator's cartoon base quantises lightness and thresholds lines: where float
    # rounding differs between the runtimes a pixel can land on the other side of a step (measured:
    # 28 of 262,144 pixels with the flat colour drawn on the reduced copy, 5 before that; none since
    # the whole base is drawn there). Everywhere else the runtimes agree to the rounding of uint8.
    assert diff.mean() < 0.01
    assert (diff.max(axis=-1) > 2).mean() < 1e-4


def test_warm_up_prepares_both_graphs():
    stylizer = Stylizer("anime", runtime="onnx", threads=1)
    stylizer.warm_up(720, 1280)
    assert set(stylizer.runtime.cache.graphs) == {("frame", 288, 512), ("face", 256, 256)}


def test_first_uses_in_two_threads_export_one_at_a_time(anime):
    """Two runtimes asked for new graphs at the same moment (a background pass and a face pass, or
    two models of the web app): PyTorch's exporter keeps global state, so exports must take turns
    (without the lock this failed PyTorch's internal assertions)."""
    from concurrent.futures import ThreadPoolExecutor

    generator = anime[0].release.generator
    runtimes = [OnnxRuntime(generator, threads=1) for _ in range(4)]
    sizes = [(64, 96), (96, 64), (64, 64), (96, 96)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        outs = list(
            pool.map(lambda rs: rs[0].frame(np.zeros((1, 3, *rs[1]), np.float32)), zip(runtimes, sizes, strict=True))
        )
    assert [o.shape[2:] for o in outs] == sizes


def test_stylizer_keeps_numpy_blas_on_one_thread(tiny_model, monkeypatch):
    """NumPy's OpenBLAS workers spin between calls on the cores the generator needs; a Stylizer
    leaves them at one thread (torch's own pool is not touched)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    import geostyle.infer.runtime as runtime
    from geostyle.infer.stylize import Stylizer

    threadpool_limits(2, user_api="blas")  # as on a fresh process of a 2-core machine
    monkeypatch.setattr(runtime, "_BLAS_LIMITED", False)
    torch_threads = torch.get_num_threads()
    Stylizer(tiny_model)
    # NumPy's own copy (SciPy and others load theirs; those are not on the pipeline's path).
    numpy_dir = Path(np.__file__).resolve().parent
    roots = (str(numpy_dir), str(numpy_dir.parent / "numpy.libs"))
    numpy_blas = [
        i for i in threadpool_info()
        if i["internal_api"] == "openblas" and str(Path(i["filepath"]).resolve()).startswith(roots)
    ]  # fmt: skip
    assert numpy_blas and all(i["num_threads"] == 1 for i in numpy_blas)
    assert torch.get_num_threads() == torch_threads
