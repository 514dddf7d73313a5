"""How far a face's warp reaches, and what that does to the chin and neck.

    python benchmarks/warp_reach.py [--model anime] [--images 150]

The anime geometry lifts the chin (at strength 1 by about 15 % of the crop). Training pins the crop
border, so on a whole frame the few pixels between chin and crop border would have to stretch over
the whole lift: the chin's edge smears into the neck. The product anchors the warp further out
(``Stylizer(reach=...)``, in crop half-sides) and moves the stylized background around the crop
with it; the frame's own border stays pinned.

Measured, for every held-out HELEN photo (images 150-299, in-the-wild, neck in the picture) and for
the tight 256 px selfies: the **neck stretch**, the largest vertical magnification of the product's
backward map (frame pins and taper included) on the line from the chin's target position straight
down to where the warp's anchors are (1 = the
neck only moves; 3 = three output rows show one row of the photo). Pictures of the same:
``docs/img/warp_reach.png`` (talking-head video frames, HELEN photos and one tight selfie, the warp
alone without the generator, so the geometry is what one sees).

Writes ``benchmarks/results/warp_reach.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from landmark_pictures import _label  # the same panel captions (benchmarks/ is on the path)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
HELEN = DATA / "landmarks" / "helen"
SELFIES = DATA / "photos" / "selfie"
VIDEOS = DATA / "video"
REACHES = (1.0, 1.5, 2.0)
STRENGTHS = (1.0, 0.35)
# Pictures: talking-head frames, two HELEN photos with a visible neck, one tight selfie.
PICTURE_VIDEOS = ("d0", "d18")
PICTURE_HELEN = (0, 1)  # index into the sorted HELEN images 150-299 with a face
PICTURE_SELFIE = "female_10262.jpg"


def _crop_points(stylizer, landmarks: np.ndarray):
    """``(alignment, landmarks in crop pixels)`` of a face as the stylizer aligns it, or None."""
    from geostyle.faces.align import apply_affine, estimate_alignment

    try:
        alignment = estimate_alignment(landmarks, stylizer.size, stylizer.zoom)
    except ValueError:
        return None
    return alignment, apply_affine(alignment.matrix, landmarks)


def neck_stretch(stylizer, image: np.ndarray, landmarks: np.ndarray, strength: float) -> float | None:
    """Largest vertical magnification of the product's warp below the chin (see the module
    docstring): the face's spline as ``Stylizer.frame_warp`` solves it (anchors, frame pins), and
    beyond the crop the surroundings' tapered copy of it (``infer.composite.taper``)."""
    from geostyle.faces.align import apply_affine
    from geostyle.faces.landmarks import INDEX
    from geostyle.infer.composite import taper

    h, w = image.shape[:2]
    aligned = _crop_points(stylizer, landmarks)
    if aligned is None:
        return None
    alignment, pts = aligned
    warp = stylizer.frame_warp(alignment, pts, h, w, strength)
    chin = stylizer.fields.target(pts, strength)[INDEX["chin"]]
    if warp is None or not np.isfinite(chin).all():
        return None
    # Down to the anchored square's border; the part beyond the frame is dropped below.
    ys = np.linspace(chin[1], warp.reach, 400)
    line = np.stack([np.full_like(ys, chin[0]), ys], -1)
    disp = stylizer.fields.displacement(warp.spline, line)[:, 1]
    if warp.reach > 1.0:
        disp = np.where(np.abs(line).max(-1) > 1.0, disp * taper(line, warp.reach), disp)
    src = ys + disp
    # Keep only the part of the line inside the frame (output position mapped back to the frame).
    crop_px = (line + 1.0) * (alignment.size / 2.0) - 0.5
    frame_px = apply_affine(alignment.inverse, crop_px)
    inside = (frame_px[:, 1] <= h - 0.5) & (frame_px[:, 0] >= -0.5) & (frame_px[:, 0] <= w - 0.5)
    if inside.sum() < 10:
        return None
    ys, src = ys[inside], src[inside]
    step = np.diff(src)
    if (step <= 1e-9).any():
        return float("inf")  # the map folds: rows of the photo repeat or reverse
    return float(np.max(np.diff(ys) / step))


