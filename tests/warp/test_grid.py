"""Dense grids: identity, spline grids, low-res upsampling, resizing, landmark warps, random warps."""

from __future__ import annotations

import pytest
import torch

from geostyle.errors import GeostyleError
from geostyle.faces.landmarks import normalized_to_pixels, pixels_to_normalized
from geostyle.warp.grid import (
    ForwardMap,
    fold_fraction,
    identity_grid,
    landmark_warp_grid,
    random_tps_grid,
    resize_grid,
    tps_grid,
    tps_grid_fast,
    warp_image,
    warp_landmarks_forward,
)
from geostyle.warp.tps import ThinPlateSpline, append_anchors, border_anchors


def _face_like(seed=0, strength=0.06, dtype=torch.float64):
    """33 scattered face-region points and a strong smooth displacement (eyes apart, chin up)."""
    g = torch.Generator().manual_seed(seed)
    angles = torch.rand(1, 33, generator=g, dtype=dtype) * 6.283
    radius = 0.15 + 0.45 * torch.rand(1, 33, generator=g, dtype=dtype)
    p = torch.stack([radius * angles.cos() * 0.8, radius * angles.sin()], -1)
    x, y = p[..., 0], p[..., 1]
    field = torch.stack([torch.sin(3 * x) * torch.cos(2 * y), -torch.sin(2 * y + 0.5) + 0.5 * x * y], -1)
    return p, p + strength * field


def _dot_image(points_px, size, sigma=1.5):
    """One Gaussian dot per point (pixel frame), each in its own channel."""
    yy, xx = torch.meshgrid(
        torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64), indexing="ij"
    )
    chans = [torch.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)) for x, y in points_px]
    return torch.stack(chans)[None]


def _centroids(img):
    _, c, h, w = img.shape
    yy, xx = torch.meshgrid(torch.arange(h, dtype=img.dtype), torch.arange(w, dtype=img.dtype), indexing="ij")
    mass = img.sum((-1, -2))
    return torch.stack([(img * xx).sum((-1, -2)) / mass, (img * yy).sum((-1, -2)) / mass], -1)[0]


def test_identity_grid_values_and_exact_resampling():
    g = identity_grid(2, 3, 4, torch.float64)
    assert g.shape == (2, 3, 4, 2)
    torch.testing.assert_close(g[0, 0, :, 0], torch.tensor([-0.75, -0.25, 0.25, 0.75], dtype=torch.float64))
    torch.testing.assert_close(g[0, :, 0, 1], torch.tensor([-2 / 3, 0.0, 2 / 3], dtype=torch.float64))
    img = torch.rand(2, 3, 17, 23, dtype=torch.float64)
    torch.testing.assert_close(
        warp_image(img, identity_grid(2, 17, 23, torch.float64)), img, atol=1e-12, rtol=0
    )


def test_identity_spline_gives_identity_grid():
    p, _ = _face_like()
    spline = ThinPlateSpline.fit(p, p)
    torch.testing.assert_close(
        tps_grid(spline, 20, 30), identity_grid(1, 20, 30, torch.float64), atol=1e-12, rtol=0
    )


def test_fast_grid_close_to_dense():
    """Stated tolerance: a smooth face-scale warp (up to ~8 px at 512), evaluated at 128 px and
    upsampled to 512 px, stays within 0.25 px of the dense field (max) and 0.02 px on average.
    (Measured on real anime-strength warps: < 1 px max, ~0.01 px mean; see docs/warp.md.)"""
    p, t = _face_like(strength=0.03, dtype=torch.float32)
    s, d, m = append_anchors(t, p, None, border_anchors(5))
    spline = ThinPlateSpline.fit(s, d, mask=m)
    dense = tps_grid(spline, 512, 512)
    fast = tps_grid_fast(spline, 512, 512, lowres=128)
    err_px = (fast - dense).abs() * 256
    assert err_px.max() < 0.25
    assert err_px.mean() < 0.02
    assert tps_grid_fast(spline, 64, 64, lowres=128).shape == (1, 64, 64, 2)


