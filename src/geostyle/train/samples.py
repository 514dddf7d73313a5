"""Landmark dots on sample-grid tiles (the grids themselves: :mod:`geostyle.data.contact_sheet`)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from geostyle.faces.landmarks import normalized_to_pixels


def draw_points(image: np.ndarray, points: np.ndarray, mask: np.ndarray, color=(0, 255, 0)) -> np.ndarray:
    """Dots at ``points`` (normalised frame) on an ``(H, W, 3)`` uint8 image."""
    h, w = image.shape[:2]
    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    px = normalized_to_pixels(np.asarray(points, dtype=np.float64), w, h)
    r = max(1.0, w / 128)
    for (x, y), ok in zip(px, mask):
        if ok:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=color)
    return np.asarray(pil)