def chin_lift_kept(stylizer, image: np.ndarray, landmarks: np.ndarray, strength: float) -> float | None:
    """Share of the style geometry's chin move the product keeps (``infer.fields.limit_moves``: at
    most half the chin's distance to the picture's edge)."""
    from geostyle.faces.landmarks import INDEX, pixels_to_normalized
    from geostyle.infer.composite import frame_pins, widened
    from geostyle.infer.fields import limit_moves

    h, w = image.shape[:2]
    aligned = _crop_points(stylizer, landmarks)
    if aligned is None:
        return None
    alignment, pts = aligned
    s = alignment.size
    source = pixels_to_normalized(pts, s, s)
    target = stylizer.fields.target(pts, strength)
    chin = INDEX["chin"]
    full = np.linalg.norm(target[chin] - source[chin])
    if not np.isfinite(full) or full < 1e-6:
        return None
    pins = frame_pins(alignment, h, w, widened(alignment, stylizer.reach).size / s)
    if not len(pins):
        return 1.0
    kept = limit_moves(source, target, pins)
    return float(np.linalg.norm(kept[chin] - source[chin]) / full)


def _faces(backend, paths):
    from geostyle.data.images import load_image

    for path in paths:
        image = load_image(path)
        faces = backend.detect(image, path)
        if faces:
            yield path, image, faces[0].warp_landmarks()


def _video_frame(name: str, index: int = 30) -> np.ndarray:
    import av

    with av.open(str(VIDEOS / f"{name}.mp4")) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="rgb24")
    raise RuntimeError(f"{name}.mp4 has fewer than {index + 1} frames")


