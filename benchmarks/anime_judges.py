"""What the two judges of the anime gates react to: geometry, texture, and which face region.

    python benchmarks/anime_judges.py [--model anime] [--n 40]

The anime gates ask for an anime-face detection rate (animeface, likelihood >= 0.99) of 0.8 on
crops *and* an identity rank-1 (dlib embeddings) of 0.5. This study puts images that are partly the
model's output and partly a real anime face side by side, on held-out selfies, to see which part of
an image each judge reads:

* **geometry**: a held-out anime face, TPS-aligned onto each selfie's target geometry at several
  strengths and part gains (the exemplar's texture, the photo's layout), beside the model's output
  and the selfie itself warped the same way;
* **regions** (at strength 0.35 with eyes, nose and mouth at full style geometry): the model's crop
  with one region taken from the aligned anime face (eyes, skin, face, hair), and the reverse;
* **textures** (strength 0.35, eyes at full style geometry): candidate training targets: the selfie
  warped, the cartoon target of the shipped recipe (in-graph filter + exemplar palette + the
  exemplar's eyes), the same without the palette, half photo half target, the exemplar's skin;
* **skin** (``--sections skin``; at the shipped geometry and with eyes, nose and mouth at full
  style geometry): which property of an anime face's skin the judge reads: the model's own skin
  (the face inside its outline, eyes and mouth left out) recoloured to the aligned anime face's
  skin (Lab mean and spread), smoothed (fine texture gone, shading kept: a masked Gaussian blur),
  flat (one colour), smoothed and recoloured, the anime skin's lightness or chroma alone, and the
  anime face's skin itself.
* **scales** (``--sections scales``): at which scale each judge reads a face: the model's crop
  blurred (Gaussian sigma 3, 6, 12 px at 256), and hybrids of two images' lightness split at that
  sigma: the aligned anime face's coarse lightness (eyes, nose and mouth at full style geometry)
  under the model's fine lightness, and the reverse.
* **lines** (``--sections lines``): line art drawn onto the model's crop (dark difference-of-Gaussians
  lines of its own lightness or of the warped selfie's: the form the generator's ``ink`` draws,
  here on Lab lightness), the crop unsharp-masked, and the generator's ink and Gaussian forms of
  it (sigma 1-3 px) darkening its RGB.
* **ink** (``--sections ink``): the generator's own ink on the model's crop with its threshold and
  gain changed, only on the eyes, brows and mouth, or on everything but the inner face's skin.
* **catchlights** (``--sections catchlights``): the inked crop with anime eyes drawn in where the
  landmarks put them: a darkened iris (RGB x 0.3 in a soft disc of radius 0.22 of the eye's width)
  and a white catchlight (radius 0.08 or 0.12, up and toward the image's left in both eyes).
* **eyeshape** (``--sections eyeshape``): the product path (ink on) with the eyes reshaped at
  strength 0.35: each eye's opening (its top and bottom points) at the full style geometry's
  height about the eye's own centre while its corners stay at 0.35 (the corners and the nose are
  what the identity judge's 5-point alignment reads), or the whole eye's shape at 1.0 about its
  0.35 centre; and the rest of the face (outline, brows) at full style geometry with the nose and
  mouth (and eyes) at 0.35; or each eye's own shape enlarged about its centre; each also with the
  product's anime eyes (``--eyes 1``: :func:`geostyle.infer.eyes.draw_anime_eyes`, the
  catchlights section's dark iris with a catchlight of 0.08, left out where the crop shows no dark
  eye) at the target landmarks.
* **eyedraw** (``--sections eyedraw``): other drawings of the eyes on the product path (ink on, at
  0.35 and with each eye enlarged x1.3): the iris clipped to the lids (quadratic curves through
  the eye's corners and lid points) at the product's radius and at 0.30 of the width, a dark upper
  lash line (0.08 or 0.14 of the width thick, with a short wing past the outer corner), the eye's
  white lifted halfway to white, the lash line alone; and the first jaw lines (a dark line through
  the seven outline landmarks, 1 or 2 px at 256, the whole outline or without its top two points).
* **jawline** (``--sections jawline``): the jaw line on the product path with its anime eyes: 1 or
  2 px, drawn only where the crop shows a lightness step across it (``step``), snapped along its
  normal to the strongest step within 3 px (``snap``); the probe the product's face outline
  (:mod:`geostyle.infer.outline`) was built from.
* **features** (``--sections features``): the product as shipped (ink, anime eyes, face outline)
  with its nose or mouth redrawn: the part's landmark hull filled with the colour around it, then a
  dark dot at the nose's base or a dark line through the mouth's corners and centre; or each brow
  covered by the colour around it and redrawn as a thin dark line through its three landmarks.
* **colour** (``--sections colour``): the product as shipped at strengths 0.35, 0.5 and 0.65, as it
  is and with the warped selfie's colour (its Lab a, b under the product's lightness L), and at
  0.35 in grey: whether the anime judge reads colour at all, and what the identity judge gains
  from the photo's own colours.
* **faceshape** (``--sections faceshape``): the product as shipped with the face's outline and
  brows at a stronger style geometry (0.35 to 1.0: the pointed anime chin, drawn by the face
  outline where the warp puts it) while the eyes, nose and mouth stay at 0.35 or 0.5 (part gains):
  the layout the identity judge's five-point alignment reads stays nearer the photo; and the
  shipped shape split: only the outline, or only the brows, at 0.65.
* **exposure** (``--sections exposure``): the product as shipped (the model's own drawings, filters
  and face shape; its own exposure, which the models carry since this study, off) on the photo's
  crop brightened first, in linear light (sRGB decoded, one gain,
  re-encoded; only ever brighter, at most 4x): by its white point (the gain that takes the crop's
  99th-percentile luma to 235, as a photo editor's auto levels), or by the face (the gain that takes
  the median luma inside the face's outline to 170, the lightness of the selfies the anime judge
  reads most often, as a camera metering on the face). Identity is judged against the crop as it
  was. The json's ``by_face`` splits each row's anime rate and identity by the crop's own face
  lightness (:data:`FACE_GROUPS`): is a dark face's low anime rate its exposure or its drawing?

The model draws without its ink here (``--ink 0``, the default; the bundled anime models carry
ink 1 since it was measured in the lines section) and without its anime eyes and face outline
(always; the models carry them since the eyeshape and jawline sections), so every section sees its
drawing alone. The
lines, ink and catchlights sections add ink themselves, the eyeshape, eyedraw and jawline sections
run the model with ink 1; they refuse another ``--ink``.

Every stylizer here sets its part gains (``part_gains={}`` unless a row names them), so the
features and colour sections' "product" is the product's drawings with the whole face at one
strength, as shipped before the face shape (``extra.part_gains``) the faceshape section led to.

Every row: animeface rate (and at likelihood 0.5), identity rank-1 and mean distance of the crops
against the input crops (dlib box found on the input crop). Selfies and anime faces the model
trained on are left out (its ``extra.trained_on``). Writes ``benchmarks/results/anime_judges.json``
and ``.md`` and a contact sheet ``docs/img/anime_judges.jpg`` (first 6 selfies, one strip per row).
Needs the prepared datasets ``runs/datasets/selfie`` and ``runs/datasets/anime_animeface``.
``--sections`` picks sections; ``--out NAME`` writes ``NAME.json``/``.md`` and ``docs/img/NAME.jpg``
instead (so a study of one section does not overwrite the full one).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from geostyle.data.images import load_image, save_image, to_uint8
from geostyle.data.manifest import load_manifest
from geostyle.eval.anime import AnimeFaceJudge
from geostyle.eval.identity import FaceEmbedder, identity_per_output, identity_scores
from geostyle.faces.landmarks import INDEX, pixels_to_normalized
from geostyle.infer.eyes import (
    CATCHLIGHT_RADIUS,
    CATCHLIGHT_SHIFT,
    IRIS_RADIUS,
    LIGHTNESS_RAMP,
    MAX_IRIS_LIGHTNESS,
    draw_anime_eyes,
    drawable_eyes,
    iris_lightness,
)
from geostyle.infer.outline import OUTLINE_POINTS, catmull_rom
from geostyle.infer.stylize import Stylizer
from geostyle.infer.tone import MAX_EXPOSURE_GAIN, expose, srgb_to_linear
from geostyle.nets.blocks import INK_MARGIN, gaussian_blur, ink_lines, luma
from geostyle.nets.release import read_release_metadata
from geostyle.train.targets import Palette, cartoon_target, part_masks, paste_parts
from geostyle.warp.grid import warp_image

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
OUTLINE = OUTLINE_POINTS
STRENGTH = 0.35
FULL_PARTS = {"eyes": 1 / STRENGTH, "nose": 1 / STRENGTH, "mouth": 1 / STRENGTH}
SECTIONS = (
    "geometry", "regions", "textures", "skin", "scales", "lines", "ink", "catchlights", "eyeshape", "eyedraw", "jawline",
    "features", "colour", "faceshape", "exposure",
)  # fmt: skip
COLOUR_STRENGTHS = (0.35, 0.5, 0.65)
FACE_SHAPES = ((0.35, 0.35), (0.5, 0.35), (0.65, 0.35), (0.8, 0.35), (1.0, 0.35), (1.0, 0.5))  # (outline and brows, eyes nose mouth)
SCALES = (3.0, 6.0, 12.0)  # Gaussian sigmas (px at 256) splitting an image's lightness into coarse and fine
INK_MARGINS = (0.0025, 0.01, 0.02)  # the generator's ink threshold (0.005): more lines below it, fewer above
INK_GAINS = (40.0, 160.0)  # and its gain (80): softer / harder lines at the same threshold
INK_SIGMAS = (1.0, 1.5, 2.0, 3.0)  # px at 256: the Gaussian ink's line widths (the generator's is about 1)
GAUSSIAN_INK_GAIN = 60.0  # as much ink at sigma 1 as the generator's box filters at their gain 80
EXPOSURE_WHITE = 235.0  # the crop's 99th-percentile luma after auto levels
EXPOSURE_FACE = 170.0  # the face's median luma after face metering
FACE_GROUPS = ((0, 80), (80, 120), (120, 160), (160, 256))  # the crop's face luma, as benchmarks/skin_tone.py groups cheeks
GEOMETRIES = {  # name: (strength, part gains)
    "0.35": (0.35, {}),
    "0.65": (0.65, {}),
    "1.0": (1.0, {}),
    "0.35, eyes 1.0": (0.35, {"eyes": 1 / STRENGTH}),
    "0.35, eyes+nose+mouth 1.0": (0.35, FULL_PARTS),
}


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 127.5 - 1


def _hull(points: np.ndarray, names, size: int, grow: float = 1.0, up: float = 0.0) -> torch.Tensor:
    """Soft mask of the convex hull of the named points (pixel frame), optionally grown and extended
    upward by ``up`` px (the forehead)."""
    pts = np.array([points[INDEX[n]] for n in names if np.isfinite(points[INDEX[n]]).all()])
    c = pts.mean(0)
    pts = c + (pts - c) * grow
    if up:
        pts = np.concatenate([pts, pts - [0.0, up]])
    m = np.zeros((size, size), np.float32)
    cv2.fillConvexPoly(m, cv2.convexHull(pts.astype(np.float32)).astype(np.int32), 1.0)
    return torch.from_numpy(cv2.GaussianBlur(m, (0, 0), 4))[None, None]


def _target_pixels(points: torch.Tensor, mask: torch.Tensor, size: int) -> np.ndarray:
    """Target landmarks ``(1, K, 2)`` of the normalised crop frame in pixels, missing ones NaN."""
    px = (points[0].numpy() + 1) * size / 2 - 0.5
    px[~mask[0].numpy()] = np.nan
    return px


def _masked_stats(lab: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = mask[..., None] / (mask.sum() + 1e-6)
    mean = (lab * w).sum((0, 1))
    return mean, np.sqrt((((lab - mean) ** 2) * w).sum((0, 1))) + 1e-6


def face_luma(crop: np.ndarray, points: np.ndarray) -> float:
    """Median luma (0-255) inside the hull of the face's outline points shrunk to 0.85."""
    mask = _hull(points, OUTLINE, crop.shape[0], grow=0.85)[0, 0].numpy() > 0.5
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    return float(np.median(grey[mask])) if mask.any() else float(np.median(grey))


