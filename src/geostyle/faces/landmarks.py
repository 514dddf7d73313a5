"""The canonical sparse landmark set shared by every domain (photos, anime, sketches, paintings).

Convention
----------
* Names are from the **subject's** point of view, as in iBUG-300W and mediapipe: in a frontal
  photo ``right_eye_*`` appears on the image's *left*.
* A landmark array has shape ``(K, 2)`` (or ``(B, K, 2)`` batched) with ``K = len(CANONICAL_NAMES)``
  in the order of ``CANONICAL_NAMES`` and columns ``(x, y)``.
* Unless a function says otherwise, coordinates are **pixels of a named image**, with the centre of
  the top-left pixel at ``(0, 0)``; the image covers ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``.
  The normalised frame used by ``torch.nn.functional.grid_sample`` with ``align_corners=False``
  is reached only through :func:`pixels_to_normalized` / :func:`normalized_to_pixels`.
* A point a source cannot give is *missing*: its row is NaN and its entry in the visibility mask is
  False. Missing points are never invented.

The definitions on iBUG-68 (1-based indices) are the reference every backend imitates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# name -> iBUG-68 1-based indices whose mean defines the point.
IBUG68_DEFINITION: dict[str, tuple[int, ...]] = {
    "right_eye_outer": (37,),
    "right_eye_inner": (40,),
    "left_eye_inner": (43,),
    "left_eye_outer": (46,),
    "right_eye_center": (37, 38, 39, 40, 41, 42),
    "left_eye_center": (43, 44, 45, 46, 47, 48),
    "right_eye_top": (38, 39),
    "right_eye_bottom": (41, 42),
    "left_eye_top": (44, 45),
    "left_eye_bottom": (47, 48),
    "right_brow_outer": (18,),
    "right_brow_center": (20,),
    "right_brow_inner": (22,),
    "left_brow_inner": (23,),
    "left_brow_center": (25,),
    "left_brow_outer": (27,),
    "nose_bridge": (28,),
    "nose_tip": (31,),
    "nose_base": (34,),
    "nose_right": (32,),
    "nose_left": (36,),
    "mouth_right": (49,),
    "mouth_left": (55,),
    "mouth_top": (52,),
    "mouth_bottom": (58,),
    "mouth_center": (63, 67),
    "chin": (9,),
    "jaw_right": (1,),
    "jaw_left": (17,),
    "cheek_right": (4,),
    "cheek_left": (14,),
    "jaw_right_lower": (6,),
    "jaw_left_lower": (12,),
}

CANONICAL_NAMES: tuple[str, ...] = tuple(IBUG68_DEFINITION)
NUM_LANDMARKS = len(CANONICAL_NAMES)
INDEX: dict[str, int] = {name: i for i, name in enumerate(CANONICAL_NAMES)}

# Facial parts used by local warps and local discriminators.
PARTS: dict[str, tuple[str, ...]] = {
    "right_eye": (
        "right_eye_outer",
        "right_eye_inner",
        "right_eye_center",
        "right_eye_top",
        "right_eye_bottom",
    ),
    "left_eye": ("left_eye_inner", "left_eye_outer", "left_eye_center", "left_eye_top", "left_eye_bottom"),
    "nose": ("nose_bridge", "nose_tip", "nose_base", "nose_right", "nose_left"),
    "mouth": ("mouth_right", "mouth_left", "mouth_top", "mouth_bottom", "mouth_center"),
}

# Mirror pairs, for horizontal-flip augmentation.
_MIRROR_PAIRS = [
    ("right_eye_outer", "left_eye_outer"),
    ("right_eye_inner", "left_eye_inner"),
    ("right_eye_center", "left_eye_center"),
    ("right_eye_top", "left_eye_top"),
    ("right_eye_bottom", "left_eye_bottom"),
    ("right_brow_outer", "left_brow_outer"),
    ("right_brow_center", "left_brow_center"),
    ("right_brow_inner", "left_brow_inner"),
    ("nose_right", "nose_left"),
    ("mouth_right", "mouth_left"),
    ("jaw_right", "jaw_left"),
    ("cheek_right", "cheek_left"),
    ("jaw_right_lower", "jaw_left_lower"),
]


def mirror_permutation() -> np.ndarray:
    """Index permutation that swaps left/right names (apply after flipping x)."""
    perm = np.arange(NUM_LANDMARKS)
    for a, b in _MIRROR_PAIRS:
        perm[INDEX[a]], perm[INDEX[b]] = INDEX[b], INDEX[a]
    return perm


def from_ibug68(points68: np.ndarray) -> np.ndarray:
    """Map iBUG-68 points ``(68, 2)`` (0-based rows, same frame) to the canonical ``(K, 2)`` set."""
    points68 = np.asarray(points68, dtype=np.float64)
    if points68.shape != (68, 2):
        raise ValueError(f"expected (68, 2) iBUG points, got {points68.shape}")
    out = np.empty((NUM_LANDMARKS, 2), dtype=np.float64)
    for i, idx in enumerate(IBUG68_DEFINITION.values()):
        out[i] = points68[[j - 1 for j in idx]].mean(axis=0)
    return out


def empty_landmarks() -> np.ndarray:
    """A ``(K, 2)`` array with every point missing (NaN)."""
    return np.full((NUM_LANDMARKS, 2), np.nan, dtype=np.float64)


def visibility(points: np.ndarray) -> np.ndarray:
    """Boolean mask ``(..., K)``: True where the point is present (finite)."""
    return np.isfinite(np.asarray(points)).all(axis=-1)


def with_missing_as_nan(points, mask) -> np.ndarray:
    """``(..., K, 2)`` points + ``(..., K)`` presence mask (NumPy or torch) -> float64 NumPy, NaN where missing.

    The bridge from the torch convention (zeros + mask) back to the NumPy one (NaN rows).
    """
    if not isinstance(points, np.ndarray):
        points, mask = points.detach().cpu().numpy(), mask.detach().cpu().numpy()
    out = np.array(points, dtype=np.float64, copy=True)
    out[~np.asarray(mask, dtype=bool)] = np.nan
    return out


def to_dict(points: np.ndarray) -> dict[str, list[float] | None]:
    """``{name: [x, y] or None}`` in canonical order (the JSON form of a landmark set)."""
    pts = np.asarray(points, dtype=np.float64)
    return {
        name: (
            [round(float(pts[i, 0]), 3), round(float(pts[i, 1]), 3)] if np.isfinite(pts[i]).all() else None
        )
        for i, name in enumerate(CANONICAL_NAMES)
    }


def from_dict(mapping: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`to_dict`. Unknown names raise ``KeyError``; absent names are missing."""
    out = empty_landmarks()
    for name, value in mapping.items():
        if name not in INDEX:
            raise KeyError(f"unknown landmark name {name!r}; known: {', '.join(CANONICAL_NAMES)}")
        if value is not None:
            out[INDEX[name]] = [float(value[0]), float(value[1])]
    return out


