"""Similarity alignment of faces to a canonical square crop, its inverse, and feathered paste-back.

Convention
----------
* A transform is a ``(2, 3)`` float64 matrix ``M`` acting on **pixel** coordinates
  (pixel centres at integers, see :mod:`geostyle.faces.landmarks`): ``q = M[:, :2] @ p + M[:, 2]``
  maps a point ``p`` of the source image to the point ``q`` of the crop. It is a similarity
  (rotation, uniform scale, translation), never a reflection.
* The framing follows the FFHQ recipe (eye centres and mouth centre define an oriented square of side
  ``2 * max(2 * |eye_to_eye|, 1.8 * |eye_to_mouth|)``), divided by ``zoom``: ``zoom > 1`` crops tighter.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from geostyle.faces.landmarks import INDEX

_BORDER_MODES = {
    "replicate": cv2.BORDER_REPLICATE,
    "reflect": cv2.BORDER_REFLECT101,
    "constant": cv2.BORDER_CONSTANT,
}


@dataclass(frozen=True)
class Alignment:
    """A source-image -> crop similarity and the crop size it was built for."""

    matrix: np.ndarray  # (2, 3), source pixels -> crop pixels
    size: int

    @property
    def inverse(self) -> np.ndarray:
        """``(2, 3)`` crop pixels -> source pixels."""
        return invert_affine(self.matrix)

    @property
    def scale(self) -> float:
        """Crop pixels per source pixel."""
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a ``(2, 3)`` affine map."""
    a = np.asarray(matrix, dtype=np.float64)[:, :2]
    t = np.asarray(matrix, dtype=np.float64)[:, 2]
    a_inv = np.linalg.inv(a)
    return np.concatenate([a_inv, (-a_inv @ t)[:, None]], axis=1)


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a ``(2, 3)`` map to points ``(..., 2)``; NaN (missing) points stay NaN."""
    m = np.asarray(matrix, dtype=np.float64)
    pts = np.asarray(points, dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]


def _anchor(landmarks: np.ndarray, *names: str) -> np.ndarray | None:
    for name in names:
        p = landmarks[INDEX[name]]
        if np.isfinite(p).all():
            return p
    return None


def _mouth_center(landmarks: np.ndarray) -> np.ndarray | None:
    center = _anchor(landmarks, "mouth_center")
    if center is not None:
        return center
    right, left = _anchor(landmarks, "mouth_right"), _anchor(landmarks, "mouth_left")
    if right is not None and left is not None:
        return (right + left) / 2
    return None


def estimate_alignment(landmarks: np.ndarray, size: int = 256, zoom: float = 1.0) -> Alignment:
    """Similarity that brings a face to the canonical ``size x size`` crop.

    ``landmarks`` is ``(K, 2)`` canonical, pixel frame of the source image. Needs both eye centres and
    the mouth (centre, or both corners); raises ``ValueError`` otherwise.
    """
    eye_r = _anchor(landmarks, "right_eye_center")
    eye_l = _anchor(landmarks, "left_eye_center")
    mouth = _mouth_center(landmarks)
    if eye_r is None or eye_l is None or mouth is None:
        raise ValueError("alignment needs both eye centres and the mouth")
    if size < 8 or zoom <= 0:
        raise ValueError(f"bad crop size {size} or zoom {zoom}")
    # The subject's right eye is on the image's left in a frontal view, so this vector points to +x.
    eye_to_eye = eye_l - eye_r
    eye_avg = (eye_l + eye_r) / 2
    eye_to_mouth = mouth - eye_avg
    # Orientation blends the eye line and the perpendicular of the eye-mouth line (FFHQ recipe):
    # robust to a single noisy eye.
    x_axis = eye_to_eye - np.array([-eye_to_mouth[1], eye_to_mouth[0]])
    norm = np.hypot(*x_axis)
    if not np.isfinite(norm) or norm < 1e-6:
        raise ValueError("degenerate eye/mouth configuration")
    x_axis /= norm
    half_side = max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8) / zoom
    center = eye_avg + eye_to_mouth * 0.1
    k = size / (2.0 * half_side)
    rot_t = np.array([[x_axis[0], x_axis[1]], [-x_axis[1], x_axis[0]]])  # R^T, R = [x_axis, y_axis]
    a = k * rot_t
    # Continuous crop centre is size/2, i.e. pixel coordinate size/2 - 0.5.
    t = np.array([size / 2 - 0.5, size / 2 - 0.5]) - a @ center
    return Alignment(np.concatenate([a, t[:, None]], axis=1), size)


def warp_to_crop(image: np.ndarray, alignment: Alignment, border: str = "replicate") -> np.ndarray:
    """Resample ``image`` (H, W[, C]) into the ``size x size`` crop of ``alignment``."""
    if border not in _BORDER_MODES:
        raise ValueError(f"border must be one of {sorted(_BORDER_MODES)}")
    # Downscaling by a large factor aliases with bilinear sampling; area-average first.
    src, matrix = image, alignment.matrix
    scale = alignment.scale
    if scale < 0.5:
        factor = int(np.floor(1.0 / scale))
        h, w = image.shape[:2]
        src = cv2.resize(image, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
        fx, fy = w / src.shape[1], h / src.shape[0]
        # p_src_small = (p + 0.5) / f - 0.5  =>  p = f * p_small + (f - 1) / 2
        up = np.array([[fx, 0, (fx - 1) / 2], [0, fy, (fy - 1) / 2]])
        matrix = compose_affine(matrix, up)
    return cv2.warpAffine(
        src,
        matrix,
        (alignment.size, alignment.size),
        flags=cv2.INTER_LINEAR,
        borderMode=_BORDER_MODES[border],
    )


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """``outer ∘ inner`` for ``(2, 3)`` maps."""
    o = np.vstack([outer, [0, 0, 1]])
    i = np.vstack([inner, [0, 0, 1]])
    return (o @ i)[:2]


def feather_mask(size: int, feather: float = 0.1) -> np.ndarray:
    """``(size, size)`` float32 mask: 1 inside, a smooth ramp to 0 over ``feather * size`` at the border."""
    ramp = max(1.0, feather * size)
    idx = np.arange(size, dtype=np.float32)
    edge = np.minimum(idx + 0.5, size - 0.5 - idx)  # distance to the crop border
    one_d = np.clip(edge / ramp, 0.0, 1.0)
    one_d = one_d * one_d * (3 - 2 * one_d)  # smoothstep: no visible seam at the ramp ends
    return np.outer(one_d, one_d).astype(np.float32)


def paste_back(
    frame: np.ndarray,
    crop: np.ndarray,
    alignment: Alignment,
    feather: float = 0.1,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Blend a processed ``crop`` back into ``frame`` (uint8, same channels) through the inverse similarity.

    Pixels of ``frame`` that the (feathered) crop does not reach are returned bit-for-bit unchanged.
    """
    if crop.shape[:2] != (alignment.size, alignment.size):
        raise ValueError(f"crop is {crop.shape[:2]}, alignment expects {alignment.size}x{alignment.size}")
    h, w = frame.shape[:2]
    inv = alignment.inverse
    weight: np.ndarray = feather_mask(alignment.size, feather) if mask is None else mask.astype(np.float32)
    back = cv2.warpAffine(crop, inv, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(
        weight,
        inv,
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0.0, 0.0, 0.0, 0.0),
    )
    out = frame.copy()
    touched = alpha > 0
    if frame.ndim == 3:
        a = alpha[touched][:, None]
    else:
        a = alpha[touched]
    blended = frame[touched].astype(np.float32) * (1 - a) + back[touched].astype(np.float32) * a
    out[touched] = np.clip(np.rint(blended), 0, 255).astype(frame.dtype)
    return out


