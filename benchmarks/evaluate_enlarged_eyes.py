"""``geostyle evaluate`` with each eye enlarged about its own centre (a probe, not a product option).

    python benchmarks/evaluate_enlarged_eyes.py 1.3 evaluate --model anime --n 200 ...

Every stylizer the evaluation makes draws each eye's target points ``SCALE`` times as far from the
eye's centre as its own geometry puts them (``anime_judges.enlarge_eyes``: the eye's own shape,
larger); everything else is ``geostyle evaluate`` with the arguments that follow. The report's
settings do not show the enlargement: name the output folder after it.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import anime_judges  # noqa: E402

import geostyle.infer.stylize as stylize_module  # noqa: E402
from geostyle.cli.main import main  # noqa: E402


def run(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] != "evaluate":
        print(__doc__, file=sys.stderr)
        return 2
    scale = float(argv[0])
    init = stylize_module.Stylizer.__init__

    def enlarged(self, *args, **kwargs):
        init(self, *args, **kwargs)
        anime_judges.enlarge_eyes(self, scale)

    stylize_module.Stylizer.__init__ = enlarged  # type: ignore[method-assign]
    return main(argv[1:])


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
