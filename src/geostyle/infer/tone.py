"""What a frame's tone needs before the generator sees it: an underexposed frame brightened, and a
greyscale or nearly grey photo given the photo set's average colour.

**Exposure.** A photo taken in dim light comes out dark and flat; the generators draw it as a murky,
low-contrast cartoon, and both judges find such faces less often (docs/training.md, "Exposure").
:func:`measure_exposure` finds the gain that takes the frame's white point (the 99th percentile of its
luma) to :data:`EXPOSURE_WHITE`, in linear light, never darker and at most :data:`MAX_EXPOSURE_GAIN`;
:func:`expose` applies it (one 256-entry table). It reads the frame's brightest pixels, not the face,
so it restores a photo's own whites and leaves how light or dark the person's skin is to the photo: a
dark-skinned face in a well-exposed photo is not lifted. A frame whose white point is very dark (a
covered lens, a night scene) is left nearly as it is (:data:`EXPOSURE_DARK_RAMP`).

**Colour.**

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


# Exposure: the frame's white point (luma at EXPOSURE_PERCENTILE, 8-bit) is taken to EXPOSURE_WHITE.
# The full gain is over 1.05 for 37 % of the 1,200 selfies here, over 1.5 for 7 % and over 2 for 3 %
# (HELEN 47 %, 16 %, 6 %; benchmarks/exposure.py).
EXPOSURE_PERCENTILE = 99.0
EXPOSURE_WHITE = 235.0
MAX_EXPOSURE_GAIN = 4.0  # two stops, in linear light: past it a dim frame shows mostly its noise
# A white point at or under the first value is a dark frame on purpose (a covered lens, night): no
# gain; the gain fades in up to the second, so a frame's brightness never jumps between two renderings.
EXPOSURE_DARK_RAMP = (24.0, 64.0)
# In a stream the gain follows the frames' with this time constant, in stops: a frame's white point
# moves with noise, motion and highlights that come and go, and a gain taken frame by frame makes the
# picture jump between brightnesses (a dim portrait whose corner light shows on every other frame: the
# face's swing from frame to frame 30.7 levels frame by frame, 1.1 followed; tests/infer/test_exposure.py).
# A camera's own exposure settles over about as long.
EXPOSURE_SETTLE_S = 0.5


@dataclass(frozen=True)
class Cast:
    """A frame's tone: ``chroma`` its lit pixels' mean distance from grey, ``mean`` their mean (a, b),
    ``weight`` the share of the shift toward the set's colour it takes (0: none); ``gain`` the linear-light
    gain that brightens it (1: none, :func:`measure_exposure`)."""

    chroma: float
    mean: tuple[float, float]
    weight: float
    gain: float = 1.0


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


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    """8-bit sRGB values (0-255, any shape) as linear light (0-1), float64."""
    x = np.asarray(values, dtype=np.float64) / 255.0
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values: np.ndarray) -> np.ndarray:
    """Linear light (clipped to 0-1) as sRGB values 0-255, float64 (not rounded)."""
    x = np.clip(values, 0.0, 1.0)
    return 255.0 * np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055)


def measure_exposure(image: np.ndarray) -> float:
    """The linear-light gain (1 to :data:`MAX_EXPOSURE_GAIN`) that takes the white point of the
    ``(H, W, 3)`` uint8 RGB ``image`` (its luma at :data:`EXPOSURE_PERCENTILE`, on every
    :data:`SAMPLE_STEP`-th pixel) to :data:`EXPOSURE_WHITE`; faded out toward 1 for a frame whose white
    point lies in :data:`EXPOSURE_DARK_RAMP` or under it."""
    sample = np.ascontiguousarray(image[::SAMPLE_STEP, ::SAMPLE_STEP], dtype=np.uint8)
    if sample.size == 0:
        return 1.0
    white = float(np.percentile(cv2.cvtColor(sample, cv2.COLOR_RGB2GRAY), EXPOSURE_PERCENTILE))
    if white >= EXPOSURE_WHITE:
        return 1.0
    full = float(srgb_to_linear(np.array(EXPOSURE_WHITE)) / max(float(srgb_to_linear(np.array(white))), 1e-6))
    full = min(full, MAX_EXPOSURE_GAIN)
    low, high = EXPOSURE_DARK_RAMP
    share = float(np.clip((white - low) / (high - low), 0.0, 1.0))
    return float(full**share)  # the fade in stops, so a dark frame's gain rises smoothly from 1


def scale_light(image: np.ndarray, gain: float) -> np.ndarray:
    """``image`` (``(H, W, 3)`` uint8 RGB) with its light scaled by ``gain`` (> 0) in linear light: sRGB
    decoded, scaled, re-encoded through one 256-entry table; what reaches past white clips, as in a
    camera. Below 1 it is what a shorter exposure or a dimmer room records."""
    table = np.round(linear_to_srgb(srgb_to_linear(np.arange(256)) * gain)).astype(np.uint8)
    return cv2.LUT(np.ascontiguousarray(image, dtype=np.uint8), table)


def expose(image: np.ndarray, gain: float) -> np.ndarray:
    """``image`` (``(H, W, 3)`` uint8 RGB) brightened by ``gain`` (:func:`scale_light`); ``image``
    itself at a gain of 1 or less: the exposure step never darkens."""
    if gain <= 1.0:
        return image
    return scale_light(image, gain)


class ExposureFollower:
    """A stream's exposure gain: each frame's (:func:`measure_exposure`) followed in stops with the time
    constant :data:`EXPOSURE_SETTLE_S`, so the brightness of a stream changes as slowly as a camera's
    own exposure does; the first frame (and the first after :meth:`reset`) takes its own gain."""

    def __init__(self, settle_s: float = EXPOSURE_SETTLE_S) -> None:
        self.settle_s = float(settle_s)
        self._stops: float | None = None
        self._t: float | None = None

    def __call__(self, gain: float, t: float) -> float:
        """The stream's gain at time ``t`` (seconds) given this frame's ``gain``."""
        stops = float(np.log2(max(gain, 1e-6)))
        if self._stops is None or self.settle_s <= 0:
            self._stops = stops
        elif self._t is not None and t > self._t:
            self._stops += (1.0 - float(np.exp(-(t - self._t) / self.settle_s))) * (stops - self._stops)
        # A frame at the same time or earlier (a repeated timestamp) leaves the gain where it is.
        if self._t is None or t > self._t:
            self._t = t
        return float(2.0**self._stops)

    def reset(self) -> None:
        self._stops, self._t = None, None


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
