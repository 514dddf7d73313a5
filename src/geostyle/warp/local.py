"""Local (per facial part) geometry: part boxes, same-size part crops, and local alignment warps.

Convention
----------
* Landmarks are ``(B, K, 2)`` tensors in canonical order, columns ``(x, y)``, with a ``(B, K)`` bool
  visibility mask (NaN rows are treated as missing too). Frame: the **normalised** ``[-1, 1]`` frame
  (``grid_sample``, ``align_corners=False``) by default; functions taking ``size`` use the pixel frame
  of a ``size x size`` image instead when it is given.
* Boxes are ``(B, P, 4)`` ``(x0, y0, x1, y1)`` outer edges in the same frame, ``P = len(PART_NAMES)``
  in the order of :data:`geostyle.faces.landmarks.PARTS`.
* Grids are backward maps ``(B, H, W, 2)`` (see :mod:`geostyle.warp.grid`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from geostyle.errors import GeostyleError
from geostyle.faces.landmarks import INDEX, NUM_LANDMARKS, PARTS
from geostyle.warp.grid import identity_grid

__all__ = [
    "PART_NAMES",
    "PartBoxes",
    "PartCrops",
    "part_boxes",
    "crop_boxes",
    "crop_parts",
    "fit_part_transforms",
    "local_warp_grid",
    "DEFAULT_BOX_SCALE",
    "DEFAULT_MIN_SIDE",
]

PART_NAMES: tuple[str, ...] = tuple(PARTS)
_PART_IDX = [torch.tensor([INDEX[n] for n in PARTS[p]]) for p in PART_NAMES]
_EYES = (INDEX["right_eye_center"], INDEX["left_eye_center"])
# Box side = max(DEFAULT_BOX_SCALE * part extent, DEFAULT_MIN_SIDE * inter-ocular distance). The floor
# keeps a part seen as one point (anime nose) and a thin part (a closed eye) framed with context,
# and makes crops of photo-geometry and style-geometry parts show comparable amounts of face.
DEFAULT_BOX_SCALE = 1.4
DEFAULT_MIN_SIDE = 0.75
# Sharpness of the competition between overlapping part windows in local_warp_grid.
_GAMMA = 8.0
# Inter-ocular distance assumed when an eye is missing: that of the FFHQ framing at zoom 1 (~0.49).
_FALLBACK_IOD = 0.5


class PartBoxes(NamedTuple):
    boxes: Tensor  # (B, P, 4) x0, y0, x1, y1
    valid: Tensor  # (B, P) bool: at least one point of the part is visible


class PartCrops(NamedTuple):
    crops: Tensor  # (M, C, S, S): one crop per valid (sample, part), sample-major
    part_ids: Tensor  # (M,) int64 index into PART_NAMES


def _visible(landmarks: Tensor, mask: Tensor | None) -> Tensor:
    vis = torch.isfinite(landmarks).all(-1)
    if mask is not None:
        if mask.shape != landmarks.shape[:2]:
            raise GeostyleError(f"mask must have shape {tuple(landmarks.shape[:2])}, got {tuple(mask.shape)}")
        vis = vis & mask.to(torch.bool)
    return vis


def _check(landmarks: Tensor) -> None:
    if landmarks.ndim != 3 or landmarks.shape[1:] != (NUM_LANDMARKS, 2):
        raise GeostyleError(
            f"landmarks must have shape (B, {NUM_LANDMARKS}, 2), got {tuple(landmarks.shape)}"
        )


def part_boxes(
    landmarks: Tensor,
    mask: Tensor | None = None,
    size: int | None = None,
    scale: float = DEFAULT_BOX_SCALE,
    min_side: float = DEFAULT_MIN_SIDE,
) -> PartBoxes:
    """Square box around each part's visible landmarks.

    Centre: the centre of the bounding box of the part's visible points. Side:
    ``max(scale * max(bbox width, bbox height), min_side * inter-ocular distance)`` (the distance
    between the eye centres; ``0.5`` normalised when an eye is missing). A part with no visible point
    gets a box at the frame centre and ``valid = False``.
    Convention: ``landmarks (B, K, 2)``; ``size=None`` normalised frame, else pixel frame of a
    ``size x size`` image (input and output boxes).
    """
    _check(landmarks)
    vis = _visible(landmarks, mask)
    pts = torch.where(vis.unsqueeze(-1), landmarks, torch.zeros_like(landmarks))
    if size is not None:
        pts = (pts + 0.5) * (2.0 / size) - 1.0
    eyes_ok = vis[:, _EYES[0]] & vis[:, _EYES[1]]
    iod = (pts[:, _EYES[1]] - pts[:, _EYES[0]]).norm(dim=-1)
    iod = torch.where(eyes_ok, iod, torch.full_like(iod, _FALLBACK_IOD))
    boxes, valid = [], []
    big = torch.finfo(pts.dtype).max
    for idx in _PART_IDX:
        p = pts[:, idx]  # (B, n, 2)
        v = vis[:, idx].unsqueeze(-1)
        lo = torch.where(v, p, torch.full_like(p, big)).amin(1)
        hi = torch.where(v, p, torch.full_like(p, -big)).amax(1)
        ok = vis[:, idx].any(1)
        lo = torch.where(ok.unsqueeze(-1), lo, torch.zeros_like(lo))
        hi = torch.where(ok.unsqueeze(-1), hi, torch.zeros_like(hi))
        centre = (lo + hi) / 2
        extent = (hi - lo).amax(-1)
        side = torch.maximum(scale * extent, min_side * iod)
        half = (side / 2).unsqueeze(-1)
        boxes.append(torch.cat([centre - half, centre + half], -1))
        valid.append(ok)
    out = torch.stack(boxes, 1)
    if size is not None:
        out = (out + 1.0) * (size / 2.0) - 0.5
    return PartBoxes(out, torch.stack(valid, 1))


def crop_boxes(images: Tensor, boxes: Tensor, out_size: int) -> Tensor:
    """Resample the boxes ``(B, P, 4)`` (normalised frame, outer edges) of ``images (B, C, H, W)``.

    Returns ``(B, P, C, out_size, out_size)`` (a strided view: the crops are sampled side by side);
    bilinear, border padding, differentiable with respect to the images and the boxes. The box edges
    map to the crop's outer pixel edges, so the box centre is the crop centre (pixel
    ``(out_size - 1) / 2``).
    """
    if images.ndim != 4:
        raise GeostyleError(f"images must have shape (B, C, H, W), got {tuple(images.shape)}")
    b, c, _, _ = images.shape
    p = boxes.shape[1]
    boxes = boxes.to(images.dtype)
    centre = (boxes[..., :2] + boxes[..., 2:]) / 2
    half = (boxes[..., 2:] - boxes[..., :2]) / 2
    zero = torch.zeros_like(half[..., 0])
    theta = torch.stack(
        [
            torch.stack([half[..., 0], zero, centre[..., 0]], -1),
            torch.stack([zero, half[..., 1], centre[..., 1]], -1),
        ],
        -2,
    ).reshape(b * p, 2, 3)
    grid = F.affine_grid(theta, [b * p, c, out_size, out_size], align_corners=False)
    # The P crops of an image side by side in one wide grid, sampled from the image once: no copy
    # of each image per part (a training step made three of 8x4x3x128x128, and the backward pass
    # zero-filled and scattered into a gradient that size). Same samples, so the same crops; crop
    # and backward 2.8 -> 1.0 ms at 8x3x128x128, 3.4 -> 0.35 ms at 2x3x256x256 (one thread). The
    # training step as a whole did not measurably change (about 205 ms, +-8 from run to run).
    wide = grid.reshape(b, p, out_size, out_size, 2).transpose(1, 2).reshape(b, out_size, p * out_size, 2)
    crops = F.grid_sample(images, wide, mode="bilinear", padding_mode="border", align_corners=False)
    return crops.reshape(b, c, out_size, p, out_size).permute(0, 3, 1, 2, 4)


def crop_parts(
    images: Tensor,
    landmarks: Tensor,
    mask: Tensor | None = None,
    out_size: int = 32,
    frame: str = "normalized",
    scale: float = DEFAULT_BOX_SCALE,
    min_side: float = DEFAULT_MIN_SIDE,
    only_valid: bool = True,
) -> PartCrops:
    """Same-size crops of each facial part, for local discriminators.

    Crop generated images at their *target* landmarks and real exemplars at their own. Convention:
    ``images (B, C, H, W)``; ``landmarks (B, K, 2)`` in the normalised frame (``frame='normalized'``)
    or the pixel frame of ``images`` (``frame='pixels'``, square images). Returns
    ``PartCrops(crops (M, C, S, S), part_ids (M,))``: with ``only_valid`` one crop per (sample, part)
    that has a visible point, sample-major; otherwise all ``B * P`` crops.
    """
    _check(landmarks)
    if frame == "pixels":
        h, w = images.shape[-2:]
        if h != w:
            raise GeostyleError("crop_parts(frame='pixels') needs square images")
        norm = (torch.nan_to_num(landmarks) + 0.5) * (2.0 / w) - 1.0
        boxes, valid = part_boxes(norm, _visible(landmarks, mask), scale=scale, min_side=min_side)
    elif frame == "normalized":
        boxes, valid = part_boxes(landmarks, mask, scale=scale, min_side=min_side)
    else:
        raise GeostyleError(f"frame must be 'normalized' or 'pixels', got {frame!r}")
    crops = crop_boxes(images, boxes, out_size)
    b, p = valid.shape
    ids = torch.arange(p, device=images.device).expand(b, -1)
    crops = crops.reshape(b * p, *crops.shape[2:])
    ids = ids.reshape(-1)
    if only_valid:
        keep = valid.reshape(-1).to(images.device)
        crops, ids = crops[keep], ids[keep]
    return PartCrops(crops, ids)


def _weighted_centering(src: Tensor, dst: Tensor, weight: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Weighted centroids ``cs, cd (B, 2)``, weighted centred ``src`` and centred ``dst`` ``(B, n, 2)``:
    the common start of the least-squares fits below."""
    wsum = weight.sum(-1, keepdim=True).clamp_min(1e-12)
    cs = (src * weight.unsqueeze(-1)).sum(1) / wsum
    cd = (dst * weight.unsqueeze(-1)).sum(1) / wsum
    return cs, cd, (src - cs.unsqueeze(1)) * weight.unsqueeze(-1), dst - cd.unsqueeze(1)


