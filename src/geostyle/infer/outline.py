"""The face's outline: a dark line along the jaw and chin of a stylized face, where the warp put them.

Anime artists draw a face's contour; a photo often has none where the skin meets a neck, hair or a
light background of about its lightness, and neither do the generators (they keep the photo's
edges). The line is drawn after the generator, on the stylized crop, through the face's seven
outline landmarks (jaw, cheek, lower jaw, chin and back up the other side) at their *target*
positions (where the warp moved them): a Catmull-Rom curve, no weights.

Two things keep it on the face's edge, because the jaw's landmarks are a face's least precise. Both
read a guide picture: the stylizer hands over the photo as the generator saw it, warped where it was
(the drawing's bands and flat regions shift from frame to frame, the photo's jaw much less):

* **Snap.** Each point of the curve may move along the curve's normal by up to :data:`SNAP` of the
  crop's side to where the lightness steps most across it (over :data:`SNAP_ACROSS`; of equal
  steps the nearest; the offsets smoothed along the curve, so the line bends with the jaw rather
  than zigzagging between edges).
* **Guard.** The line is drawn only where the crop shows a step there: the mean lightness
  :data:`ACROSS` to either side differs by at least :data:`MIN_STEP` of full scale (a ramp of
  +- :data:`STEP_RAMP`, smoothed along the curve, so in a video the line fades rather than
  flickers). Where a hand, a scarf or hair crosses the jaw, or a turned head hides one side of it,
  nothing tells the skin from what is beside it, and the line fades out there instead of cutting
  across.

Measured in ``docs/training.md`` ("Face outline").
"""

from __future__ import annotations

import cv2
import numpy as np

from geostyle.faces.landmarks import INDEX
from geostyle.nets.blocks import LUMA_WEIGHTS
from geostyle.warp.geometry import GAIN_ONLY_GROUPS

_LUMA = np.array(LUMA_WEIGHTS, np.float32) / 255.0

# The face shape's outline group, listed from the right jaw round the chin to the left: the curve's order.
OUTLINE_POINTS = GAIN_ONLY_GROUPS["outline"]
# Fractions of the crop's side (px of a 256 px crop). The guard compares lightness ACROSS to either
# side of the line (a broad step: a soft jaw still counts); the snap finds the edge by the step
# over SNAP_ACROSS to either side (a broad one is as large anywhere within ACROSS of the edge).
WIDTH = 2 / 256
SNAP = 3 / 256
ACROSS = 3 / 256
SNAP_ACROSS = 1 / 256
SHADE = 0.85  # the line keeps 0.15 of the colour under it
MIN_STEP, STEP_RAMP = 0.06, 0.03  # lightness step across the line (0-1) where it is half drawn
SAMPLES = 12  # curve points between two landmarks
SMOOTH = 13  # curve points averaged for the snap offsets and the guard (about one landmark gap)
SNAP_STEPS = 9  # candidate offsets from -SNAP to SNAP
MIN_EXTENT = 16.0  # px: an outline narrower than this (a tiny face) is left alone


def catmull_rom(points: np.ndarray, samples: int = SAMPLES) -> np.ndarray:
    """The Catmull-Rom curve ``(N, 2)`` through ``points (P, 2)``, ``samples`` points per gap
    between two of them, ending on the last. The end points are reflected, so the curve leaves the
    first and last points heading along their neighbours."""
    p = np.concatenate([2 * points[:1] - points[1:2], points, 2 * points[-1:] - points[-2:-1]])
    t = np.linspace(0.0, 1.0, samples, endpoint=False)[:, None]
    pieces = []
    for i in range(1, len(p) - 2):
        a, b, c, d = p[i - 1], p[i], p[i + 1], p[i + 2]
        pieces.append(0.5 * (2 * b + (c - a) * t + (2 * a - 5 * b + 4 * c - d) * t**2 + (3 * b - a - 3 * c + d) * t**3))
    return np.concatenate([*pieces, points[-1:]])


def outline_curve(points: np.ndarray) -> np.ndarray | None:
    """The Catmull-Rom curve ``(N, 2)`` through the outline landmarks of ``points (K, 2)``, or None
    when one of them is missing."""
    p = np.stack([np.asarray(points[INDEX[n]], np.float64) for n in OUTLINE_POINTS])
    return catmull_rom(p) if np.isfinite(p).all() else None


def _smooth(values: np.ndarray) -> np.ndarray:
    """A moving mean of ``SMOOTH`` values along the curve (its ends held)."""
    half = SMOOTH // 2
    return np.convolve(np.pad(values, half, mode="edge"), np.ones(SMOOTH) / SMOOTH, mode="valid")


