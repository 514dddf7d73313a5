"""The temporal filter on a moving face: the previous output moved along the input's optical flow.

    python benchmarks/motion_filter.py --frames 60

The shipped temporal filter blends each output pixel with the previous output where the input did
not change, and passes a moving face's box through unblended (its drawing would ghost). With
``follow_motion`` the filter moves the previous output along the input's optical flow (DIS,
ultrafast preset, inside the box) and blends there where the moved input matches the current one
and the moved output is within ``motion_output_threshold`` levels of the new drawing.

Each video runs through live sessions of ``--model`` in lockstep: ``shipped`` and one per output
threshold in ``--thresholds``. Two meters judge the face's box: the warping error of
:class:`geostyle.video.stability.WarpErrorMeter` (DIS, medium preset, on the full frame), and the
same error with Farneback's optical flow, a method the filter does not use, so a filter that only
agrees with its own flow does not score on it. Also the mean distance of each output face box to the
unfiltered session's (what the filter changes in a frame: lag and ghosts show up here). Writes
``benchmarks/results/motion_filter.json`` and ``.md`` and ``docs/img/motion_filter.jpg`` (the face
box of six frames of each video, one row per session).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from run_outputs import benchmark_command, face_region, write_results

from geostyle.data.images import save_image
from geostyle.infer.stylize import Stylizer
from geostyle.video import LiveSession, VideoReader
from geostyle.video.stability import WarpErrorMeter
from geostyle.video.temporal import TemporalFilter

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared" / "data" / "video"


class _Farneback:
    def calc(self, grey: np.ndarray, prev: np.ndarray, _none) -> np.ndarray:
        return cv2.calcOpticalFlowFarneback(grey, prev, None, 0.5, 4, 21, 3, 7, 1.5, 0)


def farneback_meter(region) -> WarpErrorMeter:
    meter = WarpErrorMeter(region=region)
    meter._flow = _Farneback()  # type: ignore[assignment]
    return meter


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="anime")
    ap.add_argument("--videos", nargs="+", type=Path, default=[VIDEOS / f"d{n}.mp4" for n in (0, 12, 18)])
    ap.add_argument("--thresholds", nargs="+", type=float, default=[16.0, 32.0, 64.0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--strip-from", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    stylizer = Stylizer(args.model, threads=args.threads)
    names = ["shipped", "no filter"] + [f"follow {t:g}" for t in args.thresholds]
    rows, strips = [], []
    for path in args.videos:
        sessions = {name: LiveSession(stylizer) for name in names}
        sessions["no filter"].temporal = None
        for t in args.thresholds:
            sessions[f"follow {t:g}"].temporal = TemporalFilter(follow_motion=True, motion_output_threshold=t)
        meters: dict = {}
        change = {name: 0.0 for name in names}
        strip: dict = {name: [] for name in names}
        box = None
        n = 0
        with VideoReader(path, keep_audio=False) as reader:
            for i, frame in enumerate(reader):
                if i >= args.frames:
                    break
                if box is None:
                    box = face_region(stylizer.detect(frame.image).box, frame.image.shape)
                    meters = {name: (WarpErrorMeter(region=box), farneback_meter(box)) for name in names}
                outs = {name: s.process(frame.image, frame.t) for name, s in sessions.items()}
                x0, y0, x1, y1 = box
                base = outs["no filter"][y0:y1, x0:x1].astype(np.float32)
                for name, out in outs.items():
                    for meter in meters[name]:
                        meter.update(frame.image, out)
                    change[name] += float(np.abs(out[y0:y1, x0:x1].astype(np.float32) - base).mean())
                    if args.strip_from <= i < args.strip_from + 6:
                        strip[name].append(cv2.resize(out[y0:y1, x0:x1], (160, 160), interpolation=cv2.INTER_AREA))
                n += 1
        row: dict = {"video": path.name, "frames": n}
        for name in names:
            dis, farne = (m.result() for m in meters[name])
            row[name] = {
                "warp_error_dis": dis["region_warp_error"],
                "warp_error_farneback": farne["region_warp_error"],
                "input_dis": dis["region_input_warp_error"],
                "input_farneback": farne["region_input_warp_error"],
                "from_unfiltered": round(change[name] / max(1, n), 3),
            }
        rows.append(row)
        strips.append(np.concatenate([np.concatenate(strip[name], 1) for name in names], 0))
        print(row, file=sys.stderr)
    lines = [
        "# The temporal filter on a moving face",
        "",
        f"`{benchmark_command('motion_filter.py', argv)}`",
        "",
        "The face box's warping error (lower is steadier) with DIS flow / Farneback flow, the input's own "
        "beside it; and the mean distance of the face box to the unfiltered session's output.",
        "",
        "| video | frames | " + " | ".join(names) + " | the photo |",
        "|---|---|" + "---|" * len(names) + "---|",
    ]
    for row in rows:
        cells = [f"{row[nm]['warp_error_dis']:.2f} / {row[nm]['warp_error_farneback']:.2f} ({row[nm]['from_unfiltered']:.2f})" for nm in names]
        first = row[names[0]]
        lines.append(f"| {row['video']} | {row['frames']} | " + " | ".join(cells) + f" | {first['input_dis']:.2f} / {first['input_farneback']:.2f} |")
    write_results("motion_filter", {"command": benchmark_command("motion_filter.py", argv), "rows": rows}, lines)
    sheet = ROOT / "docs" / "img" / "motion_filter.jpg"
    save_image(sheet, np.concatenate(strips, 0))
    print(f"wrote {sheet}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
