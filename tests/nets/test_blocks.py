"""Grid helpers and building blocks of geostyle.nets.blocks (resize_grid: tests/warp/test_grid.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from geostyle.nets.blocks import (
    ConvNormAct,
    DepthwiseSeparable,
    InvertedResidual,
    UpBlock,
    compose_grids,
    identity_grid,
    warp,
    warp_gather,
)


def _translation(batch: int, height: int, width: int, dx_px: float, dy_px: float) -> torch.Tensor:
    """Backward map that moves content by (+dx, +dy) output pixels (reads at p - d)."""
    grid = identity_grid(batch, height, width).clone()
    grid[..., 0] -= 2 * dx_px / width
    grid[..., 1] -= 2 * dy_px / height
    return grid


def test_identity_grid_matches_affine_grid_and_hand_values():
    grid = identity_grid(2, 3, 4)
    assert grid.shape == (2, 3, 4, 2)
    theta = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(2, 2, 3)
    torch.testing.assert_close(grid, F.affine_grid(theta, (2, 1, 3, 4), align_corners=False))
    # pixel j of W=4 sits at (2j+1)/4 - 1; row i of H=3 at (2i+1)/3 - 1
    assert grid[0, 0, 0].tolist() == pytest.approx([-0.75, -2 / 3])
    assert grid[0, 2, 3].tolist() == pytest.approx([0.75, 2 / 3])


def test_warp_with_identity_returns_input():
    x = torch.randn(2, 5, 16, 12, generator=torch.Generator().manual_seed(0))
    # W = 12 is not a power of two: grid_sample's un-normalisation rounds by ~1e-7 px
    torch.testing.assert_close(warp(x, identity_grid(2, 16, 12)), x, atol=3e-6, rtol=0)
    # a coarser identity field is still the identity after resizing
    torch.testing.assert_close(warp(x, identity_grid(2, 4, 3)), x, atol=3e-6, rtol=0)
    power_of_two = torch.randn(1, 2, 16, 8)
    assert torch.equal(warp(power_of_two, identity_grid(1, 16, 8)), power_of_two)


def test_warp_by_integer_translation_shifts_content():
    x = torch.randn(1, 3, 16, 16)
    out = warp(x, _translation(1, 16, 16, dx_px=3, dy_px=-2))
    torch.testing.assert_close(out[..., 0:14, 3:16], x[..., 2:16, 0:13], atol=1e-5, rtol=0)


def test_compose_grids_of_translations_adds_them():
    a = _translation(1, 16, 16, 2, 1)
    b = _translation(1, 16, 16, 3, -2)
    torch.testing.assert_close(compose_grids(a, b), _translation(1, 16, 16, 5, -1), atol=1e-6, rtol=0)
    x = torch.randn(1, 2, 16, 16)
    two_step = warp(warp(x, a), b)
    one_step = warp(x, compose_grids(a, b))
    torch.testing.assert_close(one_step[..., 4:12, 6:14], two_step[..., 4:12, 6:14], atol=1e-5, rtol=0)


def test_blocks_shapes():
    x = torch.randn(2, 8, 16, 16)
    assert ConvNormAct(8, 12, 3, stride=2)(x).shape == (2, 12, 8, 8)
    assert ConvNormAct(8, 12, 2, stride=2)(x).shape == (2, 12, 8, 8)
    assert DepthwiseSeparable(8, 4, stride=2, norm="instance")(x).shape == (2, 4, 8, 8)
    assert InvertedResidual(8, 3, norm="batch")(x).shape == x.shape
    assert UpBlock(8, 6)(torch.randn(2, 8, 8, 8), torch.randn(2, 6, 16, 16)).shape == (2, 6, 16, 16)
    with pytest.raises(ValueError):
        ConvNormAct(8, 8, norm="group")
    with pytest.raises(ValueError):
        ConvNormAct(8, 8, act="gelu")


@pytest.mark.parametrize(
    ("batch", "channels", "size", "grid_size"),
    [(1, 3, (16, 12), (16, 12)), (3, 5, (9, 7), (4, 3)), (2, 3, (1, 7), (1, 7)), (2, 3, (6, 1), (2, 2))],
)
def test_warp_gather_matches_grid_sample_with_border_padding(batch, channels, size, grid_size):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, channels, *size, generator=g)
    # large displacements: many samples read outside the frame and are clamped to the border
    grid = identity_grid(batch, *grid_size) + torch.randn(batch, *grid_size, 2, generator=g) * 0.7
    torch.testing.assert_close(warp_gather(x, grid), warp(x, grid), atol=2e-6, rtol=0)
    # Samples exactly on the frame's edges and on its last pixel centres (the clamped taps).
    h, w = size
    edges = torch.tensor([-1.0, 1.0, 1 - 1 / w, -1 + 1 / w, 1 - 1 / h])
    grid = torch.stack(torch.meshgrid(edges, edges, indexing="ij"), -1)[None].expand(batch, -1, -1, -1)
    torch.testing.assert_close(warp_gather(x, grid), warp(x, grid), atol=2e-6, rtol=0)


def test_warp_gather_exports_without_padding(tmp_path):
    """No Pad between the features and their channel-last transpose: ONNX Runtime then folds that
    transpose into the layout reorder of the convolution that makes the features."""
    import warnings

    import onnx

    class Warp(torch.nn.Module):
        def forward(self, x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
            return warp_gather(torch.nn.functional.relu(x), grid)

    path = tmp_path / "warp.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Warp(), (torch.zeros(1, 4, 8, 8), identity_grid(1, 8, 8)), str(path), dynamo=False,
                          opset_version=17)
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops.count("Gather") >= 4 and "Pad" not in ops and "GridSample" not in ops
