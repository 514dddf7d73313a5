"""Motion-adaptive temporal filtering of the stylized frames.

Smoothing the landmarks keeps the face crops and their warps still, but most frame-to-frame change of
a stylized video is elsewhere: the generator turns the camera's and the codec's noise into texture
that changes every frame (the bundled anime model roughly doubles the frame-to-frame change of a still
talking head). Where the *input* did not change, the output should not either, so each output pixel
is blended with the previous output with a weight that falls to zero as the input changes:

    d   = box-blurred max over R, G, B of |in_t - in_{t-1}| (at a quarter resolution; colour, not
          luma, so that a change between two colours of equal brightness counts)
    e   = the same between the new stylized frame and the previous output
    w   = strength * clip(1 - d / threshold, 0, 1) * clip(1 - e / output_threshold, 0, 1)
    out = w * out_{t-1} + (1 - w) * stylized_t

A moving edge (``d`` above ``threshold``) is passed through untouched, and so is any place where
the output itself moved by more than noise (``e``), and so is the region of any face whose
landmarks moved (the caller passes those boxes): a face whose warped features move while its smooth
skin barely changes the input would otherwise leave a ghost. Static regions average over a few
frames. ``docs/inference.md`` has the flicker measurements.

With ``motion`` the previous frames are first moved along the input's optical flow (DIS, on the
quarter-resolution grey inputs), so ``d`` and ``e`` compare each pixel with where it came from, and
a moving head is blended along its motion instead of being passed through: the generator's jitter
on a turning face (its flat regions' borders and ink hopping between frames) is averaged too.
Where the flow is wrong, ``d`` is large and the frame passes through, as a moving edge does.
"""

from __future__ import annotations

import cv2
import numpy as np

DEFAULT_THRESHOLD = 8.0  # input change (uint8 levels, blurred) at which blending stops
DEFAULT_OUTPUT_THRESHOLD = 16.0  # output change at which blending stops (ghost guard)
DEFAULT_STRENGTH = 0.8  # blend weight of the previous output where the input is perfectly still


class TemporalFilter:
    """Stateful: ``__call__(source, stylized) -> output`` for consecutive frames of one stream;
    :meth:`reset` after a cut. A frame of a different size restarts the filter."""

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        strength: float = DEFAULT_STRENGTH,
        output_threshold: float = DEFAULT_OUTPUT_THRESHOLD,
        motion: bool = False,
    ) -> None:
        if threshold <= 0 or output_threshold <= 0 or not 0 <= strength < 1:
            raise ValueError("thresholds must be > 0 and strength in [0, 1)")
        self.threshold = float(threshold)
        self.output_threshold = float(output_threshold)
        self.strength = float(strength)
        self.motion = bool(motion)
        self._flow = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST) if motion else None
        self.reset()

    def reset(self) -> None:
        self._source: np.ndarray | None = None  # previous input, quarter resolution, float32
        self._out: np.ndarray | None = None  # previous output, full resolution
        self._out_small: np.ndarray | None = None  # previous output, quarter resolution
        self._grey: np.ndarray | None = None  # previous input, quarter resolution, grey uint8 (the flow's)

    @staticmethod
    def _quarter(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        return cv2.resize(image, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA).astype(np.float32)

    def __call__(
        self, source: np.ndarray, stylized: np.ndarray, moving: list[tuple[float, float, float, float]] | None = None
    ) -> np.ndarray:
        """``moving``: boxes ``(x0, y0, x1, y1)`` (frame pixels) known to move, e.g. a turning head,
        where the frame is passed through unblended."""
        src, styled = self._quarter(source), self._quarter(stylized)
        if (
            self._out is None
            or self._source is None
            or self._out_small is None
            or self._out.shape != stylized.shape
            or self._source.shape != src.shape
        ):
            self._source, self._out, self._out_small = src, stylized, styled
            self._grey = _grey(src) if self.motion else None
            return stylized
        h, w = stylized.shape[:2]
        previous_source, previous_out, previous_small = self._source, self._out, self._out_small
        grey = None
        if self._flow is not None and self._grey is not None:
            # Where each pixel of this frame was in the previous one (quarter pixels), and the
            # previous frames moved there: at a quarter, and the full output along the enlarged flow.
            grey = _grey(src)
            flow = self._flow.calc(grey, self._grey, None)  # type: ignore[call-overload]  # None: a new flow
            lh, lw = grey.shape
            ys, xs = np.mgrid[0:lh, 0:lw].astype(np.float32)
            small_map = np.dstack([xs + flow[..., 0], ys + flow[..., 1]])
            previous_source = cv2.remap(previous_source, small_map, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # type: ignore[call-overload]  # a two-channel map (the stubs lack that form)
            previous_small = cv2.remap(previous_small, small_map, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # type: ignore[call-overload]  # a two-channel map (the stubs lack that form)
            big = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR) * np.array([w / lw, h / lh], np.float32)
            fy, fx = np.mgrid[0:h, 0:w].astype(np.float32)
            big[..., 0] += fx
            big[..., 1] += fy
            previous_out = cv2.remap(previous_out, big, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # type: ignore[call-overload]  # a two-channel map (the stubs lack that form)
        change = cv2.blur(_channel_max(cv2.absdiff(src, previous_source)), (3, 3))
        moved = cv2.blur(_channel_max(cv2.absdiff(styled, previous_small)), (3, 3))
        weight = (
            self.strength
            * np.clip(1.0 - change / self.threshold, 0.0, 1.0)
            * np.clip(1.0 - moved / self.output_threshold, 0.0, 1.0)
        )
        lh, lw = weight.shape
        for x0, y0, x1, y1 in moving or []:
            sx, sy = lw / w, lh / h
            weight[max(0, int(y0 * sy)) : max(0, int(np.ceil(y1 * sy))), max(0, int(x0 * sx)) : max(0, int(np.ceil(x1 * sx)))] = 0
        # The quarter-resolution output, blended the same way (instead of resampling the output).
        w3 = weight[..., None]
        out_small = w3 * previous_small + (1.0 - w3) * styled
        full_weight = np.asarray(cv2.resize(weight, (w, h), interpolation=cv2.INTER_LINEAR), dtype=np.float32)
        out = cv2.blendLinear(previous_out, stylized, full_weight, 1.0 - full_weight)
        self._source, self._out, self._out_small, self._grey = src, out, out_small, grey
        return out


def _grey(image: np.ndarray) -> np.ndarray:
    """A float RGB image's grey, uint8 (what the optical flow reads)."""
    return np.clip(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) + 0.5, 0, 255).astype(np.uint8)


def _channel_max(diff: np.ndarray) -> np.ndarray:
    return np.maximum(np.maximum(diff[..., 0], diff[..., 1]), diff[..., 2])