def _lightness_patch(image: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lightness (0-1, float32) of ``image (H, W, 3)`` uint8 over the pixels from ``lo`` to ``hi``
    (x, y; clipped to the image) and the patch's origin. Float, not the uint8 image: rounded samples
    turn a cartoon's flat regions into ties that would decide the snap."""
    h, w = image.shape[:2]
    x0, y0 = int(np.clip(np.floor(lo[0]) - 1, 0, w - 1)), int(np.clip(np.floor(lo[1]) - 1, 0, h - 1))
    x1, y1 = int(np.clip(np.ceil(hi[0]) + 2, x0 + 1, w)), int(np.clip(np.ceil(hi[1]) + 2, y0 + 1, h))
    lum = np.ascontiguousarray(image[y0:y1, x0:x1].astype(np.float32) @ _LUMA)
    return lum, np.array([x0, y0], np.float64)


def _sample(lum: np.ndarray, origin: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """``lum`` (a patch at ``origin``) bilinearly sampled at ``xy (..., 2)`` image pixels (the
    image's edges clamped: the patch reaches them wherever a sample lies beyond)."""
    flat = (xy.reshape(1, -1, 2) - origin).astype(np.float32)
    return cv2.remap(lum, flat[..., 0], flat[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(xy.shape[:-1])


def place_outline(image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The outline's curve ``(N, 2)`` snapped to the face's edge in ``image (H, W, 3)`` uint8 and
    each curve point's opacity ``(N,)`` (0-1, the guard). None when a landmark is missing or the
    outline is under :data:`MIN_EXTENT` px wide."""
    curve = outline_curve(points)
    if curve is None or np.ptp(curve[:, 0]) < MIN_EXTENT:
        return None
    side = min(image.shape[:2])
    tangent = np.gradient(curve, axis=0)
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], 1)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
    reach = (SNAP + ACROSS) * side
    lum, origin = _lightness_patch(image, curve.min(0) - reach, curve.max(0) + reach)

    def step(at: np.ndarray, across: float) -> np.ndarray:  # |lightness outside - inside| at curve points ``at``
        n = normal if at.ndim == 2 else normal[:, None]
        return np.abs(_sample(lum, origin, at + across * n) - _sample(lum, origin, at - across * n))

    offsets = np.linspace(-SNAP, SNAP, SNAP_STEPS) * side
    candidates = curve[:, None] + offsets[None, :, None] * normal[:, None]
    # Of equal steps (a flat region has many) the one nearest the landmarks' curve wins.
    score = step(candidates, SNAP_ACROSS * side) - 1e-4 * np.abs(offsets) / side
    curve = curve + _smooth(offsets[np.argmax(score, 1)])[:, None] * normal
    opacity = np.clip((_smooth(step(curve, ACROSS * side)) - MIN_STEP) / (2 * STEP_RAMP) + 0.5, 0.0, 1.0)
    return curve, opacity


def draw_face_outline(
    image: np.ndarray, points: np.ndarray, amount: float = 1.0, guide: np.ndarray | None = None
) -> np.ndarray:
    """``image (H, W, 3)`` uint8 with the face's outline (:func:`place_outline`) at ``points (K, 2)``
    (pixels of ``image``: the face's target landmarks) darkened in, each part at its opacity times
    ``amount`` (0-1). ``guide``: the picture the line is placed by (its snap and guard), of
    ``image``'s size; ``image`` itself when None. The stylizer hands it the warped photo: the
    generator's flat regions and bands shift from frame to frame, the photo's jaw much less
    (docs/inference.md, "What in the drawing changes from frame to frame"). Returns a new array;
    ``image`` itself is unchanged."""
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"outline must be between 0 and 1, got {amount}")
    if guide is not None and guide.shape[:2] != image.shape[:2]:
        raise ValueError(f"the outline's guide is {guide.shape[:2]}, the image {image.shape[:2]}")
    out = image.copy()
    placed = None if amount == 0 else place_outline(image if guide is None else guide, np.asarray(points, np.float64))
    if placed is None:
        return out
    curve, opacity = placed
    h, w = image.shape[:2]
    side = min(h, w)
    width = max(1, int(round(WIDTH * side)))
    blur = 0.6 * side / 256  # the edge of a 256 px crop's line: 0.6 px
    # Only the patch the line covers is touched.
    pad = width + 3 * blur + 2
    x0, y0 = (max(int(v), 0) for v in curve.min(0) - pad)
    x1, y1 = min(int(np.ceil(curve[:, 0].max() + pad)) + 1, w), min(int(np.ceil(curve[:, 1].max() + pad)) + 1, h)
    if x1 <= x0 or y1 <= y0:
        return out
    line = np.zeros((y1 - y0, x1 - x0), np.float32)
    ends = np.round((curve - (x0, y0)) * 16).astype(np.int32)  # cv2's 4 fractional bits
    # Each segment at the mean opacity of its ends, in steps of 1/32: runs of equal opacity (most
    # of a jaw is fully drawn) go to cv2 as one polyline. A run drawn over its neighbour's end
    # replaces those pixels (it does not add to them), so a joint is never darkened twice; where
    # the opacity changes fast it may be a pixel dimmer. cv2 draws LINE_AA on a float mask as
    # LINE_8; the blur below is what softens the line's edge.
    level = np.round(16 * (opacity[:-1] + opacity[1:])).astype(int)
    cuts = np.flatnonzero(np.diff(level)) + 1
    for start, stop in zip(np.r_[0, cuts], np.r_[cuts, len(level)], strict=True):
        if level[start] > 0:
            cv2.polylines(line, [ends[start : stop + 1]], False, (level[start] / 32,), width, cv2.LINE_AA, shift=4)
    if not line.any():
        return out
    soft = cv2.GaussianBlur(line, (0, 0), blur) if blur > 0 else line
    # Blended box by box along the curve (one per SAMPLES points), not over the whole patch: the
    # patch is mostly the face inside the line. A box's pixels are cleared once blended, so where
    # two boxes overlap nothing is darkened twice.
    for start in range(0, len(curve) - 1, SAMPLES):
        piece = curve[start : start + SAMPLES + 1] - (x0, y0)
        bx0, by0 = (max(int(v), 0) for v in piece.min(0) - pad)
        bx1, by1 = (int(np.ceil(v)) + 1 for v in piece.max(0) + pad)
        box = soft[by0:by1, bx0:bx1]
        if not box.any():
            continue
        dark = (amount * SHADE) * box[..., None]
        target = out[y0 + by0 : y0 + by0 + box.shape[0], x0 + bx0 : x0 + bx0 + box.shape[1]]
        target[:] = np.clip(target.astype(np.float32) * (1 - dark) + 0.5, 0, 255).astype(np.uint8)
        box[:] = 0
    return out