def _with_shift(lin: Tensor, cs: Tensor, cd: Tensor) -> Tensor:
    """``(B, 2, 3)`` matrix of the linear part ``lin (B, 2, 2)`` that maps centroid ``cs`` to ``cd``."""
    shift = cd - (lin @ cs.unsqueeze(-1)).squeeze(-1)
    return torch.cat([lin, shift.unsqueeze(-1)], -1)


def _solve_affine(src: Tensor, dst: Tensor, weight: Tensor) -> Tensor:
    """Weighted least-squares ``(B, 2, 3)`` affine ``A`` with ``A [src; 1] ≈ dst``; ``weight (B, n)``."""
    cs, cd, s, d = _weighted_centering(src, dst, weight)
    sts = s.transpose(-1, -2) @ s
    # A relative ridge only guards exactly collinear parts (they then get a near-similarity answer).
    ridge = 1e-12 * sts.diagonal(dim1=-2, dim2=-1).sum(-1).clamp_min(1e-30)
    eye = torch.eye(2, dtype=src.dtype, device=src.device)
    lin = torch.linalg.solve(sts + ridge[:, None, None] * eye, s.transpose(-1, -2) @ d).transpose(-1, -2)
    return _with_shift(lin, cs, cd)


def _solve_similarity(src: Tensor, dst: Tensor, weight: Tensor) -> Tensor:
    """Weighted least-squares similarity (rotation, uniform scale, shift) as ``(B, 2, 3)``."""
    cs, cd, s, d = _weighted_centering(src, dst, weight)
    # Complex-number form: a = Σ conj(s) d / Σ |s|², a = re + i im.
    norm = (s * s).sum((1, 2)).clamp_min(1e-12)
    re = (s[..., 0] * d[..., 0] + s[..., 1] * d[..., 1]).sum(1) / norm
    im = (s[..., 0] * d[..., 1] - s[..., 1] * d[..., 0]).sum(1) / norm
    few = (weight > 0).sum(-1) < 2  # one point: translation only
    re = torch.where(few, torch.ones_like(re), re)
    im = torch.where(few, torch.zeros_like(im), im)
    lin = torch.stack([torch.stack([re, -im], -1), torch.stack([im, re], -1)], -2)
    return _with_shift(lin, cs, cd)


