"""Soft quantisation of the cartoon base's lightness: steadier video and more likeness, at what cost?

The generator's in-graph cartoon base quantises lightness to 10 levels with a hard step, so a
cheek whose lightness drifts across a boundary between two frames jumps a whole level (25 of 255)
there. ``cartoon_base(soft_levels=K)`` crosses each boundary in a tanh ramp instead (sharper as K
grows; the hard step is the limit), the temporally coherent quantisation of real-time video
abstraction. The shipped generators were trained on the hard base; this measures the soft one
given to them at inference, no retraining.

    python benchmarks/soft_levels.py video --levels 0 4 2 --without ink eyes outline exposure --frames 60
    python benchmarks/soft_levels.py evaluate 4 -- --model anime --photos ... --out runs/eval/soft4

``video``: live sessions of ``--model`` (default settings) on the talking-head videos, one per soft
level (0: the hard base as shipped), and one per drawing or filter named in ``--without`` (the
shipped base with that setting at 0: what each adds to the changes from frame to frame), each in
its own pass; the warping error of the face's box (:class:`geostyle.video.stability.WarpErrorMeter`,
as ``temporal_consistency.py``) and the photo's own. Writes ``benchmarks/results/soft_levels.json`` and ``.md`` and ``docs/img/soft_levels.jpg``
(the face box of 6 frames from frame 30 of each video, a row per level).
``evaluate K -- ARGS``: ``geostyle evaluate ARGS`` with the base at soft level K (every generator
in the process; run it beside ``benchmarks/paired_rows.py``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from run_outputs import benchmark_command, face_region, write_results

import geostyle.nets.blocks as blocks
import geostyle.nets.generator as generator
from geostyle.data.images import save_image
from geostyle.infer.stylize import Stylizer
from geostyle.video import LiveSession, VideoReader
from geostyle.video.stability import WarpErrorMeter

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared" / "data" / "video"
HARD = blocks.cartoon_base


def use_soft_levels(k: float) -> None:
    """Every cartoon base drawn from now on (the generator's, and its reduced copy's) at soft level
    ``k`` (0: the hard step)."""

    def base(image, *args, **kwargs):
        return HARD(image, *args, **{**kwargs, "soft_levels": float(k)})

    blocks.cartoon_base = base  # reduced_cartoon_base looks it up here
    generator.cartoon_base = base


def video(args: argparse.Namespace, argv: list[str]) -> int:
    # (label, soft level, the stylizer's settings)
    variants = [(f"soft {k:g}", k, {}) for k in args.levels]
    variants += [(f"{name} 0", 0.0, {name: 0.0}) for name in args.without]
    stylizers = {label: Stylizer(args.model, threads=args.threads, **settings) for label, _, settings in variants}
    rows, strips = [], []
    for path in args.videos:
        row: dict = {"video": path.name}
        strip = []
        for label, k, _ in variants:
            use_soft_levels(k)
            stylizer = stylizers[label]
            session = LiveSession(stylizer)
            meter, faces, box = None, [], None
            with VideoReader(path, keep_audio=False) as reader:
                for i, frame in enumerate(reader):
                    if i >= args.frames:
                        break
                    if box is None:
                        box = face_region(stylizer.detect(frame.image).box, frame.image.shape)
                        meter = WarpErrorMeter(region=box)
                    out = session.process(frame.image, frame.t)
                    assert meter is not None
                    meter.update(frame.image, out)
                    if 30 <= i < 36 and label.startswith("soft"):
                        x0, y0, x1, y1 = box
                        faces.append(cv2.resize(out[y0:y1, x0:x1], (160, 160), interpolation=cv2.INTER_AREA))
            session.close()
            assert meter is not None
            result = meter.result()
            row[label] = result["region_warp_error"]
            row["photo"] = result["region_input_warp_error"]
            row["frames"] = int(result["pairs"]) + 1
            if faces:
                strip.append(np.concatenate(faces, 1))
            print(f"{path.name} {label}: face warping error {result['region_warp_error']:.2f}", file=sys.stderr)
        rows.append(row)
        strips.append(np.concatenate(strip, 0))
    use_soft_levels(0)
    labels = [label for label, _, _ in variants]
    lines = [
        "# Soft quantisation of the cartoon base: the face's warping error in video",
        "",
        f"`{benchmark_command('soft_levels.py', argv)}`",
        "",
        f"Live sessions of `{args.model}` (default settings) with the base's lightness levels crossed in a tanh "
        "ramp of sharpness K (soft 0: the hard step, as shipped); \"X 0\": the hard base with the setting X "
        "at 0. The warping error of the face's box (lower is steadier; the photo's own beside it).",
        "",
        "| video | frames | " + " | ".join(labels) + " | the photo |",
        "|---|---|" + "---|" * len(labels) + "---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['video']} | {row['frames']} | " + " | ".join(f"{row[lb]:.2f}" for lb in labels) + f" | {row['photo']:.2f} |"
        )
    write_results("soft_levels", {"command": benchmark_command("soft_levels.py", argv), "rows": rows}, lines)
    sheet = ROOT / "docs" / "img" / "soft_levels.jpg"
    save_image(sheet, np.concatenate(strips, 0))
    print(f"wrote {sheet}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["evaluate"]:
        if len(argv) < 3 or argv[2] != "--":
            print("usage: soft_levels.py evaluate K -- EVALUATE-ARGS", file=sys.stderr)
            return 2
        from geostyle.cli.main import main as cli

        use_soft_levels(float(argv[1]))
        return cli(["evaluate", *argv[3:]])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("video",))
    ap.add_argument("--model", default="anime")
    ap.add_argument("--levels", nargs="+", type=float, default=[0.0, 4.0, 2.0])
    ap.add_argument("--videos", nargs="+", type=Path, default=[VIDEOS / f"d{n}.mp4" for n in (0, 12, 18)])
    ap.add_argument("--without", nargs="*", default=[], choices=("ink", "eyes", "outline", "exposure", "dark_colour", "smooth_head"))
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    return video(ap.parse_args(argv), argv)


if __name__ == "__main__":
    raise SystemExit(main())
