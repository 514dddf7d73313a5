"""The main job on the bundled example: the public-domain NASA astronaut portrait (Eileen Collins).

Shows every stage a person wants to see: landmarks on the photo, the aligned crop, the TPS warp
toward the style geometry at several strengths, the stylized crop pasted back into the photo, and the
whole frame as ``geostyle stylize`` makes it (background through the generator too).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from geostyle.data.contact_sheet import image_grid
from geostyle.data.images import load_image, save_image
from geostyle.faces.align import paste_back, warp_to_crop
from geostyle.faces.draw import draw_landmarks
from geostyle.infer.stylize import Stylizer

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
    aligned = stylizer.align(image, src)
    t_detect = time.perf_counter() - t0
    crop, crop_pts = aligned.crop, aligned.landmarks
    written: dict[str, Path] = {}

    written["landmarks"] = out / "landmarks.png"
    save_image(written["landmarks"], draw_landmarks(image, aligned.face.landmarks))
    written["aligned"] = out / "aligned.png"
    save_image(written["aligned"], draw_landmarks(crop, crop_pts))

    # Geometry preview: the photo moved toward the style's geometry at several strengths, as whole
    # frames move it (top row, cut to the aligned crop, target landmarks drawn), and the generator's
    # output at the same strengths.
    warped_row, styled_row = [], []
    face_points = aligned.face.warp_landmarks()
    for alpha in strengths:
        _, target = stylizer.target_field(crop_pts, crop.shape[0], strength=alpha)
        warped = warp_to_crop(stylizer.warp_frame(image, [face_points], strength=alpha), aligned.alignment)
        warped_row.append(draw_landmarks(warped, target))
        styled_row.append(stylizer.stylize_aligned(image, aligned, strength=alpha).crop)
    written["geometry"] = out / "geometry_strengths.png"
    save_image(written["geometry"], image_grid([warped_row, styled_row], [f"alpha={a:g}" for a in strengths]))

    t1 = time.perf_counter()
    styled = stylizer.stylize_aligned(image, aligned).crop  # the product's crop: its warp reads beyond it
    t_style = time.perf_counter() - t1
    written["stylized_crop"] = out / "stylized_crop.png"
    save_image(written["stylized_crop"], styled)
    pasted = paste_back(image, styled, aligned.alignment, feather=0.12)
    written["stylized"] = out / "stylized.png"
    save_image(written["stylized"], pasted)
    # What `geostyle stylize` writes: the whole frame through the generator, the face with the warp.
    whole = stylizer.stylize_frame(image, src)
    written["frame"] = out / "frame.png"
    save_image(written["frame"], whole)
    written["before_after"] = out / "before_after.png"
    save_image(written["before_after"], np.concatenate([image, pasted, whole], axis=1))
    print(
        f"model {stylizer.path.name}: landmarks {t_detect * 1000:.0f} ms (incl. model load), "
        f"warp + generator {t_style * 1000:.0f} ms at {crop.shape[0]}x{crop.shape[1]}"
    )
    return written
