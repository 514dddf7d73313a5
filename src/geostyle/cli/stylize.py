"""``geostyle stylize``: stylize images, videos and folders of them with a trained model."""

from __future__ import annotations

import argparse


def part_gain(text: str) -> tuple[str, float]:
    """``NAME=GAIN`` of ``--part-gain`` (e.g. ``eyes=2``)."""
    name, sep, value = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PART=GAIN (e.g. eyes=2), got {text!r}") from None


def add_part_gain_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--part-gain",
        type=part_gain,
        action="append",
        metavar="PART=GAIN",
        help="multiply the strength for one face part (eyes, right_eye, left_eye, nose, mouth, "
        "outline, brows; a gain above 1 moves a part no further than the style's geometry, or than "
        "the strength above 1); "
        "repeatable; replaces the model's own part gains (any one given: the others at 1, e.g. "
        "--part-gain outline=1 for the whole face at one strength)",
    )


def part_gains(args: argparse.Namespace) -> dict[str, float] | None:
    """The ``--part-gain`` options as a mapping (None: keep the model's own)."""
    return None if not args.part_gain else dict(args.part_gain)


def add_ink_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ink",
        type=float,
        default=None,
        help="draw the photo's own line art into the output, darkening it by up to this share "
        "(0-1; default: the model's own, 0 for models released without it)",
    )
    p.add_argument(
        "--dark-colour",
        type=float,
        default=None,
        help="give dark areas (black hair, dark clothes) the photo's own hue at the output's lightness, "
        "by up to this share (0-1; default: the model's own, 0 for models released without it)",
    )
    p.add_argument(
        "--dark-depth",
        type=float,
        default=None,
        help="give dark areas the photo's own darkness back (the output only ever made darker), by up to this "
        "share (0-1; default: the model's own, 0 for models released without it)",
    )
    p.add_argument(
        "--lift-cap",
        type=float,
        default=None,
        help="take back 0.6 of the output's lift beyond this many levels (of 255) over the photo, so darker faces "
        "keep nearer their own skin tone (0 = off; default: the model's own, 0 for models released without it)",
    )
    p.add_argument(
        "--ink-grain",
        type=float,
        default=None,
        help="draw the ink's lines from the photo's lightness smoothed of variation under this many levels (of 255), "
        "so a noisy photo or webcam is not drawn with black dots; 0 draws them from the photo as it is, which keeps "
        "freckles and fine detail (default: the model's own, 8)",
    )
    p.add_argument(
        "--clear-marks",
        type=float,
        default=None,
        help="clear thin light marks the photo does not have (the white dashes some anime models draw), by up to "
        "this share (0-1; default: the model's own, 0 for models released without it)",
    )
    p.add_argument(
        "--smooth-head",
        type=float,
        default=None,
        help="smooth the two-pixel checkerboard the generator's last layer draws (blocky eyelids and glasses), by "
        "this share (0-1; default: the model's own, 0 for models released without it)",
    )
    p.add_argument(
        "--exposure",
        type=float,
        default=None,
        help="brighten an underexposed photo or frame before stylizing it: this share (0-1) of the gain that takes "
        "its brightest pixels to white; a well-exposed picture is unchanged (default: the model's own, 0 for models "
        "released without it)",
    )


def add_drawing_arguments(p: argparse.ArgumentParser) -> None:
    """``--eyes``, ``--skin`` and ``--outline``: what is drawn onto each stylized face after the generator."""
    for flag, what in (
        ("--eyes", "anime eyes (a dark iris and a white catchlight)"),
        ("--skin", "anime skin (the face's skin in a flat tone and a cel shadow; hair, hands and lines kept)"),
        ("--outline", "the face's outline (a dark line along the jaw and chin, where the picture shows its edge)"),
    ):
        p.add_argument(
            flag,
            type=float,
            default=None,
            help=f"draw {what} into every face at this opacity (0-1; default: the model's own, 0 for models released without it)",
        )


def add_runtime_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by ``stylize`` and ``live``."""
    p.add_argument(
        "--strength",
        type=float,
        default=None,
        help="geometry strength alpha (0 = keep the photo's shape, 1 = the style's; default: the model's own, else 0.5)",
    )
    add_part_gain_argument(p)
    add_ink_argument(p)
    add_drawing_arguments(p)
    p.add_argument(
        "--reach",
        type=float,
        default=None,
        help="how far around a face its warp moves pixels, in crop half-sides (1 = only the crop, "
        "as in training; default 1.5: a lifted chin carries the neck instead of smearing it)",
    )
    p.add_argument(
        "--runtime",
        default="onnx",
        choices=["torch", "onnx", "openvino"],
        help="generator runtime (default onnx: ONNX Runtime; openvino needs geostyle[openvino])",
    )
    p.add_argument(
        "--work-size",
        type=int,
        default=512,
        help="long side of the working resolution of the whole-frame pass (0 = full size; default 512)",
    )
    p.add_argument("--backend", default="mediapipe,dlib", help="landmark backend(s), tried in order")
    p.add_argument("--threads", type=int, default=0, help="runtime threads (0 = default)")
    p.add_argument(
        "--no-smoothing", action="store_true", help="videos: do not smooth landmarks between frames"
    )


def add_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="images, videos or folders (recursive; recognised by content)",
    )
    p.add_argument(
        "--model", default="anime", help="bundled model name (e.g. anime, sketch) or a .safetensors path"
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--crop",
        action="store_true",
        help="images: write the aligned stylized face crop instead of the whole frame",
    )
    p.add_argument(
        "--side-by-side", action="store_true", help="images: write input and output next to each other"
    )
    p.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    add_runtime_arguments(p)


def build_stylizer(args: argparse.Namespace, model: str):
    from geostyle.infer.stylize import DEFAULT_REACH, Stylizer

    return Stylizer(
        model,
        strength=args.strength,
        part_gains=part_gains(args),
        backend=args.backend,
        threads=args.threads,
        runtime=args.runtime,
        work_size=args.work_size or None,
        reach=DEFAULT_REACH if args.reach is None else args.reach,
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
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from tqdm import tqdm

    from geostyle.video.batch import Outcome, plan, run_jobs

    jobs, ignored = plan(args.inputs, args.out)
    if not jobs:
        print("geostyle stylize: nothing to do (no images or videos found)", file=sys.stderr)
        return 1
    stylizer = build_stylizer(args, args.model)
    bars: list = []

    def video_progress(job):
        bar = tqdm(desc=job.source.name, unit="frame", leave=False, file=sys.stderr)
        bars.append(bar)

        def update(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        return update

    def report(outcome: Outcome) -> None:
        for bar in bars:
            bar.close()
        bars.clear()
        job = outcome.job
        if outcome.status == "ok":
            print(f"{job.source} -> {job.output} ({outcome.message}, {outcome.seconds:.1f} s)")
        elif outcome.status == "skipped":
            print(f"{job.source}: skipped: {outcome.message}", file=sys.stderr)
        else:
            print(f"{job.source}: error: {outcome.message}", file=sys.stderr)

    outcomes = run_jobs(
        jobs,
        stylizer,
        overwrite=args.overwrite,
        crop=args.crop,
        side_by_side=args.side_by_side,
        smoothing=not args.no_smoothing,
        video_progress=video_progress,
        report=report,
    )
    counts = {s: sum(o.status == s for o in outcomes) for s in ("ok", "failed", "skipped")}
    extra = f", {len(ignored)} other files ignored" if ignored else ""
    print(
        f"{counts['ok']} done, {counts['failed']} failed, {counts['skipped']} skipped{extra}",
        file=sys.stderr,
    )
    return 1 if counts["failed"] else 0