def picture(stylizers, backend, helen: list[Path], out: Path, height: int = 300) -> None:
    from geostyle.data.images import load_image, save_image
    from geostyle.faces.landmarks import INDEX

    images = [(f"{n}.mp4 frame 30", _video_frame(n)) for n in PICTURE_VIDEOS]
    images += [(f"HELEN {helen[i].stem}", load_image(helen[i])) for i in PICTURE_HELEN]
    images.append((f"selfie {PICTURE_SELFIE[:-4]}", load_image(SELFIES / PICTURE_SELFIE)))
    rows = []
    for name, image in images:
        face = backend.detect(image)[0]
        landmarks = face.warp_landmarks()
        warped = {r: st.warp_frame(image, [landmarks]) for r, st in stylizers.items()}
        # The lower face, enlarged: the warped mouth (lifted well above the photo's) down to the neck.
        width = float(np.ptp(landmarks[np.isfinite(landmarks[:, 0]), 0]))
        cx, cy = landmarks[INDEX["chin"]]
        half = int(0.7 * width)
        y0 = int(max(0, cy - 0.9 * width))
        x0 = int(max(0, cx - half))
        y1, x1 = min(image.shape[0], y0 + 2 * half), min(image.shape[1], x0 + 2 * half)

        def fit(x: np.ndarray) -> np.ndarray:
            return cv2.resize(x, (int(round(x.shape[1] * height / x.shape[0])), height), interpolation=cv2.INTER_AREA)

        def zoom(x: np.ndarray, box: tuple[int, int, int, int] = (x0, y0, x1, y1)) -> np.ndarray:
            return cv2.resize(x[box[1] : box[3], box[0] : box[2]], (height, height), interpolation=cv2.INTER_CUBIC)

        panels = [_label(fit(image), name)]
        panels += [_label(fit(warped[r]), f"strength 1, reach {r:g}") for r in (1.0, 1.5)]
        panels += [_label(zoom(warped[r]), f"chin, reach {r:g}") for r in (1.0, 1.5)]
        rows.append(np.hstack(panels))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    sheet = np.vstack(rows)
    legend = np.full((26, sheet.shape[1], 3), 255, np.uint8)
    cv2.putText(legend, "warp alone (no generator) to the anime model's geometry at strength 1; reach 1 = anchors on "
                "the crop border (training), 1.5 = the product's default", (6, 18),
                cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
    save_image(out, np.vstack([sheet, legend]))
    print(f"wrote {out}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="anime")
    ap.add_argument("--images", type=int, default=150, help="HELEN held-out photos (from image 150 on)")
    ap.add_argument("--selfies", type=int, default=100)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "warp_reach")
    ap.add_argument("--picture", type=Path, default=ROOT / "docs" / "img" / "warp_reach.png")
    args = ap.parse_args(argv)

    from geostyle.faces.backends.base import get_backend
    from geostyle.infer.stylize import Stylizer

    backend = get_backend("mediapipe")
    stylizers = {r: Stylizer(args.model, strength=1.0, part_gains={}, runtime="torch", reach=r) for r in REACHES}
    helen = sorted(HELEN.glob("*.jpg"))[150 : 150 + args.images]
    sets = {
        "HELEN held-out (in the wild)": helen,
        "selfies (tight 256 px crops)": sorted(SELFIES.glob("*.jpg"))[: args.selfies],
    }
    results: dict = {"model": args.model, "sets": {}}
    for set_name, paths in sets.items():
        values: dict[str, list[float]] = {f"{s:g}/{r:g}": [] for s in STRENGTHS for r in REACHES}
        kept: dict[str, list[float]] = {f"{s:g}/{r:g}": [] for s in STRENGTHS for r in REACHES}
        n = 0
        for _, image, landmarks in _faces(backend, paths):
            n += 1
            for s in STRENGTHS:
                for r, st in stylizers.items():
                    v = neck_stretch(st, image, landmarks, s)
                    if v is not None:
                        values[f"{s:g}/{r:g}"].append(v)
                    k = chin_lift_kept(st, image, landmarks, s)
                    if k is not None:
                        kept[f"{s:g}/{r:g}"].append(k)
        results["sets"][set_name] = {
            "faces": n,
            "stretch": {
                k: {
                    "n": len(v),
                    "median": float(np.median(v)),
                    "p90": float(np.percentile(v, 90, method="lower")),  # inf (folded) sorts last
                    "share_over_2": float(np.mean(np.asarray(v) > 2.0)),
                    "share_folded": float(np.mean(np.isinf(v))),
                    "chin_lift_kept_median": float(np.median(kept[k])) if kept[k] else None,
                    "share_chin_lift_limited": float(np.mean(np.asarray(kept[k]) < 0.99)) if kept[k] else None,
                }
                for k, v in values.items()
                if v
            },
        }
        print(set_name, n, "faces")
    lines = [
        "# Warp reach: the neck below a lifted chin",
        "",
        f"`python benchmarks/warp_reach.py` (model `{args.model}`). Neck stretch = largest vertical "
        "magnification of the product's warp (frame pins, limited moves, taper) on the line from the "
        "chin's target straight down to where the warp stops (1 = the neck only moves; over 2 reads "
        "as a smear; a fold counts as infinite). Reach in crop half-sides: 1 = anchors on the crop "
        "border as in training, 1.5 = the product's default. Chin lift kept = share of the style "
        "geometry's chin move left after limiting moves to half the distance to the picture's edge.",
        "",
        "| photos | faces | strength | reach | median stretch | 90th percentile | share > 2 | share folded | chin lift kept (median) | faces with the chin lift limited |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for set_name, res in results["sets"].items():
        for key, v in res["stretch"].items():
            s, r = key.split("/")
            lines.append(
                f"| {set_name} | {res['faces']} | {s} | {r} | {v['median']:.2f} | {v['p90']:.2f} | {v['share_over_2']:.2f} | {v['share_folded']:.2f} | {v['chin_lift_kept_median']:.2f} | {v['share_chin_lift_limited']:.2f} |"
            )
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    with_face = [p for p, _, _ in _faces(backend, helen[:10])]
    picture(stylizers, backend, with_face, args.picture)
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
