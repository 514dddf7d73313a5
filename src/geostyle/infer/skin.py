"""Anime skin: the face's skin drawn in two flat tones (a lit tone and a cel shadow), where the
landmarks put the face.

An anime face's skin is one flat colour with a crisp shadow shape; the generators keep the
photo's shading and quantise it, which leaves blotches of three or four grey-violet levels across
cheeks and forehead. This step redraws the skin after the generator, on the stylized crop, at the
face's *target* landmarks (where the warp moved them): no weights, the same for every model.

* **Where.** The skin is the convex hull of the outline, the brows and a forehead above them
  (:data:`FOREHEAD` of the brows-to-nose distance), shrunk a little so the jaw's edge stays as it
  was drawn; less the eyes, brows, nose and mouth (each grown a little, the eyes also by a disc
  that holds the anime iris). Within it, only pixels of about the skin's own colour are redrawn
  (:data:`SKIN_NEAR` / :data:`SKIN_FAR`, Lab distance to the median colour of the hull's core): hair
  over the forehead, a hand or a phone in front of the chin of another colour stay as they were.
* **Tones.** The lit tone is that median colour; the shadow tone the same colour at
  :data:`SHADOW` of its lightness, where the skin's own lightness, smoothed within the region, is
  about :data:`SHADOW_STEP` below the median (a ramp of :data:`SHADOW_RAMP` levels, so the shadow's
  edge is crisp but not jagged).
* **Lines stay.** Pixels far darker than the tone (:data:`LINE_DARKER`: the ink, drawn lines) are
  kept, and so are thin lines of either polarity (:data:`THIN`: a pixel far from the median of its
  small neighbourhood, which removes lines a few pixels wide but keeps the steps between
  blotches), so the nose's and the cheeks' lines and the rims of glasses survive.

The region, the colour and the shadow are smooth, so they are worked out on a copy of at most
:data:`WORK_SIDE` px and brought back; the lines that stay are found at full size, in luma.

A face is left alone when a point the hull or the holes need is missing or lies far outside the
picture, when its outline is under :data:`MIN_EXTENT` px wide, or when the hull's core holds too
few pixels to name a skin colour. Measured in ``docs/training.md`` ("Anime skin").
"""

from __future__ import annotations

import cv2
import numpy as np

from geostyle.faces.landmarks import INDEX
from geostyle.infer.outline import OUTLINE_POINTS
from geostyle.nets.blocks import LUMA_WEIGHTS

_LUMA = np.array(LUMA_WEIGHTS, np.float32)

BROWS = ("right_brow_outer", "right_brow_center", "right_brow_inner", "left_brow_inner", "left_brow_center", "left_brow_outer")
EYE = ("outer", "inner", "top", "bottom")
MOUTH = ("mouth_right", "mouth_left", "mouth_top", "mouth_bottom")
NOSE = ("nose_tip", "nose_base", "nose_right", "nose_left")

FOREHEAD = 0.6  # the hull reaches above the brows by this share of the brows-to-nose-base distance
HULL_SHRINK = 0.97  # about the hull's centre: the jaw's edge and the outline drawn on it stay
EYE_GROW, MOUTH_GROW, NOSE_GROW = 1.35, 1.2, 1.1  # the holes, about each part's centre
EYE_DISC = 0.3  # and a disc of this share of the eye's width around its centre (the anime iris)
BROW_WIDTH = 0.08  # a brow's hole: a stroke this share of the outer eye corners' distance wide
# Blurs as fractions of the crop's side (px of a 256 px crop).
EDGE_SOFT = 3 / 256  # the hull's edge
HOLE_SOFT = 1.5 / 256  # the holes' edges
LIKE_SOFT = 2 / 256  # the colour test's edges
TONE_BLUR = 6 / 256  # the lightness the shadow is cut from
# Lab distance (OpenCV's 8-bit Lab; lightness at half weight) to the skin's median colour: redrawn
# fully up to SKIN_NEAR, not at all from SKIN_FAR.
SKIN_NEAR, SKIN_FAR = 20.0, 40.0
SHADOW_STEP = 14.0  # smoothed lightness this far below the median (8-bit levels) is in shadow
SHADOW_RAMP = 4.0  # levels over which the shadow's edge goes from lit to shadow
SHADOW = 0.84  # the shadow tone's lightness, a share of the lit tone's
LINE_DARKER, LINE_RAMP = 35.0, 20.0  # a pixel this many luma levels darker than its tone starts to stay
# A thin line of either polarity (glasses' rims, a pale ink stroke) stays: a pixel this many levels
# from the median of its THIN_WINDOW neighbourhood (which removes thin lines and keeps the steps
# between blotches) is half kept, over +- THIN_RAMP / 2.
THIN, THIN_RAMP = 10.0, 8.0
THIN_WINDOW = 5 / 256  # the median's window, a fraction of the crop's side (odd, at least 3 px)
CORE = 0.8  # the hull's core (its soft mask above this) names the skin's colour
MIN_CORE = 50  # pixels of the full-size crop
MIN_EXTENT = 16.0  # px: an outline narrower than this (a tiny face) is left alone
WORK_SIDE = 128  # px: the region, colour and shadow are worked out on a copy no larger than this
MAX_THIN_WINDOW = 5  # px: the thin lines' median window, whatever the crop's size


