"""Whole-frame compositing: the stylized frame at a working resolution, with every face cut out,
TPS-warped, stylized at the model's resolution and blended back under a feathered mask.

Convention
----------
* Frames are ``(H, W, 3)`` uint8 RGB; points are in the pixel frame of the full frame (pixel
  centres at integers, ``docs/conventions.md``).
* An :class:`~geostyle.faces.align.Alignment` maps full-frame pixels to crop pixels.
* A *field* is a backward map ``(S, S, 2)`` in the crop's normalised frame (``align_corners=False``):
  output crop pixel ``(i, j)`` reads crop location ``field[i, j]``.

Every face is handled inside its own region of interest (the bounding box of the crop's square in
the frame), so the cost and memory of a face do not grow with the frame: a 12000x9000 photo is
stylized at its working resolution and its faces at crop resolution, and only the pixels under the
crops are touched at full size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from geostyle.faces.align import Alignment, compose_affine, feather_mask

# Working-resolution sizes are multiples of this (three stride-2 levels in the generator).
SIZE_MULTIPLE = 8
# Beyond its anchored square a face's warp fades out over this band (crop half-sides; taper).
TAPER_BAND = 0.25
# Rows of the frame blended or moved at a time: bounds the temporaries of a face that fills a huge photo.
PASTE_STRIP_ROWS = 512
# Regions up to this many pixels get their moving field in one resize (move_around).
RESIZE_LIMIT = 2048 * 2048


def working_size(height: int, width: int, work_size: int | None) -> tuple[int, int]:
    """``(h, w)`` of the copy the generator stylizes: the long side scaled to at most ``work_size``,
    both rounded down to a multiple of 8 (at least 8; so never enlarged unless smaller than 8).
    ``None``: full size (rounded down the same way)."""
    scale = 1.0 if work_size is None else min(1.0, work_size / max(height, width))

    def fit(n: int) -> int:
        return max(SIZE_MULTIPLE, int(n * scale + 1e-6) // SIZE_MULTIPLE * SIZE_MULTIPLE)

    return fit(height), fit(width)


def resize_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize with area averaging when shrinking and bilinear when enlarging (no-op if equal)."""
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image
    shrinking = height * width < h * w
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


