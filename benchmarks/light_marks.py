"""How many thin light marks does a model draw that the photo does not have? The anime students'
white dashes, counted on the whole frames of ``geostyle evaluate`` runs.

    python benchmarks/light_marks.py --photos ../shared/data/photos/selfie \
        v39s=runs/eval/anime_v39s_n200/outputs/full cleared=runs/eval/anime_marks_n200/outputs/full

Each ``LABEL=DIR`` is the ``outputs/full`` folder of an evaluation run (one PNG per photo stem, the
photo's size). What a mark is: :mod:`geostyle.eval.marks` (thin light structures, one or two pixels
across, lighter than the photo anywhere near and not in the photo). Drawn features could count
too; the anime eyes' catchlight is wider than a mark. The classical cartoon filter of the
evaluation's baselines, on the same photos, is the baseline column.

Per run: mark pixels per frame (mean, median), the share of frames with at least
:data:`MANY` mark pixels, the mean count where the photo is dark (luma under :data:`DARK`: hair,
dark clothes and backgrounds, where the dashes show most), and the mean count of light streaks
along rows (the same test across columns: the generator's filter looks along rows only). Writes
``benchmarks/results/light_marks_<labels>.json`` and ``.md``; ``--sheet`` a picture of the frames
with the most marks in the first run (photo, then each run, then each run with its marks in red).
"""

from __future__ import annotations

import cv2
import numpy as np
from run_outputs import benchmark_command, parse_runs, photo_for, runs_parser, write_results, write_sheet

DARK = 90.0  # the photo's luma under which a mark is "in the darks"
MANY = 50  # mark pixels a frame has to have to count as marked


def main(argv: list[str] | None = None) -> int:
    ap = runs_parser(__doc__.split("\n\n")[0], "write a picture of the frames with the most marks here")
    args, labelled, stems = parse_runs(ap, argv)
    from geostyle.data.images import load_image
    from geostyle.eval.baselines import cartoon
    from geostyle.eval.marks import PHOTO_BELOW, STANDS_OUT, WIDTH, light_marks

    labels = ["cartoon filter"] + [label for label, _ in labelled]
    rows = []
    for stem in stems:
        source = photo_for(args.photos, stem)
        if source is None:
            continue
        photo = load_image(source)
        dark = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY) < DARK
        row: dict = {"photo": stem}
        for label, picture in [("cartoon filter", cartoon(photo))] + [
            (label, load_image(folder / f"{stem}.png")) for label, folder in labelled
        ]:
            if picture.shape != photo.shape:
                ap.error(f"{label}: {stem}.png has another size than its photo")
            marks = light_marks(picture, photo)
            row[label] = int(marks.sum())
            row[f"{label} dark"] = int((marks & dark).sum())
            row[f"{label} along rows"] = int(light_marks(picture, photo, along_rows=True).sum())
        rows.append(row)
    if not rows:
        ap.error("no photo in --photos matches the outputs")
    table = {
        label: {
            "mean": float(np.mean([r[label] for r in rows])),
            "median": float(np.median([r[label] for r in rows])),
            "marked": float(np.mean([r[label] >= MANY for r in rows])),
            "dark_mean": float(np.mean([r[f"{label} dark"] for r in rows])),
            "along_rows_mean": float(np.mean([r[f"{label} along rows"] for r in rows])),
        }
        for label in labels
    }
    name = "light_marks_" + "_".join(labels[1:])
    command = benchmark_command("light_marks.py", argv)
    lines = [
        "# Thin light marks the photo does not have",
        "",
        f"`{command}`",
        "",
        f"{len(rows)} whole frames. Mark pixels: luma over {STANDS_OUT:.0f} levels above its opening along the row "
        f"over {WIDTH} px, where the photo's own stands out less than {PHOTO_BELOW:.0f}.",
        "",
        f"| | mark pixels per frame, mean | median | frames with {MANY} or more | in the photo's darks (luma < "
        f"{DARK:.0f}), mean | streaks along rows (the test across columns), mean |",
        "|---|---|---|---|---|---|",
    ]
    for label in labels:
        t = table[label]
        lines.append(
            f"| {label} | {t['mean']:.1f} | {t['median']:.0f} | {t['marked']:.2f} | {t['dark_mean']:.1f} "
            f"| {t['along_rows_mean']:.1f} |"
        )
    write_results(name, {"command": command, "table": table, "per_photo": rows}, lines)
    if args.sheet is not None:
        first = labelled[0][0]
        sheet_rows = []
        for r in sorted(rows, key=lambda r: -r[first])[: args.sheet_rows]:
            source = photo_for(args.photos, r["photo"])
            assert source is not None
            photo = load_image(source)
            outputs = [load_image(folder / f"{r['photo']}.png") for _, folder in labelled]
            shown = []
            for out in outputs:
                painted = out.copy()
                painted[light_marks(out, photo)] = (255, 0, 0)
                shown.append(painted)
            sheet_rows.append([photo, *outputs, *shown])
        write_sheet(args.sheet, sheet_rows)
        print(f"wrote {args.sheet} (rows: photo, each run, each run with its marks in red)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
