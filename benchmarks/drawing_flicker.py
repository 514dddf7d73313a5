"""Does a drawing after the generator (anime eyes, face outline, anime skin) or a filter of the
generator (its dark depth, its cleared light marks, its ink's grain smoothing, its smoothed head)
flicker in video?

    python benchmarks/drawing_flicker.py --drawing outline --model anime --frames 120

Each video runs through two live sessions of the same model in lockstep (landmark smoothing on, as
``geostyle stylize`` runs videos), one with the drawing at 0 and one at 1, everything else as the
model has it (``--drawing dark_depth``: the dark depth at 0 and at ``--share``, the shipped 0.6 by
default for it; ``--drawing clear_marks``: the light marks left, 0, and cleared, 1; ``--drawing
ink_grain``: the ink drawn on the photo as it is, 0, and on its grain smoothed at the default 8 levels
times ``--share``; ``--drawing smooth_head``: the head's checkerboard left, 0, and smoothed, 1;
``--drawing exposure``: an underexposed frame left, 0, and brightened, 1, best with ``--light``). Per session:
the flicker meter of ``pipeline_speed.py`` (how much more the output changes from frame to frame
than the input, whole frame and the face's box; :mod:`geostyle.video.stability`). And the
drawing's own change: ``|drawn - plain|`` is the drawing in each frame; its mean change from one
frame to the next over its mean size says how much of it jumps (a drawing that moves with a face
changes a little; one that switches on and off or hops between edges changes by its whole size).
Writes ``benchmarks/results/drawing_flicker_<drawing>.json`` and ``.md`` and a strip of
consecutive frames' faces, plain over drawn, ``docs/img/drawing_flicker_<drawing>.jpg`` (names get
``_share<S>`` for an explicit ``--share``, ``_light<F>`` and ``_noise<N>`` as those options say).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from run_outputs import benchmark_command, camera_noise, face_region, write_results

from geostyle.data.images import save_image
from geostyle.errors import NoFaceError
from geostyle.infer.stylize import Stylizer
from geostyle.infer.tone import scale_light
from geostyle.nets.blocks import INK_GRAIN
from geostyle.video import LiveSession, VideoReader
from geostyle.video.stability import FlickerMeter

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared" / "data" / "video"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="anime")
    ap.add_argument("--drawing", choices=("eyes", "outline", "skin", "dark_depth", "clear_marks", "ink_grain", "smooth_head", "exposure"), default="outline")
    ap.add_argument("--share", type=float, default=None, help="the drawing's value when on (default 1; dark_depth 0.6)")
    ap.add_argument("--videos", nargs="+", type=Path, default=[VIDEOS / "d0.mp4", VIDEOS / "d12.mp4"])
    ap.add_argument("--frames", type=int, default=120, help="frames per video (from the start)")
    ap.add_argument("--strip", type=int, default=8, help="consecutive frames in the picture (per video)")
    ap.add_argument(
        "--noise", type=float, default=0.0,
        help="add camera-like noise of this many levels to every frame (blotches two pixels across, a new seeded draw "
        "each frame: a dim room's webcam); the results and picture names get _noise<N>",
    )  # fmt: skip
    ap.add_argument(
        "--light", type=float, default=1.0,
        help="record every frame with this share of its light (0-1, in linear light, before any noise: a dim room); "
        "the results and picture names get _light<F>",
    )  # fmt: skip
    args = ap.parse_args(argv)
    if args.noise < 0:
        ap.error("--noise must be 0 or more")
    if not 0 < args.light <= 1:
        ap.error("--light must be more than 0 and at most 1")
    rng = np.random.default_rng(0)
    suffix = (
        (f"_share{args.share:g}" if args.share is not None else "")
        + (f"_light{args.light:g}" if args.light < 1 else "")
        + (f"_noise{args.noise:g}" if args.noise else "")
    )
    rows, strips = [], []
    for video in args.videos:
        if not video.exists():
            print(f"{video}: not found", file=sys.stderr)
            return 1
        # The eyes and outline were measured with the whole face at one strength, before the face
        # shape; the skin, which came after it, with the model's own shape.
        # The dark depth and the cleared marks, later still, likewise.
        gains = None if args.drawing in ("skin", "dark_depth", "clear_marks", "ink_grain", "smooth_head", "exposure") else {}
        share = args.share if args.share is not None else (0.6 if args.drawing == "dark_depth" else 1.0)
        # The ink's grain is in levels: off (0) against the default, INK_GRAIN (times --share).
        scale = INK_GRAIN if args.drawing == "ink_grain" else 1.0
        sessions = {
            v: LiveSession(
                Stylizer(args.model, threads=1, part_gains=gains, **{args.drawing: v * share * scale}), smoothing=True
            )
            for v in (0.0, 1.0)
        }
        meters: dict[float, FlickerMeter] = {}
        drawn_prev, change, size, pairs, faces = None, 0.0, 0.0, 0, []
        box = None
        with VideoReader(video, keep_audio=False) as reader:
            for i, frame in enumerate(reader):
                if i >= args.frames:
                    break
                if args.light < 1:
                    frame.image = scale_light(frame.image, args.light)
                if args.noise:
                    frame.image = camera_noise(frame.image, args.noise, rng)
                if box is None:
                    try:
                        box = face_region(sessions[0.0].stylizer.detect(frame.image).box, frame.image.shape)
                    except NoFaceError:
                        for s in sessions.values():
                            s.close()
                        print(f"{video}: no face in the first frame (the face box is measured there)", file=sys.stderr)
                        return 1
                    meters = {v: FlickerMeter(region=box) for v in sessions}
                outs = {v: s.process(frame.image, frame.t) for v, s in sessions.items()}
                for v, out in outs.items():
                    meters[v].update(frame.image, out)
                drawn = np.abs(outs[1.0].astype(np.int16) - outs[0.0].astype(np.int16)).max(-1).astype(np.float32)
                size += float(drawn.mean())
                if drawn_prev is not None:
                    change += float(np.abs(drawn - drawn_prev).mean())
                    pairs += 1
                drawn_prev = drawn
                if i < args.strip:
                    x0, y0, x1, y1 = box
                    faces.append(np.concatenate([cv2.resize(outs[v][y0:y1, x0:x1], (192, 192)) for v in (0.0, 1.0)], 0))
            for s in sessions.values():
                s.close()
        n = pairs + 1  # frames
        row = {
            "video": video.name, "frames": n,
            "plain": meters[0.0].result(), "drawn": meters[1.0].result(),
            "drawing_mean_size": round(size / n, 4),
            "drawing_change_per_frame": round(change / max(1, pairs), 4),
        }  # fmt: skip
        row["drawing_change_share"] = round(row["drawing_change_per_frame"] / max(row["drawing_mean_size"], 1e-9), 3)
        rows.append(row)
        strips.append(np.concatenate(faces, 1))
        print(json.dumps(row), flush=True)
    command = benchmark_command("drawing_flicker.py", argv)
    lines = [
        f"# Flicker of the {args.drawing} (`{args.model}`{f', noise of {args.noise:g} levels added' if args.noise else ''})", "",
        f"`{command}`", "",
        "| video | frames | flicker whole / face, without | with | the drawing's size (levels, mean over the frame) | its change per frame | change / size |",
        "|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for r in rows:
        p, d = r["plain"], r["drawn"]
        lines.append(
            f"| {r['video']} | {r['frames']} | {p['flicker']:.3f} / {p['region_flicker']:.3f} | {d['flicker']:.3f} / {d['region_flicker']:.3f} "
            f"| {r['drawing_mean_size']:.4f} | {r['drawing_change_per_frame']:.4f} | {r['drawing_change_share']:.2f} |"
        )
    write_results(f"drawing_flicker_{args.drawing}{suffix}", {"command": command, "model": args.model, "rows": rows}, lines)
    save_image(ROOT / "docs" / "img" / f"drawing_flicker_{args.drawing}{suffix}.jpg", np.concatenate(strips, 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