def _points(points: np.ndarray, names) -> np.ndarray | None:
    p = np.stack([np.asarray(points[INDEX[n]], np.float64) for n in names])
    return p if np.isfinite(p).all() else None


def _grown(p: np.ndarray, grow: float) -> np.ndarray:
    c = p.mean(0)
    return c + (p - c) * grow


def _pixel(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))


def _fill(mask: np.ndarray, p: np.ndarray) -> None:
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(p).astype(np.int32)), (1.0,))


def _blur(mask: np.ndarray, sigma: float) -> np.ndarray:
    return np.asarray(cv2.GaussianBlur(mask, (0, 0), sigma), np.float32)


def skin_region(points: np.ndarray, size: tuple[int, int], min_extent: float = MIN_EXTENT) -> np.ndarray | None:
    """The soft ``(H, W)`` float32 mask (0-1) of the face's skin by its landmarks ``points (K, 2)``
    (pixels), before the colour test; None when a point it needs is missing or the outline is
    narrower than ``min_extent`` px."""
    points = np.asarray(points, np.float64)
    outline, brows = _points(points, OUTLINE_POINTS), _points(points, BROWS)
    right_eye = _points(points, [f"right_eye_{n}" for n in EYE])
    left_eye = _points(points, [f"left_eye_{n}" for n in EYE])
    mouth, nose = _points(points, MOUTH), _points(points, NOSE)
    if outline is None or brows is None or mouth is None or nose is None or right_eye is None or left_eye is None:
        return None
    if np.ptp(outline[:, 0]) < min_extent:
        return None
    h, w = size
    if np.abs(np.concatenate([outline, brows, mouth, nose, right_eye, left_eye])).max() > 4 * max(h, w):
        return None  # points far outside the picture: nothing of this face is in it to redraw
    side = min(h, w)
    up = points[INDEX["nose_base"]] - brows[[1, 4]].mean(0)
    hull = np.concatenate([outline, brows, brows - FOREHEAD * up])
    region = np.zeros((h, w), np.float32)
    _fill(region, _grown(hull, HULL_SHRINK))
    holes = np.zeros((h, w), np.float32)
    eye_span = float(np.linalg.norm(left_eye[0] - right_eye[0]))  # outer corner to outer corner
    for eye in (right_eye, left_eye):
        _fill(holes, _grown(eye, EYE_GROW))
        radius = max(1, int(round(EYE_DISC * float(np.linalg.norm(eye[0] - eye[1])))))
        cv2.circle(holes, _pixel(eye.mean(0)), radius, (1.0,), -1)
    stroke = max(2, int(round(BROW_WIDTH * eye_span)))
    for i in (0, 1, 3, 4):  # each brow's two strokes; from 2 to 3 is the forehead between them
        cv2.line(holes, _pixel(brows[i]), _pixel(brows[i + 1]), (1.0,), stroke)
    _fill(holes, _grown(mouth, MOUTH_GROW))
    _fill(holes, _grown(nose, NOSE_GROW))
    return _blur(region, EDGE_SOFT * side) * (1.0 - _blur(holes, HOLE_SOFT * side))


