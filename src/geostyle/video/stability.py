"""Temporal stability of a stylized video: how much more the output changes from frame to frame
than the input does.

``flicker = mean |out_t - out_{t-1}| - mean |in_t - in_{t-1}|`` (uint8 levels, averaged over pixels,
channels and frame pairs; optionally inside a region only). A perfectly stable stylizer of a still
scene scores 0; jittering face crops, popping warps and noise the generator amplifies score above.
Measured on the frames in memory, before encoding (the encoder's own noise is not the stylizer's).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
