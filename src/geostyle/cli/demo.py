"""``geostyle demo``: the main job on the bundled example portrait."""

from __future__ import annotations

import argparse


def add_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="out/demo", help="output folder")
    p.add_argument("--model", default="anime", help="bundled model name or .safetensors path")
    p.add_argument("--image", default=None, help="use this photo instead of the bundled example")


def run(args: argparse.Namespace) -> int:
    from geostyle.infer.demo import run_demo

    for name, path in run_demo(args.out, model=args.model, image_path=args.image).items():
        print(f"{name:>14}: {path}")
    return 0
