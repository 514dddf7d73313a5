"""Pictures of the mediapipe outline before/after the pose-dependent regression.

    python benchmarks/landmark_pictures.py [--styles runs/datasets/anime_animeface]

1. ``docs/img/landmarks_turned.png``: HELEN held-out heads turned the most (yaw from the mesh),
   cropped around the face: human truth (white rings), the fixed mesh vertices (before, red), the
   regression (after, green); the far-side points (confidence < 0.5) are drawn hollow.
2. ``docs/img/warp_outline.png``: selfies warped to the anime geometry at strength 1, before and
   after. Before: the fixed vertices, every point trusted; after: the regression, the hidden
   far-side points left out of the warp (as ``geostyle stylize`` does). The photo geometry of each
   comes from the same FaceMesh detections of the other selfies of ``shared/data/photos/selfie``
   mapped the same way (each face aligned by its own points, as ``geostyle prepare`` does); the
   style geometry is the prepared anime dataset ``--styles`` for both.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from geostyle.data.images import load_image, save_image
from geostyle.faces.backends.base import get_backend
from geostyle.faces.backends.files import read_pts
from geostyle.faces.backends.mediapipe_mesh import mesh_to_canonical
from geostyle.faces.landmarks import INDEX, from_ibug68
from geostyle.faces.outline import OUTLINE_NAMES

ROOT = Path(__file__).resolve().parents[1]
HELEN = ROOT.parent / "shared" / "data" / "landmarks" / "helen"
SELFIES = ROOT.parent / "shared" / "data" / "photos" / "selfie"
TURNED = (197, 190, 218, 227, 257, 226)  # held-out HELEN images with |yaw| > 30 degrees
# frontal; turned each way (-31, +35 deg: every point kept); +43 deg: the far-side jaw left out
WARPED = ("female_10262.jpg", "female_32347.jpg", "female_21409.jpg", "female_25011.jpg")
# the outline in drawing order: right jaw top -> chin -> left jaw top
CONTOUR = ("jaw_right", "cheek_right", "jaw_right_lower", "chin", "jaw_left_lower", "cheek_left", "jaw_left")


def _label(panel: np.ndarray, text: str) -> np.ndarray:
    out = panel.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 22), (0, 0, 0), -1)
    cv2.putText(out, text, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _draw_contour(image, points, colour, confidence=None, scale=1.0, offset=(0, 0)):
    pts = [(points[INDEX[n]] - offset) * scale for n in CONTOUR]
    for a, b in zip(pts[:-1], pts[1:], strict=True):
        cv2.line(image, tuple(int(round(v)) for v in a), tuple(int(round(v)) for v in b), colour, 1, cv2.LINE_AA)
    for name, p in zip(CONTOUR, pts, strict=True):
        hollow = confidence is not None and confidence[INDEX[name]] < 0.5
        cv2.circle(image, tuple(int(round(v)) for v in p), 4, colour, 1 if hollow else -1, cv2.LINE_AA)


def turned_heads(out: Path, size: int = 300) -> None:
    images = sorted(HELEN.glob("*.jpg"))
    backend = get_backend("mediapipe")
    panels = []
    for index in TURNED:
        path = images[index]
        image = load_image(path)
        truth = from_ibug68(read_pts(path.with_suffix(".pts")))
        # the annotated face (a photo may hold several)
        face = min(backend.detect(image, path), key=lambda f: float(np.nanmean(np.abs(f.landmarks - truth))))
        mesh = np.column_stack([face.extra["mesh"], face.extra["mesh_z"]])
        before, after = mesh_to_canonical(mesh, outline=False), face.landmarks
        x0, y0, x1, y1 = face.box
        side = 1.25 * max(x1 - x0, y1 - y0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        offset = np.array([cx - side / 2, cy - side / 2])
        scale = size / side
        matrix = np.array([[scale, 0, -scale * offset[0]], [0, scale, -scale * offset[1]]])
        crop = cv2.warpAffine(image, matrix, (size, size), borderMode=cv2.BORDER_REPLICATE)
        for name in CONTOUR:
            p = (truth[INDEX[name]] - offset) * scale
            cv2.circle(crop, tuple(int(round(v)) for v in p), 7, (255, 255, 255), 2, cv2.LINE_AA)
        _draw_contour(crop, before, (230, 40, 40), scale=scale, offset=offset)
        _draw_contour(crop, after, (40, 220, 40), face.extra["confidence"], scale=scale, offset=offset)
        iod = np.linalg.norm(truth[INDEX["right_eye_outer"]] - truth[INDEX["left_eye_outer"]])
        outline = [INDEX[n] for n in OUTLINE_NAMES]
        e_b = np.linalg.norm(before[outline] - truth[outline], axis=1).mean() / iod
        e_a = np.linalg.norm(after[outline] - truth[outline], axis=1).mean() / iod
        panels.append(_label(crop, f"yaw {face.extra['yaw']:+.0f}  outline {e_b:.3f} -> {e_a:.3f}"))
    backend.close()
    rows = [np.hstack(panels[i : i + 3]) for i in range(0, len(panels), 3)]
    sheet = np.vstack(rows)
    legend = np.full((26, sheet.shape[1], 3), 255, np.uint8)
    cv2.putText(legend, "white rings: human truth   red: fixed vertices (before)   green: regression (after); "
                "hollow = confidence < 0.5", (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
    save_image(out, np.vstack([sheet, legend]))
    print(f"wrote {out}")


def _warp(image: np.ndarray, landmarks: np.ndarray, model, alpha: float, size: int):
    """The aligned crop warped toward ``model``'s geometry at ``alpha`` (``landmarks``: pixels of
    ``image``, NaN = left out of the warp), and the crop's alignment."""
    import torch

    from geostyle.faces.align import apply_affine, estimate_alignment, warp_to_crop
    from geostyle.warp.geometry import warp_crop_to_target
    from geostyle.warp.grid import warp_image

    alignment = estimate_alignment(landmarks, size=size, zoom=float(model.meta["zoom"]))
    crop = warp_to_crop(image, alignment)
    points = apply_affine(alignment.matrix, landmarks)
    grid = warp_crop_to_target(crop, points, model.target(points, alpha, size=size))
    img = torch.from_numpy(crop).permute(2, 0, 1)[None].float()
    out = warp_image(img, torch.from_numpy(grid)[None])[0].permute(1, 2, 0).numpy()
    return np.ascontiguousarray(np.clip(np.rint(out), 0, 255).astype(np.uint8)), alignment


