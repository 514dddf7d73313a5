"""Loss terms as small callables. Each returns an unweighted scalar tensor; the caller applies weights.

Discriminator outputs are raw patch logits, either one tensor ``(B, 1, h, w)`` or a list of them (one
per scale, as the discriminators in :mod:`geostyle.nets.discriminator` return). Adversarial losses
average over patches within a scale and then over scales, so their magnitude does not depend on the
number of scales or the patch-map size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from geostyle.nets.blocks import LUMA_WEIGHTS, compose_grids, gaussian_blur, warp

__all__ = [
    "Logits",
    "lsgan_d_loss",
    "lsgan_g_loss",
    "hinge_d_loss",
    "hinge_g_loss",
    "AdversarialLoss",
    "cycle_loss",
    "deformation_invariance_loss",
    "luminance",
    "low_pass",
    "content_loss",
    "gram_matrix",
    "style_texture_loss",
    "r1_penalty",
    "total_variation",
]

Logits = torch.Tensor | Sequence[torch.Tensor]


def _as_list(logits: Logits) -> list[torch.Tensor]:
    return [logits] if isinstance(logits, torch.Tensor) else list(logits)


def _mean_over_scales(values: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack(values).mean()


def lsgan_d_loss(real: Logits, fake: Logits) -> torch.Tensor:
    """Least-squares discriminator loss ``0.5 * (mean((D(real) - 1)^2) + mean(D(fake)^2))``, averaged over scales."""
    terms = [
        0.5 * ((r - 1).pow(2).mean() + f.pow(2).mean())
        for r, f in zip(_as_list(real), _as_list(fake), strict=True)
    ]
    return _mean_over_scales(terms)


def lsgan_g_loss(fake: Logits) -> torch.Tensor:
    """Least-squares generator loss ``mean((D(fake) - 1)^2)``, averaged over scales."""
    return _mean_over_scales([(f - 1).pow(2).mean() for f in _as_list(fake)])


def hinge_d_loss(real: Logits, fake: Logits) -> torch.Tensor:
    """Hinge discriminator loss ``mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))``, averaged over scales."""
    terms = [
        F.relu(1 - r).mean() + F.relu(1 + f).mean()
        for r, f in zip(_as_list(real), _as_list(fake), strict=True)
    ]
    return _mean_over_scales(terms)


def hinge_g_loss(fake: Logits) -> torch.Tensor:
    """Hinge generator loss ``-mean(D(fake))``, averaged over scales."""
    return _mean_over_scales([-f.mean() for f in _as_list(fake)])


class AdversarialLoss:
    """Pick a GAN objective by name: ``AdversarialLoss("lsgan")`` or ``AdversarialLoss("hinge")``.

    ``d_loss(real_logits, fake_logits)`` and ``g_loss(fake_logits)``; pass fake logits computed from
    detached generator outputs to ``d_loss``.
    """

    MODES = ("lsgan", "hinge")

    def __init__(self, mode: str = "lsgan") -> None:
        if mode not in self.MODES:
            raise ValueError(f"unknown adversarial loss {mode!r}; expected one of {self.MODES}")
        self.mode = mode

    def d_loss(self, real: Logits, fake: Logits) -> torch.Tensor:
        return lsgan_d_loss(real, fake) if self.mode == "lsgan" else hinge_d_loss(real, fake)

    def g_loss(self, fake: Logits) -> torch.Tensor:
        return lsgan_g_loss(fake) if self.mode == "lsgan" else hinge_g_loss(fake)

    def d_fake_loss(self, fake: Logits) -> torch.Tensor:
        """The fake half of :meth:`d_loss` alone: extra images the critic must call fake (hard negatives)."""
        if self.mode == "lsgan":
            return _mean_over_scales([0.5 * f.pow(2).mean() for f in _as_list(fake)])
        return _mean_over_scales([F.relu(1 + f).mean() for f in _as_list(fake)])


def _masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return values.mean()
    mask = mask.expand_as(values).to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


def cycle_loss(
    reconstruction: torch.Tensor, original: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """L1 cycle-consistency ``mean(|F(G(x)) - x|)``, optionally over ``mask (B, 1, H, W)`` only.

    A mask helps when the cycle goes through a warp and its inverse: pixels the forward warp pulled
    from outside the frame (border padding) cannot be reconstructed and should not be penalised.
    """
    return _masked_mean((reconstruction - original).abs(), mask)


def deformation_invariance_loss(
    generator: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
    x: torch.Tensor,
    grid: torch.Tensor | None,
    random_grid: torch.Tensor,
    mask: torch.Tensor | None = None,
    padding_mode: str = "border",
) -> torch.Tensor:
    """Deformation invariance ``|G(W(x)) - W(G(x))|_1`` for a random smooth warp ``W``.

    ``generator(x, grid)`` is a geometry-aware generator (stylise ``x`` into the geometry of the
    backward map ``grid``, ``None`` = no warp). ``W(G(x))`` warps the output of ``G(x, grid)`` by
    ``random_grid``; ``G(W(x))`` asks the generator itself to apply the extra warp, by passing the
    composed field (``grid`` then ``random_grid``). Stylisation should commute with geometry, so the two
    must agree; a generator that makes warp-dependent artifacts (e.g. from resampled low-resolution
    features) is penalised. Both branches get gradients.

    Shapes: ``x (B, C, H, W)``, grids ``(B, H*, W*, 2)`` of any resolution (normalised frame,
    ``align_corners=False``); both branches come out at the generator's output size ``(H, W)``;
    optional ``mask (B, 1, H, W)`` (e.g. zero where ``random_grid`` reads outside the frame).
    """
    stylised = generator(x, grid)
    warped_after = warp(stylised, random_grid, padding_mode)
    composed = random_grid if grid is None else compose_grids(grid, random_grid)
    warped_before = generator(x, composed)
    return _masked_mean((warped_before - warped_after).abs(), mask)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """Rec. 601 luma ``(B, 1, H, W)`` of an RGB image ``(B, 3, H, W)`` (same value range)."""
    weights = image.new_tensor(LUMA_WEIGHTS).view(1, 3, 1, 1)
    return (image * weights).sum(dim=1, keepdim=True)


def low_pass(image: torch.Tensor, factor: int = 8) -> torch.Tensor:
    """Area-downsample by ``factor``: ``(B, C, H, W) -> (B, C, H/factor, W/factor)`` (coarse shading only)."""
    return F.avg_pool2d(image, factor, stride=factor, ceil_mode=True, count_include_pad=False)


def surface_view(crops: torch.Tensor, fraction: float) -> torch.Tensor:
    """``crops (M, C, S, S)`` blurred with sigma ``fraction * S`` (unchanged at 0): what a critic sees
    when it should judge shape, tone and colour but not thin details (White-box Cartoonization's
    surface representation). Real and fake crops get the same view."""
    if fraction <= 0 or crops.shape[0] == 0:
        return crops
    return gaussian_blur(crops, fraction * float(crops.shape[-1]))


def content_loss(
    output: torch.Tensor,
    target: torch.Tensor,
    perceptual: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    low_pass_weight: float = 0.0,
    luminance_weight: float = 0.0,
    low_pass_factor: int = 8,
) -> torch.Tensor:
    """Content / identity preservation between a stylised output and the (warped) photo it came from.

    ``perceptual(output, target)`` (e.g. :class:`geostyle.nets.perceptual.PerceptualLoss`) keeps
    structure; ``low_pass_weight`` adds ``L1`` between low-passed images (coarse colour and shading);
    ``luminance_weight`` adds ``L1`` between low-passed luma only, which keeps the face's light and
    shade (identity cues) while leaving colour free for the style. Returns the sum of the enabled
    terms; at least one must be enabled.
    """
    if perceptual is None and low_pass_weight == 0 and luminance_weight == 0:
        raise ValueError("content_loss needs a perceptual loss or a non-zero low_pass/luminance weight")
    total = output.new_zeros(())
    if perceptual is not None:
        total = total + perceptual(output, target)
    if low_pass_weight:
        total = (
            total
            + low_pass_weight
            * (low_pass(output, low_pass_factor) - low_pass(target, low_pass_factor)).abs().mean()
        )
    if luminance_weight:
        lo, lt = low_pass(luminance(output), low_pass_factor), low_pass(luminance(target), low_pass_factor)
        total = total + luminance_weight * (lo - lt).abs().mean()
    return total


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Channel co-occurrence ``(B, C, C)`` of feature maps ``(B, C, H, W)``, averaged over positions.

    For channel-unit-normalised features (as :meth:`geostyle.nets.perceptual.PerceptualLoss.features`
    returns) the trace is 1 and the Frobenius norm at most 1, whatever the layer width or map size.
    """
    b, c = features.shape[:2]
    flat = features.reshape(b, c, -1)
    return flat @ flat.transpose(1, 2) / flat.shape[-1]


