"""Drawing landmarks and boxes on RGB images (for previews and debugging; no detector involved)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from geostyle.faces.landmarks import CANONICAL_NAMES

Color = tuple[int, int, int]
_SHIFT = 4  # sub-pixel bits for cv2 drawing


def _fixed(x: float, y: float) -> tuple[int, int]:
    # pixel-frame coordinates (pixel centres at integers) -> cv2 fixed-point coordinates
    return int(round(x * (1 << _SHIFT))), int(round(y * (1 << _SHIFT)))


def default_radius(image: np.ndarray) -> int:
    """A dot radius that stays visible on small and large images."""
    return max(1, int(round(max(image.shape[:2]) / 200)))


def draw_landmarks(
    image: np.ndarray,
    landmarks: np.ndarray,
    color: Color | Sequence[Color] = (0, 255, 0),
    radius: int | None = None,
    labels: bool | Sequence[str] = False,
) -> np.ndarray:
    """A copy of ``image`` ((H, W, 3) uint8 RGB) with ``landmarks`` ((N, 2) pixels) drawn as dots.

    ``color`` is one RGB colour or one per point. Missing (NaN) points are skipped. ``labels=True``
    writes each point's index next to it (the canonical order for a ``(K, 2)`` set); a sequence of
    strings writes those instead.
    """
    out = np.ascontiguousarray(image, dtype=np.uint8).copy()
    pts = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)
    r = default_radius(out) if radius is None else int(radius)
    if len(color) == 3 and all(isinstance(c, (int, np.integer)) for c in color):
        colors = [tuple(int(c) for c in color)] * len(pts)  # type: ignore[arg-type]
    else:
        colors = [tuple(int(v) for v in c) for c in color]  # type: ignore[union-attr]
        if len(colors) != len(pts):
            raise ValueError(f"{len(colors)} colours for {len(pts)} points")
    if labels is True:
        texts = [str(i) for i in range(len(pts))]
    elif labels:
        texts = [str(t) for t in labels]
        if len(texts) != len(pts):
            raise ValueError(f"{len(texts)} labels for {len(pts)} points")
    else:
        texts = []
    font_scale = max(0.3, max(out.shape[:2]) / 1200)
    for i, (x, y) in enumerate(pts):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        cv2.circle(out, _fixed(x, y), r << _SHIFT, colors[i], -1, cv2.LINE_AA, _SHIFT)
        if texts:
            org = (int(round(x)) + r + 1, int(round(y)) - r - 1)
            cv2.putText(out, texts[i], org, cv2.FONT_HERSHEY_SIMPLEX, font_scale, colors[i], 1, cv2.LINE_AA)
    return out


def draw_box(
    image: np.ndarray, box: Sequence[float], color: Color = (255, 255, 0), thickness: int = 1
) -> np.ndarray:
    """A copy of ``image`` with the box ``(x0, y0, x1, y1)`` (pixel frame) outlined."""
    out = np.ascontiguousarray(image, dtype=np.uint8).copy()
    x0, y0, x1, y1 = (float(v) for v in box)
    cv2.rectangle(
        out, _fixed(x0, y0), _fixed(x1, y1), tuple(int(c) for c in color), thickness, cv2.LINE_AA, _SHIFT
    )
    return out


def side_colors(names: Sequence[str] = CANONICAL_NAMES) -> list[Color]:
    """Per-point colours by side: subject's right red, subject's left blue, midline green."""
    out: list[Color] = []
    for name in names:
        if name.startswith("right") or name.endswith("_right") or "_right_" in name:
            out.append((255, 40, 40))
        elif name.startswith("left") or name.endswith("_left") or "_left_" in name:
            out.append((40, 90, 255))
        else:
            out.append((40, 220, 40))
    return out


def draw_faces(
    image: np.ndarray, faces: Sequence, radius: int | None = None, labels: bool = False
) -> np.ndarray:
    """A copy of ``image`` with each :class:`~geostyle.faces.landmarks.Face`'s box and canonical
    landmarks drawn, points coloured by side (see :func:`side_colors`)."""
    out = np.ascontiguousarray(image, dtype=np.uint8).copy()
    thickness = max(1, int(round(max(out.shape[:2]) / 400)))
    for face in faces:
        out = draw_box(out, face.box, thickness=thickness)
        out = draw_landmarks(out, face.landmarks, side_colors(), radius=radius, labels=labels)
    return out
