"""Loss terms against hand-computed values on small tensors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from geostyle.nets.blocks import identity_grid, warp
from geostyle.train import losses as L


def _t(*values: float) -> torch.Tensor:
    return torch.tensor(values).view(1, 1, 1, -1)


def test_lsgan_reference_values():
    # D: 0.5 * (mean((real - 1)^2) + mean(fake^2)) = 0.5 * ((1 + 0)/2 + (0 + 1)/2) = 0.5
    assert L.lsgan_d_loss(_t(0.0, 1.0), _t(0.0, 1.0)).item() == pytest.approx(0.5)
    assert L.lsgan_d_loss(_t(1.0, 1.0), _t(0.0, 0.0)).item() == 0.0
    # G: mean((fake - 1)^2) = (1 + 0) / 2
    assert L.lsgan_g_loss(_t(0.0, 1.0)).item() == pytest.approx(0.5)
    # two scales are averaged, not summed: (0.5 + 0) / 2
    assert L.lsgan_g_loss([_t(0.0, 1.0), _t(1.0, 1.0, 1.0)]).item() == pytest.approx(0.25)


def test_hinge_reference_values():
    # D: mean(relu(1 - [2, 0])) + mean(relu(1 + [-2, 0.5])) = 0.5 + 0.75
    assert L.hinge_d_loss(_t(2.0, 0.0), _t(-2.0, 0.5)).item() == pytest.approx(1.25)
    assert L.hinge_g_loss(_t(-2.0, 0.5)).item() == pytest.approx(0.75)
    assert L.hinge_d_loss([_t(2.0), _t(0.0)], [_t(-2.0), _t(0.0)]).item() == pytest.approx(1.0)


def test_adversarial_loss_dispatch():
    real, fake = [_t(0.3, 0.9)], [_t(-0.4, 0.2)]
    assert L.AdversarialLoss("lsgan").d_loss(real, fake) == L.lsgan_d_loss(real, fake)
    assert L.AdversarialLoss("hinge").g_loss(fake) == L.hinge_g_loss(fake)
    with pytest.raises(ValueError):
        L.AdversarialLoss("wgan")


def test_cycle_loss_with_and_without_mask():
    rec, orig = _t(1.0, 2.0), _t(0.0, 4.0)
    assert L.cycle_loss(rec, orig).item() == pytest.approx(1.5)
    assert L.cycle_loss(rec, orig, mask=_t(1.0, 0.0)).item() == pytest.approx(1.0)


def test_total_variation_reference():
    image = torch.tensor([[0.0, 1.0], [3.0, 5.0]]).view(1, 1, 2, 2)
    # dx: |1-0|, |5-3| -> 1.5; dy: |3-0|, |5-1| -> 3.5
    assert L.total_variation(image).item() == pytest.approx(5.0)


def test_r1_penalty_reference():
    # D(x) = 3x as a 2x2 patch map; score = mean of the 4 logits -> d score / dx = 3/4 per pixel;
    # squared norm = 4 * (3/4)^2 = 2.25 per sample
    x = torch.randn(3, 1, 2, 2, requires_grad=True)
    assert L.r1_penalty([3 * x], x).item() == pytest.approx(2.25)
    # two scales are averaged: D2(x) = x -> (3/4 + 1/4)/2 per pixel = 0.5 -> 4 * 0.25 = 1
    x = torch.randn(2, 1, 2, 2, requires_grad=True)
    assert L.r1_penalty([3 * x, x], x).item() == pytest.approx(1.0)
    # the penalty is differentiable (create_graph) so it can train the discriminator
    w = torch.tensor(2.0, requires_grad=True)
    L.r1_penalty(w * x, x).backward()
    assert w.grad.item() == pytest.approx(2 * 2.0 * 4 * (1 / 4) ** 2)


def test_luminance_and_low_pass():
    image = torch.ones(1, 3, 8, 8) * torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    assert L.luminance(image).unique().item() == pytest.approx(0.299)
    ramp = torch.arange(16.0).view(1, 1, 4, 4)
    torch.testing.assert_close(L.low_pass(ramp, 2), torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))


def test_surface_view_hides_thin_marks_and_keeps_tone():
    # A one-pixel white line (an eye highlight) on a dark crop: blurred at sigma 0.05 x 32 = 1.6 px,
    # its peak falls to a quarter; the crop's mean (its tone) is kept; 0 leaves the crop as it is.
    crops = torch.full((2, 3, 32, 32), -1.0)
    crops[..., 15, :] = 1.0
    seen = L.surface_view(crops, 0.05)
    assert seen.shape == crops.shape
    assert seen.max().item() < -0.3
    assert seen.mean().item() == pytest.approx(crops.mean().item(), abs=1e-5)
    # the same fraction blurs a 16 px crop (the 128 px phase) half as many pixels: the same view as
    # the 32 px crop's view shrunk (peaks -0.50 and -0.55; a fixed 1.6 px sigma would give -0.75)
    small = torch.nn.functional.interpolate(crops, size=16, mode="area")
    shrunk = torch.nn.functional.interpolate(seen, size=16, mode="area")
    assert L.surface_view(small, 0.05).max().item() == pytest.approx(shrunk.max().item(), abs=0.08)
    assert L.surface_view(crops, 0.0) is crops
    assert L.surface_view(crops[:0], 0.05).shape == (0, 3, 32, 32)


def test_content_loss_terms():
    out, target = torch.zeros(1, 3, 16, 16), torch.ones(1, 3, 16, 16)
    assert L.content_loss(out, target, low_pass_weight=2.0).item() == pytest.approx(2.0)
    assert L.content_loss(out, target, luminance_weight=1.0).item() == pytest.approx(1.0)

    def fake_perceptual(a, b):
        return (a - b).abs().mean() * 10

    assert L.content_loss(
        out, target, perceptual=fake_perceptual, low_pass_weight=1.0
    ).item() == pytest.approx(11.0)
    with pytest.raises(ValueError):
        L.content_loss(out, target)


def _translation(batch, size, dx):
    grid = identity_grid(batch, size, size).clone()
    grid[..., 0] -= 2 * dx / size
    return grid


def test_deformation_invariance_zero_for_equivariant_generator():
    # A "generator" that only applies its geometry (a pure warp) commutes with any further warp.
    def warp_only(x, grid):
        return x if grid is None else warp(x, grid)

    x = torch.randn(2, 3, 32, 32)
    random_grid = _translation(2, 32, 3)
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 3:] = 1  # the columns pulled in from outside the frame are excluded
    assert L.deformation_invariance_loss(warp_only, x, None, random_grid, mask=mask).item() < 1e-6
    assert (
        L.deformation_invariance_loss(warp_only, x, _translation(2, 32, 2), random_grid, mask=mask).item()
        < 1e-6
    )


def test_deformation_invariance_penalises_a_warp_blind_generator():
    def ignores_grid(x, grid):
        return 2 * x

    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    identity = identity_grid(1, 32, 32)
    assert L.deformation_invariance_loss(ignores_grid, x, None, identity).item() == pytest.approx(
        0.0, abs=1e-6
    )
    loss = L.deformation_invariance_loss(ignores_grid, x, None, _translation(1, 32, 3))
    # mean |2x - 2 shift(x)| with shift(x) the 3 px translation (border columns repeat x[:, :, :, 0])
    shifted = torch.cat([x[..., :1].expand(-1, -1, -1, 3), x[..., :-3]], dim=-1)
    assert loss.item() == pytest.approx((2 * x - 2 * shifted).abs().mean().item(), rel=1e-5)
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_gram_matrix_reference_and_unit_trace():
    # Two channels over two positions: a = [1, 0], b = [0, 1] -> A^T A / 2 = identity / 2.
    feats = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).view(1, 2, 1, 2)
    torch.testing.assert_close(L.gram_matrix(feats), torch.eye(2).unsqueeze(0) / 2)
    # Channel-unit-normalised features: the trace is exactly 1 whatever the width and map size.
    rand = torch.randn(3, 7, 5, 6)
    unit = rand / rand.norm(dim=1, keepdim=True)
    traces = torch.diagonal(L.gram_matrix(unit), dim1=1, dim2=2).sum(-1)
    torch.testing.assert_close(traces, torch.ones(3))


def test_style_texture_loss_ignores_layout_but_sees_texture():
    g = torch.Generator().manual_seed(0)
    feats = torch.rand(2, 4, 6, 6, generator=g)
    # Same texture statistics in another arrangement (positions permuted): zero distance.
    shuffled = feats.flatten(2)[..., torch.randperm(36, generator=g)].view_as(feats)
    assert L.style_texture_loss([feats], [shuffled]).item() == pytest.approx(0.0, abs=1e-6)
    # Reference value: one channel of ones vs zeros -> gram 1 vs 0 -> Frobenius distance 1, weight 3.
    ones, zeros = torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)
    assert L.style_texture_loss([ones], [zeros], weights=[3.0]).item() == pytest.approx(3.0)
    other = torch.rand(2, 4, 6, 6, generator=g) ** 4  # sparser activations: another texture
    assert L.style_texture_loss([feats], [other]).item() > 0.05
    with pytest.raises(ValueError):
        L.style_texture_loss([], [])


def test_style_texture_loss_gradient_reaches_the_output():
    out = torch.rand(1, 3, 4, 4, requires_grad=True)
    L.style_texture_loss([out], [torch.rand(1, 3, 4, 4)]).backward()
    assert out.grad is not None and out.grad.abs().sum() > 0


def test_image_gradient_loss_ignores_tone_and_sees_lines():
    torch.manual_seed(0)
    img = torch.rand(2, 1, 16, 16)
    assert L.image_gradient_loss(img + 0.3, img).item() == pytest.approx(0.0, abs=1e-6)
    shifted = torch.roll(img, 1, dims=-1)
    assert L.image_gradient_loss(shifted, img).item() > 0.1


def test_tone_loss_sees_how_light_a_region_is_not_where_its_strokes_lie():
    # Hatching: every other column dark, on white paper; the same strokes one column over are the
    # same tone (a per-pixel L1 calls them maximally different), solid black is far darker.
    hatching = torch.ones(1, 1, 16, 16)
    hatching[..., ::2] = -1.0
    moved = torch.roll(hatching, 1, dims=-1)
    assert F.l1_loss(moved, hatching).item() == pytest.approx(2.0)
    assert L.tone_loss(moved, hatching, 8).item() == pytest.approx(0.0, abs=1e-6)
    assert L.tone_loss(torch.full_like(hatching, -1.0), hatching, 8).item() == pytest.approx(1.0)
    # A cell finer than the strokes' period sees them again.
    assert L.tone_loss(moved, hatching, 1).item() == pytest.approx(2.0)


def test_d_fake_loss_is_the_fake_half_of_d_loss():
    real, fake = [torch.randn(2, 1, 4, 4)], [torch.randn(2, 1, 4, 4)]
    for mode in ("lsgan", "hinge"):
        adv = L.AdversarialLoss(mode)
        zero_real = adv.d_loss(real, [torch.full_like(fake[0], -1e9 if mode == "hinge" else 0.0)])
        torch.testing.assert_close(adv.d_loss(real, fake) - zero_real, adv.d_fake_loss(fake))
