"""``geostyle evaluate`` with the output's lift over the photo capped (a probe, not a product option).

    python benchmarks/evaluate_lift_cap.py 32 0.6 evaluate --model anime --n 200 ...

The bundled anime models lift dark skin about twice as much as light skin (cheeks +50 against +24
levels of 255 on HELEN, ``benchmarks/skin_tone.py``): they paint every face toward their exemplars'
pale tone. Here every generator's dark colour and depth are followed by a cap on the lift,
everywhere in the picture: on the same 2x2 averages, where the output's luma is more than ``CAP``
levels above the photo's, ``SHARE`` of the excess is taken back (a grey shift, so the hue stays).
A light face lifted less than ``CAP`` does not change; a dark face, a dark background or a white
highlight painted over mid-tone skin comes out at most about ``CAP`` above the photo. Everything
else is ``geostyle evaluate`` with the arguments that follow; the report's settings do not show
it: name the output folder after it.
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F

import geostyle.nets.generator as generator_module
from geostyle.cli.main import main
from geostyle.nets import blocks


def capped(cap_levels: float, share_cap: float):
    """``keep_dark_colour`` followed by the lift over the photo capped at ``cap_levels``."""
    keep = blocks.keep_dark_colour
    cap = 2.0 * cap_levels / 255.0  # levels of 255 in the [-1, 1] scale

    def dark_colour_and_cap(output: torch.Tensor, photo: torch.Tensor, share: float, depth: float = 0.0) -> torch.Tensor:
        kept = keep(output, photo, share, depth)
        weights = torch.tensor(blocks.LUMA_WEIGHTS, dtype=output.dtype, device=output.device).view(1, 3, 1, 1)
        sub = blocks.DARK_COLOUR_REDUCTION
        luma_out = (F.avg_pool2d(kept, sub) * weights).sum(1, keepdim=True)
        luma_photo = (F.avg_pool2d(photo, sub) * weights).sum(1, keepdim=True)
        change = -share_cap * (luma_out - luma_photo - cap).clamp(min=0.0)
        change = F.interpolate(change, size=tuple(output.shape[2:]), mode="bilinear", align_corners=False)
        return (kept + change).clamp(-1, 1)

    return dark_colour_and_cap


def run(argv: list[str]) -> int:
    if len(argv) < 3 or argv[2] != "evaluate":
        print(__doc__, file=sys.stderr)
        return 2
    # The generator calls keep_dark_colour by its module-level name (its dark colour or depth must
    # be set, as on the bundled anime models).
    generator_module.keep_dark_colour = capped(float(argv[0]), float(argv[1]))  # type: ignore[assignment]
    return main(argv[2:])


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
