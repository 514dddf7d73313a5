"""A colourless photo given the photo set's average colour before the generator sees it.

A model trained on targets moved by one palette transfer for the whole photo set (``data.target_palette:
set``; the bundled ``anime_large``) maps each photo's colours relative to that set's average. A greyscale
photo lies on the cool side of a set of face photos (their average is a warm skin colour), so such a
model draws it grey-cyan, where a model trained per crop put every crop on the exemplars' warm mean.
Given the set's average chroma (the release's ``extra.photo_palette``), a photo with no colour at all
takes that chroma at its own lightness first: the model then draws it as it draws an average photo.
Photos with any colour (sepia included) pass unchanged.
"""

from __future__ import annotations

import cv2
import numpy as np

# A photo is colourless when 99 % of its sampled pixels have channels within this many levels of each
# other (JPEG noise in a greyscale picture saved as RGB stays within a few levels; skin differs by 20+).
COLOURLESS_SPREAD = 6
COLOURLESS_SHARE = 0.99
SAMPLE_STEP = 8  # every 8th pixel each way: about 1.3 ms on a 1080p frame (every 4th: 4.9 ms)


def is_colourless(image: np.ndarray) -> bool:
    """Whether the ``(H, W, 3)`` uint8 RGB ``image`` carries no colour (a greyscale photo)."""
    sample = image[::SAMPLE_STEP, ::SAMPLE_STEP].astype(np.int16)
    if sample.size == 0:
        return False
    spread = sample.max(axis=2) - sample.min(axis=2)
    return bool(np.count_nonzero(spread <= COLOURLESS_SPREAD) >= COLOURLESS_SHARE * spread.size)


# OpenCV 8-bit Lab lightness over which the tint fades in: darks stay grey, as a real photo's darks
# carry little colour (a constant chroma there reads as a strong hue, which the generators' dark
# colour then keeps: black turned maroon).
TINT_RAMP = (50.0, 110.0)


def tint(image: np.ndarray, chroma: tuple[float, float]) -> np.ndarray:
    """``image`` (``(H, W, 3)`` uint8 RGB) at its own lightness with OpenCV 8-bit Lab chroma ``chroma``
    (a, b), faded to grey in the darks (:data:`TINT_RAMP`). A caller that cuts pieces from one frame
    decides with :func:`is_colourless` on the frame and tints every piece of it, or none (a face crop
    of a nearly grey photo may itself be colourless where the frame is not: tinting only the face
    leaves a seam)."""
    lab = cv2.cvtColor(np.ascontiguousarray(image, dtype=np.uint8), cv2.COLOR_RGB2LAB).astype(np.float32)
    low, high = TINT_RAMP
    weight = np.clip((lab[..., 0] - low) / (high - low), 0.0, 1.0)
    for channel, value in ((1, chroma[0]), (2, chroma[1])):
        lab[..., channel] = 128.0 + weight * (float(np.clip(value, 0, 255)) - 128.0)
    return cv2.cvtColor(np.clip(np.round(lab), 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
