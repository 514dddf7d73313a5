"""Classical image filters that every model is measured against in the same run: what a photo editor
gives without any training.

* ``grayscale``: ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` in all three channels.
* ``pencil``: the photo editors' colour-dodge sketch: the luma divided by the Gaussian-blurred inverse
  luma, ``min(255, 255 * Y / (255 - blur(255 - Y)))``. Flat regions turn paper-white, edges and
  shading stay as grey strokes whose width follows the blur (``sigma = PENCIL_SIGMA * min(H, W)``).
* ``cartoon``: repeated edge-preserving (bilateral) smoothing, uniform colour quantisation to
  ``CARTOON_LEVELS`` levels per channel, and dark lines where the median-filtered luma of the smoothed
  image is darker than its local mean by more than ``CARTOON_EDGE_C`` (adaptive threshold). Lines
  are black.

All take and return ``(H, W, 3)`` uint8 RGB of the same size. Window sizes scale with the image so a
256 px crop and a 512 px frame look alike.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

PENCIL_SIGMA = 0.02  # blur of the inverse luma, in units of the image's shorter side
CARTOON_PASSES = 5  # bilateral smoothing passes
CARTOON_SIGMA_COLOR = 30.0  # bilateral range sigma (grey levels): smooths skin, keeps strong edges
CARTOON_LEVELS = 8  # quantisation levels per channel
CARTOON_EDGE_C = 4.0  # a pixel this much darker than its local mean becomes a line
CARTOON_BLOCK = 1 / 40  # adaptive-threshold window, in units of the shorter side


def _odd(value: float, minimum: int = 3) -> int:
    n = max(minimum, int(round(value)))
    return n if n % 2 else n + 1


def luma(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB -> ``(H, W)`` float64 BT.601 luma in [0, 255]."""
    rgb = np.asarray(image, dtype=np.float64)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _as_rgb(gray: np.ndarray) -> np.ndarray:
    g = np.clip(np.round(gray), 0, 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=-1)


def grayscale(image: np.ndarray) -> np.ndarray:
    return _as_rgb(luma(image))


def pencil(image: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Colour-dodge pencil sketch; ``sigma`` in pixels (default ``PENCIL_SIGMA * min(H, W)``)."""
    import cv2

    y = luma(image)
    sigma = max(1.0, PENCIL_SIGMA * min(y.shape)) if sigma is None else float(sigma)
    blurred = cv2.GaussianBlur(255.0 - y, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
    denom = 255.0 - blurred
    # Where the blurred inverse is white (denominator 0) the dodge saturates to paper white.
    out = np.where(denom > 1e-6, 255.0 * y / np.maximum(denom, 1e-6), 255.0)
    return _as_rgb(np.minimum(out, 255.0))


def quantize(image: np.ndarray, levels: int = CARTOON_LEVELS) -> np.ndarray:
    """Uniform quantisation: each channel value goes to the centre of its bin of ``256 / levels``."""
    step = 256.0 / levels
    q = (np.floor(np.asarray(image, np.float64) / step) + 0.5) * step
    return np.clip(np.round(q), 0, 255).astype(np.uint8)


def cartoon_edges(image: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: True where the cartoon filter draws a dark line."""
    import cv2

    gray = np.clip(np.round(luma(image)), 0, 255).astype(np.uint8)
    side = min(gray.shape)
    gray = cv2.medianBlur(gray, _odd(side / 70, 3))
    block = _odd(side * CARTOON_BLOCK, 3)
    binary = cv2.adaptiveThreshold(
        gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, CARTOON_EDGE_C
    )
    return binary == 0


def cartoon(image: np.ndarray) -> np.ndarray:
    import cv2

    smooth: np.ndarray = np.ascontiguousarray(image, dtype=np.uint8)
    side = min(smooth.shape[:2])
    diameter = _odd(side / 50, 5)
    for _ in range(CARTOON_PASSES):
        smooth = cv2.bilateralFilter(smooth, diameter, CARTOON_SIGMA_COLOR, diameter / 2)
    out = quantize(smooth)
    # Lines from the smoothed image: skin pores and noise would otherwise become black speckles.
    out[cartoon_edges(smooth)] = 0
    return out


# name -> filter; the order is the order of the report's rows.
FILTERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "photo": lambda image: np.ascontiguousarray(image, dtype=np.uint8),
    "grayscale": grayscale,
    "pencil": pencil,
    "cartoon": cartoon,
}