def draw_anime_skin(image: np.ndarray, points: np.ndarray, amount: float = 1.0) -> np.ndarray:
    """``image (H, W, 3)`` uint8 with the face's skin of ``points (K, 2)`` (pixels of ``image``:
    the face's target landmarks) redrawn in a lit tone and a cel shadow (module doc). ``amount``
    (0-1) fades it in. Returns a new array; ``image`` itself is unchanged."""
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"skin must be between 0 and 1, got {amount}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.dtype} {image.shape}")
    out = image.copy()
    if amount == 0:
        return out
    h, w = image.shape[:2]
    # The region, the skin's colour and its shadow are smooth: worked out on a copy of at most
    # WORK_SIDE px, then brought back; the lines that stay are found at full size.
    f = min(1.0, WORK_SIDE / min(h, w))
    sw, sh = max(1, round(w * f)), max(1, round(h * f))
    fx, fy = sw / w, sh / h
    small = image if (sw, sh) == (w, h) else cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
    pts = np.asarray(points, np.float64)
    region = skin_region((pts + 0.5) * [fx, fy] - 0.5, (sh, sw), MIN_EXTENT * fx)
    if region is None:
        return out
    ys, xs = np.nonzero(region > 1e-3)
    if len(ys) == 0:
        return out
    side = min(sh, sw)
    pad = int(np.ceil(3 * TONE_BLUR * side)) + 1
    y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, sh)
    x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, sw)
    mask = region[y0:y1, x0:x1]
    lab = cv2.cvtColor(np.ascontiguousarray(small[y0:y1, x0:x1]), cv2.COLOR_RGB2LAB).astype(np.float32)
    core = mask > CORE
    if core.sum() < MIN_CORE * f * f:
        return out
    tone = np.median(lab[core], axis=0)
    # Colour test: about the skin's own colour, or it stays (hair, a hand, a phone).
    dist = np.sqrt(((lab[..., 1:] - tone[1:]) ** 2).sum(-1) + (0.5 * (lab[..., 0] - tone[0])) ** 2)
    like = np.clip((SKIN_FAR - dist) / (SKIN_FAR - SKIN_NEAR), 0.0, 1.0)
    mask = mask * _blur(like, LIKE_SOFT * side)
    # The shadow: where the skin's own lightness, smoothed within the mask, falls below the tone.
    sigma = TONE_BLUR * side
    lightness = _blur(lab[..., 0] * mask, sigma) / np.maximum(_blur(mask, sigma), 1e-3)
    lit = np.clip((lightness - (tone[0] - SHADOW_STEP)) / SHADOW_RAMP + 0.5, 0.0, 1.0)
    flat = np.empty_like(lab)
    flat[..., 0] = tone[0] * (SHADOW + (1.0 - SHADOW) * lit)
    flat[..., 1], flat[..., 2] = tone[1], tone[2]
    rgb = cv2.cvtColor(np.clip(flat + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB).astype(np.float32)
    # Back to the image's own pixels: the patch's box there, the mask and the tones resampled to it.
    X0, Y0 = int(np.floor(x0 / fx)), int(np.floor(y0 / fy))
    X1, Y1 = min(int(np.ceil(x1 / fx)), w), min(int(np.ceil(y1 / fy)), h)
    if (sw, sh) != (w, h):
        mask = np.asarray(cv2.resize(mask, (X1 - X0, Y1 - Y0), interpolation=cv2.INTER_LINEAR), np.float32)
        rgb = np.asarray(cv2.resize(rgb, (X1 - X0, Y1 - Y0), interpolation=cv2.INTER_LINEAR), np.float32)
    patch = np.ascontiguousarray(image[Y0:Y1, X0:X1])
    # The lines, at full size and in luma (8-bit levels, within a few per cent of Lab's here).
    lum = patch.astype(np.float32) @ _LUMA
    keep = np.clip((rgb @ _LUMA - lum - LINE_DARKER) / LINE_RAMP, 0.0, 1.0)  # dark lines stay
    keep = np.maximum(keep, np.clip((_thinness(lum, min(h, w)) - THIN) / THIN_RAMP + 0.5, 0.0, 1.0))  # and thin ones
    a = (amount * mask * (1.0 - keep))[..., None]
    blend = patch * (1.0 - a)
    blend += rgb * a
    blend += 0.5
    out[Y0:Y1, X0:X1] = np.clip(blend, 0, 255, out=blend).astype(np.uint8)
    return out


def _thinness(lum: np.ndarray, side: int) -> np.ndarray:
    """How far each pixel of ``lum`` (float32 luma of a patch of an image ``side`` px across) lies
    from the median of its THIN_WINDOW neighbourhood, a window of at most MAX_THIN_WINDOW px (a
    wider median is slow; on crops above 256 px the thin lines are then those up to about 2 px)."""
    window = min(MAX_THIN_WINDOW, max(3, int(round(THIN_WINDOW * side)) | 1))
    median = cv2.medianBlur(np.clip(lum + 0.5, 0, 255).astype(np.uint8), window).astype(np.float32)
    return np.abs(lum - median)


__all__ = ["draw_anime_skin", "skin_region"]
