"""``geostyle export``: export a model to ONNX or ncnn (mobile), checked against PyTorch."""

from __future__ import annotations

import argparse


def add_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="anime", help="bundled model name or a .safetensors path")
    p.add_argument("--format", default="onnx", choices=["onnx", "ncnn"], help="onnx, or ncnn for mobile")
    p.add_argument("--size", type=int, default=512, help="input size S of the S x S graph (multiple of 8)")
    p.add_argument(
        "--graph",
        default="face",
        choices=["face", "frame"],
        help="face: image + S/4 TPS field + warped image (the face path; identity field = plain); "
        "frame: image only",
    )
    p.add_argument("--opset", type=int, default=17, help="ONNX opset")
    p.add_argument("--out", required=True, help="output file (.onnx; for ncnn the .param/.bin/.json base)")


def run(args: argparse.Namespace) -> int:
    from geostyle.export import export_model

    report = export_model(args.model, args.out, fmt=args.format, size=args.size, graph=args.graph, opset=args.opset)
    print(report.summary())
    return 0
