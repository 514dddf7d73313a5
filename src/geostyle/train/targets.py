"""Dense per-pixel targets and hard fakes: what a cartoon has by construction, available from step 1.

A discriminator needs 10^5+ samples before it teaches texture (see docs/training.md); these give the
generator something to regress to from the first step, so the style shows within a CPU hour:

* :func:`cartoon_target` — the photo (already warped to the style geometry) recoloured to the
  exemplars' palette, flattened by repeated edge-preserving smoothing, its colours quantised and dark
  line art drawn where the luminance has edges. Identity survives (it is the photo's own structure);
  palette, flat regions and lines are the style's.
* :func:`edge_smoothed` — exemplars whose line art is blurred away (CartoonGAN's edge promotion):
  shown to the discriminators as *fake*, they teach that crisp lines are what makes a style image real.

All functions work on ``(B, H, W, 3)`` uint8 RGB arrays (one image at a time through OpenCV); the
trainer converts with :func:`geostyle.data.images.to_uint8` / ``from_uint8``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np
import torch

from geostyle.data.images import to_uint8


@dataclass(frozen=True)
class Palette:
    """Per-channel mean and spread of the exemplars in CIE Lab (OpenCV's 8-bit Lab scaling)."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    # The cheeks' a*, b* (:func:`skin_chroma`): where the ``"skin"`` transfer anchors the chroma.
    skin: tuple[float, float] | None = None

    @classmethod
    def of(cls, images: np.ndarray) -> Palette:
        """Statistics over all pixels of ``images (N, H, W, 3)`` uint8 RGB."""
        lab = np.stack([cv2.cvtColor(im, cv2.COLOR_RGB2LAB) for im in images]).reshape(-1, 3)
        lab = lab.astype(np.float64)
        return cls(tuple(lab.mean(0).tolist()), tuple(lab.std(0).tolist()))  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, list[float]]:
        out = {"mean": list(self.mean), "std": list(self.std)}
        if self.skin is not None:
            out["skin"] = list(self.skin)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Palette:
        """The inverse of :meth:`to_dict` (a release's ``extra.photo_palette``). Raises ValueError
        where ``data`` is not three means and three spreads."""
        try:
            mean = tuple(float(v) for v in data["mean"])
            std = tuple(float(v) for v in data["std"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a palette: {data!r} ({exc})") from exc
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f"not a palette: {data!r} (three means and three spreads expected)")
        skin = None
        if data.get("skin") is not None:
            try:
                skin = tuple(float(v) for v in data["skin"])
            except (TypeError, ValueError) as exc:
                raise ValueError(f"not a palette: {data!r} ({exc})") from exc
            if len(skin) != 2:
                raise ValueError(f"not a palette: {data!r} (the skin's a* and b* expected)")
        return cls(mean, std, skin)  # type: ignore[arg-type]


PALETTE_TRANSFERS = ("reinhard", "neutral", "set", "skin")
_NEUTRAL = 128.0  # a* and b* of grey in OpenCV's 8-bit Lab


def transfer_palette(
    image: np.ndarray,
    palette: Palette,
    amount: float = 1.0,
    mode: str = "reinhard",
    source: Palette | None = None,
) -> np.ndarray:
    """Move the colours of one ``(H, W, 3)`` uint8 RGB image toward ``palette``; ``amount`` 0 keeps
    the image, 1 takes the palette fully.

    ``"reinhard"``: every Lab channel to the palette's mean and spread (Reinhard colour transfer).
    On a face crop the chroma's mean is the skin's, so greys and blacks (less red than the mean)
    come out green-blue after the spread is scaled up: the teal blacks of models trained on it.
    Each crop is moved to the same mean lightness, so a darker face is lifted further than a light
    one: on 198 held-out selfie crops the cheeks of the darkest (luma under 80) rise by 78 levels,
    those over 160 by 14 (``benchmarks/target_skin_tone.py``; the skin-tone bias of models trained
    on it; docs/training.md, "Skin tone at its root").
    ``"set"``: the same transfer with one mean and spread for every image, ``source``'s (the photo
    set's, as the images drawn from it look): the set as a whole takes the palette, and what tells
    one person from another (a darker or lighter skin, a dark or light background) stays (the same
    cheeks rise 18-29 levels in every group).
    ``"skin"``: ``"set"`` with the chroma's means taken from the cheeks (both palettes'
    :attr:`Palette.skin`), so the photo set's skin colour goes to the exemplars' skin colour and every
    other colour keeps its offset from the skin. With few exemplars the whole-image mean is their
    hair's and backgrounds' colour as much as their skin's: one green-haired exemplar moved every
    face green under ``"set"`` (docs/training.md, "One and three exemplars").
    ``"neutral"``: the lightness as Reinhard; the chroma scaled about grey (by the ratio of the
    palette's RMS chroma to the image's) and shifted toward the palette's mean chroma only as far
    as a pixel is as colourful as the image's mean colour and not dark (lightness 25-75 in OpenCV's
    8-bit L, about L* 10-29), so greys and blacks stay neutral while the skin takes the exemplars'
    colour. Neither mode caps its scale: a nearly grey but noisy crop gets its noise coloured (an
    exactly grey one stays grey)."""
    if mode not in PALETTE_TRANSFERS:
        raise ValueError(f"unknown palette transfer {mode!r}; expected one of {PALETTE_TRANSFERS}")
    if (mode in ("set", "skin")) != (source is not None):
        raise ValueError("the 'set' and 'skin' transfers need the photo set's statistics (`source`); the others take none")
    if mode == "skin":
        if source is None or source.skin is None or palette.skin is None:
            raise ValueError("the 'skin' transfer needs the skin's chroma of both palettes (Palette.skin)")
        source = replace(source, mean=(source.mean[0], *source.skin))
        palette = replace(palette, mean=(palette.mean[0], *palette.skin))
        mode = "set"
    lab8 = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    if mode in ("reinhard", "set"):
        # Per channel ``lab + amount (moved - lab)`` = ``(lab - mean) scale + shifted mean``, in
        # float32 (float64 arrays made this about 1 ms of a 128 px crop, eight a training step);
        # statistics in float64 by OpenCV. Centred first: a grey photo's flat chroma (spread 0, scale
        # ~1e7) stays exactly at the palette's mean instead of cancelling two huge products.
        if source is None:
            mean_cv, std_cv = cv2.meanStdDev(lab8)
            mean, std = mean_cv.ravel(), std_cv.ravel() + 1e-6
        else:
            mean, std = np.asarray(source.mean), np.asarray(source.std) + 1e-6
        scale = 1.0 + amount * (np.asarray(palette.std) / std - 1.0)
        shifted = mean + amount * (np.asarray(palette.mean) - mean)
        out = (lab8.astype(np.float32) - mean.astype(np.float32)) * scale.astype(np.float32)
        out += shifted.astype(np.float32)
        return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    lab = lab8.astype(np.float64)
    mean, std = lab.reshape(-1, 3).mean(0), lab.reshape(-1, 3).std(0) + 1e-6
    lightness = (lab[..., 0] - mean[0]) / std[0] * palette.std[0] + palette.mean[0]
    chroma = lab[..., 1:] - _NEUTRAL
    own_mean = chroma.reshape(-1, 2).mean(0)
    own_rms = np.sqrt((chroma**2).sum(-1).mean()) + 1e-6
    target_mean = np.asarray(palette.mean[1:]) - _NEUTRAL
    # RMS chroma about grey of the exemplars, from their per-channel mean and spread.
    target_rms = float(np.sqrt(sum(palette.std[c] ** 2 + (palette.mean[c] - _NEUTRAL) ** 2 for c in (1, 2))))
    scale = target_rms / own_rms
    colourful = np.clip(np.linalg.norm(chroma, axis=-1) / (np.linalg.norm(own_mean) + 1e-6), 0.0, 1.0)
    lit = np.clip((lightness - 25.0) / 50.0, 0.0, 1.0)
    shift = colourful * lit * lit * (3.0 - 2.0 * lit)
    chroma = scale * chroma + shift[..., None] * (target_mean - scale * own_mean)
    moved = np.dstack([lightness, chroma + _NEUTRAL])
    out = lab + amount * (moved - lab)
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def cartoon_image(
    image: np.ndarray,
    palette: Palette | None = None,
    smoothing_passes: int = 4,
    levels: int = 10,
    line_strength: float = 0.85,
    palette_mode: str = "reinhard",
    source: Palette | None = None,
) -> np.ndarray:
    """One ``(H, W, 3)`` uint8 RGB image as a flat-colour, line-art cartoon.

    Scale-aware: filter sizes follow the image side (tuned at 128-256 px face crops). ``palette_mode``
    and ``source``: see :func:`transfer_palette`.
    """
    h, w = image.shape[:2]
    side = min(h, w)
    img = transfer_palette(image, palette, mode=palette_mode, source=source) if palette is not None else image
    d = 5 if side <= 160 else 7
    flat = img
    for _ in range(smoothing_passes):
        flat = cv2.bilateralFilter(flat, d, 40, 5)
    # Quantise in Lab lightness only (hue quantisation posterises skin into bands); chroma is
    # flattened by the smoothing above.
    lab = cv2.cvtColor(flat, cv2.COLOR_RGB2LAB).astype(np.float32)
    step = 255.0 / levels
    lab[..., 0] = np.floor(lab[..., 0] / step) * step + step / 2
    flat = cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    # Median blur first and a margin of 8 grey levels: lines where the face has structure (eyes,
    # brows, mouth, outlines), not on every strand of hair or skin pore.
    gray = cv2.medianBlur(gray, 5 if side <= 160 else 7)
    block = max(5, (side // 24) | 1)
    edges = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 8)
    line = (edges < 128).astype(np.float32)[..., None] * line_strength
    out = flat.astype(np.float32) * (1.0 - line) + 25.0 * line
    return np.clip(out, 0, 255).astype(np.uint8)


CARTOON_FILTERS = ("bilateral", "guided")


def cartoon_target(
    images: torch.Tensor,
    palette: Palette | None,
    kind: str = "bilateral",
    palette_mode: str = "reinhard",
    drawn: torch.Tensor | None = None,
    source: Palette | None = None,
) -> torch.Tensor:
    """The cartoon of a ``(B, 3, H, W)`` batch in [-1, 1]; returns the same layout. ``kind``
    ``"bilateral"``: :func:`cartoon_image` (OpenCV); ``"guided"``: the generator's in-graph filter
    (:func:`geostyle.nets.blocks.cartoon_base`) moved to ``palette`` — the target of a generator
    built on that base, which then only has to learn what the exemplars add. ``palette_mode``: see
    :func:`transfer_palette`, as is ``source`` (the photo set's statistics, for ``"set"``: as the
    filter draws them, see :func:`source_palette`). ``drawn``: with ``"guided"``, the in-graph filter
    of ``images`` when the caller has it already (the trainer shares it with the generator's pass)."""
    if kind not in CARTOON_FILTERS:
        raise ValueError(f"unknown cartoon filter {kind!r}; expected one of {CARTOON_FILTERS}")
    if drawn is not None and kind != "guided":
        raise ValueError(f"`drawn` is the in-graph filter's drawing; the {kind!r} target draws its own")
    if kind == "guided":
        from geostyle.nets.blocks import cartoon_base

        if drawn is None:
            drawn = cartoon_base(images.detach().cpu().float())
        drawn_u8 = to_uint8(drawn.detach().cpu().float())
        out = np.stack(
            [
                transfer_palette(im, palette, mode=palette_mode, source=source) if palette is not None else im
                for im in drawn_u8
            ]
        )
    else:
        out = np.stack(
            [cartoon_image(im, palette, palette_mode=palette_mode, source=source) for im in to_uint8(images)]
        )
    return torch.from_numpy(out).permute(0, 3, 1, 2).float().div(127.5).sub(1.0).to(images.device)


# Photos the set's statistics are measured on: on the anime preset's 1000 selfies, 256 of them give
# means and spreads within 0.85 Lab levels of all 1000's (measured by hand).
SOURCE_PALETTE_IMAGES = 256


def source_palette(
    photos: torch.Tensor,
    draw: Callable[[torch.Tensor], torch.Tensor] | None = None,
    limit: int = SOURCE_PALETTE_IMAGES,
    points: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
) -> Palette:
    """The photo set's Lab statistics as :func:`cartoon_target` transfers them (``"set"``): of the
    photos themselves (the ``"bilateral"`` target moves the photo before filtering it), or of
    ``draw(photos)`` (the ``"guided"`` target moves the generator's drawing of the photo, darker by
    its lines: pass the generator's ``draw_base``). At most ``limit`` photos of ``photos (N, 3, H,
    W)``, uint8 as a prepared set holds them or float in [-1, 1], spread evenly over the set. With
    the set's ``points (N, K, 2)`` (normalised) and ``mask (N, K)``, the palette also carries the
    cheeks' chroma of the same images (:func:`skin_chroma`, for the ``"skin"`` transfer)."""
    if len(photos) == 0:
        raise ValueError("no photos to measure the set's palette on")
    pick = np.unique(np.linspace(0, len(photos) - 1, min(limit, len(photos))).round().astype(int))
    images = photos[torch.from_numpy(pick)].detach().cpu()
    images = images.float().div(127.5).sub(1.0) if images.dtype == torch.uint8 else images.float()
    if draw is not None:
        with torch.no_grad():
            images = torch.cat([draw(images[i : i + 16]).float() for i in range(0, len(images), 16)])
    drawn = to_uint8(images)
    palette = Palette.of(drawn)
    if points is None or mask is None:
        return palette
    index = torch.from_numpy(pick)
    return replace(palette, skin=skin_chroma(drawn, points[index].numpy(), mask[index].numpy()))


def skin_chroma(images: np.ndarray, points: np.ndarray, mask: np.ndarray) -> tuple[float, float] | None:
    """The mean over ``images (N, H, W, 3)`` uint8 RGB of each face's median a*, b* (OpenCV's 8-bit
    Lab) on its cheeks: the triangles of the lower eyelid's middle, the nose tip and the mouth corner
    on each side, shrunk to 0.8 about their centres (clear of lids and lips). ``points (N, K, 2)`` in
    the normalised frame, ``mask (N, K)`` which are present; the nose tip, not the nose's sides,
    since anime faces have none. None where no face has those points."""
    from geostyle.faces.landmarks import cheek_mask, normalized_to_pixels

    chroma = []
    for image, pts, present in zip(images, np.asarray(points, np.float64), np.asarray(mask, bool), strict=True):
        h, w = image.shape[:2]
        pixels = np.where(present[:, None], normalized_to_pixels(pts, w, h), np.nan)
        cheeks = cheek_mask((h, w), pixels, nose="tip")
        if cheeks.sum() < 16:
            continue
        lab = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2LAB)[cheeks]
        chroma.append(np.median(lab[:, 1:].astype(np.float64), axis=0))
    if not chroma:
        return None
    a, b = np.mean(chroma, axis=0)
    return float(a), float(b)


def edge_smoothed(images: np.ndarray) -> np.ndarray:
    """``(N, H, W, 3)`` uint8 exemplars with their line art blurred away (edge-promoting fakes):
    Canny edges, dilated, replaced by a Gaussian-blurred copy there."""
    out = []
    for im in images:
        side = min(im.shape[:2])
        gray = cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)
        edges = cv2.Canny(gray, 100, 200)
        k = 3 if side <= 160 else 5
        mask = cv2.dilate(edges, np.ones((k, k), np.uint8)) > 0
        blurred = cv2.GaussianBlur(im, (k, k), 0)
        res = im.copy()
        res[mask] = blurred[mask]
        out.append(res)
    return np.stack(out)


