"""What colour does a model paint the skin? The cheeks' chroma in the photo against the evaluated
models' whole frames.

    python benchmarks/skin_colour.py --photos ../shared/data/photos/selfie \
        n1-set=runs/eval/anime_n1_n200/outputs/full n1-skin=runs/eval/anime_n1skin_n200/outputs/full

Each ``LABEL=DIR`` is the ``outputs/full`` folder of a ``geostyle evaluate`` run. The cheeks are
``skin_tone.py``'s two triangles per face, found by the product's detector on the photo. Per photo
the median a* and b* of the cheeks' pixels (OpenCV's 8-bit Lab: 128 is grey, a* below it green, b*
above it yellow), in the photo, in the classical cartoon filter of the evaluation's baselines and in
each output; the means over the photos, and the share of photos whose cheeks come out greener than
grey (a* under 128: no skin is). A training set of few exemplars whose hair is green (the first
exemplar of ``styles/anime``) can move every face toward it through the palette transfer
(``data.target_palette``; docs/training.md, "One and three exemplars"). Writes
``benchmarks/results/skin_colour_<labels>.json`` and ``.md``.
"""

from __future__ import annotations

import cv2
import numpy as np
from run_outputs import (
    benchmark_command,
    cheeks_with_outputs,
    parse_runs,
    runs_parser,
    write_results,
    write_sheet,
)


def cheek_chroma(image: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[mask]
    a, b = np.median(lab[:, 1:].astype(np.float64), axis=0)
    return float(a), float(b)


def main(argv: list[str] | None = None) -> int:
    ap = runs_parser(__doc__.split("\n\n")[0], "write a picture of the first photos and their outputs here")
    args, labelled, stems = parse_runs(ap, argv)
    from geostyle.eval.baselines import cartoon

    rows, sheet_rows = [], []
    for stem, photo, mask, outputs in cheeks_with_outputs(ap, args.photos, stems, labelled):
        row = {"photo": stem, "the photo": cheek_chroma(photo, mask), "cartoon filter": cheek_chroma(cartoon(photo), mask)}
        for label, out in outputs.items():
            row[label] = cheek_chroma(out, mask)
        rows.append(row)
        if len(sheet_rows) < args.sheet_rows:
            sheet_rows.append([photo, *outputs.values()])
    if not rows:
        ap.error("no face found in the photos that match the outputs")
    labels = ["the photo", "cartoon filter"] + [label for label, _ in labelled]
    summary = {}
    for label in labels:
        values = np.array([r[label] for r in rows])
        summary[label] = {
            "a": float(values[:, 0].mean()),
            "b": float(values[:, 1].mean()),
            "green": float((values[:, 0] < 128.0).mean()),
        }
    name = "skin_colour_" + "_".join(label for label, _ in labelled)
    command = benchmark_command("skin_colour.py", argv)
    lines = [
        "# Skin colour: the cheeks' chroma, photo against output",
        "",
        f"`{command}`",
        "",
        f"{len(rows)} photos with a face. Median a*, b* of the cheeks per photo (OpenCV 8-bit Lab, 128 = grey), "
        "averaged over the photos; the share of photos whose cheeks come out greener than grey.",
        "",
        "| | a* | b* | cheeks greener than grey |",
        "|---|---|---|---|",
    ]
    for label in labels:
        s = summary[label]
        lines.append(f"| {label} | {s['a']:.1f} | {s['b']:.1f} | {s['green']:.2f} |")
    write_results(name, {"command": command, "summary": summary, "per_photo": rows}, lines)
    if args.sheet is not None:
        write_sheet(args.sheet, sheet_rows)
        print(f"wrote {args.sheet} (rows: photo, " + ", ".join(label for label, _ in labelled) + ")")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
