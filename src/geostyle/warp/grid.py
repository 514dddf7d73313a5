"""Dense sampling grids from thin-plate splines, resampling of images and feature maps, random warps.

Convention
----------
* A grid is a **backward** map of shape ``(B, H, W, 2)``: ``grid[b, i, j] = (x, y)`` is the
  normalised source location (``[-1, 1]``, ``align_corners=False``) read for output pixel
  ``(i, j)`` (row ``i``, column ``j``). It is consumed by ``grid_sample(img, grid,
  align_corners=False)`` (:func:`warp_image`).
* The normalised frame is resolution independent, so one field applies to an image and to every
  feature map of the generator after :func:`resize_grid`.
* Points handled here are ``(B, N, 2)``, columns ``(x, y)``, in the normalised frame unless a
  function says "pixels".
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from geostyle.errors import GeostyleError
from geostyle.faces.landmarks import normalized_to_pixels, pixels_to_normalized
from geostyle.warp.tps import ThinPlateSpline, append_anchors, border_anchors

__all__ = [
    "identity_grid",
    "tps_grid",
    "tps_grid_fast",
    "resize_grid",
    "warp_image",
    "landmark_warp_grid",
    "warp_landmarks_forward",
    "fold_fraction",
    "DEFAULT_REGULARIZATION",
    "RandomWarp",
    "ForwardMap",
    "random_tps_grid",
    "DEFAULT_ANCHORS_PER_SIDE",
    "DEFAULT_LOWRES",
]

DEFAULT_ANCHORS_PER_SIDE = 5
# Evaluating the field at 128 px on the long side and upsampling bilinearly stays within a pixel of the
# dense field at 512x512 even for full-strength anime warps (mean error ~0.01 px; see docs/warp.md,
# benchmarks/tps_speed.py). 64 is ~2x cheaper again and within ~1 px at 256x256.
DEFAULT_LOWRES = 128
# Smoothing for landmark-driven face warps (normalised units²). On 40 selfies warped to the full anime
# geometry (α = 1), λ = 0 folds 10 of them, 1e-3 folds 2 and moves landmarks 0.3 px (mean) off their
# targets, 1e-2 folds none at 1.4 px mean error (docs/warp.md).
DEFAULT_REGULARIZATION = 1e-3


def _hw(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def identity_grid(
    batch: int,
    height: int,
    width: int,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """``(B, H, W, 2)`` grid of pixel centres in the normalised frame: ``grid_sample`` returns its input.

    Convention: ``grid[..., i, j, :] = ((2j + 1) / W - 1, (2i + 1) / H - 1)``, i.e. ``(x, y)``.
    """
    ys = (torch.arange(height, dtype=dtype, device=device) * 2 + 1) / height - 1
    xs = (torch.arange(width, dtype=dtype, device=device) * 2 + 1) / width - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1).unsqueeze(0).expand(batch, -1, -1, -1)


def tps_grid(spline: ThinPlateSpline, height: int, width: int) -> Tensor:
    """Evaluate ``spline`` (fitted in the normalised frame, as a backward map) at every output pixel.

    Returns ``(B, H, W, 2)``. Cost is ``O(H W K)``: see :func:`tps_grid_fast` for large outputs.
    """
    batch = spline.batch_size
    pts = identity_grid(1, height, width, spline.centres.dtype, spline.centres.device).reshape(1, -1, 2)
    out = spline.transform(pts.expand(batch, -1, -1))
    return out.reshape(batch, height, width, 2)


def tps_grid_fast(spline: ThinPlateSpline, height: int, width: int, lowres: int = DEFAULT_LOWRES) -> Tensor:
    """Like :func:`tps_grid` but evaluated at ``lowres`` pixels on the longer side, then upsampled.

    The upsampling is :func:`resize_grid` (bilinear on the displacement). TPS fields of face warps are
    smooth, so the error is sub-pixel at 512x512 (see ``docs/warp.md`` for measured numbers).
    """
    scale = lowres / max(height, width)
    if scale >= 1.0:
        return tps_grid(spline, height, width)
    low_h, low_w = max(2, round(height * scale)), max(2, round(width * scale))
    return resize_grid(tps_grid(spline, low_h, low_w), height, width)


def resize_grid(grid: Tensor, height: int, width: int) -> Tensor:
    """Resample a grid ``(B, h, w, 2)`` to ``(B, H, W, 2)`` (e.g. to a feature map's resolution).

    The *displacement* ``grid - identity`` is resized bilinearly (``align_corners=False``) and added
    to the identity of the new size: the identity field stays exactly the identity at any size,
    and the field is treated as a function of the continuous normalised frame.
    """
    if grid.ndim != 4 or grid.shape[-1] != 2:
        raise GeostyleError(f"grid must have shape (B, H, W, 2), got {tuple(grid.shape)}")
    # int(): static sizes, also while the generator is traced for ONNX export.
    h, w, height, width = int(grid.shape[1]), int(grid.shape[2]), int(height), int(width)
    if (h, w) == (height, width):
        return grid
    disp = grid - identity_grid(1, h, w, grid.dtype, grid.device)
    # contiguous(): PyTorch's CPU bilinear resize of the permuted (channels-last) view is ~3x slower
    # than of a contiguous copy ((8, 2, 32, 32) -> 128 px: 1.18 vs 0.42 ms, five a training step).
    disp = disp.permute(0, 3, 1, 2).contiguous()
    disp = F.interpolate(disp, size=(height, width), mode="bilinear", align_corners=False)
    return disp.permute(0, 2, 3, 1) + identity_grid(1, height, width, grid.dtype, grid.device)


def warp_image(image: Tensor, grid: Tensor, padding_mode: str = "border") -> Tensor:
    """Resample ``image (B, C, h, w)`` with a backward ``grid (B, H, W, 2)`` -> ``(B, C, H, W)``.

    Bilinear, ``align_corners=False``, border padding (replicates edge pixels instead of pulling in
    black). A grid whose batch is 1 is broadcast to the image batch. If the grid resolution differs
    from the desired output, :func:`resize_grid` it first.
    """
    if image.ndim != 4:
        raise GeostyleError(f"image must have shape (B, C, H, W), got {tuple(image.shape)}")
    if grid.ndim != 4 or grid.shape[-1] != 2:
        raise GeostyleError(f"grid must have shape (B, H, W, 2), got {tuple(grid.shape)}")
    if grid.shape[0] != image.shape[0]:
        if grid.shape[0] != 1:
            raise GeostyleError(f"grid batch {grid.shape[0]} does not match image batch {image.shape[0]}")
        grid = grid.expand(image.shape[0], -1, -1, -1)
    return F.grid_sample(
        image, grid.to(image.dtype), mode="bilinear", padding_mode=padding_mode, align_corners=False
    )


def landmark_warp_grid(
    src: Tensor,
    dst: Tensor,
    size: int | tuple[int, int],
    mask: Tensor | None = None,
    regularization: float = DEFAULT_REGULARIZATION,
    anchors_per_side: int | None = DEFAULT_ANCHORS_PER_SIDE,
    lowres: int | None = DEFAULT_LOWRES,
    frame: str = "pixels",
) -> Tensor:
    """Backward grid that moves an image whose landmarks are ``src`` so they land on ``dst``.

    Convention: ``src, dst (B, K, 2)`` columns ``(x, y)``; ``frame='pixels'`` means the pixel frame of
    the ``size`` (``H`` or ``(H, W)``) image being warped (both point sets), ``frame='normalized'``
    the ``[-1, 1]`` frame. ``mask (B, K)`` marks visible points (NaN rows are also dropped).
    ``regularization`` defaults to a small ``λ`` that avoids most folds of strong face warps while
    keeping landmarks within ~0.3 px of their targets; pass 0 for exact interpolation.
    Border anchors (``anchors_per_side``; ``None`` for none) keep the crop border fixed. The spline
    is the backward map ``dst -> src`` (see ``docs/conventions.md``). ``lowres=None`` evaluates
    densely. Returns ``(B, H, W, 2)``.
    """
    height, width = _hw(size)
    if frame == "pixels":
        src = pixels_to_normalized(src, width, height)
        dst = pixels_to_normalized(dst, width, height)
    elif frame != "normalized":
        raise GeostyleError(f"frame must be 'pixels' or 'normalized', got {frame!r}")
    centres, values = dst, src
    if anchors_per_side is not None:
        anchors = border_anchors(anchors_per_side, dtype=src.dtype, device=src.device)
        centres, values, mask = append_anchors(centres, values, mask, anchors)
    spline = ThinPlateSpline.fit(centres, values, regularization, mask)
    if lowres is None:
        return tps_grid(spline, height, width)
    return tps_grid_fast(spline, height, width, lowres)


def fold_fraction(grid: Tensor) -> Tensor:
    """``(B,)`` share of grid cells where the backward map folds (Jacobian determinant <= 0).

    Finite differences between neighbouring pixels of ``grid (B, H, W, 2)``. A fold means the warp is
    not one-to-one there: image content appears mirrored or twice. Use it to pick a
    ``regularization`` or a maximum geometry strength (``docs/warp.md`` has measurements).
    """
    dx = grid[:, :-1, 1:] - grid[:, :-1, :-1]
    dy = grid[:, 1:, :-1] - grid[:, :-1, :-1]
    det = dx[..., 0] * dy[..., 1] - dx[..., 1] * dy[..., 0]
    return (det <= 0).flatten(1).to(grid.dtype).mean(1)


def warp_landmarks_forward(
    backward: ThinPlateSpline,
    points: Tensor,
    size: int | tuple[int, int] | None = None,
    iterations: int = 8,
) -> Tensor:
    """Where do source points land after warping with the grid of the backward spline ``backward``?

    Solves ``backward(y) = points`` (Newton, see :meth:`ThinPlateSpline.inverse_transform`).
    Convention: ``points (B, N, 2)``; with ``size`` (``H`` or ``(H, W)``) they are in that image's
    pixel frame (input and output), otherwise normalised. NaN points stay NaN.
    """
    finite = torch.isfinite(points).all(-1, keepdim=True)
    pts = torch.where(finite, points, torch.zeros_like(points))
    if size is not None:
        height, width = _hw(size)
        pts = pixels_to_normalized(pts, width, height)
    out = backward.inverse_transform(pts, iterations=iterations)
    if size is not None:
        out = normalized_to_pixels(out, width, height)
    return torch.where(finite, out, torch.full_like(out, float("nan")))


class ForwardMap:
    """Moves points *forward* through a backward warp: the exact inverse of ``backward``.

    Convention: normalised frame, ``points (B, N, 2)`` columns ``(x, y)``. ``transform(x)`` solves
    ``backward(y) = x`` by Newton's method, started from ``guess(x)`` (the spline fitted the other
    way, exact at the control points), so 3-4 steps reach round-off for smooth warps.
    """

    def __init__(self, backward: ThinPlateSpline, guess: ThinPlateSpline | None = None, iterations: int = 4):
        self.backward = backward
        self.guess = guess
        self.iterations = iterations

    def transform(self, points: Tensor) -> Tensor:
        init = None if self.guess is None else self.guess.transform(points)
        return self.backward.inverse_transform(points, init=init, iterations=self.iterations)

    __call__ = transform


class RandomWarp(NamedTuple):
    """A random smooth deformation: ``grid`` resamples an image, ``forward`` moves its points.

    ``grid (B, H, W, 2)`` is the backward map (output -> source); ``forward`` maps a source point to
    where it appears in the warped image (:class:`ForwardMap`, exact inverse; ``forward.backward`` is
    the spline behind ``grid``). Normalised frame.
    """

    grid: Tensor
    forward: ForwardMap


def random_tps_grid(
    batch: int,
    height: int,
    width: int,
    strength: float = 0.05,
    n_ctrl: int = 4,
    generator: torch.Generator | None = None,
    anchors_per_side: int | None = DEFAULT_ANCHORS_PER_SIDE,
    lowres: int | None = DEFAULT_LOWRES,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> RandomWarp:
    """Random smooth TPS deformations, for augmentation and the deformation-invariance loss.

    ``n_ctrl x n_ctrl`` control points on a regular lattice strictly inside the frame are displaced
    by independent Gaussian offsets of standard deviation ``strength`` (normalised units, i.e. a
    fraction of the half image size: 0.05 is 2.5 % of the side), clamped to ``±2 strength`` so no
    lattice cell folds for moderate strengths. Border anchors stay fixed.
    """
    if n_ctrl < 1:
        raise GeostyleError(f"n_ctrl must be >= 1, got {n_ctrl}")
    if strength < 0:
        raise GeostyleError(f"strength must be >= 0, got {strength}")
    lattice = (torch.arange(n_ctrl, dtype=torch.float64) + 0.5) / n_ctrl * 1.6 - 0.8
    gy, gx = torch.meshgrid(lattice, lattice, indexing="ij")
    src = torch.stack([gx, gy], -1).reshape(1, -1, 2).expand(batch, -1, -1)
    noise = torch.randn(batch, n_ctrl * n_ctrl, 2, generator=generator, dtype=torch.float64)
    dst = src + (noise * strength).clamp(-2 * strength, 2 * strength)
    src = src.to(dtype=dtype, device=device)
    dst = dst.to(dtype=dtype, device=device)
    mask = None
    s_pts, d_pts = src, dst
    if anchors_per_side is not None:
        anchors = border_anchors(anchors_per_side, dtype=dtype, device=device)
        s_pts, d_pts, mask = append_anchors(src, dst, None, anchors)
    elif n_ctrl * n_ctrl < 3:
        raise GeostyleError("random_tps_grid without anchors needs n_ctrl >= 2")
    backward = ThinPlateSpline.fit(d_pts, s_pts, 0.0, mask)
    guess = ThinPlateSpline.fit(s_pts, d_pts, 0.0, mask)
    grid = (
        tps_grid(backward, height, width)
        if lowres is None
        else tps_grid_fast(backward, height, width, lowres)
    )
    return RandomWarp(grid, ForwardMap(backward, guess))
