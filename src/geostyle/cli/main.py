"""The ``geostyle`` command: a thin dispatcher. Each subcommand lives in its own module of this
package, exposing ``add_parser(subparsers)`` and ``run(args) -> int``; modules are imported only when
their subcommand runs so ``geostyle --help`` stays fast."""

from __future__ import annotations

import argparse
import importlib
import sys

from geostyle.errors import GeostyleError

# subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("geostyle.cli.demo", "run the main job on the bundled example portrait"),
    "landmarks": ("geostyle.cli.landmarks", "detect faces and canonical landmarks, print JSON"),
    "prepare": ("geostyle.cli.prepare", "detect, align and crop a folder of images into a dataset"),
    "warp": ("geostyle.cli.warp", "preview a photo warped to a style's geometry at several strengths"),
    "train": ("geostyle.cli.train", "train a photo->style generator"),
    "stylize": ("geostyle.cli.stylize", "stylize images, videos and folders with a trained model"),
    "live": ("geostyle.cli.live", "stylize a webcam (or a video file) live, with a window or headless"),
    "export": ("geostyle.cli.export", "export a model to ONNX or ncnn (mobile), with parity check and metadata"),
    "evaluate": ("geostyle.cli.evaluate", "measure a model beside baselines on held-out photos and styles"),
    "serve": ("geostyle.cli.serve", "local web app: stylize, fix style landmarks, train a custom style"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geostyle", description="Real-time portrait stylization by geometric alignment."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        importlib.import_module(module).add_parser(
            sub.add_parser(name, help=help_text, description=help_text)
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    parser = build_parser(only=command)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except GeostyleError as exc:
        print(f"geostyle {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"geostyle {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
