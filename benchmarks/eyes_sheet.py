"""Held-out selfies through a model without and with anime eyes (or its face outline, or its face
shape), whole frames, one column a photo.

    python benchmarks/eyes_sheet.py --model anime --report docs/eval/anime_eyes_n200/metrics.json \
        --out docs/img/anime_drawn_eyes.jpg
    python benchmarks/eyes_sheet.py --drawing outline --model anime \
        --report docs/eval/anime_outline_n200/metrics.json --out docs/img/anime_outline.jpg
    python benchmarks/eyes_sheet.py --drawing faceshape --model anime \
        --report docs/eval/anime_faceshape_n200/metrics.json --out docs/img/anime_faceshape.jpg

Rows: the photo (resized to 256 px), the model with ``eyes`` 0, the model with ``eyes`` 1 (the same
weights, ink and strength otherwise; the face outline off in both, as the eyes were first
measured); with ``--drawing outline`` ``outline`` 0 and 1, the anime eyes as the model has them;
with ``--drawing faceshape`` the whole face at the model's strength (``part_gains={}``) and the
model's own face shape (the bundled anime models: the outline and brows at 0.65, the eyes, nose and
mouth at 0.35), the drawings as the model has them; with ``--drawing skin`` ``skin`` 0 and 1, the
face shape and the other drawings as the model has them. The eyes and outline rows keep the whole face at
one strength (``part_gains={}``), as they were made. The photos are every 25th of those an evaluation report lists
as evaluated (``photos_evaluated``), so they are held out from the model's training.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from geostyle.data.images import load_image, save_image
from geostyle.infer.stylize import Stylizer

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="anime")
    ap.add_argument("--report", type=Path, required=True, help="metrics.json of a geostyle evaluate run")
    ap.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "photos" / "selfie")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--every", type=int, default=25)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--drawing",
        choices=("eyes", "outline", "faceshape", "skin"),
        default="eyes",
        help="what the second and third rows differ in",
    )
    args = ap.parse_args(argv)
    stems = json.loads(args.report.read_text()).get("photos_evaluated") or []
    stems = stems[:: args.every][: args.n]
    if not stems:
        print(f"{args.report}: lists no evaluated photos", file=sys.stderr)
        return 1
    if args.drawing == "faceshape":
        plain = Stylizer(args.model, threads=1, part_gains={})
        eyed = Stylizer(args.model, threads=1)
    elif args.drawing == "skin":
        plain = Stylizer(args.model, threads=1, skin=0.0)
        eyed = Stylizer(args.model, threads=1, skin=1.0)
    else:
        fixed = {"outline": 0.0} if args.drawing == "eyes" else {}
        plain = Stylizer(args.model, threads=1, part_gains={}, **fixed, **{args.drawing: 0.0})
        eyed = Stylizer(args.model, threads=1, part_gains={}, **fixed, **{args.drawing: 1.0})
    columns = []
    for stem in stems:
        found = sorted(args.photos.glob(f"{stem}.*"))
        if not found:
            print(f"{stem}: not in {args.photos}", file=sys.stderr)
            return 1
        photo = cv2.resize(load_image(found[0]), (256, 256), interpolation=cv2.INTER_AREA)
        columns.append(np.concatenate([photo, plain.stylize_frame(photo), eyed.stylize_frame(photo)], 0))
    save_image(args.out, np.concatenate(columns, 1))
    print(f"{args.out}: {', '.join(stems)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
