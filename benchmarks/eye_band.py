"""Side-by-side eye bands of several models' held-out evaluation crops: one row per model, the same
photos in every row, so defects in and around the eyes (white streaks, glowing irises) can be compared.

    python benchmarks/eye_band.py --out docs/img/anime_eyes.jpg \
        v20=runs/eval/anime_v24b_s035/outputs/compare/crop v24b=runs/eval/anime_v24b_s035/outputs/crop \
        v25b=runs/eval/anime_v25b_s035/outputs/crop v26b=runs/eval/anime_v26b_s035/outputs/crop \
        v26c=runs/eval/anime_v26c_s035/outputs/crop

Each ``LABEL=FOLDER`` is the ``outputs/crop`` (or ``outputs/compare/crop``) folder of a
``geostyle evaluate`` run: 256 px crops aligned to the photo's target geometry, where the eyes lie
in rows 70-150 (the band drawn, columns 40-216). Photos are every ``--every``-th stem (sorted) of
the first folder, up to ``--n``; each must exist in every folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

BAND = (slice(70, 150), slice(40, 216))  # eye band of a 256 px evaluation crop (rows, columns)


def labelled_folders(ap: argparse.ArgumentParser, specs: list[str]) -> list[tuple[str, Path]]:
    """``LABEL=FOLDER`` arguments as ``(label, folder)``; a missing label or folder is a usage error."""
    rows = []
    for spec in specs:
        label, sep, folder = spec.partition("=")
        if not sep or not label or not folder or not Path(folder).is_dir():
            ap.error(f"expected LABEL=FOLDER with a label and an existing folder, got {spec!r}")
        rows.append((label, Path(folder)))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rows", nargs="+", help="LABEL=FOLDER of 256 px evaluation crops, one per row")
    ap.add_argument("--out", type=Path, required=True, help="image to write (.jpg or .png)")
    ap.add_argument("--n", type=int, default=6, help="photos per row")
    ap.add_argument("--every", type=int, default=4, help="take every N-th photo of the sorted stems")
    args = ap.parse_args(argv)
    if args.n < 1 or args.every < 1:
        ap.error("--n and --every must be at least 1")
    if args.out.suffix.lower() not in (".jpg", ".jpeg", ".png"):
        ap.error(f"--out must end in .jpg, .jpeg or .png, got {args.out}")
    rows = labelled_folders(ap, args.rows)
    stems = sorted(p.stem for p in rows[0][1].glob("*.png"))[:: args.every][: args.n]
    if not stems:
        ap.error(f"no .png crops in {rows[0][1]}")
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.6
    tag_width = 8 + max(cv2.getTextSize(label, font, scale, 1)[0][0] for label, _ in rows)
    strips = []
    for label, folder in rows:
        crops = []
        for stem in stems:
            image = cv2.imread(str(folder / f"{stem}.png"))
            if image is None or image.shape[:2] != (256, 256):
                print(f"{folder / stem}.png: missing or not a 256 px crop", file=sys.stderr)
                return 1
            crops.append(image[BAND])
        tag = np.full((crops[0].shape[0], tag_width, 3), 255, np.uint8)
        cv2.putText(tag, label, (4, 46), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
        strips.append(np.concatenate([tag, *crops], 1))
    sheet = cv2.resize(np.concatenate(strips, 0), None, fx=1.25, fy=1.25, interpolation=cv2.INTER_CUBIC)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), sheet, [cv2.IMWRITE_JPEG_QUALITY, 90]):
        print(f"{args.out}: could not be written", file=sys.stderr)
        return 1
    print(f"{args.out}: {len(rows)} rows x {len(stems)} photos ({', '.join(stems)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
