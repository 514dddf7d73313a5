"""Geometric alignment: landmarks found on a stylized image against the geometry the model aimed at.

The target is ``Stylizer.target_field(landmarks, size, strength)[1]``: the photo's own landmarks moved
toward the style's mean shape, in the pixel frame of the aligned crop. Landmarks detected on an output
(full frame) are mapped into that crop frame with the photo's alignment matrix and compared point by
point over the points present in both.

NME = mean point-to-point distance / the target's outer-eye-corner distance (inter-ocular
normalisation as on 300-W; eye centres when corners are missing). Detection rate = share of outputs
on which the landmark detector finds a face at all.
"""

from __future__ import annotations

import numpy as np

from geostyle.faces.landmarks import INDEX


def _eye_distance(points: np.ndarray) -> float | None:
    for a, b in (("right_eye_outer", "left_eye_outer"), ("right_eye_center", "left_eye_center")):
        pa, pb = points[INDEX[a]], points[INDEX[b]]
        if np.isfinite(pa).all() and np.isfinite(pb).all():
            d = float(np.linalg.norm(pa - pb))
            if d > 0:
                return d
    return None


def landmark_nme(detected: np.ndarray, target: np.ndarray) -> float | None:
    """NME of ``detected (K, 2)`` against ``target (K, 2)`` (same pixel frame, NaN = missing).

    None when no point is present in both or the target has no eye distance.
    """
    detected, target = np.asarray(detected, np.float64), np.asarray(target, np.float64)
    both = np.isfinite(detected).all(-1) & np.isfinite(target).all(-1)
    norm = _eye_distance(target)
    if not both.any() or norm is None:
        return None
    return float(np.linalg.norm(detected[both] - target[both], axis=-1).mean() / norm)