@pytest.mark.parametrize("size", [(4, 4), (32, 24), (64, 64)])
def test_resize_grid_keeps_identity_exactly(size):
    assert torch.equal(resize_grid(identity_grid(1, 16, 16), *size), identity_grid(1, *size))


def test_resize_grid_keeps_identity_and_affine_fields():
    torch.testing.assert_close(
        resize_grid(identity_grid(1, 16, 16), 40, 24), identity_grid(1, 40, 24), atol=1e-6, rtol=0
    )
    a = torch.tensor([[0.9, 0.1], [-0.05, 1.1]], dtype=torch.float64)
    big = identity_grid(1, 64, 64, torch.float64) @ a.T + 0.02
    small = resize_grid(big, 16, 16)
    torch.testing.assert_close(
        small, identity_grid(1, 16, 16, torch.float64) @ a.T + 0.02, atol=1e-12, rtol=0
    )
    with pytest.raises(GeostyleError):
        resize_grid(torch.zeros(1, 4, 4), 8, 8)


def test_same_field_on_feature_maps():
    """Warping then pooling ~ pooling then warping with the resized field (smooth image)."""
    p, t = _face_like(strength=0.04)
    grid = landmark_warp_grid(p, t, 64, frame="normalized", lowres=None)
    yy, xx = torch.meshgrid(
        torch.linspace(0, 3, 64, dtype=torch.float64),
        torch.linspace(0, 3, 64, dtype=torch.float64),
        indexing="ij",
    )
    img = torch.stack([torch.sin(xx) * torch.cos(yy), torch.cos(xx + yy)])[None]
    pooled_after = torch.nn.functional.avg_pool2d(warp_image(img, grid), 4)
    pooled_before = warp_image(torch.nn.functional.avg_pool2d(img, 4), resize_grid(grid, 16, 16))
    assert (pooled_after - pooled_before).abs()[..., 2:-2, 2:-2].max() < 0.05


def test_landmark_warp_moves_dots_to_targets():
    size = 96
    p = torch.tensor(
        [[[30.0, 35.0], [66.0, 35.0], [48.0, 55.0], [36.0, 70.0], [60.0, 70.0]]], dtype=torch.float64
    )
    t = p + torch.tensor(
        [[[-3.0, 2.0], [3.0, 2.0], [0.0, -4.0], [3.0, -2.0], [-3.0, -2.0]]], dtype=torch.float64
    )
    img = _dot_image(p[0].tolist(), size)
    grid = landmark_warp_grid(p, t, size, regularization=0.0, lowres=None)
    out = warp_image(img, grid)
    # a wrong direction (forward map used as grid) would miss by ~2x the 4-5 px displacement
    torch.testing.assert_close(_centroids(out), t[0], atol=0.25, rtol=0)


def test_landmark_warp_border_anchors_fix_the_frame():
    p, t = _face_like()
    grid = landmark_warp_grid(p * 0.6, t * 0.6, 64, frame="normalized")
    ident = identity_grid(1, 64, 64, torch.float64)
    assert (grid - ident)[:, [0, -1]].abs().max() < 0.02
    assert (grid - ident)[:, :, [0, -1]].abs().max() < 0.02


