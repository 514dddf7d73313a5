"""How much colour photos carry, as the stylizer measures it before a set-palette model
(``geostyle.infer.tone.measure_cast``), and what share of the photo set's average colour each takes.

    python benchmarks/photo_colour.py selfie=../shared/data/photos/selfie helen=../shared/data/landmarks/helen
    python benchmarks/photo_colour.py helen=../shared/data/landmarks/helen --sheet 8

Per folder: how many photos fall in each band of colour (the mean distance from grey of the lit
pixels' OpenCV 8-bit Lab a, b): none (under 1: greyscale), 1-4 (a faint cast: the whole shift),
the ramp (:data:`~geostyle.infer.tone.CHROMA_RAMP`: part of it) and above (unchanged), with the
median. Writes ``benchmarks/results/photo_colour_<labels>.json`` and ``.md``. ``--sheet N``: a
picture of N photos of each folder spread over the bands under 10 (photo, ``anime_large`` without
the shift, with it), ``docs/img/photo_colour.jpg``; the rows name each photo's colour and weight.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from run_outputs import labelled_folders, write_sheet

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from geostyle.data.images import list_images, load_image  # noqa: E402
from geostyle.infer.tone import CHROMA_RAMP, measure_cast  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SHEET = Path(__file__).resolve().parents[1] / "docs" / "img" / "photo_colour.jpg"
SHEET_MAX_SIDE = 512  # photos are shrunk to this before the sheet's stylizer sees them


def bands() -> list[tuple[str, float, float]]:
    low, high = CHROMA_RAMP
    return [("under 1 (greyscale)", 0.0, 1.0), (f"1-{low:g} (whole shift)", 1.0, low),
            (f"{low:g}-{high:g} (part of it)", low, high), (f"{high:g} and over (unchanged)", high, float("inf"))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", help="LABEL=DIR of photos")
    ap.add_argument("--sheet", type=int, default=0, help="photos of each folder on the sheet (0: none)")
    args = ap.parse_args()
    labelled = labelled_folders(ap, args.folders)
    results: dict[str, dict] = {}
    measured: dict[str, list[tuple[Path, float, float]]] = {}
    for label, folder in labelled:
        rows = []
        for path in list_images(folder):
            cast = measure_cast(load_image(path))
            rows.append((path, cast.chroma, cast.weight))
        measured[label] = rows
        chroma = np.array([r[1] for r in rows])
        results[label] = {
            "folder": str(folder), "photos": len(rows), "median_colour": float(np.median(chroma)),
            "bands": {name: int(((chroma >= lo) & (chroma < hi)).sum()) for name, lo, hi in bands()},
            "shifted_wholly": int(sum(r[2] == 1.0 for r in rows)),
            "shifted_partly": int(sum(0.0 < r[2] < 1.0 for r in rows)),
        }
        print(label, json.dumps(results[label]))
    name = "_".join(label for label, _ in labelled)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"photo_colour_{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [f"`python benchmarks/photo_colour.py {' '.join(args.folders)}`", "",
             "| photos | n | median colour | " + " | ".join(b[0] for b in bands()) + " |",
             "|---|---|---|" + "---|" * len(bands())]
    for label, r in results.items():
        lines.append(f"| {label} | {r['photos']} | {r['median_colour']:.1f} | " + " | ".join(str(v) for v in r["bands"].values()) + " |")
    (RESULTS / f"photo_colour_{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if args.sheet:
        draw_sheet(measured, args.sheet)


def draw_sheet(measured: dict[str, list[tuple[Path, float, float]]], per_folder: int) -> None:
    from geostyle.infer.stylize import Stylizer

    stylizer = Stylizer("anime_large", threads=1)
    chroma = stylizer.colourless_tint
    rows = []
    for label, found in measured.items():
        # Evenly over the photos with colour 1-10 (the faint casts, the ramp and just above it).
        pool = sorted((r for r in found if 1.0 <= r[1] < 10.0), key=lambda r: r[1])
        picks = [pool[round(i * (len(pool) - 1) / max(1, per_folder - 1))] for i in range(min(per_folder, len(pool)))]
        for path, colour, weight in picks:
            image = load_image(path)
            scale = SHEET_MAX_SIDE / max(image.shape[:2])
            if scale < 1.0:
                image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            shifted = stylizer.stylize_frame(image)
            stylizer.colourless_tint = None
            plain = stylizer.stylize_frame(image)
            stylizer.colourless_tint = chroma
            row = [image, plain, shifted]
            caption = np.full((40, 200, 3), 255, np.uint8)
            cv2.putText(caption, f"{label} {colour:.1f}", (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 0, 1)
            cv2.putText(caption, f"weight {weight:.2f}", (4, 34), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 0, 1)
            rows.append([caption_tile(caption, image.shape[0]), *row])
    write_sheet(SHEET, rows)
    print(f"sheet: {SHEET}")


def caption_tile(caption: np.ndarray, height: int) -> np.ndarray:
    """``caption`` on a white tile as high as the row's photo (stack_rows scales rows to one height)."""
    scale = height / 256.0
    tile = np.full((height, max(1, round(200 * scale)), 3), 255, np.uint8)
    small = cv2.resize(caption, (tile.shape[1], max(1, round(40 * scale))), interpolation=cv2.INTER_AREA)
    tile[: small.shape[0]] = small
    return tile


if __name__ == "__main__":
    main()
