"""How light does a sketch model draw hair, and each region of the face, against the artist's
drawing of the same photo?

    python benchmarks/sketch_tone.py --photos ../shared/data/styles/sketch_cuhk/photo \\
        --sketches ../shared/data/styles/sketch_cuhk/sketch --pairs docs/eval/cuhk_pairs.csv \\
        v9=runs/eval/sketch_v9_008/outputs/full tone2=runs/eval/sketch_tone2/outputs/full

Each ``LABEL=DIR`` is the ``outputs/full`` folder of a paired ``geostyle evaluate`` run (one PNG per
photo stem, the photo's size); the artist's drawing of each photo is found through ``--pairs``
(``photo,truth`` stems) in ``--sketches`` and resized to the output's size (the CUHK photos and
drawings share their framing). Two measures per photo, in BT.601 luma levels (0-255):

* **hair**: the mean lightness over the photo's hair, taken as the photo's dark pixels (luma under
  70) in the picture's upper half, eroded by 4 px so that the artist's and the model's outlines,
  which do not lie exactly on the photo's, stay outside it; reported as the model's minus the
  artist's (negative: drawn darker than the artist drew it);
* **tone error**: the mean absolute difference between the model's and the artist's pictures each
  averaged over 8 x 8 px cells, over the whole picture: how far the drawing's light and dark lie
  from the artist's, whatever strokes draw them (the training term ``geostyle.train.losses.tone_loss``;
  a partial cell at the picture's edge is the mean of the pixels it has).

The photo in grey and the classical pencil filter of the evaluation's baselines
(``geostyle.eval.baselines``) are measured as rows beside the runs, on the same photos. Writes
``benchmarks/results/sketch_tone_<labels>.json`` and ``.md``; ``--sheet`` a picture of the photos
whose hair the first run draws darkest against the artist (photo, artist, each run).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from run_outputs import benchmark_command, parse_runs, photo_for, runs_parser, write_results, write_sheet

HAIR_LUMA = 70  # the photo's hair: darker than this (CUHK: black hair before a lit blue-grey wall)
HAIR_ERODE = 9  # px, the erosion's kernel side
CELL = 8  # px, the tone error's cells


def hair_mask(photo_luma: np.ndarray) -> np.ndarray:
    """The photo's dark pixels in the picture's upper half, eroded (bool, the photo's size)."""
    dark = (photo_luma < HAIR_LUMA).astype(np.uint8)
    mask = cv2.erode(dark, np.ones((HAIR_ERODE, HAIR_ERODE), np.uint8)) > 0
    mask[mask.shape[0] // 2 :] = False
    return mask


def tone_error(image: np.ndarray, truth: np.ndarray) -> float:
    """The training term itself (``geostyle.train.losses.tone_loss``) on two ``(H, W)`` luma pictures,
    in luma levels."""
    import torch

    from geostyle.train.losses import tone_loss

    def as_tensor(picture: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(picture, dtype=np.float64))[None, None]

    return float(tone_loss(as_tensor(image), as_tensor(truth), CELL))


def main(argv: list[str] | None = None) -> int:
    ap = runs_parser(
        __doc__.split("\n\n")[0], "write a picture of the photos whose hair the first run draws darkest"
    )
    ap.add_argument("--sketches", type=Path, required=True, help="the artists' drawings")
    ap.add_argument("--pairs", type=Path, required=True, help="photo,truth stems (CSV)")
    args, labelled, stems = parse_runs(ap, argv)
    from geostyle.data.images import load_image
    from geostyle.eval import baselines
    from geostyle.eval.baselines import luma
    from geostyle.eval.pairing import load_pairing

    photo_files = [p for p in (photo_for(args.photos, s) for s in stems) if p is not None]
    pairing = load_pairing(args.pairs, photo_files, args.sketches)
    names = ["grayscale", "pencil filter", *[label for label, _ in labelled]]
    rows, sheet = [], []
    for photo_file in photo_files:
        truth_file = pairing.truth.get(photo_file.stem)
        if truth_file is None:
            continue
        photo = load_image(photo_file)
        size = (photo.shape[1], photo.shape[0])
        truth = luma(cv2.resize(load_image(truth_file), size, interpolation=cv2.INTER_AREA))
        photo_luma = luma(photo)
        mask = hair_mask(photo_luma)
        pictures = {"grayscale": photo_luma, "pencil filter": luma(baselines.pencil(photo))}
        for label, folder in labelled:
            out = load_image(folder / f"{photo_file.stem}.png")
            pictures[label] = luma(cv2.resize(out, size, interpolation=cv2.INTER_AREA))
        row = {"photo": photo_file.stem, "hair_pixels": int(mask.sum()), "artist_hair": None}
        if mask.sum() > 0:
            row["artist_hair"] = float(truth[mask].mean())
        for name in names:
            row[name] = {
                "hair": float(pictures[name][mask].mean()) - row["artist_hair"] if mask.sum() > 0 else None,
                "tone_error": tone_error(pictures[name], truth),
            }
        rows.append(row)
        sheet.append(
            (
                row[names[2]]["hair"] or 0.0,
                [photo, _rgb(truth), *[_rgb(pictures[lab]) for lab, _ in labelled]],
            )
        )
    if not rows:
        ap.error("no output has its artist's drawing (check --pairs and --sketches)")
    with_hair = [r for r in rows if r["artist_hair"] is not None]
    lines = [
        f"# How light sketch models draw against the artist ({len(rows)} photos, {len(with_hair)} with hair found)",
        "",
        f"`{benchmark_command('sketch_tone.py', argv)}`",
        "",
        f"The artists' hair: mean luma {np.mean([r['artist_hair'] for r in with_hair]):.1f} over the photos' hair.",
        "",
        "| picture | hair: minus the artist's, mean (photos drawn darker) | tone error over 8 px cells (levels) |",
        "|---|---|---|",
    ]
    summary = {}
    for name in names:
        hair = np.array([r[name]["hair"] for r in with_hair])
        err = np.array([r[name]["tone_error"] for r in rows])
        summary[name] = {
            "hair": float(hair.mean()),
            "darker": int((hair < 0).sum()),
            "tone_error": float(err.mean()),
        }
        lines.append(
            f"| {name} | {hair.mean():+.1f} ({(hair < 0).sum()} of {len(hair)}) | {err.mean():.1f} |"
        )
    lines += [
        "",
        f"Hair: the photo's pixels under luma {HAIR_LUMA} in the upper half, eroded by {HAIR_ERODE // 2} px.",
    ]
    labels = "_".join(label for label, _ in labelled)
    write_results(f"sketch_tone_{labels}", {"summary": summary, "photos": rows}, lines)
    if args.sheet is not None:
        darkest = sorted(sheet, key=lambda item: item[0])[: args.sheet_rows]
        write_sheet(args.sheet, [pics for _, pics in darkest])
    return 0


def _rgb(gray: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.clip(gray + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2RGB)


if __name__ == "__main__":
    raise SystemExit(main())
