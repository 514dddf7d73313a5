"""Skin tone: how light a face's cheeks are, the same way in the benchmarks that compare a model's
output with its photo (``benchmarks/skin_tone.py``, ``benchmarks/target_skin_tone.py``) and in the
test that holds the bundled anime models to keeping a darker face darker."""

from __future__ import annotations

import cv2
import numpy as np

LUMA = np.array([0.299, 0.587, 0.114])  # BT.601 weights of R, G, B


def cheek_mask(shape: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """Both cheeks' triangles (eyelid's middle, nose side, mouth corner) of the canonical ``(K, 2)``
    ``landmarks`` as a boolean mask of ``shape``, shrunk to 0.8 about their centres."""
    from geostyle.faces.landmarks import INDEX

    mask = np.zeros(shape, np.uint8)
    for side, nose in (("right", "nose_right"), ("left", "nose_left")):
        points = landmarks[[INDEX[f"{side}_eye_bottom"], INDEX[nose], INDEX[f"mouth_{side}"]]]
        centre = points.mean(0)
        points = centre + 0.8 * (points - centre)  # clear of the lids, nostrils and lips
        cv2.fillConvexPoly(mask, np.round(points).astype(np.int32), (1,))
    return mask.astype(bool)


def cheek_luma(image: np.ndarray, mask: np.ndarray) -> float:
    """The median BT.601 luma (0-255) of the RGB ``image``'s pixels under ``mask``."""
    return float(np.median(image[mask] @ LUMA))
