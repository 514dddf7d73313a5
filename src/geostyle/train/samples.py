"""Sample grids: the pictures a person looks at to judge a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from geostyle.faces.landmarks import normalized_to_pixels


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """``(B, 3, H, W)`` in [-1, 1] -> ``(B, H, W, 3)`` uint8."""
    arr = images.detach().float().clamp(-1, 1).add(1).mul(127.5).round().byte()
    return arr.permute(0, 2, 3, 1).cpu().numpy()


def from_uint8(image: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 -> ``(1, 3, H, W)`` float in [-1, 1] (inverse of :func:`to_uint8`)."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float().div(127.5).sub(1)


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


def image_grid(rows: list[list[np.ndarray]], labels: list[str] | None = None, pad: int = 2) -> np.ndarray:
    """Tile equally sized ``(H, W, 3)`` images; optional column labels on a strip at the top."""
    h, w = rows[0][0].shape[:2]
    cols = max(len(r) for r in rows)
    top = 14 if labels else 0
    canvas = np.full((top + len(rows) * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            y, x = top + pad + i * (h + pad), pad + j * (w + pad)
            canvas[y : y + h, x : x + w] = img
    if labels:
        pil = Image.fromarray(canvas)
        draw = ImageDraw.Draw(pil)
        for j, label in enumerate(labels):
            draw.text((pad + j * (w + pad) + 2, 1), label, fill=(0, 0, 0))
        canvas = np.asarray(pil)
    return canvas


def save_grid(path: str | Path, rows: list[list[np.ndarray]], labels: list[str] | None = None) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image_grid(rows, labels)).save(path)
