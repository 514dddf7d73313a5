"""``geostyle live``: stylize a webcam (or a video file standing in for one) in real time."""

from __future__ import annotations

import argparse


def add_parser(p: argparse.ArgumentParser) -> None:
    source = p.add_mutually_exclusive_group()
    source.add_argument("--camera", type=int, default=0, help="camera index (default 0)")
    source.add_argument("--video", default=None, help="a video file instead of the camera")
    p.add_argument(
        "--model",
        action="append",
        default=None,
        help="model(s) to switch between with the m key (repeat the flag; default: every bundled model)",
    )
    p.add_argument("--headless", action="store_true", help="no window: write the frames to --out")
    p.add_argument("--out", default=None, help="also write the shown frames to this video file (.mp4)")
    p.add_argument("--no-overlay", action="store_true", help="do not draw the fps / model / strength overlay")
    from geostyle.cli.stylize import add_runtime_arguments

    add_runtime_arguments(p)


def run(args: argparse.Namespace) -> int:
    import sys

    from geostyle.cli.stylize import build_stylizer
    from geostyle.nets.release import available_models
    from geostyle.video.live import LiveControls, live

    models = args.model or sorted(available_models(), key=lambda m: (m != "anime", m))
    controls = LiveControls(models, lambda name: build_stylizer(args, name), overlay=not args.no_overlay)
    stats = live(
        controls,
        camera=args.camera,
        video=args.video,
        out=args.out,
        headless=args.headless,
        smoothing=not args.no_smoothing,
    )
    where = f" -> {args.out}" if args.out else ""
    print(f"{stats.frames} frames in {stats.seconds:.1f} s ({stats.fps:.1f} fps){where}", file=sys.stderr)
    return 0
