"""Galleries of a trained model on photos it never saw, and (for paired data) a distance to the
artist's drawing.

    python benchmarks/gallery.py --model anime --photos ../shared/data/photos/celebahq --n 8 \
        --out docs/img/gallery_anime.png
    python benchmarks/gallery.py --model sketch --paired ../shared/data/styles/sketch_cuhk \
        --out docs/img/gallery_sketch.png

    python benchmarks/gallery.py --model anime --photos ../shared/data/photos/celebahq --n 16 \
        --style-ref runs/datasets/anime_animeface --style-ref-skip 50 --out docs/img/gallery_anime.png

Columns: aligned photo | stylized at strength 0.5 | stylized at 1.0 (| artist's sketch when paired).
With ``--style-ref`` (a prepared style dataset; ``--style-ref-skip N`` leaves out its first N items,
the exemplars a preset trained on) the *texture distance* of each column to the style is printed:
the Frobenius distance between the mean Gram matrices (ST-AlexNet relu1-4, unit-normalised, 128 px)
of the column's images and of the reference images, summed over layers. Lower = texture statistics
closer to the style. It is the statistic the ``loss.style`` term trains, so it is biased in favour
of models trained with that term: read it next to the pictures, not instead of them.
With ``--paired`` the held-out pairs recorded in the model's training config are used, and the
ST-LPIPS distance (lower = closer) between stylized output and the artist's sketch is printed next to
two references: the photo itself and the photo in grayscale. Numbers go to
``benchmarks/results/gallery_<model>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from geostyle.data.contact_sheet import image_grid
from geostyle.data.images import from_uint8, list_images, load_image, save_image
from geostyle.errors import GeostyleError
from geostyle.faces.align import warp_to_crop
from geostyle.infer.stylize import Stylizer

RESULTS = Path(__file__).resolve().parent / "results"


def _sketch_name(photo_stem: str) -> str:
    # CUHK: photo f-005-01 <-> sketch F2-005-01-sz1 (m -> M2)
    return ("F2" if photo_stem[0] == "f" else "M2") + photo_stem[1:] + "-sz1"


def texture_distances(rows: list[list[np.ndarray]], labels: list[str], style_dir: str, skip: int) -> dict:
    """Distance between mean Gram matrices of each gallery column and of the reference style images."""
    from geostyle.data.manifest import load_manifest
    from geostyle.nets.perceptual import PerceptualLoss
    from geostyle.train.losses import gram_matrix

    net = PerceptualLoss(max_size=128)
    items = load_manifest(style_dir).items[skip:]  # same order as FaceSet: skip = the trained-on exemplars
    if not items:
        raise SystemExit(f"{style_dir}: no reference items after skipping {skip}")

    def mean_grams(images: list[np.ndarray]) -> list[torch.Tensor]:
        sums: list[torch.Tensor] = []
        for i in range(0, len(images), 16):
            batch = torch.cat([from_uint8(im) for im in images[i : i + 16]])
            with torch.no_grad():
                grams = [gram_matrix(f).sum(0) for f in net.features(batch)]
            sums = grams if not sums else [a + b for a, b in zip(sums, grams)]
        return [g / len(images) for g in sums]

    reference = mean_grams([load_image(it.crop_path) for it in items])
    out = {"reference_images": len(items)}
    for col, label in enumerate(labels):
        grams = mean_grams([row[col] for row in rows])
        out[label] = float(sum((g - r).norm() for g, r in zip(grams, reference)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--photos", help="folder of unseen photos")
    ap.add_argument(
        "--paired", help="CUHK-style folder with photo/ and sketch/ (uses the model's held-out pairs)"
    )
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--strengths", default="0.5,1.0")
    ap.add_argument("--out", required=True)
    ap.add_argument("--style-ref", help="prepared style dataset: texture distance of each column to it")
    ap.add_argument("--style-ref-skip", type=int, default=0, help="leave out its first N items")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    strengths = [float(s) for s in args.strengths.split(",")]
    stylizer = Stylizer(args.model)
    rows, lpips_rows, times = [], [], []
    if args.paired:
        holdout = stylizer.release.metadata["config"]["data"]["holdout"]
        stems = (
            [h for h in holdout if h[0] in "fm"][: args.n] if args.n else [h for h in holdout if h[0] in "fm"]
        )
        photos = [Path(args.paired) / "photo" / f"{s}.jpg" for s in stems]
    else:
        photos = list_images(args.photos)[: args.n]
    if not photos:
        print("no photos", file=sys.stderr)
        return 1
    from geostyle.nets.perceptual import lpips_distance

    for path in photos:
        try:
            aligned = stylizer.align(load_image(path), path)
        except GeostyleError as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            continue
        crop, alignment = aligned.crop, aligned.alignment
        row = [crop]
        for s in strengths:
            t0 = time.perf_counter()
            row.append(stylizer.stylize_crop(crop, aligned.landmarks, strength=s))
            times.append(time.perf_counter() - t0)
        if args.paired:
            sketch_path = Path(args.paired) / "sketch" / f"{_sketch_name(path.stem)}.jpg"
            sketch_img = load_image(sketch_path)
            # The artist traced the photo: crop the sketch with the photo's alignment.
            sketch = warp_to_crop(sketch_img, alignment)
            row.append(sketch)
            gray = np.repeat(crop.mean(-1, keepdims=True), 3, -1).round().astype(np.uint8)
            ref = from_uint8(sketch)
            with torch.no_grad():
                lpips_rows.append(
                    {
                        "id": path.stem,
                        "photo": float(lpips_distance(from_uint8(crop), ref)),
                        "photo_gray": float(lpips_distance(from_uint8(gray), ref)),
                        **{
                            f"stylized@{s:g}": float(lpips_distance(from_uint8(r), ref))
                            for s, r in zip(strengths, row[1:])
                        },
                    }
                )
        rows.append(row)
    labels = ["photo"] + [f"strength {s:g}" for s in strengths] + (["artist"] if args.paired else [])
    out = Path(args.out)
    save_image(out, image_grid(rows, labels))
    summary = {
        "model": str(stylizer.path.name),
        "images": len(rows),
        "generator_ms_per_crop_mean": 1000 * float(np.mean(times)),
        "resolution": stylizer.size,
    }
    if args.style_ref:
        summary["texture_distance_to_style"] = texture_distances(
            rows, labels[: 1 + len(strengths)], args.style_ref, args.style_ref_skip
        )
    if lpips_rows:
        keys = [k for k in lpips_rows[0] if k != "id"]
        summary["st_lpips_to_artist_mean"] = {k: float(np.mean([r[k] for r in lpips_rows])) for k in keys}
        summary["per_pair"] = lpips_rows
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"gallery_{Path(stylizer.path).stem}.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "per_pair"}, indent=1))
    print(f"gallery: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
