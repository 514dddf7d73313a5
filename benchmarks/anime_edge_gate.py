"""Why the anime judge finds no face in a crop: its edge pruning or its classifier?

    python benchmarks/anime_edge_gate.py --crops "docs/eval/X/outputs/crop/*.png" --out anime_edge_gate

The judge (``animeface``, :mod:`geostyle.eval.anime`) scans square windows from 42.6 px up, in
steps of 1.095, and looks only at windows whose edge density lies in a band that depends on the
window's size: the edge image is the positive part of a Laplacian of the Gaussian-smoothed grey
image, times 4, clipped at 255 (dark lines count; light ones do not). Windows in the band go to its
classifiers (a face-direction network and two face networks on four Haar-type contrasts over blocks
a quarter of the window wide, normalised per window). This script reads, for every crop in which
the detector finds no face of likelihood >= 0.5 at the crop's own size, the windows of that scan
that overlap (IoU > 0.5) the median face box of the crops where it does find one (likelihood >=
0.99), and counts where their edge density falls: all below the band (too smooth to be looked at),
all above it, or some inside (looked at, and rejected by the classifiers).

Writes ``benchmarks/results/<out>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from geostyle.data.images import load_image
from geostyle.faces.backends.anime import AnimeFaceBackend

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MIN_WINDOW, SCALE_STEP, STEP = 42.592, 1.095, 4.0  # the detector's scan, as python-animeface calls it


def edge_image(rgb: np.ndarray) -> np.ndarray:
    """The judge's edge image as its pruning reads it (module doc), float32."""
    grey = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    k = np.array([1, 4, 6, 4, 1], np.float32)
    smooth = cv2.sepFilter2D(grey, -1, k / k.sum(), k / k.sum(), borderType=cv2.BORDER_REPLICATE)
    lap = cv2.filter2D(smooth, -1, np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32), borderType=cv2.BORDER_REPLICATE)
    return np.clip(np.maximum(lap, 0.0) * 4.0, 0.0, 255.0)


def box_sum(integral: np.ndarray, x: int, y: int, size: int) -> float:
    """The sum of the image over the ``size`` px square at ``(x, y)``, from its ``cv2.integral``."""
    return float(integral[y + size, x + size] - integral[y + size, x] - integral[y, x + size] + integral[y, x])


def band(window: int, scale: float, edge_sum: float) -> tuple[float, float, float]:
    """``(density, low, high)``: a window of ``window`` px at scale ``scale`` is looked at when
    ``low < density < high``."""
    density = edge_sum / (255.0 * window * window) * scale * scale * 0.5
    low = 0.1 if window < 84 else (window - 64) * 0.005
    return density, low, window * 0.012 - 0.2


def windows(height: int, width: int):
    scale = MIN_WINDOW / 32.0
    while min(width, height) / scale > MIN_WINDOW:
        size = int(32 * scale)
        for y in np.arange(0, height - size, STEP * scale).astype(int):
            for x in np.arange(0, width - size, STEP * scale).astype(int):
                if x + size < width and y + size < height:
                    yield int(x), int(y), size, scale
        scale *= SCALE_STEP


def iou(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[2], b[1] + b[2]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] ** 2 + b[2] ** 2 - inter)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crops", required=True, help="glob of the stylized crops (an evaluation's outputs/crop/*.png)")
    ap.add_argument("--out", default="anime_edge_gate")
    args = ap.parse_args(argv)
    paths = sorted(glob.glob(args.crops))
    if not paths:
        print(f"{args.crops}: no files", file=sys.stderr)
        return 1
    detector = AnimeFaceBackend(pyramid=False)
    images, scores, boxes = [], [], []
    detections = in_band = 0  # a check of this reading of the band: the detector's own finds lie in it
    for p in paths:
        rgb = load_image(p)
        faces = detector.detect(rgb)
        best = max(faces, key=lambda f: f.score) if faces else None
        if faces:
            integral = cv2.integral(edge_image(rgb).astype(np.float64))
            for f in faces:
                x0, y0 = (int(round(v)) for v in f.box[:2])
                size = int(round(f.box[2] - f.box[0]))
                if size <= 0 or x0 < 0 or y0 < 0 or x0 + size >= rgb.shape[1] or y0 + size >= rgb.shape[0]:
                    continue
                density, low, high = band(size, size / 32.0, box_sum(integral, x0, y0, size))
                detections += 1
                in_band += int(low < density < high)
        images.append(rgb)
        scores.append(best.score if best else 0.0)
        if best is not None and best.score >= 0.99:
            x0, y0, x1, y1 = best.box
            h, w = rgb.shape[:2]
            boxes.append((x0 / w, y0 / h, (x1 - x0) / w))
    if not boxes:
        print("no crop with a face of likelihood >= 0.99 to take the face box from", file=sys.stderr)
        return 1
    ref = np.median(np.array(boxes), 0)
    counts = {"below": 0, "above": 0, "inside": 0}
    for rgb, score in zip(images, scores, strict=True):
        if score >= 0.5:
            continue
        h, w = rgb.shape[:2]
        integral = cv2.integral(edge_image(rgb).astype(np.float64))
        face = (ref[0] * w, ref[1] * h, ref[2] * w)
        where = []
        for x, y, size, scale in windows(h, w):
            if iou((x, y, size), face) > 0.5:
                density, low, high = band(size, scale, box_sum(integral, x, y, size))
                where.append("below" if density <= low else "above" if density >= high else "inside")
        if where and all(v == "below" for v in where):
            counts["below"] += 1
        elif where and all(v == "above" for v in where):
            counts["above"] += 1
        elif where:
            counts["inside"] += 1
    command = "python benchmarks/anime_edge_gate.py " + " ".join(sys.argv[1:] if argv is None else argv)
    missed = sum(1 for s in scores if s < 0.5)
    result = {
        "command": command,
        "crops": len(paths),
        "found_at_0_99": len(boxes),
        "face_box": [round(float(v), 4) for v in ref],
        "no_face_at_0_5": missed,
        "check_detections_in_band": [in_band, detections],
        "windows_near_the_face": counts,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=1))
    lines = [
        "# Where the anime judge's misses fail: edge pruning or classifiers", "", f"`{command}`", "",
        f"{len(paths)} crops; a face of likelihood >= 0.99 at the crop's own size in {len(boxes)} (median box "
        f"x {ref[0]:.3f}, y {ref[1]:.3f}, side {ref[2]:.3f} of the crop); none >= 0.5 in {missed}. Of those, the "
        "windows overlapping that box (IoU > 0.5):", "",
        "| all below the edge band (too smooth) | all above it | some inside (rejected by the classifiers) |",
        "|---|---|---|",
        f"| {counts['below']} | {counts['above']} | {counts['inside']} |",
        "",
        f"Check of this reading of the band: {in_band} of the {detections} faces the detector itself returns "
        "(likelihood >= 0.5, boxes inside the crop) lie in it. A crop counts as looked at when any window near "
        "the face is in the band; the crops whose best face lies between 0.5 and 0.99 are not analysed.",
    ]  # fmt: skip
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
