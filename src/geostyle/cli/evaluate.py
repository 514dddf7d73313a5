"""``geostyle evaluate``: a model's quality numbers beside baselines measured in the same run."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from geostyle.cli.stylize import add_drawing_arguments, add_ink_argument, add_part_gain_argument, part_gains


def add_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="bundled model name or .safetensors release checkpoint")
    p.add_argument("--photos", required=True, type=Path, help="folder of photos the model never trained on")
    p.add_argument(
        "--styles", required=True, type=Path, help="folder of held-out style images (KID/FID reference)"
    )
    p.add_argument(
        "--out", required=True, type=Path, help="report folder (metrics.json, report.md, outputs/)"
    )
    p.add_argument("--pairs", help="ground truth: a folder matched by file stem, or a photo,truth CSV")
    p.add_argument("--truth-dir", type=Path, help="where CSV truth names are looked up (default: --styles)")
    p.add_argument("--n", type=int, default=0, help="evaluate at most N photos (0 = all)")
    p.add_argument(
        "--skip", type=int, default=0, help="leave out the first N photos (sorted, after exclusions)"
    )
    p.add_argument("--max-styles", type=int, default=0, help="use at most N style images (0 = all)")
    p.add_argument("--compare", help="a second model evaluated the same way")
    p.add_argument(
        "--kind", choices=("anime", "sketch", "other"), help="style kind (default: from the model)"
    )
    p.add_argument(
        "--include-trained",
        nargs="?",
        const="all",
        default="",
        choices=("all", "photos", "styles"),
        help="keep the photos and/or style images listed in the model's trained_on metadata "
        "(alone: both; 'photos' or 'styles': that set only)",
    )
    p.add_argument(
        "--exclude",
        type=Path,
        action="append",
        default=[],
        help="text file of file stems (one a line) left out of --photos and --styles; repeatable",
    )
    p.add_argument("--strength", type=float, help="geometry strength (default: the stylizer's)")
    add_part_gain_argument(p)
    add_ink_argument(p)
    add_drawing_arguments(p)
    p.add_argument("--backend", default="mediapipe", help="face detector of the stylizer")
    p.add_argument("--landmark-backend", help="detector judging the outputs' landmarks (default: --backend)")
    p.add_argument("--cache-dir", type=Path, help="style-feature cache (default ~/.cache/geostyle/eval)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    p.add_argument(
        "--speed-repeats", type=int, default=10, help="timed generator runs at 512 (0 = skip timing)"
    )
    p.add_argument("--kid-subsets", type=int, default=100)
    p.add_argument("--sheet-rows", type=int, default=8, help="photos on the contact sheet")
    p.add_argument(
        "--no-baselines",
        action="store_true",
        help="skip the classical baselines (only beside another report of the same photos that has them)",
    )
    p.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from geostyle.eval.report import markdown_table
    from geostyle.eval.run import EvalOptions, evaluate

    options = EvalOptions(
        model=args.model,
        photos=args.photos,
        styles=args.styles,
        out=args.out,
        pairs=args.pairs,
        truth_dir=args.truth_dir,
        n=args.n,
        skip=args.skip,
        max_styles=args.max_styles,
        compare=args.compare,
        kind=args.kind,
        include_trained=args.include_trained,
        exclude=list(args.exclude),
        strength=args.strength,
        part_gains=part_gains(args),
        ink=args.ink,
        ink_grain=args.ink_grain,
        dark_colour=args.dark_colour,
        dark_depth=args.dark_depth,
        lift_cap=args.lift_cap,
        clear_marks=args.clear_marks,
        smooth_head=args.smooth_head,
        eyes=args.eyes,
        outline=args.outline,
        skin=args.skin,
        exposure=args.exposure,
        backend=args.backend,
        landmark_backend=args.landmark_backend,
        cache_dir=args.cache_dir,
        threads=args.threads,
        speed_repeats=args.speed_repeats,
        kid_subsets=args.kid_subsets,
        baselines=not args.no_baselines,
        sheet_rows=args.sheet_rows,
        progress=not args.no_progress,
        command="geostyle " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        if sys.argv[1:2] == ["evaluate"]
        else "",
    )
    metrics = evaluate(options)
    print(markdown_table(metrics))
    failed = metrics["failures"]
    if failed:
        print(f"{len(failed)} photos failed: " + ", ".join(f["photo"] for f in failed), file=sys.stderr)
    print(f"report: {args.out / 'report.md'}")
    return 0
