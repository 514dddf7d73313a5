"""``geostyle prepare SRC_DIR --out DATASET_DIR``: detect, align and crop a folder into a dataset."""

from __future__ import annotations

import argparse
import sys

from geostyle.data import prepare as _prepare


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", metavar="SRC_DIR", help="folder of images (searched recursively)")
    parser.add_argument(
        "--out", required=True, metavar="DATASET_DIR", help="dataset folder to create or continue"
    )
    parser.add_argument("--domain", choices=("photo", "style"), default="photo", help="default: photo")
    parser.add_argument(
        "--size", type=int, default=_prepare.DEFAULT_SIZE, help="crop side in pixels (default: %(default)s)"
    )
    parser.add_argument(
        "--zoom",
        type=float,
        default=_prepare.DEFAULT_ZOOM,
        help="framing: 1 = FFHQ (whole head with margin), larger = tighter (default: %(default)s)",
    )
    parser.add_argument(
        "--backend",
        metavar="LIST",
        default=None,
        help="landmark backends tried in order, comma separated "
        f"(default: photo {_prepare.DEFAULT_BACKENDS['photo']!r}, style {_prepare.DEFAULT_BACKENDS['style']!r})",
    )
    parser.add_argument(
        "--min-face",
        type=float,
        default=_prepare.DEFAULT_MIN_FACE,
        metavar="PX",
        help="smallest inter-ocular distance in source pixels (default: %(default)s)",
    )
    parser.add_argument(
        "--limit", type=int, default=None, metavar="N", help="only the first N images (sorted)"
    )
    parser.add_argument(
        "--retry-failures", action="store_true", help="try again the images that failed before"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    try:
        manifest = _prepare.prepare_dataset(
            args.src,
            args.out,
            domain=args.domain,
            size=args.size,
            zoom=args.zoom,
            backends=args.backend,
            min_face=args.min_face,
            progress=not args.no_progress,
            limit=args.limit,
            retry_failures=args.retry_failures,
        )
    except KeyboardInterrupt:
        print(
            f"geostyle prepare: interrupted; progress saved in {args.out}, run the same command to continue",
            file=sys.stderr,
        )
        return 130
    print(_prepare.format_summary(manifest))
    return 0
