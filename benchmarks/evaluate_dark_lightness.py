"""``geostyle evaluate`` with the dark colour also giving back part of the photo's darkness (a probe,
not a product option).

    python benchmarks/evaluate_dark_lightness.py 0.6 evaluate --model anime --n 200 ...

The bundled anime models lift black to a mid-dark grey; their ``dark_colour`` gives the photo's hue
back but keeps that lift. Here every generator's dark colour is followed by a lightness change:
where the photo is dark (the same ramp, :data:`geostyle.nets.blocks.DARK_RAMP`, on 2x2 averages)
the output's luma moves toward the photo's by ``SHARE`` of the way, only ever darker, so black hair
comes out dark and a lit face does not change. Everything else is ``geostyle evaluate`` with the
arguments that follow; the report's settings do not show it: name the output folder after it.
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F

import geostyle.nets.generator as generator_module
from geostyle.cli.main import main
from geostyle.nets import blocks


def darker(share_lightness: float):
    """``keep_dark_colour`` followed by the luma moved ``share_lightness`` of the way to the photo's."""
    keep = blocks.keep_dark_colour

    def dark_colour_and_lightness(output: torch.Tensor, photo: torch.Tensor, share: float) -> torch.Tensor:
        coloured = keep(output, photo, share)
        low, high = blocks.DARK_RAMP
        weights = torch.tensor(blocks.LUMA_WEIGHTS, dtype=output.dtype, device=output.device).view(1, 3, 1, 1)
        sub = blocks.DARK_COLOUR_REDUCTION
        luma_out = (F.avg_pool2d(coloured, sub) * weights).sum(1, keepdim=True)
        luma_photo = (F.avg_pool2d(photo, sub) * weights).sum(1, keepdim=True)
        weight = share_lightness * ((high - (luma_photo + 1) * 0.5) / (high - low)).clamp(0, 1)
        change = weight * (luma_photo - luma_out).clamp(max=0)  # only darker
        change = F.interpolate(change, size=tuple(output.shape[2:]), mode="bilinear", align_corners=False)
        return (coloured + change).clamp(-1, 1)

    return dark_colour_and_lightness


def run(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] != "evaluate":
        print(__doc__, file=sys.stderr)
        return 2
    # The generator calls keep_dark_colour by its module-level name (its dark colour must be set,
    # as on the bundled anime models).
    generator_module.keep_dark_colour = darker(float(argv[0]))  # type: ignore[assignment]
    return main(argv[1:])


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