@dataclass(frozen=True)
class Region:
    """A pixel rectangle ``[x0, x1) x [y0, y1)`` of the frame."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def empty(self) -> bool:
        return self.x1 <= self.x0 or self.y1 <= self.y0

    @property
    def shift(self) -> np.ndarray:
        """``(2, 3)`` map from frame pixels to region pixels."""
        return np.array([[1.0, 0.0, -self.x0], [0.0, 1.0, -self.y0]])


def crop_region(alignment: Alignment, height: int, width: int, margin: int = 2) -> Region:
    """Frame pixels the crop square covers (its four corners through the inverse similarity),
    widened by ``margin`` pixels for bilinear taps and clipped to the frame."""
    s = alignment.size
    corners = np.array([[-0.5, -0.5], [s - 0.5, -0.5], [-0.5, s - 0.5], [s - 0.5, s - 0.5]])
    inv = alignment.inverse
    pts = corners @ inv[:, :2].T + inv[:, 2]
    x0, y0 = np.floor(pts.min(0)).astype(int) - margin
    x1, y1 = np.ceil(pts.max(0)).astype(int) + margin + 1
    return Region(max(0, int(x0)), max(0, int(y0)), min(width, int(x1)), min(height, int(y1)))


def widened(alignment: Alignment, reach: float) -> Alignment:
    """The same similarity with the crop square widened about its centre to ``reach`` times its side
    (rounded to whole pixels on each side; read the exact factor back as ``size / alignment.size``)."""
    margin = max(0, int(round(alignment.size * (reach - 1.0) / 2.0)))
    matrix = alignment.matrix.copy()
    matrix[:, 2] += margin
    return Alignment(matrix, alignment.size + 2 * margin)


def frame_pins(alignment: Alignment, height: int, width: int, reach: float, step: float = 0.5) -> np.ndarray:
    """Points of the frame's border that lie inside the square of half-side ``reach`` around the crop,
    ``(P, 2)`` in the crop's normalised frame, about ``step`` apart (crop half-sides; the default is
    the spacing of training's border anchors). Held in place by the face's warp, they keep it from
    pulling in pixels from beyond the picture (see :func:`geostyle.infer.fields.limit_moves` for
    the landmarks next to them)."""
    s = alignment.size
    spacing = max(1.0, step * s / 2.0 / max(alignment.scale, 1e-9))  # frame pixels
    lo_x, hi_x, lo_y, hi_y = -0.5, width - 0.5, -0.5, height - 0.5
    xs = np.linspace(lo_x, hi_x, max(2, int(np.ceil((hi_x - lo_x) / spacing)) + 1))
    ys = np.linspace(lo_y, hi_y, max(2, int(np.ceil((hi_y - lo_y) / spacing)) + 1))[1:-1]  # corners once
    border = np.concatenate(
        [
            np.stack([xs, np.full_like(xs, lo_y)], -1),
            np.stack([xs, np.full_like(xs, hi_y)], -1),
            np.stack([np.full_like(ys, lo_x), ys], -1),
            np.stack([np.full_like(ys, hi_x), ys], -1),
        ]
    )
    m = alignment.matrix
    crop = border @ m[:, :2].T + m[:, 2]
    normalised = (crop + 0.5) * (2.0 / s) - 1.0
    return normalised[(np.abs(normalised) <= reach).all(-1)]


def taper(u: np.ndarray, reach: float) -> np.ndarray:
    """``(N,)`` weight of a face's warp at points ``u (N, 2)`` of the crop's normalised frame when it
    moves the surroundings (:func:`move_around`): 1 inside the anchored square (half-side
    ``reach``), then a smoothstep to 0 over :data:`TAPER_BAND` beyond it. The spline is anchored on
    that square, so what is tapered away is only its small remainder between and beyond the anchors:
    inside, the surroundings move exactly as the face (a taper there would steepen the stretch
    under a lifted chin)."""
    ramp = np.clip((reach + TAPER_BAND - np.abs(u).max(-1)) / TAPER_BAND, 0.0, 1.0)
    return ramp * ramp * (3.0 - 2.0 * ramp)


def cut_face(
    frame: np.ndarray, alignment: Alignment, field: np.ndarray | None, reach: float = 1.0
) -> tuple[np.ndarray, np.ndarray | None]:
    """The aligned crop ``(S, S, 3)`` and, with a ``field``, the crop warped by it, both resampled
    once from the frame (the warp composed with the similarity, so the warped crop is not a
    resampling of a resampling). Faces much larger than the crop are area-averaged first, as
    :func:`geostyle.faces.align.warp_to_crop` does, so the crop does not alias. ``reach``: the
    field may read that far out (in crop half-sides, see :class:`geostyle.infer.fields.FaceFieldSolver`).
    """
    h, w = frame.shape[:2]
    s = alignment.size
    region = crop_region(widened(alignment, reach) if reach > 1.0 else alignment, h, w)
    if region.empty:  # the face lies entirely outside the frame: read the nearest border pixels
        region = Region(0, 0, w, h)
    f = int(np.floor(1.0 / alignment.scale)) if alignment.scale < 0.5 else 1
    if f > 1:
        # Whole f x f blocks on the frame's block grid: each crop pixel averages whole source pixels.
        x0, y0 = region.x0 // f * f, region.y0 // f * f
        x1 = min(w, x0 + -(-(region.x1 - x0) // f) * f)
        y1 = min(h, y0 + -(-(region.y1 - y0) // f) * f)
        region = Region(x0, y0, x1, y1)
    src = frame[region.y0 : region.y1, region.x0 : region.x1]
    to_src = compose_affine(region.shift, alignment.inverse)  # crop px -> region px
    if f > 1:
        rh, rw = src.shape[:2]
        small = cv2.resize(src, (max(1, rw // f), max(1, rh // f)), interpolation=cv2.INTER_AREA)
        fx, fy = rw / small.shape[1], rh / small.shape[0]
        down = np.array([[1 / fx, 0, (1 / fx - 1) / 2], [0, 1 / fy, (1 / fy - 1) / 2]])
        to_src = compose_affine(down, to_src)
        src = small
    crop = cv2.warpAffine(
        src, to_src, (s, s), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    if field is None:
        return crop, None
    # field (normalised crop frame) -> crop pixels -> source pixels as one affine map of the field
    # (u = (f + 1) s/2 - 0.5 folded into to_src), applied by cv2.transform into the two-channel map
    # remap reads: no full-size float64 temporaries (benchmarks/pipeline_speed.py's cut with its field
    # at 512 px: 3.0 -> 2.8 ms).
    half = s / 2.0
    to_map = np.empty((2, 3))
    to_map[:, :2] = to_src[:, :2] * half
    to_map[:, 2] = to_src[:, :2] @ np.array([half - 0.5, half - 0.5]) + to_src[:, 2]
    maps = cv2.transform(np.ascontiguousarray(field, dtype=np.float32).reshape(1, -1, 2), to_map)
    # One two-channel map (the stubs lack that form of remap).
    warped = cv2.remap(  # type: ignore[call-overload]
        src, maps.reshape(*field.shape[:2], 2), None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return crop, warped


def move_around(
    frame: np.ndarray,
    alignment: Alignment,
    reach: float,
    displacement: Callable[[np.ndarray], np.ndarray],
    grid: int = 32,
    still: float = 0.25,
) -> None:
    """Move the pixels of ``frame`` (in place) around a face by its backward warp, within the square
    ``reach`` crop half-sides around the crop (and fading out just beyond: :func:`taper`):
    ``displacement`` maps points ``(N, 2)`` of the crop's
    normalised frame to their backward displacement in the same units (a face's TPS). The map is
    evaluated on a coarse ``grid x grid`` lattice in frame pixels, weighted by :func:`taper` and
    interpolated bilinearly: one resample of the region, far cheaper than cutting the square out,
    warping and pasting it back. Only the box of lattice cells where some corner moves by more than
    ``still`` pixels is resampled (a chin lift moves the lower face and neck, not the whole square),
    in strips of :data:`PASTE_STRIP_ROWS` rows from a copy of just the pixels they can read, so a
    face filling a huge photo costs no full-size float maps."""
    h, w = frame.shape[:2]
    s = alignment.size
    region = crop_region(widened(alignment, reach + TAPER_BAND), h, w, margin=0)
    if region.empty:
        return
    rw, rh = region.x1 - region.x0, region.y1 - region.y0
    gw, gh = min(grid, rw), min(grid, rh)
    # Lattice points at pixel-centre positions (as cv2.resize places them).
    xs = region.x0 + (np.arange(gw) + 0.5) * (rw / gw) - 0.5
    ys = region.y0 + (np.arange(gh) + 0.5) * (rh / gh) - 0.5
    px = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    m = alignment.matrix
    u = (px @ m[:, :2].T + m[:, 2] + 0.5) * (2.0 / s) - 1.0
    d = np.asarray(displacement(u), np.float64) * taper(u, reach)[:, None]
    # Normalised crop units -> crop pixels -> frame pixels (the similarity's linear part, inverted).
    offsets = (d * (s / 2.0)) @ alignment.inverse[:, :2].T
    lattice = offsets.reshape(gh, gw, 2).astype(np.float32)
    moving = np.argwhere(np.abs(lattice).max(-1) > still)
    if not len(moving):
        return
    # The moving lattice points, widened by one cell (bilinear support), in frame pixels.
    (i0, j0), (i1, j1) = moving.min(0) - 1, moving.max(0) + 2
    y0, y1 = region.y0 + max(0, int(np.floor(i0 * rh / gh))), region.y0 + min(rh, int(np.ceil(i1 * rh / gh)))
    x0, x1 = region.x0 + max(0, int(np.floor(j0 * rw / gw))), region.x0 + min(rw, int(np.ceil(j1 * rw / gw)))
    # Every read lies within the box widened by the largest move: copy just that, once (the strips
    # below write into the frame they would otherwise read).
    pad = int(np.ceil(np.abs(lattice).max())) + 2
    sy0, sy1, sx0, sx1 = max(0, y0 - pad), min(h, y1 + pad), max(0, x0 - pad), min(w, x1 + pad)
    source = frame[sy0:sy1, sx0:sx1].copy()
    cols = np.arange(x0, x1, dtype=np.float32)
    # The lattice upsampled bilinearly, edges clamped (cv2.resize's placement): over the whole
    # region at once where that is small, else strip by strip (the same bilinear weights, written
    # out separably; bounded memory for a face filling a huge photo).
    whole = cv2.resize(lattice, (rw, rh), interpolation=cv2.INTER_LINEAR) if rw * rh <= RESIZE_LIMIT else None
    if whole is None:
        j_lo, j_hi, j_w = _linear_taps((cols - region.x0 + 0.5) * (gw / rw) - 0.5, gw)
        across = lattice[:, j_lo] * (1.0 - j_w)[None, :, None] + lattice[:, j_hi] * j_w[None, :, None]  # (gh, box w, 2)
    for top in range(y0, y1, PASTE_STRIP_ROWS):
        bottom = min(y1, top + PASTE_STRIP_ROWS)
        rows = np.arange(top, bottom, dtype=np.float32)
        if whole is not None:
            field = whole[top - region.y0 : bottom - region.y0, x0 - region.x0 : x1 - region.x0].copy()
        else:
            i_lo, i_hi, i_w = _linear_taps((rows - region.y0 + 0.5) * (gh / rh) - 0.5, gh)
            field = (across[i_lo] * (1.0 - i_w)[:, None, None] + across[i_hi] * i_w[:, None, None]).astype(np.float32)
        field[..., 0] += cols[None, :] - sx0
        field[..., 1] += rows[:, None] - sy0
        # One two-channel map (no copies of its planes into separate contiguous maps; OpenCV takes
        # map2=None for it, which its type stubs do not list).
        frame[top:bottom, x0:x1] = cv2.remap(  # type: ignore[call-overload]
            source, field, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )


def _linear_taps(positions: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Left and right sample indices and the right one's weight of linear interpolation at
    ``positions`` on ``n`` samples, clamped at both ends (as cv2.resize)."""
    clamped = np.clip(positions, 0.0, n - 1.0)
    lo = np.floor(clamped).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    return lo, hi, (clamped - lo).astype(np.float32)


_MASKS: dict[tuple[int, float], np.ndarray] = {}


def crop_mask(size: int, feather: float) -> np.ndarray:
    """The feathered square blend mask of a crop (cached per size and feather)."""
    key = (size, round(float(feather), 4))
    if key not in _MASKS:
        _MASKS[key] = feather_mask(size, feather)
    return _MASKS[key]


def paste_face(out: np.ndarray, styled: np.ndarray, alignment: Alignment, feather: float = 0.12) -> None:
    """Blend a stylized crop into ``out`` (in place) through the inverse similarity, weighted by
    the crop's feathered mask; only the crop's region of the frame is read or written, in strips of
    :data:`PASTE_STRIP_ROWS` rows (the same result as one pass: the resampling is per pixel)."""
    h, w = out.shape[:2]
    whole = crop_region(alignment, h, w)
    for y0 in range(whole.y0, whole.y1, PASTE_STRIP_ROWS):
        _paste_region(
            out,
            styled,
            alignment,
            feather,
            Region(whole.x0, y0, whole.x1, min(whole.y1, y0 + PASTE_STRIP_ROWS)),
        )


def _paste_region(
    out: np.ndarray, styled: np.ndarray, alignment: Alignment, feather: float, region: Region
) -> None:
    if region.empty:
        return
    rw, rh = region.x1 - region.x0, region.y1 - region.y0
    to_region = compose_affine(region.shift, alignment.inverse)
    back = cv2.warpAffine(
        styled, to_region, (rw, rh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    alpha = cv2.warpAffine(
        crop_mask(alignment.size, feather),
        to_region,
        (rw, rh),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0.0, 0.0, 0.0, 0.0),
    )
    roi = out[region.y0 : region.y1, region.x0 : region.x1]
    # One pass in OpenCV: ~20x faster than the same blend in float NumPy on a large face, and no
    # float copies of the region.
    roi[...] = cv2.blendLinear(back, roi, alpha, 1.0 - alpha)
