"""``geostyle train``: parse, prepare raw folders if needed, then call :func:`geostyle.train.run.train`."""

from __future__ import annotations

import argparse


def add_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", help="a shipped preset: anime, sketch or paint (see geostyle/train/presets)")
    p.add_argument("--config", help="YAML config file (instead of --preset; defaults fill the rest)")
    p.add_argument(
        "--photos", help="photo folder: a prepared dataset, or raw images (prepared into the run directory)"
    )
    p.add_argument(
        "--styles", help="style folder: a prepared dataset, or raw exemplars (prepared into the run directory)"
    )
    p.add_argument("--run-dir", default=None, help="output folder (default: runs/<config name>)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --run-dir exactly as saved (only --set train.steps=N may extend it; "
        "train.threads, train.device and data.teacher, the same teacher file by another path, may change)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.steps=2000 (repeatable)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


# On --resume the saved run is continued as it was; these may still change (execution details; the
# teacher only as another name for the same file, checked by its hash).
RESUME_OVERRIDES = ("train.steps", "train.threads", "train.device", "data.teacher")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from geostyle.errors import ConfigError
    from geostyle.train.config import load_config
    from geostyle.train.datasets import ensure_prepared
    from geostyle.train.presets import preset_path
    from geostyle.train.run import train

    if args.preset and args.config:
        raise ConfigError("give --preset or --config, not both")
    keys = [o.split("=", 1)[0].strip() for o in args.overrides]
    if args.resume:
        changed = [k for k in keys if k not in RESUME_OVERRIDES]
        if changed or args.photos or args.styles:
            what = ", ".join(changed + (["--photos"] if args.photos else []) + (["--styles"] if args.styles else []))
            raise ConfigError(
                f"--resume continues the run as it was saved; cannot change {what} "
                f"(only {', '.join(RESUME_OVERRIDES)})"
            )
    config = load_config(preset_path(args.preset) if args.preset else args.config, args.overrides)
    steps = config.train.steps if "train.steps" in keys else None
    run_dir = Path(args.run_dir or Path("runs") / config.name)
    if not args.resume:
        # Paths are set directly, not parsed as YAML values; raw folders are prepared first.
        if args.photos:
            config.data.photos = str(ensure_prepared(args.photos, run_dir / "datasets" / "photos", "photo"))
        if args.styles:
            backend = config.data.style_backend or None
            config.data.styles = str(
                ensure_prepared(args.styles, run_dir / "datasets" / "styles", "style", backend)
            )
    teacher = config.data.teacher if "data.teacher" in keys else None
    final = train(config, run_dir, resume=args.resume, progress=not args.no_progress, steps=steps, teacher=teacher)
    if final is not None:
        print(f"model: {final}", file=sys.stdout)
    return 0
