"""Stripes above the head: the aligned face crop where it reaches past the picture, its edge pixels
replicated (as before) or filled by ``geostyle.faces.align.surround`` (now).

    python benchmarks/crop_surround.py --photos ../shared/data/photos/selfie --report docs/eval/anime_smooth_n200/metrics.json \
        --model anime --sheet docs/img/crop_surround.jpg

For each held-out photo (the photos of an evaluation report, as they are; ``--n`` caps them) the
photo's aligned crop and the product's stylized crop (``Stylizer.stylize``, the model's drawings
included, PyTorch runtime) are made both ways. Replicating the edge row draws every column above a
selfie's top edge as one colour: the crop there changes a lot from column to column and not at all
down a column. On the crop's pixels that lie beyond the picture (three pixels in from its edge),
this measures the mean absolute lightness step across (between columns) and down (between rows) and
their ratio (1 where the texture has no direction; large for stripes). Also the share of photos whose
crop reaches past the picture, and how much the crop changes inside the picture (the fill must not
touch the face). Writes ``benchmarks/results/crop_surround_<model>.json`` and ``.md``; ``--sheet``
the photos with most of the crop beyond the picture (photo crop before / after, stylized before /
after).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from run_outputs import aligned_photos, benchmark_command, report_stems, write_results, write_sheet

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def steps(image: np.ndarray, region: np.ndarray) -> tuple[float, float]:
    """Mean absolute lightness step across and down over ``region`` (H, W) bool."""
    y = image.astype(np.float32) @ LUMA
    dx = np.abs(np.diff(y, axis=1))[:-1, :]
    dy = np.abs(np.diff(y, axis=0))[:, :-1]
    r = region[:-1, :-1]
    return float(dx[r].mean()), float(dy[r].mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=Path, required=True)
    ap.add_argument("--report", type=Path, required=True, help="an evaluation's metrics.json: its photos are used")
    ap.add_argument("--model", default="anime")
    ap.add_argument("--n", type=int, default=0, help="at most this many photos (0: all)")
    ap.add_argument("--sheet", type=Path, default=None)
    ap.add_argument("--sheet-rows", type=int, default=5)
    args = ap.parse_args(argv)

    import geostyle.infer.stylize as stylize_module
    from geostyle.faces.align import Surround, surround, warp_to_crop

    def replicated(image: np.ndarray, alignment, reach: float = 1.0) -> Surround:
        return Surround(image, alignment, (0, 0), False)  # the picture as it is: warp_to_crop replicates

    stylizer = stylize_module.Stylizer(args.model, runtime="torch", threads=1)
    rows, pictures = [], {}
    n_faces = 0
    for stem, source, image, aligned in aligned_photos(stylizer, args.photos, report_stems(args.report, args.n)):
        n_faces += 1
        al = aligned.alignment
        inside = warp_to_crop(np.full(image.shape[:2], 255, np.uint8), al, border="constant") == 255
        beyond = cv2.erode((~inside).astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
        after = stylizer.stylize_aligned(image, aligned).crop
        stylize_module.surround = replicated  # type: ignore[assignment]
        try:
            before_aligned = stylizer.align(image, source)
            before = stylizer.stylize_aligned(image, before_aligned).crop
        finally:
            stylize_module.surround = surround
        if beyond.sum() < 200:  # the crop lies (nearly) inside the picture
            continue
        inner = cv2.erode(inside.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
        row = {"photo": stem, "beyond_share": round(float((~inside).mean()), 4)}
        for label, picture in (
            ("photo_before", before_aligned.crop),
            ("photo_after", aligned.crop),
            ("stylized_before", before),
            ("stylized_after", after),
        ):
            across, down = steps(picture, beyond)
            row[f"{label}_across"], row[f"{label}_down"] = round(across, 3), round(down, 3)
            row[f"{label}_ratio"] = round(across / max(down, 1e-3), 3)
        row["photo_inside_change"] = float(np.abs(aligned.crop.astype(np.int16) - before_aligned.crop)[inner].max())
        row["stylized_inside_change"] = round(float(np.abs(after.astype(np.float32) - before)[inner].mean()), 3)
        rows.append(row)
        if args.sheet is not None:
            pictures[stem] = [before_aligned.crop, aligned.crop, before, after]
    if not rows:
        raise SystemExit("no photo whose crop reaches past the picture")

    def mean(key: str) -> float:
        return round(float(np.mean([r[key] for r in rows])), 3)

    labels = ("photo_before", "photo_after", "stylized_before", "stylized_after")
    summary = {"faces": n_faces, "reaching_past": len(rows), "beyond_share": mean("beyond_share")}
    for k in labels:
        for part in ("across", "down"):
            summary[f"{k}_{part}"] = mean(f"{k}_{part}")
        summary[f"{k}_ratio_median"] = round(float(np.median([r[f"{k}_ratio"] for r in rows])), 3)
    summary["photo_inside_change_max"] = max(r["photo_inside_change"] for r in rows)
    summary["stylized_inside_change"] = mean("stylized_inside_change")
    names = {
        "photo_before": "photo crop, edges replicated (before)",
        "photo_after": "photo crop, filled (now)",
        "stylized_before": f"`{args.model}` crop, edges replicated (before)",
        "stylized_after": f"`{args.model}` crop, filled (now)",
    }
    lines = [
        f"# Crops past the picture: `{args.model}`, photos of `{args.report}`",
        "",
        f"{summary['reaching_past']} of {summary['faces']} faces have a crop reaching past the picture; on average "
        f"{summary['beyond_share']:.0%} of such a crop lies beyond it. Over those pixels (3 px in from the picture's edge), "
        "the mean absolute lightness step between columns (across) and between rows (down), levels of 255:",
        "",
        "| crop | across | down | across / down (median over photos) |",
        "|---|---|---|---|",
        *[f"| {names[k]} | {summary[k + '_across']} | {summary[k + '_down']} | {summary[k + '_ratio_median']} |" for k in labels],
        "",
        f"Inside the picture the photo crop changes by at most {summary['photo_inside_change_max']:.0f} level(s); the stylized "
        f"crop by {summary['stylized_inside_change']} levels on average (the warp is the same; the generator sees the fill "
        "near the edge).",
    ]
    if args.sheet is not None:
        most = sorted(rows, key=lambda r: -r["beyond_share"])[: args.sheet_rows]
        write_sheet(args.sheet, [pictures[r["photo"]] for r in most])
        lines += [
            "",
            f"Sheet: `{args.sheet}` (photo crop replicated, filled; stylized replicated, filled), the {len(most)} crops "
            "most beyond their picture: " + ", ".join(r["photo"] for r in most) + ".",
        ]
    write_results(
        f"crop_surround_{Path(str(args.model)).stem}",
        {"command": benchmark_command("crop_surround.py", argv), "summary": summary, "photos": rows},
        lines,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