def style_texture_loss(
    output_features: Sequence[torch.Tensor],
    exemplar_features: Sequence[torch.Tensor],
    weights: Sequence[float] | None = None,
) -> torch.Tensor:
    """Texture statistics of the output against those of its style exemplar (Gatys et al.).

    ``sum_l w_l * mean_b ||gram(phi_l(output)) - gram(phi_l(exemplar))||_F`` over matching lists of
    unit-normalised feature maps ``(B, C_l, H_l, W_l)``. Gram matrices discard *where* things are and
    keep *what* the local texture is (flat colour areas, line strokes, hatching), so this dense,
    non-adversarial signal teaches texture even from a few exemplars; identity and layout are left to
    the content and cycle terms. Each layer's term lies in ``[0, 2]``.
    """
    if len(output_features) != len(exemplar_features) or not output_features:
        raise ValueError("style_texture_loss needs matching, non-empty feature lists")
    return gram_texture_loss(output_features, [gram_matrix(fe) for fe in exemplar_features], weights)


def gram_texture_loss(
    output_features: Sequence[torch.Tensor],
    exemplar_grams: Sequence[torch.Tensor],
    weights: Sequence[float] | None = None,
) -> torch.Tensor:
    """:func:`style_texture_loss` against Gram matrices ``(B, C_l, C_l)`` computed beforehand: the
    exemplars are fixed images, so their texture statistics can be cached once per run."""
    if len(output_features) != len(exemplar_grams) or not output_features:
        raise ValueError("gram_texture_loss needs one exemplar Gram matrix per feature map")
    weights = weights if weights is not None else [1.0] * len(output_features)
    total = output_features[0].new_zeros(())
    for fo, ge, w in zip(output_features, exemplar_grams, weights, strict=True):
        diff = gram_matrix(fo) - ge
        total = total + w * diff.flatten(1).norm(dim=1).mean()
    return total


