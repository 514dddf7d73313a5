"""Per-batch geometry for training: target landmarks and the TPS sampling fields that connect them.

Convention: all points are ``(B, K, 2)`` in the normalised frame (``grid_sample``,
``align_corners=False``) with a ``(B, K)`` presence mask; grids are backward maps ``(B, R, R, 2)``.
A field named ``a_from_b`` produces an image in geometry ``a`` by reading an image in geometry ``b``
(it is the TPS fitted from ``a`` to ``b``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from geostyle.faces.landmarks import with_missing_as_nan
from geostyle.warp.geometry import GeometryModel, check_part_gains
from geostyle.warp.grid import identity_grid, resize_grid, tps_grid
from geostyle.warp.tps import ThinPlateSpline, border_anchors


@dataclass
class PairGeometry:
    """Fields of one (photo batch, style batch) pair. ``None`` fields mean "no warp" (TPS ablation)."""

    photo_target: torch.Tensor  # t: where the photo's landmarks go in style space
    photo_target_mask: torch.Tensor
    style_target: torch.Tensor  # t': where the exemplar's landmarks go in photo space
    style_target_mask: torch.Tensor
    target_from_photo: torch.Tensor | None  # G's field: output at t reads photo at p
    photo_from_target: torch.Tensor | None  # F's cycle field: back from t to p
    exemplar_on_target: torch.Tensor | None  # exemplar (geometry s) resampled onto t
    style_target_from_style: torch.Tensor | None  # F's field for exemplars: output at t' reads y at s
    style_from_style_target: torch.Tensor | None  # G's cycle field for exemplars

    def to(self, device: torch.device) -> PairGeometry:
        """The same geometry with every tensor on ``device``."""
        moved: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            moved[name] = None if value is None else value.to(device)
        return PairGeometry(**moved)


class BatchAligner:
    """Builds :class:`PairGeometry` for batches from a fitted :class:`GeometryModel`."""

    def __init__(
        self,
        geometry: GeometryModel,
        resolution: int,
        strength: float = 1.0,
        per_part: bool = True,
        regularization: float = 1e-3,
        grid_resolution: int = 64,
        anchors_per_side: int = 5,
        enabled: bool = True,
        part_gains: Mapping[str, float] | None = None,
    ):
        self.geometry = geometry
        # Per-part multipliers of the strength (inference only: models train at one strength).
        self.part_gains = check_part_gains(part_gains)
        self.resolution = resolution
        self.strength = strength
        self.per_part = per_part
        self.regularization = regularization
        self.grid_resolution = min(grid_resolution, resolution)
        self.anchors = border_anchors(anchors_per_side).float()  # (A, 2), normalised frame
        self.enabled = enabled

    def at_resolution(self, resolution: int) -> BatchAligner:
        """The same aligner producing fields of another image size (multi-resolution training)."""
        other = copy.copy(self)
        other.resolution = resolution
        # The field keeps its sampling density relative to the image: evaluating the spline is most of
        # the cost of a batch's geometry, and a smooth field upsamples without loss.
        other.grid_resolution = max(16, min(resolution, self.grid_resolution * resolution // self.resolution))
        return other

    # ---------------------------------------------------------------- targets
    def photo_target(
        self, points: torch.Tensor, mask: torch.Tensor, strength: float | None = None
    ) -> torch.Tensor:
        """t = p + alpha * (style - photo) geometry change, per sample (missing points stay 0)."""
        return self._target(self.geometry.target, points, mask, strength)

    def style_target(
        self, points: torch.Tensor, mask: torch.Tensor, strength: float | None = None
    ) -> torch.Tensor:
        """The reverse direction: an exemplar's landmarks moved toward photo geometry."""
        return self._target(self.geometry.target_inverse, points, mask, strength)

    def _target(self, move, points: torch.Tensor, mask: torch.Tensor, strength: float | None) -> torch.Tensor:
        alpha = self.strength if strength is None else strength
        t = move(with_missing_as_nan(points, mask), alpha, per_part=self.per_part, gains=self.part_gains)
        return torch.from_numpy(np.nan_to_num(np.asarray(t), nan=0.0)).to(points) * mask[..., None]

    # ---------------------------------------------------------------- fields
    def field(self, out_points: torch.Tensor, in_points: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Backward field: an image in geometry ``out_points`` reads an image in geometry ``in_points``."""
        b = out_points.shape[0]
        anchors = self.anchors.to(out_points).expand(b, -1, -1)
        src = torch.cat([out_points, anchors], dim=1)
        dst = torch.cat([in_points, anchors], dim=1)
        full_mask = torch.cat(
            [mask, torch.ones(b, anchors.shape[1], dtype=torch.bool, device=mask.device)], dim=1
        )
        spline = ThinPlateSpline.fit(src, dst, regularization=self.regularization, mask=full_mask)
        g = tps_grid(spline, self.grid_resolution, self.grid_resolution)
        # Upsample the displacement, not the grid: the identity stays exact up to the border.
        return resize_grid(g, self.resolution, self.resolution)

    def pair(
        self, photo_points, photo_mask, style_points, style_mask, align_exemplars: bool = True
    ) -> PairGeometry:
        t = self.photo_target(photo_points, photo_mask)
        t_inv = self.style_target(style_points, style_mask)
        if not self.enabled:
            return PairGeometry(t, photo_mask, t_inv, style_mask, None, None, None, None, None)
        g = self.field(t, photo_points, photo_mask)
        g_back = self.field(photo_points, t, photo_mask)
        both = photo_mask & style_mask
        exemplar = self.field(t, style_points, both) if align_exemplars else None
        f = self.field(t_inv, style_points, style_mask)
        f_back = self.field(style_points, t_inv, style_mask)
        return PairGeometry(t, photo_mask, t_inv, style_mask, g, g_back, exemplar, f, f_back)

    def identity(self, batch: int) -> torch.Tensor:
        return identity_grid(batch, self.resolution, self.resolution)


def compose_fields(outer: torch.Tensor, inner: torch.Tensor) -> torch.Tensor:
    """Field of "apply ``inner`` then ``outer``" as one backward map: sample ``inner`` at ``outer``.

    If ``img2 = warp(img1, inner)`` and ``img3 = warp(img2, outer)``, then
    ``img3 ≈ warp(img1, compose_fields(outer, inner))``.
    """
    sampled = F.grid_sample(
        inner.permute(0, 3, 1, 2), outer, mode="bilinear", padding_mode="border", align_corners=False
    )
    return sampled.permute(0, 2, 3, 1)
