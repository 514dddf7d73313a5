"""Thin-plate spline: reference values (scipy), invariants, masking, batching, gradients, template path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.interpolate import RBFInterpolator

from geostyle.errors import GeostyleError
from geostyle.warp.grid import tps_grid, warp_image
from geostyle.warp.tps import (
    TemplateSolver,
    ThinPlateSpline,
    append_anchors,
    border_anchors,
    pairwise_kernel,
    tps_kernel,
)


def _points(b, k, seed, dtype=torch.float64, jitter=0.1):
    g = torch.Generator().manual_seed(seed)
    src = torch.rand(b, k, 2, generator=g, dtype=dtype) * 1.8 - 0.9
    dst = src + jitter * torch.randn(b, k, 2, generator=g, dtype=dtype)
    query = torch.rand(b, 97, 2, generator=g, dtype=dtype) * 2.2 - 1.1
    return src, dst, query


@pytest.mark.parametrize("lam", [0.0, 1e-3, 0.5])
@pytest.mark.parametrize("k", [5, 33, 68])
def test_matches_scipy_rbf_interpolator(lam, k):
    src, dst, query = _points(3, k, seed=k)
    out = ThinPlateSpline.fit(src, dst, regularization=lam).transform(query)
    for b in range(3):
        ref = RBFInterpolator(src[b].numpy(), dst[b].numpy(), kernel="thin_plate_spline", smoothing=lam)(
            query[b].numpy()
        )
        np.testing.assert_allclose(out[b].numpy(), ref, atol=1e-8, rtol=0)


def test_interpolates_control_points_exactly():
    src, dst, _ = _points(2, 40, seed=1)
    out = ThinPlateSpline.fit(src, dst).transform(src)
    torch.testing.assert_close(out, dst, atol=1e-10, rtol=0)


def test_regularization_trades_exactness():
    src, dst, _ = _points(1, 30, seed=2, jitter=0.3)
    exact = ThinPlateSpline.fit(src, dst, 0.0).transform(src)
    smooth = ThinPlateSpline.fit(src, dst, 1.0).transform(src)
    assert (exact - dst).abs().max() < 1e-10
    assert (smooth - dst).abs().max() > 1e-3


def test_identity_when_src_equals_dst():
    src, _, query = _points(2, 20, seed=3)
    spline = ThinPlateSpline.fit(src, src)
    torch.testing.assert_close(spline.transform(query), query, atol=1e-12, rtol=0)
    assert spline.weights.abs().max() < 1e-12


def test_reproduces_affine_maps_exactly():
    src, _, query = _points(2, 25, seed=4)
    a = torch.tensor([[[1.2, 0.3], [-0.2, 0.9]], [[0.8, -0.5], [0.4, 1.1]]], dtype=torch.float64)
    shift = torch.tensor([[0.1, -0.2], [0.0, 0.3]], dtype=torch.float64)
    dst = src @ a.transpose(1, 2) + shift[:, None]
    spline = ThinPlateSpline.fit(src, dst, regularization=0.3)  # any λ: affine maps are not penalised
    torch.testing.assert_close(
        spline.transform(query), query @ a.transpose(1, 2) + shift[:, None], atol=1e-11, rtol=0
    )
    assert spline.weights.abs().max() < 1e-11


def test_batched_equals_per_sample_loop():
    src, dst, query = _points(4, 12, seed=5)
    lam = torch.tensor([0.0, 0.01, 0.1, 1.0], dtype=torch.float64)
    batched = ThinPlateSpline.fit(src, dst, lam).transform(query)
    for b in range(4):
        single = ThinPlateSpline.fit(src[b : b + 1], dst[b : b + 1], float(lam[b])).transform(
            query[b : b + 1]
        )
        torch.testing.assert_close(batched[b : b + 1], single, atol=1e-12, rtol=0)


def test_masked_points_are_ignored():
    src, dst, query = _points(3, 15, seed=6)
    mask = torch.ones(3, 15, dtype=torch.bool)
    mask[0, [2, 7]] = False
    mask[2, [0, 1, 14]] = False
    src_m, dst_m = src.clone(), dst.clone()
    src_m[~mask] = float("nan")  # masked rows may hold anything
    dst_m[~mask] = 1e6
    for lam in (0.0, 0.05):
        spline = ThinPlateSpline.fit(src_m, dst_m, lam, mask=mask)
        out = spline.transform(query)
        assert torch.isfinite(out).all()
        assert (spline.weights[~mask] == 0).all()
        for b in range(3):
            keep = mask[b]
            ref = ThinPlateSpline.fit(src[b : b + 1, keep], dst[b : b + 1, keep], lam).transform(
                query[b : b + 1]
            )
            torch.testing.assert_close(out[b : b + 1], ref, atol=1e-11, rtol=0)


def test_nan_points_are_masked_automatically():
    src, dst, query = _points(1, 10, seed=7)
    src_n = src.clone()
    src_n[0, 3] = float("nan")
    keep = torch.ones(10, dtype=torch.bool)
    keep[3] = False
    out = ThinPlateSpline.fit(src_n, dst).transform(query)
    ref = ThinPlateSpline.fit(src[:, keep], dst[:, keep]).transform(query)
    torch.testing.assert_close(out, ref, atol=1e-11, rtol=0)


def test_too_few_visible_points_raise():
    src, dst, _ = _points(2, 6, seed=8)
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[1, :4] = False
    with pytest.raises(GeostyleError, match="at least 3"):
        ThinPlateSpline.fit(src, dst, mask=mask)


def test_bad_inputs_raise():
    src, dst, _ = _points(1, 6, seed=9)
    with pytest.raises(GeostyleError):
        ThinPlateSpline.fit(src[0], dst[0])
    with pytest.raises(GeostyleError):
        ThinPlateSpline.fit(src, dst[:, :5])
    with pytest.raises(GeostyleError):
        ThinPlateSpline.fit(src, dst, regularization=-1.0)
    with pytest.raises(GeostyleError, match="singular"):
        line = torch.stack([torch.linspace(-1, 1, 6), torch.linspace(-1, 1, 6)], -1)[None].double()
        ThinPlateSpline.fit(line, line + 0.1)


def test_float32_close_to_float64():
    src, dst, query = _points(2, 33, seed=10)
    f64 = ThinPlateSpline.fit(src, dst).transform(query)
    f32 = ThinPlateSpline.fit(src.float(), dst.float()).transform(query.float())
    assert f32.dtype == torch.float32
    assert (f32.double() - f64).abs().max() < 1e-4


def test_kernel_is_half_r2_log_r2_and_zero_at_zero():
    d2 = torch.tensor([0.0, 0.25, 1.0, 4.0], dtype=torch.float64, requires_grad=True)
    u = tps_kernel(d2)
    r = d2.detach().sqrt()
    expect = torch.where(
        r > 0, r**2 * torch.log(torch.where(r > 0, r, torch.ones_like(r))), torch.zeros_like(r)
    )
    torch.testing.assert_close(u.detach(), expect)
    u.sum().backward()
    assert torch.isfinite(d2.grad).all()
    x, _, c = _points(1, 8, seed=11)
    diff = x[:, :, None] - c[:, None]
    torch.testing.assert_close(
        pairwise_kernel(x, c[:, :8]), tps_kernel((diff[:, :, :8] ** 2).sum(-1)), atol=1e-13, rtol=0
    )


def test_gradcheck_points():
    src, dst, query = _points(1, 6, seed=12)
    query = query[:, :5]
    src.requires_grad_(True)
    dst.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s, d: ThinPlateSpline.fit(s, d, 0.01).transform(query), (src, dst))
    q = query.clone().requires_grad_(True)
    spline = ThinPlateSpline.fit(src.detach(), dst.detach())
    assert torch.autograd.gradcheck(spline.transform, (q,))


def test_gradcheck_image_through_grid_sample():
    src, dst, _ = _points(1, 5, seed=13, jitter=0.05)
    image = torch.rand(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    src.requires_grad_(True)

    def warp(img, s):
        return warp_image(img, tps_grid(ThinPlateSpline.fit(dst, s), 5, 5))

    assert torch.autograd.gradcheck(warp, (image, src))


def test_jacobian_matches_autograd_and_inverse_roundtrips():
    src, dst, query = _points(2, 10, seed=14, jitter=0.05)
    spline = ThinPlateSpline.fit(src, dst)
    q = query[:, :4]
    jac = spline.jacobian(q)
    for b in range(2):
        for n in range(4):
            ref = torch.autograd.functional.jacobian(
                lambda x, b=b: spline.transform(x[None, None].expand(2, 1, 2))[b, 0], q[b, n]
            )
            torch.testing.assert_close(jac[b, n], ref, atol=1e-10, rtol=0)
    inside = query.clamp(-0.8, 0.8)
    back = spline.inverse_transform(spline.transform(inside))
    torch.testing.assert_close(back, inside, atol=1e-10, rtol=0)


@pytest.mark.parametrize("masked", [False, True])
def test_template_solver_equals_direct_fit(masked):
    src, dst, query = _points(3, 20, seed=15)
    centres = src[0]
    mask = None
    if masked:
        mask = torch.ones(20, dtype=torch.bool)
        mask[[3, 9]] = False
    solver = TemplateSolver(centres, regularization=0.02, mask=mask)
    fast = solver.fit(dst).transform(query)
    direct = ThinPlateSpline.fit(
        centres.expand(3, -1, -1), dst, 0.02, None if mask is None else mask.expand(3, -1)
    ).transform(query)
    torch.testing.assert_close(fast, direct, atol=1e-10, rtol=0)
    assert solver.inverse.shape == (1, 23, 20)


def test_border_anchors():
    a = border_anchors(5, dtype=torch.float64)
    assert a.shape == (16, 2)
    assert ((a.abs() == 1).any(-1)).all()  # every point on the border
    assert len({tuple(p) for p in a.tolist()}) == 16
    px = border_anchors(5, frame="pixels", size=(200, 100), dtype=torch.float64)
    assert px[:, 0].min() == -0.5 and px[:, 0].max() == 199.5 and px[:, 1].max() == 99.5
    with pytest.raises(GeostyleError):
        border_anchors(1)
    with pytest.raises(GeostyleError):
        border_anchors(4, frame="pixels")


def test_anchors_keep_border_fixed():
    src, dst, _ = _points(1, 8, seed=16)
    src, dst = src * 0.5, dst * 0.5
    s, d, m = append_anchors(dst, src, None, border_anchors(9, dtype=torch.float64))
    spline = ThinPlateSpline.fit(s, d, mask=m)
    a = border_anchors(9, dtype=torch.float64)[None]
    torch.testing.assert_close(spline.transform(a), a, atol=1e-10, rtol=0)
    assert m.shape == (1, 8 + 32) and m.all()