# The fill beyond a picture's edge (surround): the mirrored picture blurred over this share of the
# crop's side (so the fill has no detail finer than the crop's own large shapes), and drawn toward
# the mean colour of the picture around the crop over this share of it, up to MEAN_SHARE of the way:
# far from the picture a crop shows a soft plain backdrop, near it the picture's own colours go on.
# The fill is made where the crop is SURROUND_SIDE pixels wide.
SURROUND_BLUR = 0.08
SURROUND_FADE = 0.25
SURROUND_MEAN_SHARE = 0.9
SURROUND_SIDE = 64


@dataclass(frozen=True)
class Surround:
    """The part of a picture a face's crop reads, extended past the picture's edges where the crop
    reaches beyond them."""

    frame: np.ndarray  # (h, w[, C]): the window around the crop, or the picture itself
    alignment: Alignment  # the face's crop, from ``frame``'s pixels
    offset: tuple[int, int]  # (x, y): where the picture's pixel (0, 0) lies in ``frame`` (may be < 0)
    extended: bool  # False: ``frame`` is the picture itself


def surround(image: np.ndarray, alignment: Alignment, reach: float = 1.0) -> Surround:
    """The window of ``image`` that the crop of ``alignment`` (widened about its centre to ``reach``
    times its side) covers, extended where it lies past the picture by the picture's own mirror
    image, blurred and faded toward the mean colour of the picture around the crop; the alignment moved onto that window. ``image``
    itself (not a copy) when the widened crop lies inside it.

    Replicating the edge pixels (what :func:`warp_to_crop` does by default) draws every crop of a face
    near the top of a selfie with long stripes above the head, which a stylizer then draws as stripes.
    This is the FFHQ recipe's answer (mirror, blur, fade to a plain colour), worked out at the crop's
    own scale, so a large photo costs little more than a small one. Pixels of the picture are not
    touched."""
    if image.ndim not in (2, 3) or image.dtype != np.uint8:
        raise ValueError(f"surround needs a uint8 (H, W[, C]) picture, got {image.dtype} {image.shape}")
    if not reach >= 1.0:
        raise ValueError(f"reach must be at least 1, got {reach}")
    h, w = image.shape[:2]
    s = alignment.size
    half = s * reach / 2.0
    c = (s - 1) / 2.0
    corners = np.array([[c - half, c - half], [c + half, c - half], [c - half, c + half], [c + half, c + half]])
    pts = apply_affine(alignment.inverse, corners)
    lo, hi = pts.min(0), pts.max(0)
    if lo[0] >= 0.0 and lo[1] >= 0.0 and hi[0] <= w - 1 and hi[1] <= h - 1:
        return Surround(image, alignment, (0, 0), False)
    # The window: the widened crop's bounding box in picture pixels, two more for bilinear taps. (A
    # face warp_to_crop area-averages first takes its blocks from the window's grid, not the
    # picture's: the crop may differ from one cut from the whole picture by a level or two.)
    x0, y0 = (int(np.floor(v)) - 2 for v in lo)
    x1, y1 = (int(np.ceil(v)) + 3 for v in hi)
    # The part of the picture the fill is made from: the window's, widened by the blur's reach (at
    # least a pixel, where the window lies wholly past the picture), so a large photo is not read whole.
    margin = int(np.ceil(3 * SURROUND_BLUR * s / alignment.scale))
    px0, py0 = min(max(0, x0 - margin), w - 1), min(max(0, y0 - margin), h - 1)
    px1, py1 = max(min(w, x1 + margin), px0 + 1), max(min(h, y1 + margin), py0 + 1)
    part = image[py0:py1, px0:px1]
    ph, pw = part.shape[:2]
    # How far the window reaches past each side of that part (only where it is the picture's edge).
    left, top, right, bottom = max(0, px0 - x0), max(0, py0 - y0), max(0, x1 - px1), max(0, y1 - py1)

    # Work where the crop is SURROUND_SIDE pixels wide (never above the picture's scale): the fill has
    # no detail finer than that, and a large photo or a wide reach costs little more than a small one.
    k = min(1.0, alignment.scale * SURROUND_SIDE / s)
    side = s / alignment.scale * k  # the crop's side at that scale (SURROUND_SIDE, or less)
    sw, sh = max(1, int(round(pw * k))), max(1, int(round(ph * k)))
    small = part if k == 1.0 else cv2.resize(part, (sw, sh), interpolation=cv2.INTER_AREA)
    kx, ky = sw / pw, sh / ph
    pl, pt, pr, pb = (int(np.ceil(v * f)) + 1 for v, f in ((left, kx), (top, ky), (right, kx), (bottom, ky)))
    mirrored = cv2.copyMakeBorder(small, pt, pb, pl, pr, cv2.BORDER_REFLECT101).astype(np.float32)
    outside = np.ones(mirrored.shape[:2], np.uint8)
    outside[pt : pt + sh, pl : pl + sw] = 0
    dist = cv2.distanceTransform(outside, cv2.DIST_L2, 5)  # pixels from the picture, at that scale
    if mirrored.ndim == 2:
        mirrored = mirrored[..., None]
    blurred = cv2.GaussianBlur(mirrored, (0, 0), SURROUND_BLUR * side).reshape(mirrored.shape)
    mean = small.reshape(-1, mirrored.shape[2]).astype(np.float32).mean(0)
    to_blur = np.clip(dist / (SURROUND_BLUR * side), 0.0, 1.0)[..., None]
    to_mean = SURROUND_MEAN_SHARE * np.clip(dist / (SURROUND_FADE * side), 0.0, 1.0)[..., None]
    fill = mirrored + (blurred - mirrored) * to_blur
    fill = fill + (mean - fill) * to_mean
    fill_u8 = np.clip(np.rint(fill), 0, 255).astype(np.uint8)
    if image.ndim == 2:
        fill_u8 = fill_u8[..., 0]

    # Back to the picture's scale over the window only: window pixel q is picture pixel q + (x0, y0),
    # part pixel q + (x0 - px0, y0 - py0), small-frame pixel (p + 0.5) * k - 0.5 + (pl, pt).
    to_small = np.array(
        [[kx, 0.0, (x0 - px0 + 0.5) * kx - 0.5 + pl], [0.0, ky, (y0 - py0 + 0.5) * ky - 0.5 + pt]]
    )
    frame = cv2.warpAffine(
        fill_u8, to_small, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    # The picture's own pixels inside the window, as they are.
    ix0, iy0, ix1, iy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if ix1 > ix0 and iy1 > iy0:
        frame[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0] = image[iy0:iy1, ix0:ix1]
    matrix = np.array(alignment.matrix, dtype=np.float64)
    matrix[:, 2] += matrix[:, :2] @ np.array([x0, y0], dtype=np.float64)
    return Surround(frame, Alignment(matrix, s), (-x0, -y0), True)
