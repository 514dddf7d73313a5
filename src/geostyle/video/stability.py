"""Temporal stability of a stylized video: how much more the output changes from frame to frame
than the input does.

``flicker = mean |out_t - out_{t-1}| - mean |in_t - in_{t-1}|`` (uint8 levels, averaged over pixels,
channels and frame pairs; optionally inside a region only). A perfectly stable stylizer of a still
scene scores 0; jittering face crops, popping warps and noise the generator amplifies score above.
Measured on the frames in memory, before encoding (the encoder's own noise is not the stylizer's).

On a moving head that number also counts motion: a stylized face with dark lines changes more from
frame to frame than the photo when it moves, however steady its drawing. :class:`WarpErrorMeter`
takes motion out, as video-consistency studies do: each previous frame is first moved along the
input's optical flow (DIS, medium preset, on the full-resolution grey inputs) onto the current one,
and only pixels the flow explains (the moved input within :data:`EXPLAINED` levels of the current
one) count. Its ``warp_error`` is the mean ``|out_t - moved out_{t-1}|`` there: what changed in the
drawing that the motion does not account for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

EXPLAINED = 6.0  # levels: the moved previous input within this of the current one (max over R, G, B)


@dataclass
class FlickerMeter:
    """Accumulates frame-to-frame change of inputs and outputs, over the whole frame and, if given,
    inside ``region = (x0, y0, x1, y1)`` (pixels)."""

    region: tuple[int, int, int, int] | None = None
    _prev: tuple[np.ndarray, np.ndarray] | None = None
    sums: dict[str, float] = field(default_factory=lambda: {"in": 0.0, "out": 0.0, "in_region": 0.0, "out_region": 0.0})
    pairs: int = 0

    def update(self, source: np.ndarray, output: np.ndarray) -> None:
        src, out = source.astype(np.int16), output.astype(np.int16)
        if self._prev is not None:
            ps, po = self._prev
            self.sums["in"] += float(np.abs(src - ps).mean())
            self.sums["out"] += float(np.abs(out - po).mean())
            if self.region is not None:
                x0, y0, x1, y1 = self.region
                self.sums["in_region"] += float(np.abs(src[y0:y1, x0:x1] - ps[y0:y1, x0:x1]).mean())
                self.sums["out_region"] += float(np.abs(out[y0:y1, x0:x1] - po[y0:y1, x0:x1]).mean())
            self.pairs += 1
        self._prev = (src, out)

    def result(self) -> dict[str, float]:
        """Mean changes and the excess (output minus input), whole frame and region."""
        n = max(1, self.pairs)
        r = {k: v / n for k, v in self.sums.items()}
        out = {"input_change": r["in"], "output_change": r["out"], "flicker": r["out"] - r["in"], "pairs": self.pairs}
        if self.region is not None:
            out |= {
                "region_input_change": r["in_region"],
                "region_output_change": r["out_region"],
                "region_flicker": r["out_region"] - r["in_region"],
            }
        return {k: round(float(v), 4) for k, v in out.items()}


class WarpErrorMeter:
    """Accumulates the warping error (module docstring) of consecutive ``(input, output)`` frames,
    over the whole frame and, if given, inside ``region = (x0, y0, x1, y1)`` (pixels)."""

    def __init__(self, region: tuple[int, int, int, int] | None = None) -> None:
        self.region = region
        self._flow = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self._prev: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.sums = {"input": 0.0, "output": 0.0, "explained": 0.0, "input_region": 0.0, "output_region": 0.0, "explained_region": 0.0}
        self.counted = {"": 0, "_region": 0}  # pairs with any explained pixel, the errors' denominators
        self.pairs = 0

    def update(self, source: np.ndarray, output: np.ndarray) -> None:
        grey = cv2.cvtColor(source, cv2.COLOR_RGB2GRAY)
        if self._prev is not None:
            prev_grey, prev_src, prev_out = self._prev
            flow = self._flow.calc(grey, prev_grey, None)  # type: ignore[call-overload]  # None: a new flow
            h, w = grey.shape
            ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
            maps = np.dstack([xs + flow[..., 0], ys + flow[..., 1]])
            moved_src = cv2.remap(prev_src, maps, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # type: ignore[call-overload]  # a two-channel map (the stubs lack that form)
            moved_out = cv2.remap(prev_out, maps, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # type: ignore[call-overload]  # a two-channel map (the stubs lack that form)
            diff_in = cv2.absdiff(source, moved_src).astype(np.float32)
            explained = diff_in.max(axis=2) <= EXPLAINED
            d_in, d_out = diff_in.mean(axis=2), cv2.absdiff(output, moved_out).astype(np.float32).mean(axis=2)
            self._add("", d_in, d_out, explained)
            if self.region is not None:
                x0, y0, x1, y1 = self.region
                self._add("_region", d_in[y0:y1, x0:x1], d_out[y0:y1, x0:x1], explained[y0:y1, x0:x1])
            self.pairs += 1
        self._prev = (grey, source, output)

    def _add(self, suffix: str, d_in: np.ndarray, d_out: np.ndarray, explained: np.ndarray) -> None:
        n = int(explained.sum())
        self.sums["explained" + suffix] += n / max(1, explained.size)
        if n:
            self.sums["input" + suffix] += float(d_in[explained].mean())
            self.sums["output" + suffix] += float(d_out[explained].mean())
            self.counted[suffix] += 1

    def result(self) -> dict[str, float]:
        """Mean warping errors of input and output over the explained pixels (averaged over the frame
        pairs that have any), and the share of pixels explained, whole frame and region."""
        n, whole, region = max(1, self.pairs), max(1, self.counted[""]), max(1, self.counted["_region"])
        out = {
            "warp_error": self.sums["output"] / whole,
            "input_warp_error": self.sums["input"] / whole,
            "explained": self.sums["explained"] / n,
            "pairs": self.pairs,
        }
        if self.region is not None:
            out |= {
                "region_warp_error": self.sums["output_region"] / region,
                "region_input_warp_error": self.sums["input_region"] / region,
                "region_explained": self.sums["explained_region"] / n,
            }
        return {k: round(float(v), 4) for k, v in out.items()}
