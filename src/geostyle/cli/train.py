"""``geostyle train``: parse, then call :func:`geostyle.train.run.train`."""

from __future__ import annotations

import argparse


def add_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--photos", help="prepared photo dataset (overrides data.photos)")
    p.add_argument("--styles", help="prepared style dataset (overrides data.styles)")
    p.add_argument("--config", help="YAML config file (defaults apply to anything it leaves out)")
    p.add_argument("--run-dir", default=None, help="output folder (default: runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir from resume.pt")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.steps=2000 (repeatable)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from geostyle.train.config import load_config
    from geostyle.train.run import train

    config = load_config(args.config, args.overrides)
    # Paths are set directly, not parsed as YAML values.
    if args.photos:
        config.data.photos = args.photos
    if args.styles:
        config.data.styles = args.styles
    run_dir = Path(args.run_dir or Path("runs") / config.name)
    final = train(config, run_dir, resume=args.resume, progress=not args.no_progress)
    if final is not None:
        print(f"model: {final}")
    return 0