# Facial parts whose pixels :func:`paste_parts` takes from the aligned exemplar.
PASTE_PARTS: dict[str, tuple[str, str, str]] = {
    # part: (centre, one corner, the other corner) of the canonical landmark set
    "right_eye": ("right_eye_center", "right_eye_outer", "right_eye_inner"),
    "left_eye": ("left_eye_center", "left_eye_outer", "left_eye_inner"),
    "mouth": ("mouth_center", "mouth_right", "mouth_left"),
}


def part_masks(
    points: torch.Tensor,
    mask: torch.Tensor,
    size: int,
    parts: tuple[str, ...] = ("right_eye", "left_eye"),
    width: float = 1.6,
    aspect: float = 0.8,
    feather: float = 0.35,
) -> torch.Tensor:
    """Soft elliptical masks ``(B, 1, size, size)`` in [0, 1] around facial parts.

    Convention: ``points (B, K, 2)`` and ``mask (B, K)`` in the normalised crop frame
    (``align_corners=False``), ``(x, y)`` order, canonical landmark order. Each part's ellipse sits at
    its centre landmark; its horizontal semi-axis is ``width`` x half the corner-to-corner distance,
    the vertical one ``aspect`` x that; the mask falls from 1 to 0 over the outer ``feather`` of the
    radius. A part with a missing landmark gets no mask.
    """
    from geostyle.faces.landmarks import INDEX

    b = points.shape[0]
    coords = (torch.arange(size, dtype=points.dtype, device=points.device) + 0.5) * (2.0 / size) - 1.0
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    out = torch.zeros(b, 1, size, size, dtype=points.dtype, device=points.device)
    for part in parts:
        c, a, z = (INDEX[n] for n in PASTE_PARTS[part])
        ok = (mask[:, c] & mask[:, a] & mask[:, z]).to(points.dtype)  # (B,)
        half = 0.5 * (points[:, a] - points[:, z]).norm(dim=-1).clamp_min(1e-3)  # (B,)
        ax, ay = width * half, aspect * width * half
        dx = (xx[None] - points[:, c, 0, None, None]) / ax[:, None, None]
        dy = (yy[None] - points[:, c, 1, None, None]) / ay[:, None, None]
        r = torch.sqrt(dx * dx + dy * dy)
        m = ((1.0 - r) / feather).clamp(0.0, 1.0) * ok[:, None, None]
        out = torch.maximum(out, m[:, None])
    return out


