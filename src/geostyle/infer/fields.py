"""The per-face TPS field of the runtime, in NumPy and OpenCV: the same spline as the trainer's
:class:`geostyle.warp.alignment.BatchAligner` (targets from the geometry model, border anchors, the
regularised textbook TPS, evaluated on a coarse grid and upsampled bilinearly), without torch.

Why not the torch code: one face is one 52-point system and a 64x64 evaluation; torch spends more
time dispatching and waking its thread pool than computing (about 5 ms here, and far more while an
ONNX Runtime pool is still spinning), NumPy about 1 ms on one core. ``tests/infer/test_fields.py``
checks both agree.

Convention: landmarks ``(K, 2)`` in crop pixels (NaN = missing); fields are backward maps in the
crop's normalised frame (``align_corners=False``), ``(H, W, 2)`` float32, columns ``(x, y)``.
"""

from __future__ import annotations

import cv2
import numpy as np

from geostyle.errors import GeostyleError
from geostyle.faces.landmarks import pixels_to_normalized
from geostyle.warp.alignment import BatchAligner
from geostyle.warp.onnx_export import solve_tps_numpy
from geostyle.warp.tps import MIN_POINTS


def identity_field(height: int, width: int) -> np.ndarray:
    """``(H, W, 2)`` float64 pixel centres in the normalised frame (``grid_sample`` identity)."""
    ys = (np.arange(height) * 2 + 1) / height - 1
    xs = (np.arange(width) * 2 + 1) / width - 1
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx, gy], -1)


class FaceFieldSolver:
    """Fields toward the style geometry for aligned ``size x size`` crops.

    Reads its settings (geometry model, per-part moves, regularisation, grid resolution, anchors)
    from ``aligner`` so it solves the same system as training did.
    """

    def __init__(self, aligner: BatchAligner, size: int) -> None:
        self.aligner = aligner
        self.size = int(size)
        self.grid = int(min(aligner.grid_resolution, size))
        self.anchors = aligner.anchors.double().numpy()  # (A, 2), normalised
        self._points = identity_field(self.grid, self.grid).reshape(-1, 2)
        self._points32 = self._points.astype(np.float32)
        self._points_sq = (self._points32 * self._points32).sum(1)
        self._identity: dict[int, np.ndarray] = {}

    def target(self, landmarks: np.ndarray, strength: float) -> np.ndarray:
        """Target landmarks ``(K, 2)`` in the normalised crop frame (NaN where missing)."""
        p = pixels_to_normalized(np.asarray(landmarks, np.float64), self.size, self.size)
        geometry = self.aligner.geometry
        return np.asarray(
            geometry.target(p, strength, per_part=self.aligner.per_part, gains=self.aligner.part_gains)
        )

    def low_res(self, landmarks: np.ndarray, strength: float) -> np.ndarray:
        """The displacement ``field - identity`` on the ``grid x grid`` evaluation grid, ``(g, g, 2)``."""
        p = pixels_to_normalized(np.asarray(landmarks, np.float64), self.size, self.size)
        t = self.target(landmarks, strength)
        keep = np.isfinite(p).all(-1) & np.isfinite(t).all(-1)
        if keep.sum() < MIN_POINTS:
            raise GeostyleError(f"a face needs at least {MIN_POINTS} landmarks for its warp")
        # Backward map: the output (target geometry) reads the photo (own geometry).
        src = np.concatenate([t[keep], self.anchors])
        dst = np.concatenate([p[keep], self.anchors])
        coeffs = solve_tps_numpy(src, dst, regularization=self.aligner.regularization)
        k = len(src)
        # The kernel sum in float32, in place: the precision the trainer's torch field has, at
        # half the cost of float64 (this loop over grid points x centres is most of the field).
        pts = self._points32
        c = src.astype(np.float32)
        d2 = pts @ (-2.0 * c.T)
        d2 += self._points_sq[:, None]
        d2 += (c * c).sum(1)[None]
        np.maximum(d2, np.finfo(np.float32).tiny, out=d2)
        kernel = np.log(d2)
        kernel *= d2
        values = kernel @ (0.5 * coeffs[:k]).astype(np.float32)
        values += (coeffs[k] + self._points @ coeffs[k + 1 :]).astype(np.float32)
        return (values - pts).reshape(self.grid, self.grid, 2)

    def _ident(self, n: int) -> np.ndarray:
        if n not in self._identity:
            self._identity[n] = identity_field(n, n).astype(np.float32)
        return self._identity[n]

    def resize(self, displacement: np.ndarray, n: int) -> np.ndarray:
        """The field at ``n x n``: the displacement resized bilinearly (pixel centres, edge clamped;
        the same sampling as ``F.interpolate(..., align_corners=False)``) plus the identity."""
        disp = displacement.astype(np.float32)
        if disp.shape[0] != n:
            disp = np.asarray(cv2.resize(disp, (n, n), interpolation=cv2.INTER_LINEAR), dtype=np.float32)
        return disp + self._ident(n)

    def fields(self, landmarks: np.ndarray, strength: float) -> tuple[np.ndarray, np.ndarray]:
        """``(full (S, S, 2), quarter (1, S/4, S/4, 2))`` float32 fields for one crop."""
        low = self.low_res(landmarks, strength)
        full = self.resize(low, self.size)
        quarter = np.ascontiguousarray(self.resize(low, self.size // 4)[None])
        return full, quarter
