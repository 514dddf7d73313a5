"""A contact sheet of a prepared dataset: aligned crops with their landmarks, for a quick look."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from geostyle.data.images import load_image
from geostyle.data.manifest import Manifest
from geostyle.faces.landmarks import CANONICAL_NAMES, PARTS

# RGB colour per facial part; points outside PARTS are grouped as brows or contour.
PART_COLORS: dict[str, tuple[int, int, int]] = {
    "right_eye": (0, 230, 255),
    "left_eye": (60, 255, 60),
    "nose": (255, 160, 0),
    "mouth": (255, 40, 120),
    "brows": (255, 240, 0),
    "contour": (80, 120, 255),
}


def _point_colors() -> list[tuple[int, int, int]]:
    part_of = {name: part for part, names in PARTS.items() for name in names}
    colors = []
    for name in CANONICAL_NAMES:
        part = part_of.get(name) or ("brows" if "brow" in name else "contour")
        colors.append(PART_COLORS[part])
    return colors


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: fixed bitmap font
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def contact_sheet(
    manifest: Manifest, path: str | Path, max_items: int = 64, cols: int = 8, thumb: int = 128
) -> Path:
    """Draw up to ``max_items`` crops (evenly spread over the dataset) in a grid of ``cols`` columns,
    each ``thumb`` px with its landmarks coloured by part (missing points are not drawn) and a small
    ``id · backend`` caption, under a header line with the dataset summary. Writes a PNG to ``path``."""
    path = Path(path)
    items = list(manifest.items)
    if len(items) > max_items:
        picks = np.unique(np.linspace(0, len(items) - 1, max_items).round().astype(int))
        items = [items[i] for i in picks]
    cols = max(1, min(cols, len(items) or 1))
    rows = max(1, -(-len(items) // cols))
    caption_h = max(10, thumb // 10)
    header_h = caption_h + 6
    cell_h = thumb + caption_h
    sheet = Image.new("RGB", (cols * thumb, header_h + rows * cell_h), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    font = _font(caption_h - 2)

    counts = ", ".join(f"{k} {v}" for k, v in manifest.summary.items() if v or k == "ok")
    header = f"{manifest.root.name if manifest.root else ''}  {manifest.domain} {manifest.size}px zoom {manifest.zoom:g}"
    header += f"  |  {counts}  |  showing {len(items)}"
    draw.text((4, 3), _fit(draw, header, font, sheet.width - 8), fill=(230, 230, 230), font=font)
    if not items:
        draw.text((4, header_h + 4), "no items", fill=(255, 120, 120), font=font)

    colors = _point_colors()
    radius = max(1.0, thumb / 100)
    for n, item in enumerate(items):
        x0, y0 = (n % cols) * thumb, header_h + (n // cols) * cell_h
        try:
            crop = Image.fromarray(load_image(item.crop_path))
        except Exception:  # a missing crop is shown as a red cell, not a crash
            crop = Image.new("RGB", (thumb, thumb), (120, 0, 0))
        sheet.paste(crop.resize((thumb, thumb), Image.Resampling.BILINEAR), (x0, y0))
        scale = thumb / float(manifest.size)
        pts = (np.asarray(item.landmarks, dtype=np.float64) + 0.5) * scale - 0.5
        for (px, py), color in zip(pts, colors, strict=False):
            if not (np.isfinite(px) and np.isfinite(py)):
                continue
            cx, cy = x0 + px, y0 + py
            if not (x0 <= cx < x0 + thumb and y0 <= cy < y0 + thumb):
                continue
            draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=color)
        caption = _fit(draw, f"{item.id} · {item.backend}", font, thumb - 4)
        draw.text((x0 + 2, y0 + thumb + 1), caption, fill=(210, 210, 210), font=font)

    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


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