SKIN_OUTLINE = (
    "jaw_right", "cheek_right", "jaw_right_lower", "chin", "jaw_left_lower", "cheek_left", "jaw_left",
    "right_brow_outer", "right_brow_center", "left_brow_center", "left_brow_outer",
)  # fmt: skip


def skin_masks(points: torch.Tensor, mask: torch.Tensor, size: int, shrink: float = 0.9) -> torch.Tensor:
    """Soft masks ``(B, 1, size, size)`` of the face's skin region: the convex hull of the outline
    and brow points (normalised crop frame, as :func:`part_masks`), shrunk by ``shrink`` toward its
    centre so the face's own edge stays the photo's, feathered over 1.5 % of the crop side. A face
    with fewer than 5 of those points present gets no mask. Eyes and mouth are not cut out here
    (multiply by ``1 - part_masks(...)``)."""
    from geostyle.faces.landmarks import INDEX

    idx = [INDEX[n] for n in SKIN_OUTLINE]
    pts = ((points[:, idx].detach().cpu().double().numpy() + 1.0) * size / 2.0) - 0.5
    ok = mask[:, idx].cpu().numpy()
    out = np.zeros((points.shape[0], 1, size, size), np.float32)
    for i in range(points.shape[0]):
        p = pts[i][ok[i]]
        if len(p) < 5:
            continue
        c = p.mean(0)
        hull = cv2.convexHull((c + (p - c) * shrink).astype(np.float32)).astype(np.int32)
        cv2.fillConvexPoly(out[i, 0], hull, (1.0,))
        out[i, 0] = cv2.GaussianBlur(out[i, 0], (0, 0), max(0.5, 0.015 * size))
    return torch.from_numpy(out).to(device=points.device, dtype=points.dtype)


def paste_parts(target: torch.Tensor, exemplar: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """The dense target with facial parts taken from the exemplar aligned onto the same geometry
    (the paper's aligned pairs, at local scale): ``target (B, 3, H, W)``, ``exemplar`` the same,
    ``masks (B, 1, H, W)`` from :func:`part_masks`."""
    return target * (1.0 - masks) + exemplar * masks