def pixels_to_normalized(points, width: int, height: int):
    """Pixel frame of a ``width x height`` image -> ``[-1, 1]`` frame of ``grid_sample(align_corners=False)``.

    Works on NumPy arrays and torch tensors of shape ``(..., 2)``.
    """
    scale = np.array([2.0 / width, 2.0 / height])
    if not isinstance(points, np.ndarray):  # torch tensor
        import torch

        scale_t = torch.as_tensor(scale, dtype=points.dtype, device=points.device)
        return (points + 0.5) * scale_t - 1.0
    return (points + 0.5) * scale - 1.0


def cheek_mask(shape: tuple[int, int], landmarks: np.ndarray, nose: str = "sides") -> np.ndarray:
    """Both cheeks' triangles (the lower eyelid's middle, the nose's side or, with ``nose="tip"``,
    its tip, and the mouth corner) of the canonical ``(K, 2)`` pixel ``landmarks`` as a boolean mask
    of ``shape``, shrunk to 0.8 about their centres (clear of the lids, nostrils and lips). A side
    with a missing (NaN) point is left out. Anime faces have no nose sides: use the tip there."""
    import cv2

    if nose not in ("sides", "tip"):
        raise ValueError(f"nose must be 'sides' or 'tip', got {nose!r}")
    mask = np.zeros(shape, np.uint8)
    for side in ("right", "left"):
        middle = f"nose_{side}" if nose == "sides" else "nose_tip"
        points = landmarks[[INDEX[f"{side}_eye_bottom"], INDEX[middle], INDEX[f"mouth_{side}"]]]
        if not np.isfinite(points).all():
            continue
        centre = points.mean(0)
        points = centre + 0.8 * (points - centre)
        cv2.fillConvexPoly(mask, np.round(points).astype(np.int32), (1,))
    return mask.astype(bool)


def normalized_to_pixels(points, width: int, height: int):
    """Inverse of :func:`pixels_to_normalized`."""
    scale = np.array([width / 2.0, height / 2.0])
    if not isinstance(points, np.ndarray):
        import torch

        scale_t = torch.as_tensor(scale, dtype=points.dtype, device=points.device)
        return (points + 1.0) * scale_t - 0.5
    return (points + 1.0) * scale - 0.5


# Points less confident than this (``Face.extra["confidence"]``, a manifest item's ``confidence``)
# count as missing wherever a warp or a geometry is built.
MIN_CONFIDENCE = 0.5


def confident_points(points, confidence, min_confidence: float = MIN_CONFIDENCE) -> np.ndarray:
    """``(K, 2)`` float64 copy of ``points`` with those below ``min_confidence`` missing (NaN);
    ``confidence`` ``(K,)`` or None (every point trusted). A guessed point moves no pixels in a warp."""
    out = np.array(points, dtype=np.float64)
    if confidence is not None:
        out[np.asarray(confidence) < min_confidence] = np.nan
    return out


@dataclass
class Face:
    """One detected face in one image.

    ``landmarks`` is ``(K, 2)`` in the canonical order, pixel frame of the image that was searched
    (after EXIF rotation); missing points are NaN. ``box`` is ``(x0, y0, x1, y1)`` in the same frame.
    """

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    score: float
    backend: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)

    @property
    def mask(self) -> np.ndarray:
        return visibility(self.landmarks)

    def warp_landmarks(self, min_confidence: float = MIN_CONFIDENCE) -> np.ndarray:
        """``(K, 2)`` landmarks with points below ``min_confidence`` (``extra["confidence"]``, e.g. the
        hidden far-side jaw of a turned head) missing: a guessed point moves no pixels in a warp."""
        return confident_points(self.landmarks, self.extra.get("confidence"), min_confidence)

    def to_json(self) -> dict[str, Any]:
        return {
            "box": [round(float(v), 2) for v in self.box],
            "score": round(float(self.score), 4),
            "backend": self.backend,
            "landmarks": to_dict(self.landmarks),
        }
