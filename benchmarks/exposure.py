"""How many photos the exposure step brightens, by how much, at what cost, and what it looks like.

    python benchmarks/exposure.py --photos ../shared/data/photos/selfie ../shared/data/landmarks/helen \
        --model anime --sheet docs/img/exposure.jpg --videos ../shared/data/video/d0.mp4 \
        ../shared/data/video/d12.mp4 ../shared/data/video/d18.mp4

The stylizer's ``exposure`` (:func:`geostyle.infer.tone.measure_exposure`) brightens a frame whose white
point (99th-percentile luma) lies under 235, in linear light, by at most 4x. Per photo folder: how many
photos get a gain over 1.05, 1.5 and 2 and the largest; the cost of measuring and applying it on a
1080p frame and a 256 px photo (median of 50, one thread); and a sheet of the ``--sheet-rows`` photos
it brightens most, from the first folder, then the first frame of each of ``--videos`` (its gain
too): the photo, the photo brightened at each share of ``--shares`` over 0, and the model's whole
frame at each share (0: without). Writes ``benchmarks/results/exposure.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from run_outputs import benchmark_command, median_ms, write_results, write_sheet

from geostyle.data.images import list_images, load_image
from geostyle.errors import GeostyleError
from geostyle.infer.stylize import Stylizer
from geostyle.infer.tone import expose, measure_exposure
from geostyle.video import VideoReader

THRESHOLDS = (1.05, 1.5, 2.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", nargs="+", type=Path, required=True, help="photo folders")
    ap.add_argument("--model", default="anime")
    ap.add_argument("--sheet", type=Path, help="the sheet of the photos brightened most (first folder)")
    ap.add_argument("--sheet-rows", type=int, default=6)
    ap.add_argument("--videos", nargs="*", type=Path, default=[], help="videos whose first frame joins the sheet")
    ap.add_argument("--shares", nargs="+", type=float, default=[0.0, 0.5, 1.0], help="the sheet's exposure shares")
    args = ap.parse_args(argv)
    if any(not 0 <= share <= 1 for share in args.shares):
        ap.error("--shares must lie between 0 and 1")
    cv2.setNumThreads(1)
    folders = []
    first: list[tuple[float, Path]] = []
    for folder in args.photos:
        if not folder.is_dir():
            ap.error(f"{folder}: not a folder")
        gains = []
        for path in list_images(folder):
            try:
                gain = measure_exposure(load_image(path))
            except GeostyleError:
                continue  # unreadable: nothing to measure
            gains.append(gain)
            if folder == args.photos[0]:
                first.append((gain, path))
        g = np.array(gains)
        folders.append({
            "photos": str(folder), "n": len(g),
            **{f"over_{t:g}": round(float((g > t).mean()), 4) for t in THRESHOLDS},
            "median": round(float(np.median(g)), 4), "max": round(float(g.max()), 4),
        })  # fmt: skip
        print(folders[-1], flush=True)
    frame = load_image(first[0][1]) if first else None
    hd = cv2.resize(frame, (1920, 1080)) if frame is not None else np.zeros((1080, 1920, 3), np.uint8)
    dim = (hd * 0.5).astype(np.uint8)  # a white point of about half: the gain is applied, not skipped
    small = cv2.resize(dim, (256, 256))
    cost = {
        "1080p_ms": round(median_ms(lambda: expose(dim, measure_exposure(dim)), 50), 3),
        "256_ms": round(median_ms(lambda: expose(small, measure_exposure(small)), 50), 3),
    }
    print(cost, flush=True)
    rows, video_gains = [], {}
    if args.sheet is not None:
        stylizers = {share: Stylizer(args.model, exposure=share, threads=1) for share in args.shares}
        pictures = [load_image(path) for _, path in sorted(first, key=lambda t: -t[0])[: args.sheet_rows]]
        for video in args.videos:
            with VideoReader(video, keep_audio=False) as reader:
                pictures.append(next(iter(reader)).image)
            video_gains[video.name] = round(measure_exposure(pictures[-1]), 4)
        for image in pictures:
            gain = measure_exposure(image)
            brightened = [expose(image, gain**share) for share in args.shares if share > 0]
            rows.append([image, *brightened, *(st.stylize_frame(image) for st in stylizers.values())])
        write_sheet(args.sheet, rows)
        print(video_gains, flush=True)
    command = benchmark_command("exposure.py", argv)
    lines = [
        "# The exposure step: how many photos it brightens, and its cost",
        "",
        f"`{command}`",
        "",
        "| photos | n | gain > 1.05 | > 1.5 | > 2 | median | largest |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in folders:
        lines.append(
            f"| `{f['photos']}` | {f['n']} | {f['over_1.05']:.1%} | {f['over_1.5']:.1%} | {f['over_2']:.1%} "
            f"| {f['median']:.3f} | {f['max']:.2f} |"
        )
    lines += ["", f"Cost (measure + apply, median of 50, one thread): 1080p {cost['1080p_ms']:.2f} ms, 256 px {cost['256_ms']:.3f} ms."]
    if video_gains:
        lines += ["", "Gain of each video's first frame: " + ", ".join(f"`{k}` {v:.2f}" for k, v in video_gains.items()) + "."]
    if args.sheet is not None:
        shown = ", ".join(f"{s:g}" for s in args.shares if s > 0)
        model = ", ".join(f"{s:g}" for s in args.shares)
        lines += ["", f"Sheet: `{args.sheet}` (photo | brightened at share {shown} | `{args.model}` at share {model})."]
    write_results("exposure", {"command": command, "folders": folders, "cost": cost, "videos": video_gains}, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
