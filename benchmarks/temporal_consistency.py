"""How steady is a stylized video, with the motion taken out? The landmark smoothing and the
temporal filter, on the talking-head videos.

    python benchmarks/temporal_consistency.py --frames 120

Each video runs through live sessions of one model in lockstep (``--model``, default ``anime``):

* ``off``: no landmark smoothing, no temporal filter;
* ``shipped``: landmark smoothing and the temporal filter as :class:`geostyle.video.LiveSession`
  runs them by default;
* ``landmarks only``: the landmark smoothing without the temporal filter;
* ``beta B[, speed F Hz]``: the landmark smoothing with the One-Euro filter's ``beta`` at B (and
  its speed estimate smoothed at F Hz), the temporal filter on; ``beta 2, speed 1 Hz`` is the
  default before this benchmark.

Per session two meters (:mod:`geostyle.video.stability`), whole frame and the face's box (grown as
in ``pipeline_speed.py``): the flicker (output minus input frame-to-frame change, which on a
moving head also counts the motion of the drawing's lines) and the warping error (the output's
change that the input's optical flow does not explain, over the pixels the flow explains); and
the landmarks the session hands the warp: their jitter (mean second difference, beside the
detector's own) and their lag (mean distance to the detector's points), in eye distances. Writes ``benchmarks/results/temporal_consistency.json`` and ``.md`` and
``docs/img/temporal_consistency.jpg``: the face box of ``--strip`` consecutive frames of each
video (from frame ``--strip-from``), one row per session.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from run_outputs import benchmark_command, face_region, write_results

from geostyle.data.images import save_image
from geostyle.errors import NoFaceError
from geostyle.infer.stylize import Stylizer
from geostyle.video import LiveSession, VideoReader
from geostyle.video.stability import FlickerMeter, WarpErrorMeter

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared" / "data" / "video"
# name -> LiveSession keyword arguments.
SESSIONS: dict[str, dict] = {
    "off": {"smoothing": False},
    "shipped": {},
    "landmarks only": {"temporal": False},
    "beta 2, speed 1 Hz": {"beta": 2.0, "d_cutoff": 1.0},
    "beta 8, speed 1 Hz": {"beta": 8.0, "d_cutoff": 1.0},
    "beta 16, speed 1 Hz": {"beta": 16.0, "d_cutoff": 1.0},
    "beta 32, speed 1 Hz": {"beta": 32.0, "d_cutoff": 1.0},
    "beta 16, speed 4 Hz": {"beta": 16.0, "d_cutoff": 4.0},
}


def landmark_motion(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """The smoothed landmarks' jitter (mean second difference) against the detector's, and their lag
    (mean distance to the detector's points), both in eye distances."""
    from geostyle.infer.tracking import face_scale

    if len(pairs) < 3:
        return {}
    smooth, raw = (np.stack([p[i] for p in pairs]) for i in (0, 1))
    scale = float(np.mean([face_scale(r) for r in raw]))

    def jitter(p: np.ndarray) -> float:
        return float(np.nanmean(np.linalg.norm(p[2:] - 2 * p[1:-1] + p[:-2], axis=-1))) / scale

    return {
        "landmark_jitter": round(jitter(smooth), 5),
        "raw_jitter": round(jitter(raw), 5),
        "landmark_lag": round(float(np.nanmean(np.linalg.norm(smooth - raw, axis=-1))) / scale, 5),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="anime")
    ap.add_argument("--videos", nargs="+", type=Path, default=[VIDEOS / f"d{n}.mp4" for n in (0, 12, 18)])
    ap.add_argument("--frames", type=int, default=120, help="frames per video (from the start)")
    ap.add_argument("--strip", type=int, default=6, help="consecutive frames in the picture (per video)")
    ap.add_argument("--strip-from", type=int, default=60, help="the strip's first frame")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sessions", nargs="+", choices=tuple(SESSIONS), default=list(SESSIONS))
    args = ap.parse_args(argv)
    stylizer = Stylizer(args.model, threads=args.threads)
    rows, strips = [], []
    for video in args.videos:
        if not video.exists():
            print(f"{video}: not found", file=sys.stderr)
            return 1
        sessions = {name: LiveSession(stylizer, **SESSIONS[name]) for name in args.sessions}
        flicker: dict[str, FlickerMeter] = {}
        warp: dict[str, WarpErrorMeter] = {}
        size = ""
        points: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {name: [] for name in args.sessions}
        faces: dict[str, list[np.ndarray]] = {name: [] for name in args.sessions}
        box = None
        with VideoReader(video, keep_audio=False) as reader:
            for i, frame in enumerate(reader):
                if i >= args.frames:
                    break
                if box is None:
                    try:
                        box = face_region(stylizer.detect(frame.image).box, frame.image.shape)
                    except NoFaceError:
                        print(f"{video}: no face in the first frame (the face box is measured there)", file=sys.stderr)
                        return 1
                    flicker = {name: FlickerMeter(region=box) for name in args.sessions}
                    warp = {name: WarpErrorMeter(region=box) for name in args.sessions}
                for name, s in sessions.items():
                    out = s.process(frame.image, frame.t)
                    if len(s.tracker.tracks) == 1:  # the landmarks handed to the warp and the detector's
                        track = s.tracker.tracks[0]
                        points[name].append((track.landmarks.copy(), track.raw.copy()))
                    flicker[name].update(frame.image, out)
                    warp[name].update(frame.image, out)
                    if args.strip_from <= i < args.strip_from + args.strip:
                        bx0, by0, bx1, by1 = box
                        faces[name].append(cv2.resize(out[by0:by1, bx0:bx1], (160, 160), interpolation=cv2.INTER_AREA))
                size = f"{frame.image.shape[1]}x{frame.image.shape[0]}"
        for s in sessions.values():
            s.close()
        row = {
            "video": video.name,
            "frames": min(args.frames, flicker[args.sessions[0]].pairs + 1),
            **{name: {**flicker[name].result(), **warp[name].result(), **landmark_motion(points[name])} for name in args.sessions},
            "size": size,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
        if faces[args.sessions[0]]:
            strips.append(np.concatenate([np.concatenate(faces[name], 1) for name in args.sessions], 0))
    command = benchmark_command("temporal_consistency.py", argv)
    lines = [
        f"# Temporal consistency of `{args.model}` video: the landmark smoothing and the temporal filter",
        "",
        f"`{command}`",
        "",
        "Flicker: output minus input frame-to-frame change (levels); warping error: the output's change the "
        "input's optical flow does not explain, over the explained pixels (the input's own in brackets). "
        "Whole frame / the face's box.",
        "",
        "| video | session | flicker | warping error | pixels explained | landmark jitter (detector's) | landmark lag |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for name in args.sessions:
            m = r[name]
            lines.append(
                f"| {r['video']} | {name} | {m['flicker']:.2f} / {m['region_flicker']:.2f} "
                f"| {m['warp_error']:.2f} / {m['region_warp_error']:.2f} ({m['input_warp_error']:.2f} / {m['region_input_warp_error']:.2f}) "
                f"| {m['explained']:.2f} / {m['region_explained']:.2f} "
                f"| {m.get('landmark_jitter', float('nan')):.4f} ({m.get('raw_jitter', float('nan')):.4f}) | {m.get('landmark_lag', float('nan')):.4f} |"
            )
    write_results("temporal_consistency", {"command": command, "model": args.model, "rows": rows}, lines)
    if strips:
        width = max(s.shape[1] for s in strips)
        sheet = np.concatenate([np.pad(s, ((0, 8), (0, width - s.shape[1]), (0, 0)), constant_values=255) for s in strips], 0)
        save_image(ROOT / "docs" / "img" / "temporal_consistency.jpg", sheet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
