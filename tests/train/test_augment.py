"""DiffAugment: determinism, identity, differentiability, consistent landmark transform."""

from __future__ import annotations

import pytest
import torch

from geostyle.train.augment import POLICIES, DiffAugment


def _images(batch: int = 4, size: int = 32) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1


def test_same_seed_same_output_and_different_seed_differs():
    aug, x = DiffAugment(), _images()
    a = aug(x, generator=torch.Generator().manual_seed(7))
    b = aug(x, generator=torch.Generator().manual_seed(7))
    c = aug(x, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert a.shape == x.shape


@pytest.mark.parametrize("kwargs", [{"strength": 0.0}, {"probability": 0.0}, {"policy": ()}])
def test_identity_settings(kwargs):
    x = _images()
    assert torch.equal(DiffAugment(**kwargs)(x, generator=torch.Generator().manual_seed(0)), x)


@pytest.mark.parametrize("policy", POLICIES)
def test_each_operation_changes_images_and_passes_gradients(policy):
    x = _images().requires_grad_(True)
    out = DiffAugment(policy=(policy,))(x, generator=torch.Generator().manual_seed(3))
    assert not torch.equal(out, x)
    (out * torch.randn_like(out)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_translation_moves_points_with_the_content():
    size = 32
    x = torch.full((3, 1, size, size), -1.0)
    pixels = torch.tensor([[5, 7], [20, 11], [16, 16]])  # (x, y) of one bright pixel per image
    for b, (px, py) in enumerate(pixels.tolist()):
        x[b, 0, py, px] = 1.0
    points = ((pixels.float() + 0.5) * 2 / size - 1).view(3, 1, 2)  # pixel centres, normalised frame
    aug = DiffAugment(policy=("translation",), translation_ratio=0.25)
    out, moved = aug(x.expand(3, 3, size, size), points, generator=torch.Generator().manual_seed(5))
    params = aug.sample(3, size, size, torch.Generator().manual_seed(5))
    assert (params.shift_x != 0).any()
    for b in range(3):
        bright = torch.nonzero(out[b, 0] > 0)
        if len(bright) == 0:  # shifted out of the frame
            continue
        (py, px) = bright[0].tolist()
        expected = (torch.tensor([px, py]).float() + 0.5) * 2 / size - 1
        torch.testing.assert_close(moved[b, 0], expected)


def test_colour_and_cutout_leave_points_alone():
    points = torch.rand(2, 5, 2) * 2 - 1
    _, moved = DiffAugment(policy=("color", "cutout"))(
        _images(2), points, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(moved, points)


def test_cutout_zeroes_a_square_of_the_configured_size():
    x = torch.ones(1, 3, 32, 32)
    aug = DiffAugment(policy=("cutout",), cutout_ratio=0.25)
    out = aug(x, generator=torch.Generator().manual_seed(2))
    params = aug.sample(1, 32, 32, torch.Generator().manual_seed(2))
    zeros = (out[0, 0] == 0).sum().item()
    cx, cy = params.cutout_x.item(), params.cutout_y.item()
    rows = len(range(max(0, cy - 4), min(32, cy + 4)))
    cols = len(range(max(0, cx - 4), min(32, cx + 4)))
    assert params.cutout_size.item() == 8 and zeros == rows * cols > 0


def test_colour_ranges_scale_with_strength():
    x = torch.zeros(64, 3, 8, 8)
    weak = DiffAugment(policy=("color",), strength=0.2)(x, generator=torch.Generator().manual_seed(0))
    strong = DiffAugment(policy=("color",), strength=1.0)(x, generator=torch.Generator().manual_seed(0))
    # on a grey image only brightness acts: shifts in [-0.5, 0.5] * strength
    assert weak.abs().max() <= 0.1 + 1e-6 and strong.abs().max() <= 0.5 + 1e-6
    assert strong.abs().max() > 0.3


def test_bad_arguments():
    with pytest.raises(ValueError):
        DiffAugment(policy=("rotate",))
    with pytest.raises(ValueError):
        DiffAugment(probability=1.5)
