"""Differentiable augmentation (DiffAugment style) for discriminators trained on 10-100 exemplars.

Real style samples and generated images go through the *same kind* of random transform (fresh
parameters per sample) right before the discriminator; every operation is differentiable in the
image, so the generator is trained through it. With few exemplars this stops the discriminator from
memorising them, which otherwise ends training within a few hundred steps.

Operations (``policy`` names, applied in this order):

* ``"color"``: brightness ``x + b``, ``b ~ U(-0.5, 0.5)``; saturation ``m_c + s (x - m_c)``,
  ``s ~ U(0, 2)`` (``m_c``: per-pixel channel mean); contrast ``m + c (x - m)``, ``c ~ U(0.5, 1.5)``
  (``m``: per-image mean). Images in ``[-1, 1]``.
* ``"translation"``: integer shift of up to ``translation_ratio`` of the size in each direction,
  zero (mid-grey) fill. Landmarks move with it (see ``points``).
* ``"cutout"``: a zeroed square of side ``cutout_ratio`` of the size at a random centre.

``strength`` in ``[0, 1]`` scales every range (0 = exact identity); ``probability`` is the chance that
each operation is applied to a given sample (ADA-like; 1.0 = always, as in DiffAugment). All random
numbers come from the ``generator`` argument (a CPU ``torch.Generator``), so one seed gives one output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

import torch

__all__ = ["POLICIES", "AugmentParams", "DiffAugment"]

POLICIES = ("color", "translation", "cutout")


@dataclass
class AugmentParams:
    """Per-sample parameters of one augmentation draw (all ``(B,)`` tensors on the images' device).

    Identity values: ``brightness=0``, ``saturation=1``, ``contrast=1``, ``shift_x=shift_y=0``
    (integer pixels, content moves by ``+shift``), ``cutout_size=0`` (pixels; centre in
    ``cutout_x, cutout_y`` pixel coordinates).
    """

    brightness: torch.Tensor
    saturation: torch.Tensor
    contrast: torch.Tensor
    shift_x: torch.Tensor
    shift_y: torch.Tensor
    cutout_x: torch.Tensor
    cutout_y: torch.Tensor
    cutout_size: torch.Tensor


class DiffAugment:
    """Callable augmentation: ``aug(images, generator=g)`` or ``aug(images, points, generator=g)``.

    Args:
        policy: subset of :data:`POLICIES` (for part crops, drop ``"translation"``).
        probability: per-sample, per-operation application probability.
        strength: scale of every parameter range, 0 gives the identity.
        translation_ratio: maximum shift as a fraction of the image size.
        cutout_ratio: cutout side as a fraction of the image size.

    Shapes: ``images (B, C, H, W)`` in ``[-1, 1]``; ``points (B, K, 2)`` in the normalised frame
    (``align_corners=False``; x, y) -> same shapes. ``sample`` / ``apply`` / ``apply_points`` split the
    draw from its use, to apply one draw to images and their landmarks, or to several tensors.
    """

    def __init__(
        self,
        policy: Sequence[str] = POLICIES,
        probability: float = 1.0,
        strength: float = 1.0,
        translation_ratio: float = 0.125,
        cutout_ratio: float = 0.5,
    ) -> None:
        unknown = [p for p in policy if p not in POLICIES]
        if unknown:
            raise ValueError(f"unknown augmentation {unknown}; choose from {POLICIES}")
        if not 0.0 <= probability <= 1.0 or strength < 0:
            raise ValueError("probability must be in [0, 1] and strength >= 0")
        self.policy = tuple(policy)
        self.probability = probability
        self.strength = strength
        self.translation_ratio = translation_ratio
        self.cutout_ratio = cutout_ratio

    def sample(
        self,
        batch: int,
        height: int,
        width: int,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> AugmentParams:
        """Draw parameters for ``batch`` samples. The draw order is fixed, whatever the policy."""

        def uniform(*shape: int) -> torch.Tensor:
            return torch.rand(*shape, generator=generator)

        def applied(name: str) -> torch.Tensor:
            draw = uniform(batch) < self.probability
            return draw & (name in self.policy) & (self.strength > 0)

        s = self.strength
        color, trans, cut = applied("color"), applied("translation"), applied("cutout")
        brightness = (uniform(batch) - 0.5) * s
        saturation = 1 + (uniform(batch) * 2 - 1) * s
        contrast = 1 + (uniform(batch) - 0.5) * s
        max_dx = int(width * self.translation_ratio * s + 0.5)
        max_dy = int(height * self.translation_ratio * s + 0.5)
        shift_x = torch.floor(uniform(batch) * (2 * max_dx + 1)).long() - max_dx
        shift_y = torch.floor(uniform(batch) * (2 * max_dy + 1)).long() - max_dy
        cutout_x = torch.floor(uniform(batch) * width).long()
        cutout_y = torch.floor(uniform(batch) * height).long()
        size = int(min(height, width) * self.cutout_ratio * s + 0.5)
        params = AugmentParams(
            brightness=torch.where(color, brightness, torch.zeros(())),
            saturation=torch.where(color, saturation, torch.ones(())),
            contrast=torch.where(color, contrast, torch.ones(())),
            shift_x=torch.where(trans, shift_x, torch.zeros((), dtype=torch.long)),
            shift_y=torch.where(trans, shift_y, torch.zeros((), dtype=torch.long)),
            cutout_x=cutout_x,
            cutout_y=cutout_y,
            cutout_size=torch.where(cut, torch.full((batch,), size), torch.zeros((), dtype=torch.long)),
        )
        return AugmentParams(**{k: v.to(device) for k, v in vars(params).items()})

    @staticmethod
    def apply(images: torch.Tensor, params: AugmentParams) -> torch.Tensor:
        """Apply a draw to ``images (B, C, H, W)``; differentiable in ``images``."""
        batch, channels, height, width = images.shape
        x = images
        view = (batch, 1, 1, 1)
        # Colour, written as x + (f - 1) * (x - m) so identity parameters give x exactly.
        x = x + params.brightness.to(x.dtype).view(view)
        x = x + (params.saturation.to(x.dtype).view(view) - 1) * (x - x.mean(dim=1, keepdim=True))
        x = x + (params.contrast.to(x.dtype).view(view) - 1) * (x - x.mean(dim=(1, 2, 3), keepdim=True))
        # Translation by integer gathers (exact, no resampling blur), zero fill.
        rows = torch.arange(height, device=x.device).view(1, height) - params.shift_y.view(batch, 1)
        cols = torch.arange(width, device=x.device).view(1, width) - params.shift_x.view(batch, 1)
        valid = ((rows >= 0) & (rows < height)).view(batch, 1, height, 1) & (
            (cols >= 0) & (cols < width)
        ).view(batch, 1, 1, width)
        rows = rows.clamp(0, height - 1).view(batch, 1, height, 1).expand(batch, channels, height, width)
        cols = cols.clamp(0, width - 1).view(batch, 1, 1, width).expand(batch, channels, height, width)
        x = x.gather(2, rows).gather(3, cols) * valid.to(x.dtype)
        # Cutout: zero a square of side cutout_size centred at (cutout_x, cutout_y).
        half = params.cutout_size.view(batch, 1, 1) // 2
        ys = torch.arange(height, device=x.device).view(1, height, 1)
        xs = torch.arange(width, device=x.device).view(1, 1, width)
        top = params.cutout_y.view(batch, 1, 1) - half
        left = params.cutout_x.view(batch, 1, 1) - half
        size = params.cutout_size.view(batch, 1, 1)
        inside = (ys >= top) & (ys < top + size) & (xs >= left) & (xs < left + size)
        return x * (~inside).unsqueeze(1).to(x.dtype)

    @staticmethod
    def apply_points(points: torch.Tensor, params: AugmentParams, height: int, width: int) -> torch.Tensor:
        """Move landmarks ``(B, K, 2)`` (normalised frame) with the draw's translation."""
        offset = torch.stack((params.shift_x * (2.0 / width), params.shift_y * (2.0 / height)), dim=-1)
        return points + offset.to(points.dtype).view(-1, 1, 2)

    @overload
    def __call__(
        self, images: torch.Tensor, points: None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor: ...

    @overload
    def __call__(
        self, images: torch.Tensor, points: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]: ...

    def __call__(
        self,
        images: torch.Tensor,
        points: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        batch, _, height, width = images.shape
        params = self.sample(batch, height, width, generator, images.device)
        out = self.apply(images, params)
        if points is None:
            return out
        return out, self.apply_points(points, params, height, width)
