"""How far does a training target's palette transfer lift each face? The cheeks of held-out photos'
aligned crops, before and after the exemplars' palette is applied per crop (``reinhard``) and once
for the whole photo set (``set``), grouped by the photo's own cheek lightness as
``benchmarks/skin_tone.py`` groups them.

    python benchmarks/target_skin_tone.py --photos ../shared/data/photos/selfie \\
        --prepared-photos runs/datasets/selfie --prepared-styles runs/datasets/anime_animeface

The palettes are the trainer's: the exemplars' Lab statistics over the first 50 prepared style
crops (the anime preset's ``max_styles``), the set's over up to 256 of the first 1000 prepared
photos (its ``max_photos``; the photos themselves, as the bilateral target measures them). The
photos judged are those of ``--photos`` the preset leaves out (after the first 1000 prepared),
cropped and landmarked by the product's aligner. Writes ``benchmarks/results/target_skin_tone.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from skin_tone import GROUPS

from geostyle.eval.skin import cheek_luma, cheek_mask

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=Path, required=True, help="the raw photo folder")
    ap.add_argument("--prepared-photos", type=Path, required=True, help="the prepared photo set the trainer reads")
    ap.add_argument("--prepared-styles", type=Path, required=True, help="the prepared style set the trainer reads")
    ap.add_argument("--n", type=int, default=200, help="held-out photos to judge")
    args = ap.parse_args(argv)
    from geostyle.data.dataset import FaceSet
    from geostyle.data.images import load_image
    from geostyle.errors import GeostyleError
    from geostyle.infer.stylize import Stylizer
    from geostyle.train.targets import Palette, source_palette, transfer_palette

    styles = FaceSet(args.prepared_styles, 256, limit=50)
    photos = FaceSet(args.prepared_photos, 256, limit=1000)
    palette = Palette.of(styles.images.permute(0, 2, 3, 1).numpy())
    source = source_palette(photos.images)
    trained = set(photos.stems)
    stylizer = Stylizer("anime", threads=1)
    rows = []
    for path in sorted(args.photos.glob("*.jpg")):
        if len(rows) >= args.n:
            break
        if path.stem in trained:
            continue
        try:
            aligned = stylizer.align(load_image(path))
        except GeostyleError:
            continue
        crop, mask = aligned.crop, cheek_mask(aligned.crop.shape[:2], aligned.landmarks)
        if mask.sum() < 50:
            continue
        rows.append(
            (
                cheek_luma(crop, mask),
                cheek_luma(transfer_palette(crop, palette), mask),
                cheek_luma(transfer_palette(crop, palette, mode="set", source=source), mask),
            )
        )
    table = np.array(rows)
    lines = [
        "# The training target's palette and skin tone",
        "",
        "`python benchmarks/target_skin_tone.py " + " ".join(sys.argv[1:] if argv is None else argv) + "`",
        "",
        f"{len(rows)} held-out photos' aligned crops. Median BT.601 luma of the cheeks, averaged per group of the photo's "
        "own value; in brackets the lift over the photo. Palettes: exemplars "
        f"L {palette.mean[0]:.1f} ± {palette.std[0]:.1f}; the photo set L {source.mean[0]:.1f} ± {source.std[0]:.1f}.",
        "",
        "| the photo's cheeks | photos | the photo | per crop (reinhard) | one for the set (set) |",
        "|---|---|---|---|---|",
    ]
    for low, high in GROUPS:
        group = table[(table[:, 0] >= low) & (table[:, 0] < high)]
        if len(group):
            p, r, s = group.mean(0)
            lines.append(f"| {low}-{min(high, 255)} | {len(group)} | {p:.1f} | {r:.1f} ({r - p:+.1f}) | {s:.1f} ({s - p:+.1f}) |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "target_skin_tone.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