def brightened(crop: np.ndarray, value: float, target: float) -> np.ndarray:
    """``crop`` brightened in linear light by the one gain that takes luma ``value`` to ``target``
    (never darker, at most :data:`MAX_EXPOSURE_GAIN`; :func:`geostyle.infer.tone.expose`)."""
    gain = float(srgb_to_linear(np.array(target)) / max(float(srgb_to_linear(np.array(value))), 1e-4))
    return expose(crop, float(np.clip(gain, 1.0, MAX_EXPOSURE_GAIN)))


def skin_variants(model: np.ndarray, anime: np.ndarray, mask: np.ndarray, sigma: float) -> dict[str, np.ndarray]:
    """The model's crop with its skin (soft ``mask (H, W)`` in [0, 1]) changed one property at a
    time toward the aligned anime face (both ``(H, W, 3)`` uint8 RGB): colour (Lab mean and spread
    of the anime skin), smoothness (a Gaussian blur of ``sigma`` px normalised inside the mask, so
    the background does not bleed in), flatness (the skin's mean colour), smoothness and colour; and
    the anime skin split in two: its lightness (the drawing's marks and shading) with the model's
    chroma, its chroma with the model's lightness."""
    hard = (mask > 0.5).astype(np.float32)
    lab = cv2.cvtColor(model, cv2.COLOR_RGB2LAB).astype(np.float32)
    anime_lab = cv2.cvtColor(anime, cv2.COLOR_RGB2LAB).astype(np.float32)
    m_mean, m_std = _masked_stats(lab, hard)
    a_mean, a_std = _masked_stats(anime_lab, hard)

    def recolour(x: np.ndarray) -> np.ndarray:
        return (x - m_mean) * (a_std / m_std) + a_mean

    blur = cv2.GaussianBlur(lab * hard[..., None], (0, 0), sigma) / (cv2.GaussianBlur(hard, (0, 0), sigma)[..., None] + 1e-6)
    flat = np.broadcast_to(m_mean, lab.shape)
    lines = np.concatenate([anime_lab[..., :1], lab[..., 1:]], -1)  # the anime drawing's lightness
    tint = np.concatenate([lab[..., :1], anime_lab[..., 1:]], -1)  # the anime drawing's chroma
    out = {}
    variants = (
        ("recoloured", recolour(lab)), ("smoothed", blur), ("flat", flat), ("smoothed and recoloured", recolour(blur)),
        ("with the anime skin's lightness", lines), ("with the anime skin's chroma", tint),
    )  # fmt: skip
    for name, skin in variants:
        rgb = cv2.cvtColor(np.clip(skin, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB).astype(np.float32)
        out[name] = np.clip(model * (1 - mask[..., None]) + rgb * mask[..., None] + 0.5, 0, 255).astype(np.uint8)
    return out


def scale_variants(model: np.ndarray, anime: np.ndarray, sigma: float) -> dict[str, np.ndarray]:
    """Split the lightness (Lab L) of two ``(H, W, 3)`` uint8 RGB images at Gaussian ``sigma`` px and
    recombine: the model's crop blurred (all channels: what is left when the fine scale goes), the
    anime face's coarse lightness under the model's fine lightness, and the reverse; chroma stays
    the model's. It asks at which scale each judge reads a face."""
    lab = cv2.cvtColor(model, cv2.COLOR_RGB2LAB).astype(np.float32)
    anime_l = cv2.cvtColor(anime, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
    coarse_m, coarse_a = cv2.GaussianBlur(lab[..., 0], (0, 0), sigma), cv2.GaussianBlur(anime_l, (0, 0), sigma)
    out = {"blurred": cv2.GaussianBlur(model, (0, 0), sigma)}
    for name, lightness in (
        ("anime coarse + model fine", coarse_a + lab[..., 0] - coarse_m),
        ("model coarse + anime fine", coarse_m + anime_l - coarse_a),
    ):
        mixed = np.concatenate([np.clip(lightness, 0, 255)[..., None], lab[..., 1:]], -1).astype(np.uint8)
        out[name] = cv2.cvtColor(mixed, cv2.COLOR_LAB2RGB)
    return out


def line_variants(model: np.ndarray, source: np.ndarray, name: str) -> dict[str, np.ndarray]:
    """The model's ``(H, W, 3)`` uint8 RGB crop with dark line art drawn onto it: soft
    difference-of-Gaussians lines (sigma 1 px against 1.6 px at 256, the XDoG form) of ``source``'s
    lightness, darkening the model's lightness by up to 60 % or 100 %; and the model unsharp-masked.
    Line art is what a cartoon has by construction; this asks whether the anime judge reads it."""
    scale = model.shape[0] / 256
    lab = cv2.cvtColor(model, cv2.COLOR_RGB2LAB).astype(np.float32)
    light = cv2.cvtColor(source, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32) / 255
    dog = cv2.GaussianBlur(light, (0, 0), scale) - cv2.GaussianBlur(light, (0, 0), 1.6 * scale)
    ink = np.tanh(np.maximum(-dog - INK_MARGIN, 0) * GAUSSIAN_INK_GAIN)  # 0 on flat regions, toward 1 on a dark edge
    out = {}
    for strength in (0.6, 1.0):
        mixed = lab.copy()
        mixed[..., 0] *= 1 - strength * ink
        out[f"{name} lines x{strength:g}"] = cv2.cvtColor(np.clip(mixed, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    return out


def eye_discs(points: np.ndarray, size: int, radius: float, shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Soft ``(H, W)`` mask of a disc in each eye (pixel-frame landmarks): centred on the eye's centre
    moved by ``shift`` (fractions of the eye's width, x, and height, y), radius ``radius`` x the
    eye's width."""
    mask = np.zeros((size, size), np.float32)
    for side in ("right", "left"):
        c, a, b = (points[INDEX[f"{side}_eye_{n}"]] for n in ("center", "outer", "inner"))
        top, bottom = points[INDEX[f"{side}_eye_top"]], points[INDEX[f"{side}_eye_bottom"]]
        if not all(np.isfinite(v).all() for v in (c, a, b, top, bottom)):
            continue
        w, h = float(np.linalg.norm(a - b)), float(np.linalg.norm(top - bottom))
        centre = (c + np.array([shift[0] * w, shift[1] * h])) * 16
        cv2.circle(mask, tuple(int(v) for v in centre), int(radius * w * 16), 1.0, -1, cv2.LINE_AA, shift=4)
    return cv2.GaussianBlur(mask, (0, 0), 0.6 * size / 256)


EYE_DRAWINGS = {  # row name: draw_eye_variant's arguments
    "iris clipped to the lids": {"clip": True},
    "iris 0.30 clipped to the lids": {"radius": 0.30, "clip": True},
    "anime eyes + lash line 0.08": {"lash": 0.08},
    "anime eyes + lash line 0.14": {"lash": 0.14},
    "iris 0.30 clipped + lash line 0.08": {"radius": 0.30, "clip": True, "lash": 0.08},
    "iris 0.30 clipped + lash line 0.08 + eye white 0.5": {"radius": 0.30, "clip": True, "lash": 0.08, "sclera": 0.5},
    "lash line 0.08 alone (no iris)": {"radius": 0.0, "lash": 0.08, "catchlight": False},
}
NOSE = ("nose_tip", "nose_base", "nose_right", "nose_left")
MOUTH = ("mouth_right", "mouth_top", "mouth_left", "mouth_bottom")
JAW_LINES = {  # row name: draw_jaw's arguments
    "jaw line 1 px": {"width": 1.0},
    "jaw line 2 px": {"width": 2.0},
    "jaw line 2 px, step 0.06": {"width": 2.0, "step": 0.06},
    "jaw line 2 px, snapped 3 px, step 0.06": {"width": 2.0, "snap": 3.0, "step": 0.06},
    "jaw line 1.5 px, snapped 3 px, step 0.06": {"width": 1.5, "snap": 3.0, "step": 0.06},
}
EYE_SHAPES = {  # name: the eye points moved to the full style geometry's offsets from the eye's centre
    "openings": ("top", "bottom"),
    "shapes": ("top", "bottom", "outer", "inner"),
}


def reshape_eyes(stylizer: Stylizer, points: tuple[str, ...], scale: float = 1.0) -> None:
    """Make ``stylizer`` draw each eye's ``points`` (of top, bottom, outer, inner) at their offsets
    from the eye's centre in the eyes-at-1.0 geometry (times ``scale``), the centre and everything
    else at its own strength. A probe, set on this one stylizer's field solver."""
    solver, own = stylizer.fields, stylizer.fields.target

    def target(landmarks: np.ndarray, strength: float) -> np.ndarray:
        t = np.array(own(landmarks, strength))
        p = pixels_to_normalized(np.asarray(landmarks, np.float64), solver.size, solver.size)
        aligner = solver.aligner
        full = np.asarray(aligner.geometry.target(p, strength, per_part=aligner.per_part, gains={"eyes": 1 / strength}))
        for side in ("right", "left"):
            c = INDEX[f"{side}_eye_center"]
            for n in points:
                i = INDEX[f"{side}_eye_{n}"]
                t[i] = t[c] + scale * (full[i] - full[c])
        return t

    solver.target = target  # type: ignore[method-assign]


def enlarge_eyes(stylizer: Stylizer, scale: float) -> None:
    """Make ``stylizer`` draw each eye's points ``scale`` times as far from the eye's centre as its
    own target puts them: the eye's own shape, larger (a probe, as :func:`reshape_eyes`)."""
    own = stylizer.fields.target

    def target(landmarks: np.ndarray, strength: float) -> np.ndarray:
        t = np.array(own(landmarks, strength))
        for side in ("right", "left"):
            c = INDEX[f"{side}_eye_center"]
            for n in ("top", "bottom", "outer", "inner"):
                i = INDEX[f"{side}_eye_{n}"]
                t[i] = t[c] + scale * (t[i] - t[c])
        return t

    stylizer.fields.target = target  # type: ignore[method-assign]


def lids(points: np.ndarray, side: str, n: int = 24) -> tuple[np.ndarray, np.ndarray] | None:
    """The upper (outer -> top -> inner) and lower (inner -> bottom -> outer) lid of one eye as
    quadratic curves through its landmarks (pixels), or None when a point is missing."""
    outer, inner, top, bottom = (points[INDEX[f"{side}_eye_{p}"]] for p in ("outer", "inner", "top", "bottom"))
    if not all(np.isfinite(v).all() for v in (outer, inner, top, bottom)):
        return None
    t = np.linspace(0.0, 1.0, n)[:, None]

    def curve(a: np.ndarray, through: np.ndarray, b: np.ndarray) -> np.ndarray:
        ctrl = 2 * through - (a + b) / 2  # the quadratic that passes through ``through`` at t = 0.5
        return (1 - t) ** 2 * a + 2 * (1 - t) * t * ctrl + t**2 * b

    return curve(outer, top, inner), curve(inner, bottom, outer)


def draw_eye_variant(
    image: np.ndarray, points: np.ndarray, radius: float = 0.22, clip: bool = False,
    lash: float = 0.0, sclera: float = 0.0, catchlight: bool = True,
) -> np.ndarray:
    """A probe of anime-eye drawings on ``image (H, W, 3)`` uint8 at ``points`` (pixels): the
    product's dark iris (radius x the eye's width) and catchlight, the iris optionally clipped to
    the lids, a dark upper lash line ``lash`` x the width thick, the eye white lifted toward white by
    ``sclera``. Eyes the product would leave out (its guards, at its lightness test) are left out."""
    size = image.shape[0]
    out = image.astype(np.float32)
    blur = 0.6 * size / 256
    eyes = {tuple(np.round(e[0], 6)): e for e in drawable_eyes(np.asarray(points, np.float64))}
    for side in ("right", "left"):
        c = points[INDEX[f"{side}_eye_center"]]
        e = eyes.get(tuple(np.round(np.asarray(c, np.float64), 6))) if np.isfinite(c).all() else None
        lid = lids(points, side)
        if e is None or lid is None:
            continue
        centre, width, opening, weight = e
        lightness = iris_lightness(image, centre, IRIS_RADIUS * width)
        if lightness is None:
            continue
        weight *= 1.0 - float(np.clip((lightness - MAX_IRIS_LIGHTNESS) / (2 * LIGHTNESS_RAMP) + 0.5, 0, 1))
        if weight <= 1e-3:
            continue
        upper, lower = lid
        eye = np.zeros((size, size), np.float32)
        cv2.fillPoly(eye, [np.round(np.concatenate([upper, lower]) * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
        eye = cv2.GaussianBlur(eye, (0, 0), blur)
        iris = np.zeros((size, size), np.float32)
        if radius > 0:
            cv2.circle(iris, tuple(int(round(v * 16)) for v in centre), int(round(radius * width * 16)), 1.0, -1, cv2.LINE_AA, shift=4)
            iris = cv2.GaussianBlur(iris, (0, 0), blur)
        if clip:
            iris = iris * eye
        if sclera:
            white = sclera * weight * eye * (1 - iris)
            out = out * (1 - white[..., None]) + 255.0 * white[..., None]
        out = out * (1 - 0.7 * weight * iris[..., None])
        if catchlight:
            light = np.zeros((size, size), np.float32)
            at = centre + np.array([CATCHLIGHT_SHIFT[0] * width, CATCHLIGHT_SHIFT[1] * opening])
            cv2.circle(light, tuple(int(round(v * 16)) for v in at), int(round(CATCHLIGHT_RADIUS * width * 16)), 1.0, -1, cv2.LINE_AA, shift=4)
            light = weight * cv2.GaussianBlur(light, (0, 0), blur)[..., None]
            out = out * (1 - light) + 255.0 * light
        if lash:
            line = np.zeros((size, size), np.float32)
            # The lash line runs a little past the outer corner, as a wing.
            wing = upper[0] + 0.12 * (upper[0] - upper[3]) / max(np.linalg.norm(upper[0] - upper[3]), 1e-6) * width
            curve = np.concatenate([wing[None], upper])
            thick = max(1, int(round(lash * width)))
            cv2.polylines(line, [np.round(curve * 16).astype(np.int32)], False, 1.0, thick, cv2.LINE_AA, shift=4)
            line = weight * cv2.GaussianBlur(line, (0, 0), blur)[..., None]
            out = out * (1 - 0.85 * line)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def draw_face_line(image: np.ndarray, points: np.ndarray, names: tuple[str, ...], width: float, shade: float = 0.85) -> np.ndarray:
    """``image`` with a dark line (``width`` px at 256, darkening by ``shade``) through the landmarks
    ``names`` of ``points`` (pixels); unchanged where any of them is missing."""
    pts = np.stack([points[INDEX[n]] for n in names])
    if not np.isfinite(pts).all():
        return image
    size = image.shape[0]
    line = np.zeros((size, size), np.float32)
    thick = max(1, int(round(width * size / 256)))
    cv2.polylines(line, [np.round(catmull_rom(pts) * 16).astype(np.int32)], False, 1.0, thick, cv2.LINE_AA, shift=4)
    line = cv2.GaussianBlur(line, (0, 0), 0.6 * size / 256)[..., None]
    return np.clip(image.astype(np.float32) * (1 - shade * line) + 0.5, 0, 255).astype(np.uint8)


def _lightness_at(lum: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``lum (H, W)`` at ``xy (..., 2)`` pixels (edges clamped)."""
    m = cv2.remap(lum, xy[..., 0].astype(np.float32).reshape(1, -1), xy[..., 1].astype(np.float32).reshape(1, -1),
                  cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return m.reshape(xy.shape[:-1])


def jaw_curve(image: np.ndarray, points: np.ndarray, names: tuple[str, ...], snap: float = 0.0,
              step: float = 0.0) -> tuple[np.ndarray, np.ndarray] | None:
    """The curve through the landmarks ``names`` and a per-sample opacity (0-1). ``snap`` (px at
    256): each sample may move along the curve's normal by up to this much to the strongest
    lightness step across it (offsets smoothed along the curve). ``step``: opacity ramps from 0 to 1
    as the lightness step across the curve (inside 3 px against outside, 0-1 of full scale) rises
    through this value +- half of it: no step, no outline (a hand, hair or background across the
    jaw). None where a landmark is missing."""
    pts = np.stack([points[INDEX[n]] for n in names])
    if not np.isfinite(pts).all():
        return None
    size = image.shape[0]
    curve = catmull_rom(pts)
    tangent = np.gradient(curve, axis=0)
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], 1)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-6)
    lum = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) / 255.0
    px = size / 256
    across = 3 * px
    if snap > 0:
        offsets = np.linspace(-snap, snap, 9) * px
        where = curve[:, None] + offsets[None, :, None] * normal[:, None]
        contrast = np.abs(_lightness_at(lum, where + across * normal[:, None]) - _lightness_at(lum, where - across * normal[:, None]))
        best = offsets[np.argmax(contrast, 1)]
        best = np.convolve(np.pad(best, 6, mode="edge"), np.ones(13) / 13, mode="valid")
        curve = curve + best[:, None] * normal
    weight = np.ones(len(curve))
    if step > 0:
        contrast = np.abs(_lightness_at(lum, curve + across * normal) - _lightness_at(lum, curve - across * normal))
        contrast = np.convolve(np.pad(contrast, 6, mode="edge"), np.ones(13) / 13, mode="valid")
        weight = np.clip((contrast - step) / step + 0.5, 0.0, 1.0)
    return curve, weight


def draw_jaw(image: np.ndarray, points: np.ndarray, names: tuple[str, ...], width: float, snap: float = 0.0,
             step: float = 0.0, shade: float = 0.85) -> np.ndarray:
    """``image`` with a dark outline (``width`` px at 256) along :func:`jaw_curve`, each segment at
    its opacity."""
    found = jaw_curve(image, points, names, snap, step)
    if found is None:
        return image
    curve, weight = found
    size = image.shape[0]
    line = np.zeros((size, size), np.float32)
    thick = max(1, int(round(width * size / 256)))
    for a, b, w in zip(curve[:-1], curve[1:], 0.5 * (weight[:-1] + weight[1:]), strict=True):
        if w > 1e-3:
            seg = np.zeros_like(line)
            cv2.line(seg, tuple(int(round(v * 16)) for v in a), tuple(int(round(v * 16)) for v in b), float(w), thick, cv2.LINE_AA, shift=4)
            np.maximum(line, seg, out=line)
    line = cv2.GaussianBlur(line, (0, 0), 0.6 * size / 256)[..., None]
    return np.clip(image.astype(np.float32) * (1 - shade * line) + 0.5, 0, 255).astype(np.uint8)


def simplify_part(image: np.ndarray, points: np.ndarray, names: tuple[str, ...], grow: float, line: tuple[str, ...] = (),
                  dot: str | None = None) -> np.ndarray:
    """``image`` with the hull of the landmarks ``names`` (grown ``grow`` times about its centre)
    filled with the median colour of the ring around it (edges blurred), then a dark line through
    the landmarks ``line`` (2 px at 256) and a dark dot (radius 1 px at 256) at ``dot``: a photo's
    lower nose or mouth redrawn as an anime artist might. Unchanged where a landmark is missing."""
    pts = np.stack([points[INDEX[n]] for n in names + line + ((dot,) if dot else ())])
    if not np.isfinite(pts).all():
        return image
    size = image.shape[0]
    part = np.stack([points[INDEX[n]] for n in names])
    centre = part.mean(0)
    hull = cv2.convexHull(((part - centre) * grow + centre).astype(np.float32)).reshape(-1, 2)
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(hull).astype(np.int32)], 255)
    ring = cv2.dilate(mask, np.ones((7, 7), np.uint8)) & ~mask
    if not ring.any():
        return image
    colour = np.median(image[ring > 0], axis=0)
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), 1.0 * size / 256)[..., None]
    out = image.astype(np.float32) * (1 - soft) + colour * soft
    ink = np.zeros((size, size), np.float32)
    if line:
        curve = catmull_rom(np.stack([points[INDEX[n]] for n in line]), 8)
        cv2.polylines(ink, [np.round(curve * 16).astype(np.int32)], False, 1.0, max(1, round(1.5 * size / 256)), cv2.LINE_8, shift=4)
    if dot:
        cv2.circle(ink, tuple(int(round(v * 16)) for v in points[INDEX[dot]]), int(16 * size / 256), 1.0, -1, cv2.LINE_8, shift=4)
    ink = cv2.GaussianBlur(ink, (0, 0), 0.6 * size / 256)[..., None]
    return np.clip(out * (1 - 0.85 * ink) + 0.5, 0, 255).astype(np.uint8)


def thin_brows(image: np.ndarray, points: np.ndarray, cover: float = 0.25) -> np.ndarray:
    """``image`` with each brow (its outer, centre and inner landmarks) covered by the colour around
    it (a band ``cover`` x the brow's length thick along the curve through them) and redrawn as a
    thin dark line (2 px at 256) through the same points: an anime brow. A brow with a missing
    point is left as it is."""
    size = image.shape[0]
    out = image.astype(np.float32)
    ink = np.zeros((size, size), np.float32)
    for side in ("right", "left"):
        pts = np.stack([points[INDEX[f"{side}_brow_{n}"]] for n in ("outer", "center", "inner")])
        if not np.isfinite(pts).all():
            continue
        curve = catmull_rom(pts, 8)
        length = float(np.linalg.norm(np.diff(curve, axis=0), axis=1).sum())
        mask = np.zeros((size, size), np.uint8)
        cv2.polylines(mask, [np.round(curve).astype(np.int32)], False, 255, max(1, int(round(cover * length))))
        ring = cv2.dilate(mask, np.ones((7, 7), np.uint8)) & ~mask
        if not ring.any():
            continue
        colour = np.median(image[ring > 0], axis=0)
        soft = cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), 1.0 * size / 256)[..., None]
        out = out * (1 - soft) + colour * soft
        cv2.polylines(ink, [np.round(curve * 16).astype(np.int32)], False, 1.0, max(1, round(2 * size / 256)), cv2.LINE_8, shift=4)
    ink = cv2.GaussianBlur(ink, (0, 0), 0.6 * size / 256)[..., None]
    return np.clip(out * (1 - 0.85 * ink) + 0.5, 0, 255).astype(np.uint8)


def photo_colour(image: np.ndarray, photo: np.ndarray, amount: float = 1.0) -> np.ndarray:
    """``image``'s Lab lightness with ``amount`` of ``photo``'s Lab chroma (a, b) in place of its own."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab[..., 1:] += amount * (cv2.cvtColor(photo, cv2.COLOR_RGB2LAB).astype(np.float32)[..., 1:] - lab[..., 1:])
    return cv2.cvtColor(np.clip(lab + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def darken(image: torch.Tensor, lines: torch.Tensor) -> torch.Tensor:
    """``image`` in ``[-1, 1]`` darkened toward black by ``lines`` (0-1): how the generator applies
    its ink (:meth:`GeoGenerator.draw_ink`), here with lines of any form."""
    return (image + 1) * (1 - lines) - 1


def gaussian_ink(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """The generator's ink lines (:func:`ink_lines`) drawn with Gaussian blurs of ``sigma`` and 1.6
    ``sigma`` px (its box filters are about sigma 1), so the line width can vary; at sigma 1 the
    form the generator had first (gain 60: as much ink as the box filters' gain 80)."""
    lightness = (luma(image) + 1.0) * 0.5
    dog = gaussian_blur(lightness, sigma) - gaussian_blur(lightness, 1.6 * sigma)
    return torch.tanh(torch.clamp(-dog - INK_MARGIN, min=0.0) * GAUSSIAN_INK_GAIN)


def unsharp(image: np.ndarray, sigma: float, amount: float) -> np.ndarray:
    blur = cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigma)
    return np.clip(image + amount * (image - blur) + 0.5, 0, 255).astype(np.uint8)


def by_face(anime: np.ndarray, out: np.ndarray, own: np.ndarray, faces: np.ndarray) -> list[dict]:
    """A row's anime rate and identity rank-1 (still among all the selfies) by the crop's face luma."""
    _, hits = identity_per_output(out, own)
    groups = []
    for low, high in FACE_GROUPS:
        inside = (faces >= low) & (faces < high)
        groups.append({
            "face_luma": [low, high], "n": int(inside.sum()),
            "anime_rate": float(anime[inside].mean()) if inside.any() else None,
            "identity_rank1": float(hits[inside].mean()) if inside.any() else None,
        })  # fmt: skip
    return groups


class Rows:
    def __init__(self, sections: list[str]) -> None:
        self.sections = set(sections)
        self.images: dict[str, list[np.ndarray]] = {}

    def add(self, section: str, name: str, image: np.ndarray | torch.Tensor) -> None:
        if section not in self.sections:
            return
        if isinstance(image, torch.Tensor):
            image = to_uint8(image)[0]
        self.images.setdefault(f"{section} | {name}", []).append(image)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="anime")
    ap.add_argument(
        "--ink", type=float, default=0.0, help="the model's ink (default 0: its drawing alone; the lines, ink and catchlights sections add their own and refuse --ink)"
    )
    ap.add_argument("--photos", type=Path, default=ROOT / "runs" / "datasets" / "selfie")
    ap.add_argument("--styles", type=Path, default=ROOT / "runs" / "datasets" / "anime_animeface")
    ap.add_argument("--n", type=int, default=40, help="held-out selfies")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS[:3]))
    ap.add_argument("--out", default="anime_judges", help="name of the results and contact sheet files")
    args = ap.parse_args(argv)
    inking = sorted({"lines", "ink", "catchlights", "eyeshape", "eyedraw", "jawline", "features", "colour", "faceshape"} & set(args.sections))
    if args.ink and inking:
        ap.error(f"--sections {' '.join(inking)} draw the ink themselves: leave --ink at 0")
    torch.set_num_threads(1)
    t0 = time.time()

    stylizers = {name: Stylizer(args.model, strength=a, part_gains=g, ink=args.ink, eyes=0.0, outline=0.0) for name, (a, g) in GEOMETRIES.items()}
    base = stylizers["0.35"]
    shaped = {}
    if "eyeshape" in args.sections:
        shaped = {"0.35": Stylizer(args.model, strength=STRENGTH, part_gains={}, ink=1.0, eyes=0.0, outline=0.0)}
        shaped["0.35, eyes 1.0"] = Stylizer(args.model, strength=STRENGTH, part_gains={"eyes": 1 / STRENGTH}, ink=1.0, eyes=0.0, outline=0.0)
        for name, points in EYE_SHAPES.items():
            shaped[f"0.35, eye {name} at 1.0"] = st = Stylizer(args.model, strength=STRENGTH, part_gains={}, ink=1.0, eyes=0.0, outline=0.0)
            reshape_eyes(st, points)
        # The face's outline (and brows) at full style geometry, the parts held nearer the photo.
        low = STRENGTH  # a part gain at strength 1.0
        shaped["1.0, nose and mouth 0.35"] = Stylizer(args.model, strength=1.0, part_gains={"nose": low, "mouth": low}, ink=1.0, eyes=0.0, outline=0.0)
        shaped["1.0, eyes, nose and mouth 0.35"] = Stylizer(
            args.model, strength=1.0, part_gains={"eyes": low, "nose": low, "mouth": low}, ink=1.0, eyes=0.0, outline=0.0
        )
        reshape_eyes(st := Stylizer(args.model, strength=STRENGTH, part_gains={}, ink=1.0, eyes=0.0, outline=0.0), EYE_SHAPES["shapes"], 1.5)
        shaped["0.35, eye shapes at 1.5"] = st
        for scale in (1.3, 1.6):
            enlarge_eyes(st := Stylizer(args.model, strength=STRENGTH, part_gains={}, ink=1.0, eyes=0.0, outline=0.0), scale)
            shaped[f"0.35, eyes enlarged x{scale:g}"] = st
        for scale in (1.0, 1.5):
            st = Stylizer(args.model, strength=1.0, part_gains={"eyes": low, "nose": low, "mouth": low}, ink=1.0, eyes=0.0, outline=0.0)
            reshape_eyes(st, EYE_SHAPES["shapes"], scale)
            shaped[f"1.0, eyes, nose and mouth 0.35, eye shapes at {scale:g}"] = st
    drawn = {}
    if {"eyedraw", "jawline"} & set(args.sections):
        drawn = {"0.35": Stylizer(args.model, strength=STRENGTH, part_gains={}, ink=1.0, eyes=0.0, outline=0.0)}
        enlarge_eyes(st := Stylizer(args.model, strength=STRENGTH, part_gains={}, ink=1.0, eyes=0.0, outline=0.0), 1.3)
        drawn["0.35, eyes enlarged x1.3"] = st
    product = Stylizer(args.model, strength=STRENGTH, part_gains={}) if "features" in args.sections else None
    # Its own face shape and drawings; its own exposure off: the section brightens the crop itself.
    shipped_product = Stylizer(args.model, exposure=0.0) if "exposure" in args.sections else None
    coloured = {s: Stylizer(args.model, strength=s, part_gains={}) for s in COLOUR_STRENGTHS} if "colour" in args.sections else {}
    shapes = {
        (a, b): Stylizer(args.model, strength=a, part_gains={part: b / a for part in ("eyes", "nose", "mouth")})
        for a, b in FACE_SHAPES
    } if "faceshape" in args.sections else {}  # fmt: skip
    # The shipped shape split: only the outline, or only the brows, at 0.65 (gains at 0.35).
    split = {
        group: Stylizer(args.model, strength=STRENGTH, part_gains={group: 0.65 / STRENGTH}) for group in ("outline", "brows")
    } if "faceshape" in args.sections else {}  # fmt: skip
    trained = read_release_metadata(base.path).get("extra", {}).get("trained_on") or {}
    photo_set, style_set = load_manifest(args.photos), load_manifest(args.styles)
    skip_photos, skip_styles = set(trained.get("photos", [])), set(trained.get("styles", []))
    photos = [it for it in photo_set.items if Path(it.source).stem not in skip_photos]
    styles = [it for it in style_set.items if Path(it.source).stem not in skip_styles]
    if not photos or not styles:
        print("no held-out photos or styles (prepare the datasets first)", file=sys.stderr)
        return 1
    size = base.size
    palette = Palette.of(np.stack([cv2.resize(load_image(it.crop_path), (size, size)) for it in styles[:50]]))
    judge, embedder = AnimeFaceJudge(), FaceEmbedder()
    rng = np.random.default_rng(args.seed)
    rows, inputs, boxes, used, faces = Rows(args.sections), [], [], [], []
    for item in photos:
        if len(used) >= args.n:
            break
        try:
            aligned = base.align(load_image(item.source))
        except Exception:  # no face: the study needs one
            continue
        crop, lm = aligned.crop, aligned.landmarks
        box = embedder.face_box(crop)
        if box is None:
            continue
        used.append(Path(item.source).name)
        inputs.append(embedder.embed(crop, box))
        boxes.append(box)
        faces.append(face_luma(crop, lm))
        ex = styles[int(rng.integers(len(styles)))]
        ex_img = _tensor(cv2.resize(load_image(ex.crop_path), (size, size)))
        ex_lm = (ex.usable_landmarks() + 0.5) * size / style_set.size - 0.5
        ex_pts = torch.from_numpy(np.nan_to_num(pixels_to_normalized(ex_lm, size, size)))
        ex_pts, ex_mask = ex_pts.float()[None], torch.from_numpy(np.isfinite(ex_lm).all(-1))[None]
        p = torch.from_numpy(np.nan_to_num(pixels_to_normalized(lm, size, size))).float()[None]
        m = torch.from_numpy(np.isfinite(lm).all(-1))[None]
        x = _tensor(crop)
        views = {}
        for name, st in stylizers.items():
            t = st.aligner.photo_target(p, m)
            exemplar = warp_image(ex_img, st.aligner.field(t, ex_pts, m & ex_mask))
            warped = warp_image(x, st.aligner.field(t, p, m))
            model = _tensor(st.stylize_crop(crop, lm))
            views[name] = (t, exemplar, warped, model)
            rows.add("geometry", f"{name}: anime face aligned", exemplar)
            rows.add("geometry", f"{name}: model", model)
            rows.add("geometry", f"{name}: selfie warped", warped)
        both = m & ex_mask
        if shipped_product is not None:
            grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
            rows.add("exposure", "the product", shipped_product.stylize_crop(crop, lm))
            levelled = brightened(crop, float(np.percentile(grey, 99)), EXPOSURE_WHITE)
            rows.add("exposure", "the product, crop auto-levelled (white point to 235)", shipped_product.stylize_crop(levelled, lm))
            metered = brightened(crop, faces[-1], EXPOSURE_FACE)
            rows.add("exposure", "the product, crop metered on the face (face to 170)", shipped_product.stylize_crop(metered, lm))
            rows.add("exposure", "the crop metered on the face, not stylized", metered)
        if "skin" in args.sections:
            for name in ("0.35", "0.35, eyes+nose+mouth 1.0"):
                t, exemplar, _, model = views[name]
                tpx = _target_pixels(t, m, size)
                parts = part_masks(t, both, size, parts=("right_eye", "left_eye", "mouth"), width=2.2)
                inner = _hull(tpx, OUTLINE, size, grow=0.85) * (1 - parts)
                model_u8, anime_u8, mask = to_uint8(model)[0], to_uint8(exemplar)[0], inner[0, 0].numpy()
                rows.add("skin", f"{name}: model", model_u8)
                for variant, image in skin_variants(model_u8, anime_u8, mask, sigma=6 * size / 256).items():
                    rows.add("skin", f"{name}: model, skin {variant}", image)
                rows.add("skin", f"{name}: model + anime skin", paste_parts(model, exemplar, inner))
        if "scales" in args.sections:
            model_u8 = to_uint8(views["0.35"][3])[0]
            anime_u8 = to_uint8(views["0.35, eyes+nose+mouth 1.0"][1])[0]
            rows.add("scales", "model (0.35)", model_u8)
            rows.add("scales", "anime face aligned (0.35, eyes+nose+mouth 1.0)", anime_u8)
            for sigma in SCALES:
                for variant, image in scale_variants(model_u8, anime_u8, sigma * size / 256).items():
                    rows.add("scales", f"sigma {sigma:g}: {variant}", image)
        if "lines" in args.sections:
            _, _, warped, model = views["0.35"]
            model_u8, warped_u8 = to_uint8(model)[0], to_uint8(warped)[0]
            rows.add("lines", "model (0.35)", model_u8)
            for source, name in ((model_u8, "its own"), (warped_u8, "the warped selfie's")):
                for variant, image in line_variants(model_u8, source, name).items():
                    rows.add("lines", f"model + {variant}", image)
            for amount in (1.0, 2.0):
                rows.add("lines", f"model unsharp-masked x{amount:g}", unsharp(model_u8, 2 * size / 256, amount))
            rows.add("lines", "model + the generator's ink 1", darken(model, ink_lines(warped)))
            for sigma in INK_SIGMAS:  # wider lines: Gaussian blurs of sigma and 1.6 sigma
                lines = gaussian_ink(warped, sigma * size / 256)
                rows.add("lines", f"model + Gaussian ink 1, sigma {sigma:g}", darken(model, lines))
        if "ink" in args.sections:
            # Which of the photo's lines the judges read: more or fewer of them, and where.
            t, _, warped, model = views["0.35"]
            tpx = _target_pixels(t, m, size)
            parts = part_masks(t, both, size, parts=("right_eye", "left_eye", "mouth"), width=2.2)
            brows = sum(
                _hull(tpx, tuple(f"{side}_brow_{p}" for p in ("outer", "center", "inner")), size, up=up * size / 256)
                for side in ("right", "left") for up in (6.0, -4.0)
            )
            features = torch.clamp(parts + brows, max=1.0)
            inner = _hull(tpx, OUTLINE, size, grow=0.85)
            lines = ink_lines(warped)
            rows.add("ink", "model (0.35)", model)
            rows.add("ink", "model + ink (the generator's)", darken(model, lines))
            for margin in INK_MARGINS:
                rows.add("ink", f"model + ink, threshold {margin:g}", darken(model, ink_lines(warped, margin=margin)))
            for gain in INK_GAINS:
                rows.add("ink", f"model + ink, gain {gain:g}", darken(model, ink_lines(warped, gain=gain)))
            rows.add("ink", "model + ink on eyes, brows, mouth only", darken(model, lines * features))
            rows.add("ink", "model + ink, none on the inner face but them", darken(model, lines * (1 - inner * (1 - features))))
        if "catchlights" in args.sections:
            # Anime eyes: a dark iris with a white catchlight. Drawn onto the inked model's eyes.
            t, _, warped, model = views["0.35"]
            tpx = _target_pixels(t, m, size)
            inked = to_uint8(darken(model, ink_lines(warped)))[0].astype(np.float32)
            rows.add("catchlights", "model + ink", inked.astype(np.uint8))
            dark = inked * (1 - 0.7 * eye_discs(tpx, size, 0.22)[..., None])  # the iris at 0.3 of its colour
            for r in (0.08, 0.12):
                light = eye_discs(tpx, size, r, (-0.15, -0.3))[..., None]
                rows.add("catchlights", f"model + ink + catchlight r {r:g}", (inked * (1 - light) + 255 * light).astype(np.uint8))
                rows.add("catchlights", f"model + ink, dark iris + catchlight r {r:g}", (dark * (1 - light) + 255 * light).astype(np.uint8))
            rows.add("catchlights", "model + ink, dark iris", dark.astype(np.uint8))
        for name, st in shaped.items():
            out = st.stylize_crop(crop, lm)
            rows.add("eyeshape", f"{name}, ink", out)
            tpx = (st.fields.target(lm, st.strength) + 1) * size / 2 - 0.5
            rows.add("eyeshape", f"{name}, ink, anime eyes", draw_anime_eyes(out, tpx))
        if product is not None:
            out = product.stylize_crop(crop, lm)
            tpx = (product.fields.target(lm, product.strength) + 1) * size / 2 - 0.5
            nose = simplify_part(out, tpx, NOSE, 1.3, dot="nose_base")
            mouth = simplify_part(out, tpx, MOUTH, 1.15, line=("mouth_right", "mouth_center", "mouth_left"))
            rows.add("features", "the product (ink, anime eyes, outline)", out)
            rows.add("features", "the product, nose redrawn (filled, a dot)", nose)
            rows.add("features", "the product, mouth redrawn (filled, a line)", mouth)
            rows.add("features", "the product, nose and mouth redrawn",
                     simplify_part(nose, tpx, MOUTH, 1.15, line=("mouth_right", "mouth_center", "mouth_left")))
            rows.add("features", "the product, brows redrawn (covered, a thin line)", thin_brows(out, tpx))
        for strength, st in coloured.items():
            out = st.stylize_crop(crop, lm)
            t = st.aligner.photo_target(p, m)
            warped_u8 = to_uint8(warp_image(x, st.aligner.field(t, p, m)))[0]
            rows.add("colour", f"{strength:g}: the product", out)
            rows.add("colour", f"{strength:g}: the product, the photo's colour", photo_colour(out, warped_u8))
            if strength == STRENGTH:
                rows.add("colour", f"{strength:g}: the product, half the photo's colour", photo_colour(out, warped_u8, 0.5))
                grey = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
                rows.add("colour", f"{strength:g}: the product in grey", grey)
        for (a, b), st in shapes.items():
            rows.add("faceshape", f"the product, outline and brows at {a:g}, eyes, nose and mouth at {b:g}", st.stylize_crop(crop, lm))
        for group, st in split.items():
            rows.add("faceshape", f"the product, only the {group} at 0.65, the rest at 0.35", st.stylize_crop(crop, lm))
        for name, st in drawn.items():
            out = st.stylize_crop(crop, lm)
            tpx = (st.fields.target(lm, st.strength) + 1) * size / 2 - 0.5
            if "jawline" in args.sections:
                eyes = draw_anime_eyes(out, tpx)
                if name == "0.35":
                    rows.add("jawline", f"{name}, ink", out)
                    rows.add("jawline", f"{name}, anime eyes (the product's)", eyes)
                    for label, kw in JAW_LINES.items():
                        rows.add("jawline", f"{name}, anime eyes + {label}", draw_jaw(eyes, tpx, OUTLINE, **kw))
                else:
                    rows.add("jawline", f"{name}, anime eyes (the product's)", eyes)
                    rows.add("jawline", f"{name}, anime eyes + jaw line 2 px, snapped, step 0.06", draw_jaw(eyes, tpx, OUTLINE, 2.0, 3.0, 0.06))
            if "eyedraw" not in args.sections:
                continue
            rows.add("eyedraw", f"{name}, ink", out)
            rows.add("eyedraw", f"{name}, anime eyes (the product's)", draw_anime_eyes(out, tpx))
            if name == "0.35":
                eyes = draw_anime_eyes(out, tpx)
                for width in (1.0, 2.0):
                    rows.add("eyedraw", f"{name}, anime eyes + jaw line {width:g} px", draw_face_line(eyes, tpx, OUTLINE, width))
                lower = OUTLINE[1:-1]
                rows.add("eyedraw", f"{name}, anime eyes + lower jaw line 2 px", draw_face_line(eyes, tpx, lower, 2.0))
            for label, kw in EYE_DRAWINGS.items():
                if name == "0.35" or "lash" in label:
                    rows.add("eyedraw", f"{name}, {label}", draw_eye_variant(out, tpx, **kw))
        if not {"regions", "textures"} & set(args.sections):
            print(f"\r{len(used)}/{args.n} selfies", end="", file=sys.stderr, flush=True)
            continue
        # Regions, at full part geometry.
        t, exemplar, warped, model = views["0.35, eyes+nose+mouth 1.0"]
        tpx = _target_pixels(t, m, size)
        eyes = part_masks(t, both, size, width=2.2)
        parts = part_masks(t, both, size, parts=("right_eye", "left_eye", "mouth"), width=2.2)
        face = _hull(tpx, OUTLINE + ("right_brow_outer", "left_brow_outer"), size, up=40 * size / 256)
        inner = _hull(tpx, OUTLINE, size, grow=0.85)
        rows.add("regions", "model", model)
        rows.add("regions", "model + anime eyes", paste_parts(model, exemplar, eyes))
        rows.add("regions", "model + anime skin (not eyes, mouth)", paste_parts(model, exemplar, inner * (1 - parts)))
        rows.add("regions", "model + anime face (with forehead)", paste_parts(model, exemplar, face))
        rows.add("regions", "model + anime hair and background", paste_parts(model, exemplar, 1 - face))
        rows.add("regions", "anime face + model eyes", paste_parts(exemplar, model, eyes))
        rows.add("regions", "anime face + model face", paste_parts(exemplar, model, face))
        rows.add("regions", "anime face", exemplar)
        # Textures (candidate targets), eyes at full style geometry.
        t, exemplar, warped, model = views["0.35, eyes 1.0"]
        tpx = _target_pixels(t, m, size)
        eyes = part_masks(t, both, size, width=2.2)
        mouth = part_masks(t, both, size, parts=("mouth",), width=1.6)
        skin = _hull(tpx, OUTLINE + ("right_brow_outer", "left_brow_outer"), size, grow=0.9, up=10) * (1 - eyes) * (1 - mouth)
        target = cartoon_target(warped, palette, "guided")
        shipped = paste_parts(target, exemplar, eyes)
        rows.add("textures", "selfie warped", warped)
        rows.add("textures", "model", model)
        rows.add("textures", "selfie warped + anime eyes", paste_parts(warped, exemplar, eyes))
        rows.add("textures", "shipped target (filter + palette + anime eyes)", shipped)
        rows.add("textures", "the same without the palette", paste_parts(cartoon_target(warped, None, "guided"), exemplar, eyes))
        rows.add("textures", "half selfie, half target + anime eyes", paste_parts(0.5 * warped + 0.5 * target, exemplar, eyes))
        rows.add("textures", "shipped target + half anime skin", paste_parts(shipped, exemplar, 0.5 * skin))
        rows.add("textures", "shipped target + anime skin", paste_parts(shipped, exemplar, skin))
        print(f"\r{len(used)}/{args.n} selfies", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    own = np.array(inputs)
    results = []
    for key, images in rows.images.items():
        section, name = key.split(" | ", 1)
        lk = np.array([judge.likelihood(im) for im in images])
        out = np.array([embedder.embed(im, b) for im, b in zip(images, boxes, strict=True)])
        dist, rank1 = identity_scores(out, own)
        results.append({
            "section": section, "row": name, "n": len(images),
            "anime_rate": float(np.mean(lk >= 0.99)), "anime_rate_05": float(np.mean(lk >= 0.5)),
            "identity_rank1": rank1, "identity_distance": dist,
        })  # fmt: skip
        if section == "exposure":
            results[-1]["by_face"] = by_face(lk >= 0.99, out, own, np.array(faces))
    judge.close()
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {
        "model": str(base.path), "ink": args.ink, "photos": used, "n": len(used), "seed": args.seed,
        "seconds": round(time.time() - t0, 1), "command": "python benchmarks/anime_judges.py " + " ".join(argv or sys.argv[1:]),
    }  # fmt: skip
    (RESULTS / f"{args.out}.json").write_text(json.dumps({"meta": meta, "rows": results}, indent=1))
    lines = [
        "# What the anime judges react to",
        "",
        f"`{meta['command'].strip()}`: {len(used)} held-out selfies, model `{Path(meta['model']).name}`; "
        "crops at the model's size; anime rate = animeface likelihood >= 0.99 (>= 0.5 in brackets); "
        "identity = dlib rank-1 among these selfies (mean distance in brackets).",
    ]
    for section in SECTIONS:
        if section not in args.sections:
            continue
        lines += ["", f"## {section}", "", "| row | anime rate | identity rank-1 |", "|---|---|---|"]
        for r in results:
            if r["section"] == section:
                lines.append(
                    f"| {r['row']} | {r['anime_rate']:.2f} ({r['anime_rate_05']:.2f}) | "
                    f"{r['identity_rank1']:.2f} ({r['identity_distance']:.3f}) |"
                )
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    # Contact sheet: one strip of the first 6 selfies per row, labelled.
    strips = []
    for key, images in rows.images.items():
        strip = np.concatenate([cv2.resize(im, (128, 128)) for im in images[:6]], 1)
        label = np.full((18, strip.shape[1], 3), 255, np.uint8)
        cv2.putText(label, key, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        strips.append(np.vstack([label, strip]))
    save_image(ROOT / "docs" / "img" / f"{args.out}.jpg", np.vstack(strips))
    return 0


if __name__ == "__main__":
    sys.exit(main())
