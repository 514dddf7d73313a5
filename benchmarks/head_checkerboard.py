"""The head's checkerboard: how much more the stylized face changes across the 2x2 blocks of the
generator's transposed-convolution head than inside them, with and without ``smooth_head``.

    python benchmarks/head_checkerboard.py --photos ../shared/data/photos/selfie --report docs/eval/anime_grain8_n200/metrics.json \
        --model anime --sheet docs/img/head_checkerboard.jpg

The head draws each 2x2 block of the output from one feature pixel with four kernels of its own; once
trained they differ, and the residual changes more from one block to the next than within a block (a
two-pixel checkerboard, seen as blocky texture on eyelids and glasses). For each held-out photo (the
photos of an evaluation report, as they are; ``--n`` caps them) the product's face crop (the
model's drawings included, PyTorch runtime) is drawn with ``smooth_head`` 0 and 1, and on its lightness
this counts the mean absolute step between neighbouring pixels that lie in different blocks (output
columns ``2i+1 | 2i+2``) over the mean step between pixels of the same block (``2i | 2i+1``), across
and down, averaged: 1.0 has no checkerboard, and a checkerboard moves it either way (the four kernels
may step more across blocks or within them), so the table gives its mean distance from 1 and the
share of photos 0.1 or more away. The eye band (rows 0.30-0.56 of the aligned crop: brows,
lids, eyes and glasses) and the whole crop; the aligned photo's crop is the baseline of the same
measure (a photo has none). Also the mean absolute change the filter makes (levels of 255). Writes
``benchmarks/results/head_checkerboard_<model>.json`` and ``.md``; ``--sheet`` the eye bands of the
photos with the strongest checkerboard (photo, smooth_head 0, smooth_head 1), enlarged 3x.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from run_outputs import aligned_photos, benchmark_command, report_stems, write_results, write_sheet

EYE_BAND = (0.30, 0.56)  # rows of the aligned crop
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def block_ratio(image: np.ndarray) -> float:
    """Mean absolute step across 2x2 block borders over the mean step inside blocks, across and
    down, on the lightness of ``image`` (H, W, 3) uint8 (1.0: no two-pixel checkerboard)."""
    y = image.astype(np.float32) @ LUMA
    dx, dy = np.abs(np.diff(y, axis=1)), np.abs(np.diff(y, axis=0))
    across = (dx[:, 1::2].mean() + dy[1::2].mean()) / 2
    inside = (dx[:, 0::2].mean() + dy[0::2].mean()) / 2
    return float(across / max(inside, 1e-6))


def band(image: np.ndarray) -> np.ndarray:
    h = image.shape[0]
    return image[int(h * EYE_BAND[0]) : int(h * EYE_BAND[1])]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=Path, required=True)
    ap.add_argument("--report", type=Path, required=True, help="an evaluation's metrics.json: its photos are used")
    ap.add_argument("--model", default="anime")
    ap.add_argument("--n", type=int, default=0, help="at most this many photos (0: all)")
    ap.add_argument("--sheet", type=Path, default=None)
    ap.add_argument("--sheet-rows", type=int, default=4)
    args = ap.parse_args(argv)

    from geostyle.infer.stylize import Stylizer

    shipped = Stylizer(args.model, runtime="torch", threads=1)
    smoothed = Stylizer(args.model, runtime="torch", threads=1)
    smoothed.release.generator.set_smooth_head(1.0)
    shipped.release.generator.set_smooth_head(0.0)
    rows, pictures = [], {}
    for stem, _, image, aligned in aligned_photos(shipped, args.photos, report_stems(args.report, args.n)):
        before = shipped.stylize_aligned(image, aligned).crop
        after = smoothed.stylize_aligned(image, aligned).crop
        rows.append(
            {
                "photo": stem,
                "photo_band": block_ratio(band(aligned.crop)),
                "before_band": block_ratio(band(before)),
                "after_band": block_ratio(band(after)),
                "photo_crop": block_ratio(aligned.crop),
                "before_crop": block_ratio(before),
                "after_crop": block_ratio(after),
                "change": float(np.abs(before.astype(np.float32) - after.astype(np.float32)).mean()),
            }
        )
        if args.sheet is not None:
            pictures[stem] = [band(aligned.crop), band(before), band(after)]
    if not rows:
        raise SystemExit("no photo with a face")

    def mean(key: str) -> float:
        return round(float(np.mean([r[key] for r in rows])), 3)

    def off(key: str) -> float:
        return round(float(np.mean([abs(r[key] - 1.0) for r in rows])), 3)

    def share(key: str) -> float:
        return round(float(np.mean([abs(r[key] - 1.0) >= 0.1 for r in rows])), 3)

    ratios = ("photo_band", "before_band", "after_band", "photo_crop", "before_crop", "after_crop")
    summary = {f"{k}_off": off(k) for k in ratios}
    summary.update({f"{k}_far": share(k) for k in ratios})
    summary["change"] = round(float(np.mean([r["change"] for r in rows])), 3)
    lines = [
        f"# The head's checkerboard: `{args.model}`, {len(rows)} photos of `{args.report}`",
        "",
        "Mean absolute lightness step across 2x2 block borders over the step inside blocks (1.0: none); the eye band is rows 0.30-0.56 of the aligned crop.",
        "",
        "| crop | eye band: mean distance from 1 | eye bands 0.1 or more from 1 | whole crop: mean distance | whole crops 0.1 or more from 1 |",
        "|---|---|---|---|---|",
        *[
            f"| {label} | {summary[k + '_band_off']} | {summary[k + '_band_far']} | {summary[k + '_crop_off']} | {summary[k + '_crop_far']} |"
            for label, k in (("the aligned photo (baseline)", "photo"), (f"`{args.model}`, smooth_head 0", "before"), (f"`{args.model}`, smooth_head 1", "after"))
        ],
        "",
        f"Mean absolute change of the crop: {summary['change']} levels of 255.",
    ]
    if args.sheet is not None:
        worst = sorted(rows, key=lambda r: -abs(r["before_band"] - 1.0))[: args.sheet_rows]
        write_sheet(args.sheet, [[cv2.resize(p, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST) for p in pictures[r["photo"]]] for r in worst])
        lines += ["", f"Sheet: `{args.sheet}` (photo, smooth_head 0, smooth_head 1), the {len(worst)} eye bands with the strongest checkerboard: " + ", ".join(r["photo"] for r in worst) + "."]
    write_results(
        f"head_checkerboard_{Path(str(args.model)).stem}",
        {"command": benchmark_command("head_checkerboard.py", argv), "summary": summary, "photos": rows},
        lines,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
