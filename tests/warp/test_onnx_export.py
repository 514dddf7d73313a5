"""ONNX export of the warp: NumPy solve == torch fit, PyTorch == ONNX Runtime, no solve in the graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geostyle.errors import GeostyleError
from geostyle.warp.grid import tps_grid, warp_image
from geostyle.warp.onnx_export import (
    GridWarp,
    TPSWarp,
    export_grid_warp,
    export_tps_warp,
    masked_centres,
    solve_tps_numpy,
)
from geostyle.warp.tps import ThinPlateSpline, border_anchors

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _warp_points(seed=0, k=33, strength=0.04):
    """Backward spline data (target -> photo) for a face-scale warp plus border anchors."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(-0.55, 0.55, (k, 2))
    t = p + strength * np.stack([np.sin(3 * p[:, 0]), -np.cos(2 * p[:, 1])], -1)
    anchors = border_anchors(5, dtype=torch.float64).numpy()
    return np.concatenate([t, anchors]), np.concatenate([p, anchors])


def _smooth_image(batch, size, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size), indexing="ij")
    chans = []
    for _ in range(batch * 3):
        fx, fy, ph = rng.uniform(2, 12, 2).tolist() + [rng.uniform(0, 6)]
        chans.append(np.sin(fx * xx + ph) * np.cos(fy * yy))
    img = np.stack(chans).reshape(batch, 3, size, size)
    edge = (xx > 0.5).astype(np.float64) * 0.5  # one hard edge too
    return (img * 0.5 + edge - 0.25).astype(np.float32)


def test_solve_numpy_matches_torch_fit():
    src, dst = _warp_points()
    mask = np.ones(len(src), bool)
    mask[[2, 5]] = False
    for m in (None, mask):
        for lam in (0.0, 0.01):
            coeffs = solve_tps_numpy(src, dst, lam, m)
            spline = ThinPlateSpline.fit(
                torch.from_numpy(src)[None],
                torch.from_numpy(dst)[None],
                lam,
                None if m is None else torch.from_numpy(m)[None],
            )
            np.testing.assert_allclose(coeffs, spline.coefficients[0].numpy(), atol=1e-9)
    batched = solve_tps_numpy(np.stack([src, src]), np.stack([dst, src]))
    assert batched.shape == (2, len(src) + 3, 2)
    with pytest.raises(GeostyleError):
        solve_tps_numpy(src[:2], dst[:2])


def test_module_matches_library_grid():
    src, dst = _warp_points(1)
    coeffs = torch.from_numpy(solve_tps_numpy(src, dst))[None]
    spline = ThinPlateSpline.fit(torch.from_numpy(src)[None], torch.from_numpy(dst)[None])
    field = TPSWarp(64).double().field(coeffs, torch.from_numpy(src)[None])
    torch.testing.assert_close(field, tps_grid(spline, 64, 64), atol=1e-12, rtol=0)
    img = torch.from_numpy(_smooth_image(1, 64)).double()
    out = TPSWarp(64).double()(img, coeffs, torch.from_numpy(src)[None])
    torch.testing.assert_close(out, warp_image(img, tps_grid(spline, 64, 64)), atol=1e-12, rtol=0)


@pytest.mark.parametrize("lowres", [None, 64])
def test_onnx_runtime_parity_256(tmp_path, lowres):
    path = export_tps_warp(tmp_path / "tps.onnx", out_size=256, lowres=lowres)
    model = onnx.load(str(path))
    ops = {n.op_type for n in model.graph.node}
    assert "GridSample" in ops
    assert not ops & {"Inverse", "Loop", "Scan", "If"}  # no solve, no control flow
    sess = _session(path)
    src, dst = _warp_points(2)
    batch = 1 if lowres is None else 2  # the dense 256x256 field is the slow case: one sample
    coeffs = np.stack([solve_tps_numpy(src, dst), solve_tps_numpy(src, src)][:batch]).astype(np.float32)
    centres = np.stack([src, src][:batch]).astype(np.float32)
    image = _smooth_image(batch, 256)
    got = sess.run(None, {"image": image, "coefficients": coeffs, "centres": centres})[0]
    ref = TPSWarp(256, lowres)(
        torch.from_numpy(image), torch.from_numpy(coeffs), torch.from_numpy(centres)
    ).numpy()
    assert got.shape == (batch, 3, 256, 256)
    assert np.abs(got - ref).max() < 1e-4
    if lowres is None:
        return
    # dynamic K and input size
    src2, dst2 = _warp_points(3, k=20)
    c2 = solve_tps_numpy(src2, dst2)[None].astype(np.float32)
    img2 = _smooth_image(1, 200)
    got2 = sess.run(None, {"image": img2, "coefficients": c2, "centres": src2[None].astype(np.float32)})[0]
    ref2 = TPSWarp(256, lowres)(
        torch.from_numpy(img2), torch.from_numpy(c2), torch.from_numpy(src2[None]).float()
    ).numpy()
    assert np.abs(got2 - ref2).max() < 1e-4


def test_onnx_masked_points_and_grid_module(tmp_path):
    src, dst = _warp_points(4)
    mask = np.ones(len(src), bool)
    mask[[0, 7]] = False
    src_nan = src.copy()
    src_nan[~mask] = np.nan
    coeffs = solve_tps_numpy(src_nan, dst, mask=mask)[None].astype(np.float32)
    centres = masked_centres(src_nan, mask)[None].astype(np.float32)
    assert np.isfinite(centres).all() and (coeffs[0, ~np.r_[mask, [True] * 3]] == 0).all()
    sess = _session(export_tps_warp(tmp_path / "tps.onnx", out_size=64))
    image = _smooth_image(1, 64)
    got = sess.run(None, {"image": image, "coefficients": coeffs, "centres": centres})[0]
    keep_src, keep_dst = src[mask], dst[mask]
    ref_spline = ThinPlateSpline.fit(torch.from_numpy(keep_src)[None], torch.from_numpy(keep_dst)[None])
    ref = warp_image(torch.from_numpy(image).double(), tps_grid(ref_spline, 64, 64)).numpy()
    assert np.abs(got - ref).max() < 1e-4

    grid_sess = _session(export_grid_warp(tmp_path / "grid.onnx", size=32))
    grid = tps_grid(ref_spline, 48, 40).float().numpy()
    got_g = grid_sess.run(None, {"image": image, "grid": grid})[0]
    ref_g = GridWarp()(torch.from_numpy(image), torch.from_numpy(grid)).numpy()
    assert got_g.shape == (1, 3, 48, 40) and np.abs(got_g - ref_g).max() < 1e-5