def test_landmark_warp_mask_drops_points():
    p, t = _face_like()
    mask = torch.ones(1, 33, dtype=torch.bool)
    mask[0, 5] = False
    t_bad = t.clone()
    t_bad[0, 5] = float("nan")
    a = landmark_warp_grid(p, t_bad, 32, mask=mask, frame="normalized", lowres=None)
    keep = mask[0]
    b = landmark_warp_grid(p[:, keep], t[:, keep], 32, frame="normalized", lowres=None)
    torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_fold_fraction():
    ident = identity_grid(2, 16, 16)
    assert fold_fraction(ident).tolist() == [0.0, 0.0]
    mirrored = ident.clone()
    mirrored[1, ..., 0] = -mirrored[1, ..., 0]  # x reversed: every cell folds
    assert fold_fraction(mirrored).tolist() == [0.0, 1.0]
    # pulling one control point across its neighbour folds a smooth warp; regularisation undoes it
    src = torch.tensor([[[-0.2, 0.0], [0.2, 0.0], [0.0, 0.3], [0.0, -0.3]]], dtype=torch.float64)
    dst = src.clone()
    dst[0, 0, 0] = 0.35
    exact = landmark_warp_grid(dst, src, 64, frame="normalized", regularization=0.0, lowres=None)
    smooth = landmark_warp_grid(dst, src, 64, frame="normalized", regularization=1.0, lowres=None)
    assert fold_fraction(exact)[0] > 0.01
    assert fold_fraction(smooth)[0] == 0


def test_warp_landmarks_forward_inverts_the_grid_map():
    p, t = _face_like(strength=0.04)
    spline = ThinPlateSpline.fit(t, p)  # backward: output t reads source p
    src_px = normalized_to_pixels(p, 128, 128)
    moved = warp_landmarks_forward(spline, src_px, size=128)
    torch.testing.assert_close(moved, normalized_to_pixels(t, 128, 128), atol=1e-8, rtol=0)
    nan_in = src_px.clone()
    nan_in[0, 0] = float("nan")
    assert torch.isnan(warp_landmarks_forward(spline, nan_in, size=128)[0, 0]).all()


def test_random_tps_grid():
    gen = torch.Generator().manual_seed(3)
    grid, forward = random_tps_grid(3, 48, 40, strength=0.05, n_ctrl=4, generator=gen, dtype=torch.float64)
    assert grid.shape == (3, 48, 40, 2)
    assert isinstance(forward, ForwardMap)
    again, _ = random_tps_grid(
        3, 48, 40, strength=0.05, n_ctrl=4, generator=torch.Generator().manual_seed(3), dtype=torch.float64
    )
    torch.testing.assert_close(grid, again)
    ident = identity_grid(3, 48, 40, torch.float64)
    assert 0.01 < (grid - ident).abs().max() < 0.2
    assert not torch.allclose(grid[0], grid[1])
    # forward is the exact inverse of the sampling map: a dot at x shows up at forward(x)
    x = torch.rand(3, 20, 2, generator=gen, dtype=torch.float64) * 1.4 - 0.7
    y = forward(x)
    torch.testing.assert_close(forward.backward.transform(y), x, atol=1e-9, rtol=0)
    still, _ = random_tps_grid(1, 16, 16, strength=0.0, generator=gen)
    torch.testing.assert_close(still, identity_grid(1, 16, 16), atol=1e-5, rtol=0)


def test_random_warp_moves_a_dot_where_forward_says():
    gen = torch.Generator().manual_seed(5)
    size = 80
    grid, forward = random_tps_grid(
        1, size, size, strength=0.06, generator=gen, lowres=None, dtype=torch.float64
    )
    src_px = torch.tensor([[[30.0, 40.0]]], dtype=torch.float64)
    out = warp_image(_dot_image(src_px[0].tolist(), size), grid)
    expect = normalized_to_pixels(forward(pixels_to_normalized(src_px, size, size)), size, size)
    torch.testing.assert_close(_centroids(out), expect[0], atol=0.25, rtol=0)


def test_warp_image_checks_shapes_and_broadcasts():
    img = torch.rand(2, 3, 8, 8)
    out = warp_image(img, identity_grid(1, 5, 6))
    assert out.shape == (2, 3, 5, 6)
    with pytest.raises(GeostyleError):
        warp_image(img[0], identity_grid(1, 5, 6))
    with pytest.raises(GeostyleError):
        warp_image(img, identity_grid(3, 5, 6))
