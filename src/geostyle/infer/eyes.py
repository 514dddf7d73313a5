"""Anime eyes: a dark iris with a white catchlight, drawn into a stylized face where its landmarks put
the eyes.

Every anime face has them, and the generator does not learn them from 50 exemplars (its eyes stay
the photo's, with pale streaks; docs/training.md). They are drawn after the generator, on the
stylized crop, at the face's *target* landmarks (where the warp moved the eyes): no weights, the
same for every model, well under a millisecond per face (two eye-sized patches).

An eye is left alone when its landmarks cannot place an iris: any of its five points missing, an
eye narrower than :data:`MIN_WIDTH` px or centred outside the crop, an eye nearly closed (opening
under :data:`MIN_OPENING` of its width), or an eye foreshortened to under :data:`MIN_WIDTH_RATIO`
of the other (a face turned far away: the hidden eye's points are guesses). And it is left alone
when the stylized face shows no dark iris there to deepen: where the disc is not at least a tenth
darker than the ring around it (out to twice its radius, :data:`MAX_IRIS_LIGHTNESS`), the
landmarks may have missed the eye (a pale, washed-out face; glare on glasses; the hidden eye of a
turned head), and a dark disc would land on skin or background. On the 394 eyes of 198 held-out
selfies 82 % pass that test (``benchmarks/eye_guard.py``); it also leaves out some real eyes whose
lashes and outline make the ring nearly as dark as the iris: a missing iris is the lesser failure
than a dot beside the eye. The last three limits are the middles of short ramps over which an eye
fades, so that in a video an eye near one fades rather than flickers from frame to frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from geostyle.faces.landmarks import INDEX
from geostyle.nets.blocks import LUMA_WEIGHTS

_LUMA = np.array(LUMA_WEIGHTS, np.float32)

# Fractions of the eye's width (corner to corner). The iris keeps this share of its colour.
IRIS_RADIUS = 0.22
IRIS_SHADE = 0.3
CATCHLIGHT_RADIUS = 0.08
# The catchlight's offset from the eye's centre: toward the image's left by this share of the eye's
# width, up by this share of its opening. One light for both eyes, as an artist draws it.
CATCHLIGHT_SHIFT = (-0.15, -0.3)
MIN_WIDTH = 4.0
# Each of the three limits below is the middle of a ramp, not a cutoff: an eye fades out over
# +- its RAMP, so in a video an eye near a limit (a blink, a head turning, a ratio a runtime rounds
# differently) fades instead of blinking on and off from frame to frame.
MIN_OPENING, OPENING_RAMP = 0.15, 0.05  # the opening (lid to lid) as a share of the width
MIN_WIDTH_RATIO, WIDTH_RATIO_RAMP = 0.5, 0.1  # the eye's width as a share of the other eye's
MAX_IRIS_LIGHTNESS, LIGHTNESS_RAMP = 0.9, 0.05  # the disc's lightness as a share of its ring's
_SUBPIXEL = 4  # cv2.circle's fractional bits: centres and radii to 1/16 px


def _ramp(value: float, middle: float, half: float) -> float:
    """0 at ``middle - half`` and below, 1 at ``middle + half`` and above, linear between."""
    return float(np.clip((value - middle) / (2 * half) + 0.5, 0.0, 1.0))


def _eye(points: np.ndarray, side: str) -> tuple[np.ndarray, float, float] | None:
    """``(centre, width, opening)`` of one eye in pixels, or None when any of its points is missing."""
    c, outer, inner, top, bottom = (points[INDEX[f"{side}_eye_{n}"]] for n in ("center", "outer", "inner", "top", "bottom"))
    if not all(np.isfinite(v).all() for v in (c, outer, inner, top, bottom)):
        return None
    return c, float(np.linalg.norm(outer - inner)), float(np.linalg.norm(top - bottom))


def drawable_eyes(points: np.ndarray) -> list[tuple[np.ndarray, float, float, float]]:
    """The eyes of ``points (K, 2)`` (pixels) an iris can be drawn into, each ``(centre, width,
    opening, weight)``; ``weight`` (0-1] fades an eye near the opening or width-ratio limits (see
    the module docstring for what is left out)."""
    eyes = [_eye(points, side) for side in ("right", "left")]
    widest = max((e[1] for e in eyes if e is not None), default=0.0)
    out = []
    for e in eyes:
        if e is None or e[1] < MIN_WIDTH:
            continue
        weight = _ramp(e[2] / e[1], MIN_OPENING, OPENING_RAMP) * _ramp(e[1] / widest, MIN_WIDTH_RATIO, WIDTH_RATIO_RAMP)
        if weight > 1e-3:  # not a rounding error's sliver of an eye
            out.append((e[0], e[1], e[2], weight))
    return out


def iris_lightness(image: np.ndarray, centre: np.ndarray, radius: float) -> float | None:
    """Mean lightness of ``image`` inside the disc over that of the ring from ``radius`` to twice
    that, both over their parts inside the image: under 1 where the disc is darker. None where the
    disc's centre lies outside the image."""
    h, w = image.shape[:2]
    if not (0 <= centre[0] < w and 0 <= centre[1] < h):
        return None
    r2 = 2.0 * radius
    x0, y0 = max(int(centre[0] - r2), 0), max(int(centre[1] - r2), 0)
    x1, y1 = min(int(centre[0] + r2) + 2, w), min(int(centre[1] + r2) + 2, h)
    patch = image[y0:y1, x0:x1].astype(np.float32) @ _LUMA
    yy, xx = np.mgrid[y0:y1, x0:x1]
    d2 = (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2
    disc, ring = d2 <= radius**2, (d2 > radius**2) & (d2 <= r2**2)
    if not disc.any() or not ring.any():
        return None
    return float(patch[disc].mean() / max(float(patch[ring].mean()), 1e-6))


def _disc(shape: tuple[int, int], centre: np.ndarray, radius: float, blur: float) -> np.ndarray:
    """Soft ``(H, W)`` float32 mask of a filled disc, anti-aliased, its edge blurred by ``blur`` px."""
    mask = np.zeros(shape, np.float32)
    scale = 1 << _SUBPIXEL
    cx, cy = (int(round(v * scale)) for v in centre)
    cv2.circle(mask, (cx, cy), int(round(radius * scale)), (1.0,), -1, cv2.LINE_AA, shift=_SUBPIXEL)
    return cv2.GaussianBlur(mask, (0, 0), blur) if blur > 0 else mask


def draw_anime_eyes(
    image: np.ndarray, points: np.ndarray, amount: float = 1.0, max_lightness: float = MAX_IRIS_LIGHTNESS
) -> np.ndarray:
    """``image (H, W, 3)`` uint8 with a dark iris and a white catchlight in each drawable eye of
    ``points (K, 2)`` (pixels of ``image``: the face's target landmarks) whose disc is no lighter
    than ``max_lightness`` of its ring (:func:`iris_lightness`; fading out over +- LIGHTNESS_RAMP).
    ``amount`` (0-1) fades both in. Returns a new array; ``image`` itself is unchanged."""
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"eyes must be between 0 and 1, got {amount}")
    out = image.copy()
    if amount == 0:
        return out
    h, w = image.shape[:2]
    blur = 0.6 * min(h, w) / 256  # the edge of a 256 px crop's disc: 0.6 px
    for centre, width, opening, weight in drawable_eyes(np.asarray(points, np.float64)):
        radius, light_radius = IRIS_RADIUS * width, CATCHLIGHT_RADIUS * width
        lightness = iris_lightness(image, centre, radius)
        if lightness is None:
            continue
        if np.isfinite(max_lightness):
            weight *= 1.0 - _ramp(lightness, max_lightness, LIGHTNESS_RAMP)
        if weight <= 1e-3:
            continue
        light_at = centre + np.array([CATCHLIGHT_SHIFT[0] * width, CATCHLIGHT_SHIFT[1] * opening])
        # Only the patch both discs cover is touched (well under a millisecond a face, not the
        # milliseconds of whole-crop masks).
        pad = 3 * blur + 2
        lo = np.minimum(centre - radius, light_at - light_radius) - pad
        hi = np.maximum(centre + radius, light_at + light_radius) + pad
        x0, y0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
        x1, y1 = min(int(np.ceil(hi[0])) + 1, w), min(int(np.ceil(hi[1])) + 1, h)
        if x1 <= x0 or y1 <= y0:
            continue
        shape, origin = (y1 - y0, x1 - x0), np.array([x0, y0], np.float64)
        iris = amount * weight * _disc(shape, centre - origin, radius, blur)[..., None]
        light = amount * weight * _disc(shape, light_at - origin, light_radius, blur)[..., None]
        patch = out[y0:y1, x0:x1].astype(np.float32) * (1 - (1 - IRIS_SHADE) * iris)
        patch = patch * (1 - light) + 255.0 * light
        out[y0:y1, x0:x1] = np.clip(patch + 0.5, 0, 255).astype(np.uint8)
    return out