def selfie_geometries(backend, styles: Path, skip: tuple[str, ...]):
    """``(before, after, size)``: geometry models from the selfies' photo geometry mapped with the
    fixed vertices (every point) and with the regression (hidden points missing), to the same
    prepared style dataset."""
    from geostyle.data.manifest import landmarks_array, load_manifest
    from geostyle.faces.align import apply_affine, estimate_alignment
    from geostyle.warp.geometry import GeometryModel

    manifest = load_manifest(styles)
    size, zoom = manifest.size, float(manifest.zoom)
    before, after = [], []
    for path in sorted(SELFIES.glob("*.jpg")):
        if path.name in skip:
            continue
        faces = backend.detect(load_image(path), path)
        if not faces:
            continue
        face = faces[0]
        for points, out in ((_fixed(face), before), (face.warp_landmarks(), after)):
            alignment = estimate_alignment(points, size=size, zoom=zoom)
            out.append(apply_affine(alignment.matrix, points))
    models = []
    for photos in (before, after):
        model = GeometryModel.fit(np.stack(photos), landmarks_array(manifest), size=size)
        model.meta["zoom"] = zoom
        models.append(model)
    print(f"photo geometry: {len(before)} selfies; style geometry: {len(manifest.items)} items of {styles}")
    return models[0], models[1], size


def _fixed(face) -> np.ndarray:
    return mesh_to_canonical(np.column_stack([face.extra["mesh"], face.extra["mesh_z"]]), outline=False)


def warped(out: Path, styles: Path) -> None:
    from geostyle.faces.align import apply_affine

    backend = get_backend("mediapipe")
    before_model, after_model, size = selfie_geometries(backend, styles, WARPED)
    rows = []
    for name in WARPED:
        image = load_image(SELFIES / name)
        face = backend.detect(image)[0]
        b, b_align = _warp(image, _fixed(face), before_model, 1.0, size)
        a, a_align = _warp(image, face.warp_landmarks(), after_model, 1.0, size)
        photo, _ = _warp(image, face.landmarks, after_model, 0.0, size)
        drawn = photo.copy()  # the after crop; the before crop differs by a pixel or two
        _draw_contour(drawn, apply_affine(a_align.matrix, _fixed(face)), (230, 40, 40))
        after_points = apply_affine(a_align.matrix, face.landmarks)
        _draw_contour(drawn, after_points, (40, 220, 40), face.extra["confidence"])
        # the lower face, twice the size: where a wrong jaw point drags the neck
        h = size // 2
        zoom = [cv2.resize(x[h:, h // 2 : h // 2 + h], (size, size), interpolation=cv2.INTER_CUBIC) for x in (b, a)]
        rows.append(np.hstack([
            _label(drawn, f"{name[:-4]} yaw {face.extra['yaw']:+.0f}"),
            _label(b, "anime 1.0, before"), _label(a, "anime 1.0, after"),
            _label(zoom[0], "lower face, before"), _label(zoom[1], "lower face, after"),
        ]))  # fmt: skip
    backend.close()
    sheet = np.vstack(rows)
    legend = np.full((26, sheet.shape[1], 3), 255, np.uint8)
    cv2.putText(legend, "first column: outline before (red, fixed vertices) and after (green, regression; hollow = "
                "hidden, left out of the warp); TPS warp to the mean anime geometry at strength 1", (6, 18),
                cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
    save_image(out, np.vstack([sheet, legend]))
    print(f"wrote {out}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--styles", type=Path, default=ROOT / "runs" / "datasets" / "anime_animeface",
                    help="prepared anime style dataset (geostyle prepare --backend animeface)")  # fmt: skip
    ap.add_argument("--docs", type=Path, default=ROOT / "docs")
    args = ap.parse_args(argv)
    turned_heads(args.docs / "img" / "landmarks_turned.png")
    if (args.styles / "manifest.json").is_file():
        warped(args.docs / "img" / "warp_outline.png", args.styles)
    else:
        print(f"no prepared style dataset at {args.styles}: warp picture skipped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