def fit_part_transforms(
    src: Tensor, dst: Tensor, mask: Tensor | None = None, kind: str = "affine"
) -> tuple[Tensor, Tensor]:
    """Per-part least-squares maps ``src -> dst``: ``(B, P, 2, 3)`` matrices and ``(B, P)`` validity.

    ``kind='affine'`` (6 dof; falls back to a similarity for a part with fewer than 3 visible points)
    or ``'similarity'``; a part with one visible point gets a translation, with none the identity and
    ``valid = False``. Frame-agnostic; both point sets ``(B, K, 2)`` in the same frame.
    """
    if kind not in ("affine", "similarity"):
        raise GeostyleError(f"kind must be 'affine' or 'similarity', got {kind!r}")
    vis = _visible(src, mask) & torch.isfinite(dst).all(-1)
    s_all = torch.where(vis.unsqueeze(-1), src, torch.zeros_like(src))
    d_all = torch.where(vis.unsqueeze(-1), dst.to(src.dtype), torch.zeros_like(src))
    mats, valid = [], []
    ident = torch.eye(2, 3, dtype=src.dtype, device=src.device).expand(src.shape[0], -1, -1)
    for idx in _PART_IDX:
        w = vis[:, idx].to(src.dtype)
        n = vis[:, idx].sum(-1)
        m = _solve_similarity(s_all[:, idx], d_all[:, idx], w)
        if kind == "affine":
            aff = _solve_affine(s_all[:, idx], d_all[:, idx], w)
            m = torch.where((n >= 3)[:, None, None], aff, m)
        m = torch.where((n >= 1)[:, None, None], m, ident)
        mats.append(m)
        valid.append(n >= 1)
    return torch.stack(mats, 1), torch.stack(valid, 1)


