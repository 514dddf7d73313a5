"""Local part geometry: boxes, crops (a dot at a landmark lands at the crop centre), local warps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geostyle.errors import GeostyleError
from geostyle.faces.landmarks import INDEX, NUM_LANDMARKS, PARTS, normalized_to_pixels
from geostyle.warp.grid import identity_grid, landmark_warp_grid
from geostyle.warp.local import (
    DEFAULT_MIN_SIDE,
    PART_NAMES,
    crop_boxes,
    crop_parts,
    fit_part_transforms,
    local_warp_grid,
    part_boxes,
)

SIZE = 128


def _face(batch=2, seed=0) -> torch.Tensor:
    """Face-like landmarks in the normalised frame, each part symmetric about its bbox centre."""
    g = torch.Generator().manual_seed(seed)
    base = torch.zeros(NUM_LANDMARKS, 2, dtype=torch.float64)
    centres = {"right_eye": (-0.25, -0.1), "left_eye": (0.25, -0.1), "nose": (0.0, 0.15), "mouth": (0.0, 0.4)}
    offsets = [(-0.1, 0.0), (0.1, 0.0), (0.0, 0.0), (0.0, -0.04), (0.0, 0.04)]
    for part, names in PARTS.items():
        cx, cy = centres[part]
        for name, (dx, dy) in zip(names, offsets, strict=True):
            base[INDEX[name]] = torch.tensor([cx + dx, cy + dy], dtype=torch.float64)
    return base[None] + 0.03 * torch.rand(batch, 1, 2, generator=g, dtype=torch.float64)


def test_part_boxes_centre_and_side():
    lm = _face(1)
    boxes, valid = part_boxes(lm)
    assert boxes.shape == (1, len(PART_NAMES), 4) and valid.all()
    eye = lm[0, [INDEX[n] for n in PARTS["right_eye"]]]
    centre = (eye.amin(0) + eye.amax(0)) / 2
    torch.testing.assert_close((boxes[0, 0, :2] + boxes[0, 0, 2:]) / 2, centre)
    iod = (lm[0, INDEX["left_eye_center"]] - lm[0, INDEX["right_eye_center"]]).norm()
    side = boxes[0, :, 2] - boxes[0, :, 0]
    torch.testing.assert_close(side, boxes[0, :, 3] - boxes[0, :, 1])  # square
    assert torch.all(side >= DEFAULT_MIN_SIDE * iod - 1e-12)
    px_boxes, _ = part_boxes(normalized_to_pixels(lm, SIZE, SIZE), size=SIZE)
    torch.testing.assert_close(px_boxes, (boxes + 1) * SIZE / 2 - 0.5)


def test_part_boxes_missing_parts_are_invalid():
    lm = _face(2)
    mask = torch.ones(2, NUM_LANDMARKS, dtype=torch.bool)
    mask[1, [INDEX[n] for n in PARTS["mouth"]]] = False
    lm[0, INDEX["nose_tip"]] = float("nan")  # one point of a part missing: still valid
    boxes, valid = part_boxes(lm, mask)
    assert valid.tolist() == [[True, True, True, True], [True, True, True, False]]
    assert torch.isfinite(boxes).all()


def test_crop_parts_dot_lands_at_crop_centre():
    lm = _face(2)
    centres_px = normalized_to_pixels(lm, SIZE, SIZE)
    yy, xx = torch.meshgrid(
        torch.arange(SIZE, dtype=torch.float64), torch.arange(SIZE, dtype=torch.float64), indexing="ij"
    )
    images = torch.zeros(2, 1, SIZE, SIZE, dtype=torch.float64)
    for b in range(2):
        x, y = centres_px[b, INDEX["right_eye_center"]]
        images[b, 0] = torch.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.5**2))
    crops, ids = crop_parts(images, lm, out_size=33)
    assert crops.shape == (8, 1, 33, 33) and ids.tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    for b in range(2):
        eye = crops[4 * b, 0]
        iy, ix = np.unravel_index(int(eye.argmax()), eye.shape)
        assert (iy, ix) == (16, 16)
        mass = eye.sum()
        cy = (eye * torch.arange(33, dtype=eye.dtype)[:, None]).sum() / mass
        cx = (eye * torch.arange(33, dtype=eye.dtype)[None]).sum() / mass
        assert abs(cx - 16) < 0.05 and abs(cy - 16) < 0.05
    px_crops, _ = crop_parts(images, centres_px, out_size=33, frame="pixels")
    torch.testing.assert_close(px_crops, crops)


def test_crop_parts_skips_missing_and_is_differentiable():
    lm = _face(2)
    mask = torch.ones(2, NUM_LANDMARKS, dtype=torch.bool)
    mask[0, [INDEX[n] for n in PARTS["nose"]]] = False
    images = torch.rand(2, 3, 32, 32, requires_grad=True)
    crops, ids = crop_parts(images, lm.float(), mask, out_size=8)
    assert crops.shape == (7, 3, 8, 8) and ids.tolist() == [0, 1, 3, 0, 1, 2, 3]
    crops.sum().backward()
    assert images.grad.abs().sum() > 0
    all_crops, all_ids = crop_parts(images, lm.float(), mask, out_size=8, only_valid=False)
    assert all_crops.shape[0] == 8
    with pytest.raises(GeostyleError):
        crop_parts(images, lm[:, :5], out_size=8)


def test_crop_boxes_whole_frame_is_resize():
    img = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    full = crop_boxes(img, torch.tensor([[[-1.0, -1.0, 1.0, 1.0]]], dtype=torch.float64), 16)
    torch.testing.assert_close(full[0, 0], img[0], atol=1e-12, rtol=0)


def test_crop_boxes_samples_each_box_of_each_image():
    """Several boxes per image, several images: each crop (and its gradient) is that box sampled from
    that image alone, whatever the other boxes are; on a linear ramp a crop's mean is the ramp at
    the box centre (bilinear sampling is exact there)."""
    g = torch.Generator().manual_seed(3)
    img = torch.rand(3, 2, 24, 20, dtype=torch.float64, generator=g, requires_grad=True)
    low = torch.rand(3, 4, 2, dtype=torch.float64, generator=g) - 0.9  # boxes inside the frame
    boxes = torch.cat([low, low + 0.2 + 0.6 * torch.rand(3, 4, 2, dtype=torch.float64, generator=g)], -1)
    crops = crop_boxes(img, boxes, 6)
    assert crops.shape == (3, 4, 2, 6, 6)
    weights = torch.rand(crops.shape, dtype=torch.float64, generator=g)
    (grad,) = torch.autograd.grad((crops * weights).sum(), img)
    expected_grad = torch.zeros_like(img)
    for i in range(3):
        for j in range(4):
            one = crop_boxes(img[i : i + 1], boxes[i : i + 1, j : j + 1], 6)[0, 0]
            torch.testing.assert_close(crops[i, j], one, atol=1e-12, rtol=0)
            expected_grad += torch.autograd.grad((one * weights[i, j]).sum(), img)[0]
    torch.testing.assert_close(grad, expected_grad, atol=1e-12, rtol=0)
    # Ramp 0.3 x + 0.7 y in the normalised frame (pixel centres), one image per batch entry.
    h, w = 24, 20
    ys = (torch.arange(h, dtype=torch.float64) * 2 + 1) / h - 1
    xs = (torch.arange(w, dtype=torch.float64) * 2 + 1) / w - 1
    ramp = (0.3 * xs[None, :] + 0.7 * ys[:, None]).expand(3, 1, h, w)
    means = crop_boxes(ramp, boxes, 6).mean((-1, -2))[..., 0]
    centres = (boxes[..., :2] + boxes[..., 2:]) / 2
    # Inside the outermost pixel centres bilinear sampling of the ramp is exact.
    torch.testing.assert_close(means, 0.3 * centres[..., 0] + 0.7 * centres[..., 1], atol=1e-9, rtol=0)
    # Differentiable with respect to the boxes too (numerical gradients).
    small = img[:2, :, :10, :10].detach()
    box = boxes[:2, :2].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda bx: crop_boxes(small, bx, 3), (box,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("kind", ["affine", "similarity"])
def test_fit_part_transforms_recovers_known_maps(kind):
    lm = _face(1)
    if kind == "affine":
        a = torch.tensor([[1.3, 0.2], [-0.1, 0.8]], dtype=torch.float64)
    else:
        ang = torch.tensor(0.3, dtype=torch.float64)
        a = 1.2 * torch.stack([torch.stack([ang.cos(), -ang.sin()]), torch.stack([ang.sin(), ang.cos()])])
    shift = torch.tensor([0.05, -0.02], dtype=torch.float64)
    mats, valid = fit_part_transforms(lm, lm @ a.T + shift, kind=kind)
    assert valid.all()
    for p in range(len(PART_NAMES)):
        torch.testing.assert_close(mats[0, p, :, :2], a, atol=1e-8, rtol=0)
        torch.testing.assert_close(mats[0, p, :, 2], shift, atol=1e-8, rtol=0)


def test_local_warp_identity_and_part_interior():
    lm = _face(1)
    ident = identity_grid(1, SIZE, SIZE, torch.float64)
    same = local_warp_grid(lm, lm, SIZE, SIZE)
    torch.testing.assert_close(same, ident, atol=1e-12, rtol=0)
    # Enlarge the right eye 1.5x about its centre in the target: inside the eye the backward map is the
    # inverse scaling, exactly at the eye centre and to within the window falloff nearby.
    idx = [INDEX[n] for n in PARTS["right_eye"]]
    c = lm[0, INDEX["right_eye_center"]]
    t = lm.clone()
    t[0, idx] = c + 1.5 * (lm[0, idx] - c)
    in_parts = torch.zeros(1, NUM_LANDMARKS, dtype=torch.bool)
    in_parts[0, [INDEX[n] for names in PARTS.values() for n in names]] = True  # other rows are all 0
    base = landmark_warp_grid(lm, t, SIZE, mask=in_parts, frame="normalized")
    grid = local_warp_grid(lm, t, SIZE, SIZE, base_grid=base)
    cx, cy = normalized_to_pixels(c, SIZE, SIZE).round().long().tolist()
    x = ident[0, cy, cx]
    torch.testing.assert_close(grid[0, cy, cx], c + (x - c) / 1.5, atol=1e-3, rtol=0)
    x2 = ident[0, cy, cx + 4]
    torch.testing.assert_close(grid[0, cy, cx + 4], c + (x2 - c) / 1.5, atol=2e-3, rtol=0)
    far = ident[0, -3, 3]
    torch.testing.assert_close(grid[0, -3, 3], far, atol=1e-3, rtol=0)  # background untouched


def test_local_warp_moves_part_points_to_targets():
    lm = _face(1)
    t = lm.clone()
    mouth = [INDEX[n] for n in PARTS["mouth"]]
    t[0, mouth] = lm[0, mouth] * torch.tensor([0.7, 1.0], dtype=torch.float64) + torch.tensor(
        [0.0, -0.05], dtype=torch.float64
    )
    in_parts = torch.zeros(1, NUM_LANDMARKS, dtype=torch.bool)
    in_parts[0, [INDEX[n] for names in PARTS.values() for n in names]] = True
    base = landmark_warp_grid(lm, t, 256, mask=in_parts, frame="normalized", lowres=None)

    def at_targets(grid):
        return torch.nn.functional.grid_sample(
            grid.permute(0, 3, 1, 2), t[:, None, mouth], align_corners=False
        )[0, :, 0].T

    # on its own (identity base) the part window brings the mouth points home to within ~0.7 px ...
    torch.testing.assert_close(at_targets(local_warp_grid(lm, t, 256, 256)), lm[0, mouth], atol=6e-3, rtol=0)
    # ... and blended into a global TPS that agrees at the points (an affine part change) it stays within
    # 0.08 px: only the overlapping nose window (identity) still pulls a little
    grid = local_warp_grid(lm, t, 256, 256, mask=in_parts, base_grid=base)
    torch.testing.assert_close(at_targets(grid), lm[0, mouth], atol=6e-4, rtol=0)
