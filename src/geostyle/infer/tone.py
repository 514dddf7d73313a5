"""A greyscale or nearly grey photo given the photo set's average colour before the generator sees it.

A model trained on targets moved by one palette transfer for the whole photo set (``data.target_palette:
set``; the bundled ``anime_large``) maps each photo's colours relative to that set's average. A greyscale
photo lies on the cool side of a set of face photos (their average is a warm skin colour), so such a
model draws it grey-cyan, where a model trained per crop put every crop on the exemplars' warm mean.
The same holds for "black and white" photos that keep a faint cast (a filter's tone, JPEG chroma
noise): of the 1,500 selfie and HELEN photos here, 84 are greyscale, 43 measure 1-4 and 39 lie in the
ramp below, against a median of 19 (:func:`measure_cast`; ``benchmarks/photo_colour.py``).

Given the set's average chroma (the release's ``extra.photo_palette``), a frame with little colour is
shifted toward it first, by a weight that falls from 1 to 0 as the frame's own colour rises
(:data:`CHROMA_RAMP`): the model then draws it as it draws an average photo. The shift moves every
pixel's chroma by the same amount, so what colour a nearly grey photo has (a red necklace, lips) stays,
only warmer; photos with ordinary colour (sepia included) pass unchanged. The weight changes gradually
with the frame's colour, so a video whose colour hovers near the ramp does not flicker between two
renderings.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SAMPLE_STEP = 8  # every 8th pixel each way: about 1 ms on a 1080p frame

# OpenCV 8-bit Lab lightness over which the tint fades in: darks stay grey, as a real photo's darks
# carry little colour (a constant chroma there reads as a strong hue, which the generators' dark
# colour then keeps: black turned maroon). Also the lightness from which a frame's colour is measured.
TINT_RAMP = (50.0, 110.0)

# A frame's colour (the mean distance from grey of its lit pixels' OpenCV 8-bit Lab a, b) at or below
# which it takes the whole shift, and at or above which none. Greyscale photos measure 0-1, filtered
# "black and white" selfies 1.5-5, desaturated colour photos 5-8, the median photo 19 (selfies and
# HELEN, looked at; docs/training.md "Nearly grey photos").
CHROMA_RAMP = (4.0, 8.0)


@dataclass(frozen=True)
class Cast:
    """How much colour a frame has: ``chroma`` its lit pixels' mean distance from grey, ``mean`` their
    mean (a, b), ``weight`` the share of the shift toward the set's colour it takes (0: none)."""

    chroma: float
    mean: tuple[float, float]
    weight: float


NO_CAST = Cast(0.0, (128.0, 128.0), 0.0)


def measure_cast(image: np.ndarray) -> Cast:
    """The colour of the ``(H, W, 3)`` uint8 RGB ``image``, measured on every :data:`SAMPLE_STEP`-th
    pixel lit above the dark end of :data:`TINT_RAMP` (a frame with too few lit pixels is left as it
    is: the tint does not reach its darks)."""
    sample = np.ascontiguousarray(image[::SAMPLE_STEP, ::SAMPLE_STEP], dtype=np.uint8)
    if sample.size == 0:
        return NO_CAST
    lab = cv2.cvtColor(sample, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    lit = lab[lab[:, 0] >= TINT_RAMP[0]]
    if len(lit) < 16:
        return NO_CAST
    a, b = lit[:, 1] - 128.0, lit[:, 2] - 128.0
    chroma = float(np.hypot(a, b).mean())
    low, high = CHROMA_RAMP
    weight = float(np.clip((high - chroma) / (high - low), 0.0, 1.0))
    return Cast(chroma, (128.0 + float(a.mean()), 128.0 + float(b.mean())), weight)


def tint(image: np.ndarray, chroma: tuple[float, float], cast: Cast) -> np.ndarray:
    """``image`` (``(H, W, 3)`` uint8 RGB) at its own lightness, every pixel's OpenCV 8-bit Lab a, b
    moved by ``cast.weight`` of the way from the frame's mean (``cast.mean``) to ``chroma``, faded out in
    the darks (:data:`TINT_RAMP`). ``cast`` is measured once on the whole frame (:func:`measure_cast`)
    and every piece cut from it is tinted with it: a face crop of a nearly grey photo may itself measure
    greyer than the frame, and tinting it alone would leave a seam."""
    if cast.weight <= 0.0:
        return image
    lab = cv2.cvtColor(np.ascontiguousarray(image, dtype=np.uint8), cv2.COLOR_RGB2LAB).astype(np.float32)
    low, high = TINT_RAMP
    fade = cast.weight * np.clip((lab[..., 0] - low) / (high - low), 0.0, 1.0)
    for channel, target, mean in ((1, chroma[0], cast.mean[0]), (2, chroma[1], cast.mean[1])):
        lab[..., channel] += fade * (float(np.clip(target, 0, 255)) - mean)
    return cv2.cvtColor(np.clip(np.round(lab), 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
