"""Paired quality, where an artist's drawing of the same photo exists (e.g. CUHK photo <-> sketch).

* ``ssim``: structural similarity (Wang et al. 2004) of the BT.601 luma of output and truth, Gaussian
  window sigma 1.5 (11 x 11), ``K1 = 0.01``, ``K2 = 0.03``, ``L = 255``, mean of the SSIM map over the
  whole image (reflected borders). 1 = identical.
* ``lpips``: shift-tolerant LPIPS (AlexNet) from :mod:`geostyle.nets.perceptual`. 0 = identical.
* ``feature_distance``: cosine distance ``1 - cos`` of the two images' FID Inception features.

A truth of another size is resized (bilinear) to the output's size first.
"""

from __future__ import annotations

import numpy as np
import torch

from geostyle.data.images import from_uint8
from geostyle.eval.baselines import luma

SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5  # 11 x 11 window at sigma 1.5
K1, K2, DATA_RANGE = 0.01, 0.03, 255.0


def match_size(truth: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``truth`` resized to ``shape[:2]`` (H, W) if it differs."""
    if truth.shape[:2] == tuple(shape[:2]):
        return truth
    from PIL import Image

    return np.asarray(Image.fromarray(truth).resize((shape[1], shape[0]), Image.Resampling.BILINEAR))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Grayscale SSIM of two ``(H, W, 3)`` uint8 RGB images of the same size."""
    from scipy.ndimage import gaussian_filter

    if a.shape[:2] != b.shape[:2]:
        raise ValueError(f"SSIM needs images of one size, got {a.shape} and {b.shape}")
    x, y = luma(a), luma(b)

    def blur(v: np.ndarray) -> np.ndarray:
        return gaussian_filter(v, SSIM_SIGMA, truncate=SSIM_TRUNCATE, mode="reflect")

    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cxy = blur(x * y) - mx * my
    c1, c2 = (K1 * DATA_RANGE) ** 2, (K2 * DATA_RANGE) ** 2
    smap = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(smap.mean())


@torch.no_grad()
def lpips(a: np.ndarray, b: np.ndarray) -> float:
    """ST-LPIPS distance of two ``(H, W, 3)`` uint8 RGB images of the same size."""
    from geostyle.nets.perceptual import lpips_distance

    return float(lpips_distance(from_uint8(a), from_uint8(b))[0])


def cosine_distance(fa: np.ndarray, fb: np.ndarray) -> float:
    """``1 - cos`` between two feature vectors."""
    fa, fb = np.asarray(fa, np.float64), np.asarray(fb, np.float64)
    denom = np.linalg.norm(fa) * np.linalg.norm(fb)
    return float(1.0 - fa @ fb / denom) if denom > 0 else 1.0
