"""``geostyle warp IMAGE (--styles DIR --photos DIR | --geometry FILE.json) [--alphas 0,0.5,1] --out PNG``."""

from __future__ import annotations

import argparse
from pathlib import Path

from geostyle.errors import GeostyleError


def _alphas(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--alphas must be comma-separated numbers, got {text!r}") from exc
    if not values:
        raise argparse.ArgumentTypeError("--alphas needs at least one value")
    return values


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", type=Path, metavar="IMAGE", help="a face photo")
    parser.add_argument(
        "--styles", type=Path, metavar="DATASET_DIR", help="prepared style dataset (geostyle prepare)"
    )
    parser.add_argument(
        "--photos", type=Path, metavar="DATASET_DIR", help="prepared photo dataset (geostyle prepare)"
    )
    parser.add_argument(
        "--geometry", type=Path, metavar="FILE.json", help="a saved geometry model instead of datasets"
    )
    parser.add_argument(
        "--save-geometry", type=Path, metavar="FILE.json", help="save the fitted geometry model"
    )
    parser.add_argument(
        "--alphas", type=_alphas, default=[0.0, 0.5, 1.0], help="geometry strengths (default 0,0.5,1)"
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="PNG", help="output image (one row of panels)"
    )
    parser.add_argument("--size", type=int, default=256, help="crop size in pixels (default 256)")
    parser.add_argument("--zoom", type=float, help="crop zoom (default: the datasets' zoom, else 1.0)")
    parser.add_argument(
        "--backend", default="mediapipe", help="landmark backend for IMAGE (default mediapipe)"
    )
    parser.add_argument(
        "--global-only", action="store_true", help="one offset for all points (no per-part shapes)"
    )
    parser.add_argument("--local", action="store_true", help="blend per-part affine alignment into the warp")
    parser.add_argument(
        "--regularization",
        type=float,
        help="TPS smoothing λ (normalised units²; default 1e-3; 0 = exact, larger = fewer folds)",
    )
    parser.add_argument("--no-grid", action="store_true", help="do not draw the warped grid lines")
    parser.add_argument("--no-arrows", action="store_true", help="do not draw landmark arrows")


def run(args: argparse.Namespace) -> int:
    from geostyle.data.images import load_image, save_image
    from geostyle.errors import NoFaceError
    from geostyle.faces.backends.base import get_backend
    from geostyle.warp.geometry import GeometryModel, preview_photo

    if args.geometry is not None:
        if args.styles is not None or args.photos is not None:
            raise GeostyleError("give either --geometry or --styles with --photos, not both")
        model = GeometryModel.load(args.geometry)
    elif args.styles is not None and args.photos is not None:
        model = GeometryModel.from_datasets(args.photos, args.styles)
    else:
        raise GeostyleError("need --geometry FILE.json, or both --styles DIR and --photos DIR")
    if args.save_geometry is not None:
        model.save(args.save_geometry)
    image = load_image(args.image)
    faces = get_backend(args.backend).detect(image, args.image)
    if not faces:
        raise NoFaceError(f"{args.image}: no face found by backend {args.backend!r}")
    row = preview_photo(
        image,
        faces[0].warp_landmarks(),  # as stylize: a hidden far-side jaw moves no pixels
        model,
        args.alphas,
        size=args.size,
        zoom=args.zoom,
        per_part=not args.global_only,
        local=args.local,
        show_grid=not args.no_grid,
        show_arrows=not args.no_arrows,
        regularization=args.regularization,
    )
    save_image(args.out, row)
    print(f"{args.out}: {len(args.alphas)} panels, {model}")
    return 0
