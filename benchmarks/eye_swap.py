"""Does the anime judge read two models apart by their eyes? Swap the eye band between their
held-out evaluation crops and judge all four.

    python benchmarks/eye_swap.py v24b=runs/eval/anime_v24b_s035/outputs/crop \
        v26c=runs/eval/anime_v26c_s035/outputs/crop

Each ``LABEL=FOLDER`` is the ``outputs/crop`` folder of a ``geostyle evaluate`` run at the same
strength (256 px crops aligned to each photo's target geometry, the same photo stems): the eyes of
both models lie in the same place, the band of ``eye_band.py`` (rows 70-150, columns 40-216). The
band is pasted with a feathered edge (Gaussian, sigma 6 px: it fades out over about 18 px outside the band). Rows: A, B, A with B's eyes, B with
A's eyes; columns: the anime rate (animeface likelihood >= 0.99, the gate's judge) and the mean
likelihood. Writes ``benchmarks/results/eye_swap_A_B.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import cv2
import numpy as np
from eye_band import BAND, labelled_folders

from geostyle.eval.anime import THRESHOLD, AnimeFaceJudge

RESULTS = Path(__file__).resolve().parent / "results"


def band_mask(size: int = 256, feather: float = 6.0) -> np.ndarray:
    """``(size, size, 1)`` weights: 1 inside the eye band, a soft edge of ``feather`` px sigma."""
    mask = np.zeros((size, size), np.float32)
    mask[BAND] = 1.0
    return cv2.GaussianBlur(mask, (0, 0), feather)[..., None]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rows", nargs=2, help="LABEL=FOLDER of 256 px evaluation crops (two models)")
    args = ap.parse_args(argv)
    (a_label, a_dir), (b_label, b_dir) = labelled_folders(ap, args.rows)
    for label in (a_label, b_label):  # the labels name the results files
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", label):
            ap.error(f"labels are letters, digits, _ . - only, got {label!r}")
    if a_label == b_label:
        ap.error(f"the two labels must differ, got {a_label!r} twice")
    in_a, in_b = ({p.stem for p in d.glob("*.png")} for d in (a_dir, b_dir))
    stems = sorted(in_a & in_b)
    if not stems:
        ap.error(f"no crops named alike in {a_dir} and {b_dir}")
    if in_a ^ in_b:
        print(f"{len(in_a ^ in_b)} crops in only one of the folders are left out", file=sys.stderr)
    mask = band_mask()
    judge = AnimeFaceJudge()
    names = [a_label, b_label, f"{a_label} with {b_label}'s eyes", f"{b_label} with {a_label}'s eyes"]
    likelihoods: dict[str, list[float]] = {name: [] for name in names}
    for stem in stems:
        read = [cv2.imread(str(d / f"{stem}.png")) for d in (a_dir, b_dir)]
        if any(im is None or im.shape != (256, 256, 3) for im in read):
            print(f"{stem}: not a readable 256 px crop in both folders", file=sys.stderr)
            judge.close()
            return 1
        a, b = (im[..., ::-1].astype(np.float32) for im in read)
        images = (a, b, a * (1 - mask) + b * mask, b * (1 - mask) + a * mask)
        for name, image in zip(names, images, strict=True):
            rgb = np.ascontiguousarray(np.clip(np.rint(image), 0, 255).astype(np.uint8))
            likelihoods[name].append(judge.likelihood(rgb))
    judge.close()
    rows = []
    for name in names:
        values = np.nan_to_num(np.array(likelihoods[name]))  # a timed-out judgement counts as no face
        rows.append({"image": name, "anime_rate": float(np.mean(values >= THRESHOLD)), "mean_likelihood": float(values.mean())})
    result = {"a": str(a_dir), "b": str(b_dir), "n": len(stems), "timeouts": judge.timeouts, "rows": rows}
    lines = [
        f"# Eye-band swap: {a_label} and {b_label}",
        "",
        f"`python benchmarks/eye_swap.py {' '.join(args.rows)}`; {len(stems)} crops, animeface at {THRESHOLD}.",
        "",
        "| crops | anime rate | mean likelihood |",
        "|---|---|---|",
        *(f"| {r['image']} | {r['anime_rate']:.3f} | {r['mean_likelihood']:.3f} |" for r in rows),
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = f"eye_swap_{a_label}_{b_label}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
