"""Skin tone: how light a face's cheeks are, the same way in the benchmarks that compare a model's
output with its photo (``benchmarks/skin_tone.py``, ``benchmarks/target_skin_tone.py``) and in the
test that holds the bundled anime models to keeping a darker face darker."""

from __future__ import annotations

import numpy as np

from geostyle.faces.landmarks import cheek_mask

__all__ = ["LUMA", "cheek_luma", "cheek_mask"]

LUMA = np.array([0.299, 0.587, 0.114])  # BT.601 weights of R, G, B


def cheek_luma(image: np.ndarray, mask: np.ndarray) -> float:
    """The median BT.601 luma (0-255) of the RGB ``image``'s pixels under ``mask``."""
    return float(np.median(image[mask] @ LUMA))
