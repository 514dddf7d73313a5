"""Does the ink draw a photo's noise as dots? The anime models' ink (``geostyle.nets.blocks.ink_lines``)
on held-out photos, with its grain smoothing at several strengths, on the photos as they are and
with added noise (a dim room, a night webcam).

    python benchmarks/ink_grain.py --photos ../shared/data/photos/selfie \
        --report docs/eval/anime_v41s_n200/metrics.json --sheet docs/img/ink_grain.jpg

The ink is drawn at 256 px, the size it is drawn at in the product (a 512 px face is inked at half
size). Per grain setting (levels of 255; 0 is the ink before smoothing):

* **dots a frame**: connected pieces (8-connected) of ink above :data:`INKED` no larger than
  :data:`DOT_AREA` pixels: specks, not lines;
* **line ink**: the ink in pieces of :data:`LINE_AREA` pixels or more (eyes, brows, glasses,
  outlines, hair), as a share of the unsmoothed ink's line ink on the same photo (mean over photos);
* **all ink**: mean ink over the frame.

The same three with camera-like noise of :data:`NOISE` levels added to each photo (blotches about
two pixels across, ``run_outputs.camera_noise``; one seeded draw per photo). Photos come from ``--report`` (an evaluation's ``metrics.json``: the photos it judged) or,
without it, the first ``--n`` of the folder. Writes ``benchmarks/results/ink_grain.json`` and
``.md``; ``--sheet`` a picture of the photos with the most dots unsmoothed: photo, ink without and
with the default smoothing, then the same with the added noise; ``--product-sheet`` the same photos
through the product (``--model``, whole frames at the photo's size): photo, the ink on the photo as it
is, on its grain smoothed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from run_outputs import PHOTO_SUFFIXES, camera_noise, photo_for, report_stems, write_sheet

RESULTS = Path(__file__).resolve().parent / "results"
SIZE = 256
INKED = 0.5  # the ink (0-1) above which a pixel counts as drawn
DOT_AREA = 8  # pixels: a piece this small is a speck
LINE_AREA = 30  # pixels: a piece this large is a line
NOISE = 8.0  # levels of camera-like noise for the noisy rows (run_outputs.camera_noise)
GRAINS = (0.0, 4.0, 6.0, 8.0, 12.0)


def pieces(ink: np.ndarray) -> tuple[int, float]:
    """``(dots, line ink)`` of an ``(H, W)`` ink map: how many 8-connected pieces above
    :data:`INKED` have at most :data:`DOT_AREA` pixels, and the ink summed over pieces of at least
    :data:`LINE_AREA`."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats((ink > INKED).astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    dots = int((areas <= DOT_AREA).sum())
    long_pieces = np.flatnonzero(areas >= LINE_AREA) + 1
    return dots, float(ink[np.isin(labels, long_pieces)].sum())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=Path, required=True)
    ap.add_argument("--report", type=Path, help="an evaluation's metrics.json: its photos")
    ap.add_argument("--n", type=int, default=200, help="without --report: the first N photos of the folder")
    ap.add_argument("--sheet", type=Path)
    ap.add_argument("--sheet-rows", type=int, default=4)
    ap.add_argument(
        "--product-sheet", type=Path,
        help="also a picture of the same photos through the product (--model, whole frames): photo, ink drawn on the "
        "photo as it is, on its grain smoothed (the default)",
    )  # fmt: skip
    ap.add_argument("--model", default="anime", help="the model of --product-sheet")
    ap.add_argument("--out", default="ink_grain", help="results file name (without suffix)")
    args = ap.parse_args(argv)
    if not args.photos.is_dir():
        ap.error(f"no photo folder {args.photos}")
    import torch

    from geostyle.data.images import load_image
    from geostyle.nets.blocks import INK_GRAIN, ink_lines

    if args.report is not None:
        stems = report_stems(args.report)
    else:
        stems = sorted(p.stem for p in args.photos.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)[: args.n]
    torch.set_num_threads(1)
    grains = sorted(set(GRAINS) | {float(INK_GRAIN)})

    def pictures(index: int, source: Path) -> dict[str, np.ndarray]:
        """The photo at :data:`SIZE` px as it is and with its seeded noise."""
        photo = cv2.resize(load_image(source), (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        return {"as is": photo, "noisy": camera_noise(photo, NOISE, np.random.default_rng(index))}

    def ink_of(picture: np.ndarray, grain: float) -> np.ndarray:
        x = torch.from_numpy(picture.astype(np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]
        with torch.no_grad():
            return ink_lines(x, grain=grain)[0, 0].numpy()

    per: dict[str, dict[float, list]] = {"as is": {g: [] for g in grains}, "noisy": {g: [] for g in grains}}
    ranked = []  # (unsmoothed dots, index, stem, photo file): the sheets' photos are drawn again, not kept
    for index, stem in enumerate(stems):
        source = photo_for(args.photos, stem)
        if source is None:
            continue
        for case, picture in pictures(index, source).items():
            for g in grains:
                ink = ink_of(picture, g)
                dots, line_ink = pieces(ink)
                per[case][g].append((dots, line_ink, float(ink.mean())))
        ranked.append((per["as is"][0.0][-1][0], index, stem, source))
    if not per["as is"][0.0]:
        ap.error("none of the photos was found")
    ranked.sort(key=lambda r: -r[0])
    chosen = ranked[: args.sheet_rows]

    results: dict = {"photos": len(per["as is"][0.0]), "size": SIZE, "noise_levels": NOISE, "default_grain": INK_GRAIN, "rows": []}
    for case in per:
        base_line = np.array([r[1] for r in per[case][0.0]])
        for g in grains:
            rows = np.array(per[case][g])
            share = rows[:, 1][base_line > 0] / base_line[base_line > 0]
            results["rows"].append(
                {
                    "photos": case,
                    "grain": g,
                    "dots_per_frame": round(float(rows[:, 0].mean()), 2),
                    "dots_median": float(np.median(rows[:, 0])),
                    "line_ink_share": round(float(share.mean()), 3),
                    "ink_mean": round(float(rows[:, 2].mean()), 4),
                }
            )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        f"# Ink on noisy photos: {results['photos']} photos at {SIZE} px",
        "",
        f"`python benchmarks/ink_grain.py {' '.join(sys.argv[1:] if argv is None else argv)}`",
        "",
        f"Dots: pieces of ink over {INKED} of at most {DOT_AREA} px. Line ink: ink in pieces of {LINE_AREA} px or more, "
        "as a share of the unsmoothed ink's on the same photo. Noisy: camera-like noise (blotches two pixels across) of "
        f"{NOISE:g} levels added. The generator's default grain: {INK_GRAIN:g}.",
        "",
        "| photos | grain (levels) | dots a frame (median) | line ink kept | mean ink |",
        "|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        lines.append(
            f"| {r['photos']} | {r['grain']:g} | {r['dots_per_frame']} ({r['dots_median']:g}) | {r['line_ink_share']:.3f} | {r['ink_mean']:.4f} |"
        )
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if args.sheet is not None:

        def drawn(ink: np.ndarray) -> np.ndarray:
            return np.repeat((255.0 * (1.0 - ink))[..., None], 3, 2).astype(np.uint8)

        rows_out = []
        for _, index, _, source in chosen:
            row = []
            for picture in pictures(index, source).values():
                row += [picture, drawn(ink_of(picture, 0.0)), drawn(ink_of(picture, float(INK_GRAIN)))]
            rows_out.append(row)
        write_sheet(args.sheet, rows_out)
        print("sheet:", args.sheet, "rows:", ", ".join(r[2] for r in chosen))
    if args.product_sheet is not None:
        from geostyle.infer.stylize import Stylizer

        # The ink as it was before the smoothing, and the model's own (the default 8 levels).
        stylizers = [Stylizer(args.model, threads=1, ink_grain=0.0), Stylizer(args.model, threads=1)]
        product_rows = []
        for _, _, _, source in chosen:
            photo = load_image(source)
            product_rows.append([photo] + [s.stylize_frame(photo) for s in stylizers])
        write_sheet(args.product_sheet, product_rows)
        print("product sheet:", args.product_sheet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
