"""``geostyle stylize``: stylize images with a trained model."""

from __future__ import annotations

import argparse


def add_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", help="input images")
    p.add_argument(
        "--model", default="anime", help="bundled model name (e.g. anime, sketch) or a .safetensors path"
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--crop",
        action="store_true",
        help="write the aligned stylized face crop (default: paste back into the image)",
    )
    p.add_argument(
        "--strength",
        type=float,
        default=None,
        help="geometry strength alpha (0 = keep the photo's shape, 1 = the style's; default 0.5)",
    )
    p.add_argument("--side-by-side", action="store_true", help="write input and output next to each other")
    p.add_argument("--backend", default="mediapipe,dlib", help="landmark backend(s), tried in order")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    import numpy as np

    from geostyle.data.images import load_image, save_image
    from geostyle.errors import GeostyleError
    from geostyle.infer.stylize import Stylizer

    stylizer = Stylizer(args.model, strength=args.strength, backend=args.backend, threads=args.threads)
    out_dir = Path(args.out)
    failed = 0
    for name in args.images:
        path = Path(name)
        try:
            image = load_image(path)
            if args.crop:
                result = stylizer.stylize(image, path)
                out, before = result.crop, result.source_crop
            else:
                out, before = stylizer.stylize_frame(image, path), image
            if args.side_by_side:
                out = np.concatenate([before, out], axis=1)
            target = out_dir / f"{path.stem}.png"
            save_image(target, out)
            print(f"{path} -> {target}")
        except GeostyleError as exc:
            failed += 1
            print(f"{path}: error: {exc}", file=sys.stderr)
    return 1 if failed else 0
