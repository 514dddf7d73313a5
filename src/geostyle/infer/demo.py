"""The main job on the bundled example: the public-domain NASA astronaut portrait (Eileen Collins).

Shows every stage a person wants to see: landmarks on the photo, the aligned crop, the TPS warp
toward the style geometry at several strengths, and the stylized result pasted back into the frame.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from geostyle.data.images import load_image, save_image
from geostyle.faces.align import apply_affine, estimate_alignment, paste_back, warp_to_crop
from geostyle.faces.draw import draw_landmarks
from geostyle.faces.landmarks import pixels_to_normalized
from geostyle.infer.stylize import Stylizer
from geostyle.train.samples import image_grid
from geostyle.warp.grid import warp_image

EXAMPLE = Path(__file__).resolve().parents[1] / "assets" / "astronaut.png"


def run_demo(
    out_dir: str | Path,
    model: str = "anime",
    image_path: str | Path | None = None,
    strengths: tuple[float, ...] = (0.0, 0.5, 1.0),
) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    src = Path(image_path) if image_path else EXAMPLE
    image = load_image(src)
    t0 = time.perf_counter()
    stylizer = Stylizer(model)
    face = stylizer.detect(image, src)
    t_detect = time.perf_counter() - t0
    written: dict[str, Path] = {}

    written["landmarks"] = out / "landmarks.png"
    save_image(written["landmarks"], draw_landmarks(image, face.landmarks))

    alignment = estimate_alignment(face.landmarks, stylizer.size, stylizer.zoom)
    crop = warp_to_crop(image, alignment)
    crop_pts = apply_affine(alignment.matrix, face.landmarks)
    written["aligned"] = out / "aligned.png"
    save_image(written["aligned"], draw_landmarks(crop, crop_pts))

    # Geometry preview: the photo resampled toward the style's geometry at several strengths.
    size = crop.shape[0]
    x = torch.from_numpy(crop).permute(2, 0, 1)[None].float().div(127.5).sub(1)
    pts = pixels_to_normalized(crop_pts, size, size)
    mask = torch.from_numpy(np.isfinite(pts).all(-1))[None]
    p = torch.from_numpy(np.nan_to_num(pts)).float()[None]
    warped_row, styled_row = [], []
    for alpha in strengths:
        t = stylizer.aligner.photo_target(p, mask, strength=alpha)
        grid = stylizer.aligner.field(t, p, mask)
        w = warp_image(x, grid)[0].clamp(-1, 1).add(1).mul(127.5).round().byte().permute(1, 2, 0).numpy()
        t_px = (t[0].numpy() + 1) * size / 2 - 0.5
        warped_row.append(draw_landmarks(w, np.where(mask[0, :, None].numpy(), t_px, np.nan)))
        stylizer.aligner.strength = alpha
        styled_row.append(stylizer.stylize_crop(crop, crop_pts))
    stylizer.aligner.strength = stylizer.strength
    written["geometry"] = out / "geometry_strengths.png"
    save_image(written["geometry"], image_grid([warped_row, styled_row], [f"alpha={a:g}" for a in strengths]))

    t1 = time.perf_counter()
    styled = stylizer.stylize_crop(crop, crop_pts)
    t_style = time.perf_counter() - t1
    written["stylized_crop"] = out / "stylized_crop.png"
    save_image(written["stylized_crop"], styled)
    frame = paste_back(image, styled, alignment, feather=0.12)
    written["stylized"] = out / "stylized.png"
    save_image(written["stylized"], frame)
    written["before_after"] = out / "before_after.png"
    save_image(written["before_after"], np.concatenate([image, frame], axis=1))
    print(
        f"model {stylizer.path.name}: landmarks {t_detect * 1000:.0f} ms (incl. model load), "
        f"generator {t_style * 1000:.0f} ms at {size}x{size}"
    )
    return written
