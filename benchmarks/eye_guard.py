"""How often the anime eyes' guard leaves an eye out, and what the eyes near its threshold look like.

    python benchmarks/eye_guard.py --model anime --report docs/eval/anime_eyes_n200/metrics.json

For every photo an evaluation report lists as evaluated (held out from the model's training), the
face is stylized as :meth:`Stylizer.stylize` does (without eyes or outline, as the eyes see it), and for each eye the landmarks can
place (:func:`geostyle.infer.eyes.drawable_eyes`) the iris disc's lightness against the ring around
it is measured (:func:`geostyle.infer.eyes.iris_lightness`; the guard draws an eye fully at
:data:`MAX_IRIS_LIGHTNESS` minus ``LIGHTNESS_RAMP`` and below, fading it out to none at plus it;
the counts here are at the ramp's middle). Prints and writes ``benchmarks/results/eye_guard.json`` and ``.md``:
the ratio's percentiles, the share of eyes kept at several thresholds, the photos with two, one or
no eye drawn; and ``docs/img/eye_guard.jpg``: the 16 eyes kept nearest the threshold (top two
rows) and the 8 left out nearest it (bottom row), drawn with the guard lifted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from geostyle.data.images import load_image, save_image
from geostyle.errors import GeostyleError
from geostyle.infer.eyes import (
    IRIS_RADIUS,
    LIGHTNESS_RAMP,
    MAX_IRIS_LIGHTNESS,
    draw_anime_eyes,
    drawable_eyes,
    iris_lightness,
)
from geostyle.infer.stylize import Stylizer

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
THRESHOLDS = (0.8, 0.9, 1.0, 1.1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="anime")
    ap.add_argument("--report", type=Path, required=True, help="metrics.json of a geostyle evaluate run")
    ap.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "photos" / "selfie")
    ap.add_argument("--out", default="eye_guard")
    args = ap.parse_args(argv)
    stems = json.loads(args.report.read_text()).get("photos_evaluated") or []
    if not stems:
        print(f"{args.report}: lists no evaluated photos", file=sys.stderr)
        return 1
    t0 = time.time()
    stylizer = Stylizer(args.model, threads=1, part_gains={}, eyes=0.0, outline=0.0)
    eyes: list[tuple[str, float, np.ndarray, np.ndarray]] = []  # photo, ratio, crop, target points
    faces = 0
    for stem in stems:
        found = sorted(args.photos.glob(f"{stem}.*"))
        if not found:
            continue
        image = load_image(found[0])
        try:
            aligned = stylizer.align(image)
        except GeostyleError:
            continue
        faces += 1
        crop = stylizer.stylize_aligned(image, aligned).crop
        warp = stylizer.frame_warp(aligned.alignment, aligned.landmarks, *image.shape[:2])
        points = aligned.landmarks if warp is None else stylizer.target_pixels(warp.spline)
        for centre, width, _, _ in drawable_eyes(points):
            ratio = iris_lightness(crop, centre, IRIS_RADIUS * width)
            if ratio is not None:
                eyes.append((stem, ratio, crop, points))
        print(f"\r{faces} faces, {len(eyes)} eyes", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    if not eyes:
        print("no eye could be measured (no face found in any photo?)", file=sys.stderr)
        return 1
    ratios = np.array([e[1] for e in eyes])
    drawn = Counter(e[0] for e in eyes if e[1] <= MAX_IRIS_LIGHTNESS)
    result = {
        "model": str(stylizer.path), "faces": faces, "eyes": len(eyes), "threshold": MAX_IRIS_LIGHTNESS,
        "percentiles": {str(q): round(float(np.percentile(ratios, q)), 3) for q in (10, 25, 50, 75, 90, 95)},
        "kept": {str(t): round(float((ratios <= t).mean()), 3) for t in THRESHOLDS},
        "faces_with_eyes_drawn": {
            "2": sum(v == 2 for v in drawn.values()), "1": sum(v == 1 for v in drawn.values()), "0": faces - len(drawn),
        },
        "seconds": round(time.time() - t0, 1),
        "command": "python benchmarks/eye_guard.py " + " ".join(argv or sys.argv[1:]),
    }  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# The anime eyes' guard",
        "",
        f"`{result['command'].strip()}`: {faces} held-out faces, {len(eyes)} eyes the landmarks place; "
        f"an eye is drawn fully where the iris disc's lightness is at most {MAX_IRIS_LIGHTNESS - LIGHTNESS_RAMP:g} "
        f"of the ring's, fading out to none at {MAX_IRIS_LIGHTNESS + LIGHTNESS_RAMP:g}; counted below at the middle, "
        f"{MAX_IRIS_LIGHTNESS:g}.",
        "",
        "| ratio percentile | " + " | ".join(result["percentiles"]) + " |",
        "|---|" + "---|" * len(result["percentiles"]),
        "| disc / ring lightness | " + " | ".join(f"{v:.3f}" for v in result["percentiles"].values()) + " |",
        "",
        "| threshold | " + " | ".join(result["kept"]) + " |",
        "|---|" + "---|" * len(result["kept"]),
        "| share of eyes kept | " + " | ".join(f"{v:.3f}" for v in result["kept"].values()) + " |",
        "",
        "Faces with two / one / no eye drawn: " + " / ".join(str(result["faces_with_eyes_drawn"][k]) for k in "210") + ".",
    ]
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    kept = sorted((e for e in eyes if e[1] <= MAX_IRIS_LIGHTNESS), key=lambda e: -e[1])[:16]
    left = sorted((e for e in eyes if e[1] > MAX_IRIS_LIGHTNESS), key=lambda e: e[1])[:8]
    tiles = [draw_anime_eyes(e[2], e[3]) for e in kept] + [draw_anime_eyes(e[2], e[3], max_lightness=np.inf) for e in left]
    tiles += [np.full_like(tiles[0], 255)] * (-len(tiles) % 8)
    save_image(ROOT / "docs" / "img" / f"{args.out}.jpg", np.concatenate([np.concatenate(tiles[i : i + 8], 1) for i in range(0, len(tiles), 8)], 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
