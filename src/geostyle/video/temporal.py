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
    ) -> None:
        if threshold <= 0 or output_threshold <= 0 or not 0 <= strength < 1:
            raise ValueError("thresholds must be > 0 and strength in [0, 1)")
        self.threshold = float(threshold)
        self.output_threshold = float(output_threshold)
        self.strength = float(strength)
        self.reset()

    def reset(self) -> None:
        self._source: np.ndarray | None = None  # previous input, quarter resolution, float32
        self._out: np.ndarray | None = None  # previous output, full resolution
        self._out_small: np.ndarray | None = None  # previous output, quarter resolution

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
            return stylized
        change = cv2.blur(_channel_max(cv2.absdiff(src, self._source)), (3, 3))
        moved = cv2.blur(_channel_max(cv2.absdiff(styled, self._out_small)), (3, 3))
        weight = (
            self.strength
            * np.clip(1.0 - change / self.threshold, 0.0, 1.0)
            * np.clip(1.0 - moved / self.output_threshold, 0.0, 1.0)
        )
        h, w = stylized.shape[:2]
        lh, lw = weight.shape
        for x0, y0, x1, y1 in moving or []:
            sx, sy = lw / w, lh / h
            weight[max(0, int(y0 * sy)) : max(0, int(np.ceil(y1 * sy))), max(0, int(x0 * sx)) : max(0, int(np.ceil(x1 * sx)))] = 0
        # The quarter-resolution output, blended the same way (instead of resampling the output).
        w3 = weight[..., None]
        out_small = w3 * self._out_small + (1.0 - w3) * styled
        full_weight = np.asarray(cv2.resize(weight, (w, h), interpolation=cv2.INTER_LINEAR), dtype=np.float32)
        out = cv2.blendLinear(self._out, stylized, full_weight, 1.0 - full_weight)
        self._source, self._out, self._out_small = src, out, out_small
        return out


def _channel_max(diff: np.ndarray) -> np.ndarray:
    return np.maximum(np.maximum(diff[..., 0], diff[..., 1]), diff[..., 2])