def r1_penalty(real_logits: Logits, real_images: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """R1 gradient penalty ``mean_b |grad_x s(x_b)|^2`` on real samples.

    ``s(x)`` is the image's score: the mean of its patch logits, averaged over scales (so the penalty
    does not grow with the patch-map size). ``real_images`` must have ``requires_grad=True`` before
    the discriminator runs on them; the graph is kept (``create_graph=True``) so the penalty can be
    backpropagated into the discriminator. Several inputs (e.g. crops of several parts fed separately)
    may be passed as a sequence; their squared gradient norms are added.
    """
    logits = _as_list(real_logits)
    inputs = [real_images] if isinstance(real_images, torch.Tensor) else list(real_images)
    score = torch.stack([out.flatten(1).mean(dim=1) for out in logits]).mean(dim=0).sum()
    grads = torch.autograd.grad(score, inputs, create_graph=True)
    return torch.stack([g.pow(2).flatten(1).sum(dim=1) for g in grads]).sum(dim=0).mean()


def image_gradient_loss(image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between horizontal and vertical finite differences of ``image`` and ``target`` ``(B, C, H, W)``:
    lines in the right places, independent of overall tone."""
    dx = (image[..., :, 1:] - image[..., :, :-1]) - (target[..., :, 1:] - target[..., :, :-1])
    dy = (image[..., 1:, :] - image[..., :-1, :]) - (target[..., 1:, :] - target[..., :-1, :])
    return 0.5 * (dx.abs().mean() + dy.abs().mean())


def tone_loss(image: torch.Tensor, target: torch.Tensor, cell: int) -> torch.Tensor:
    """L1 between ``image`` and ``target`` ``(B, C, H, W)`` each averaged over ``cell`` x ``cell``
    pixel cells: how light a region is drawn, whatever its strokes. A per-pixel L1 against hatching
    that does not line up with the output's learns each pixel's median, and where strokes cover more
    than half of the paper (hair) that is darker than the tone the eye sees (their mean)."""
    return F.l1_loss(F.avg_pool2d(image, cell, ceil_mode=True), F.avg_pool2d(target, cell, ceil_mode=True))


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Anisotropic total variation ``mean|dI/dx| + mean|dI/dy|`` of ``(B, C, H, W)`` images."""
    dx = (image[..., :, 1:] - image[..., :, :-1]).abs().mean()
    dy = (image[..., 1:, :] - image[..., :-1, :]).abs().mean()
    return dx + dy