def local_warp_grid(
    src: Tensor,
    dst: Tensor,
    height: int,
    width: int,
    mask: Tensor | None = None,
    base_grid: Tensor | None = None,
    kind: str = "affine",
    radius_scale: float = 1.0,
    box_scale: float = DEFAULT_BOX_SCALE,
    min_side: float = DEFAULT_MIN_SIDE,
) -> Tensor:
    """Blend per-part local alignments into a (global) backward grid.

    For each part, the least-squares affine (or similarity) map ``A_k: dst_k -> src_k`` (backward:
    target part points to source part points, see :func:`fit_part_transforms`) replaces the base field
    inside a smooth window around the part's *target* box::

        grid(x) = base(x) + Σ_k ŵ_k(x) (A_k x - base(x)),   w_k(x) = exp(-(|x - c_k| / R_k)^4),

    ``c_k``/``R_k`` the centre and ``radius_scale`` times the half side of the part's box at ``dst``,
    and ``ŵ_k = w_k^9 / Σ_j w_j^8``: where windows overlap (nose and mouth) the stronger one wins
    smoothly, and ``Σ ŵ <= max w <= 1`` so the blend never extrapolates. Inside a part the mapping is
    one clean affine (the eye or mouth is scaled as a whole, no spline bulge); it fades into the
    global TPS within about ``0.5 R``. Parts with no visible point are skipped.
    Convention: ``src, dst (B, K, 2)`` normalised frame; ``base_grid (B, H, W, 2)`` (identity if
    None); returns ``(B, H, W, 2)``.
    """
    _check(src)
    _check(dst)
    batch = src.shape[0]
    dtype = src.dtype
    if base_grid is None:
        base_grid = identity_grid(batch, height, width, dtype, src.device)
    if base_grid.shape[1:3] != (height, width):
        raise GeostyleError(f"base_grid is {tuple(base_grid.shape[1:3])}, expected {(height, width)}")
    base = base_grid.to(dtype)
    vis = _visible(src, mask) & torch.isfinite(dst).all(-1)
    mats, valid = fit_part_transforms(dst, src, vis, kind)  # backward: target -> source
    boxes, box_ok = part_boxes(
        torch.where(vis.unsqueeze(-1), dst, torch.zeros_like(dst)), vis, scale=box_scale, min_side=min_side
    )
    valid = valid & box_ok
    x = identity_grid(1, height, width, dtype, src.device).reshape(1, 1, -1, 2)  # (1, 1, N, 2)
    centre = ((boxes[..., :2] + boxes[..., 2:]) / 2).unsqueeze(2)  # (B, P, 1, 2)
    radius = (radius_scale * (boxes[..., 2] - boxes[..., 0]) / 2).clamp_min(1e-6)[..., None]  # (B, P, 1)
    r = ((x - centre) ** 2).sum(-1).sqrt() / radius
    w = torch.exp(-(r**4)) * valid.to(dtype).unsqueeze(-1)  # (B, P, N)
    # Where windows overlap the stronger one wins smoothly: ŵ_k = w_k^(γ+1) / Σ_j w_j^γ (Σ ŵ <= max w).
    wg = w**_GAMMA
    w = w * wg / wg.sum(1, keepdim=True).clamp_min(1e-30)
    mapped = x @ mats[..., :2].transpose(-1, -2) + mats[..., 2].unsqueeze(2)  # (B, P, N, 2)
    flat = base.reshape(batch, 1, -1, 2)
    out = flat + (w.unsqueeze(-1) * (mapped - flat)).sum(1, keepdim=True)
    return out.reshape(batch, height, width, 2)
