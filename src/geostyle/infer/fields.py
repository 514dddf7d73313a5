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

from dataclasses import dataclass

import cv2
import numpy as np

from geostyle.errors import GeostyleError
from geostyle.faces.landmarks import pixels_to_normalized
from geostyle.warp.alignment import BatchAligner
from geostyle.warp.onnx_export import solve_tps_numpy
from geostyle.warp.tps import MIN_POINTS, border_anchors


def identity_field(height: int, width: int) -> np.ndarray:
    """``(H, W, 2)`` float64 pixel centres in the normalised frame (``grid_sample`` identity)."""
    ys = (np.arange(height) * 2 + 1) / height - 1
    xs = (np.arange(width) * 2 + 1) / width - 1
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx, gy], -1)


def _kernel_sum(d2: np.ndarray, spline: FaceSpline) -> np.ndarray:
    """``sum_k U(d2[:, k]) w_k``, ``(N, 2)`` float32, for squared distances ``d2 (N, k)`` float32 to
    the spline's centres (``U(r^2) = r^2 log r^2``; half of it is folded into the weights). ``d2``
    is overwritten. OpenCV's ``max`` and ``log``: a third of NumPy's time here (``log`` within 1e-6
    of NumPy's)."""
    k = len(spline.centres)
    cv2.max(d2, float(np.finfo(np.float32).tiny), dst=d2)  # type: ignore[call-overload]  # (a scalar operand)
    kernel = np.asarray(cv2.log(d2), dtype=np.float32)
    kernel *= d2
    return kernel @ (0.5 * spline.coeffs[:k]).astype(np.float32)


@dataclass(frozen=True)
class FaceSpline:
    """One face's solved backward TPS in the crop's normalised frame: ``centres (k, 2)`` float32 and
    ``coeffs (k + 3, 2)`` float64 (kernel weights, then the affine part)."""

    centres: np.ndarray
    coeffs: np.ndarray
    reach: float  # half-side of the anchored square, in crop half-sides (1 = the crop border)
    # The face's landmarks where the warp puts them (K, 2), normalised crop frame, NaN where missing:
    # what is drawn onto the stylized face afterwards (anime eyes) is placed by these.
    target: np.ndarray


def limit_moves(source: np.ndarray, target: np.ndarray, pins: np.ndarray) -> np.ndarray:
    """Targets ``(K, 2)`` whose move from ``source`` is at most half the source's distance to the
    nearest of ``pins (P, 2)`` (all normalised; NaN rows stay NaN).

    Why: a pin between a landmark and its target (a chin at the picture's bottom edge, lifted
    toward the style geometry) forces the warp to map the two in reverse order, so it folds and
    mirrors the picture; a pin just beyond the landmark squeezes the whole move into the gap
    between them. Capped like this, the gap between a landmark and a pin at most doubles in the
    output, and a chin with no neck below it in the picture lifts only as far as there is room."""
    move = target - source
    length = np.linalg.norm(move, axis=-1)
    room = 0.5 * np.linalg.norm(source[:, None] - pins[None], axis=-1).min(1)
    scale = np.where(length > room, room / np.maximum(length, 1e-12), 1.0)
    return source + move * scale[:, None]


class FaceFieldSolver:
    """Fields toward the style geometry for aligned ``size x size`` crops.

    Reads its settings (geometry model, per-part moves, regularisation, grid resolution, anchors)
    from ``aligner`` so it solves the same system as training did.

    ``reach``: where the anchors that pin the background sit, in crop half-sides. Training pins the
    crop border (1). A whole frame can anchor further out (``reach > 1``): a chin lifted toward the
    style geometry then pulls the neck below it up over a longer stretch instead of smearing the
    few pixels between chin and crop border (docs/landmarks.md); the crop's surroundings are warped
    by the same spline (:func:`geostyle.infer.composite.move_around`), so face and background still
    meet without a seam.
    """

    def __init__(self, aligner: BatchAligner, size: int) -> None:
        self.aligner = aligner
        self.size = int(size)
        self.grid = int(min(aligner.grid_resolution, size))
        self.anchors = aligner.anchors.double().numpy()  # (A, 2), normalised
        self._points = identity_field(self.grid, self.grid).reshape(-1, 2)
        # The evaluation grid's pixel centres along one side (the same for x and y).
        self._axis = self._points[: self.grid, 0].astype(np.float32)
        self._identity: dict[int, np.ndarray] = {}
        self._anchors: dict[float, np.ndarray] = {}

    def target(self, landmarks: np.ndarray, strength: float) -> np.ndarray:
        """Target landmarks ``(K, 2)`` in the normalised crop frame (NaN where missing)."""
        p = pixels_to_normalized(np.asarray(landmarks, np.float64), self.size, self.size)
        geometry = self.aligner.geometry
        return np.asarray(
            geometry.target(p, strength, per_part=self.aligner.per_part, gains=self.aligner.part_gains)
        )

    def solve(
        self,
        landmarks: np.ndarray,
        strength: float,
        reach: float = 1.0,
        pins: np.ndarray | None = None,
        limit: bool = False,
    ) -> FaceSpline:
        """The backward spline of one face. ``pins (P, 2)``: extra points held in place, normalised
        crop frame (e.g. the frame's own border inside the anchored square, so nothing is pulled in
        from beyond the picture). ``limit``: no landmark moves further than it is from the nearest
        pin (:func:`limit_moves`)."""
        if reach < 1.0:
            raise GeostyleError(f"reach must be >= 1 (the crop border), got {reach}")
        p = pixels_to_normalized(np.asarray(landmarks, np.float64), self.size, self.size)
        t = self.target(landmarks, strength)
        if limit and pins is not None and len(pins):
            t = limit_moves(p, t, pins)
        keep = np.isfinite(p).all(-1) & np.isfinite(t).all(-1)
        if keep.sum() < MIN_POINTS:
            raise GeostyleError(f"a face needs at least {MIN_POINTS} landmarks for its warp")
        fixed = self._anchors_at(reach)
        if pins is not None and len(pins):
            fixed = np.concatenate([fixed, np.asarray(pins, np.float64).reshape(-1, 2)])
        # Backward map: the output (target geometry) reads the photo (own geometry).
        src = np.concatenate([t[keep], fixed])
        dst = np.concatenate([p[keep], fixed])
        coeffs = solve_tps_numpy(src, dst, regularization=self.aligner.regularization)
        target = np.where(keep[:, None], t, np.nan).astype(np.float32)
        return FaceSpline(src.astype(np.float32), coeffs, float(reach), target)

    def _anchors_at(self, reach: float) -> np.ndarray:
        """Border anchors on the square of half-side ``reach``, as far apart as training's on the crop
        border (a wider square gets more of them, so it is held as firmly between them)."""
        if reach == 1.0:
            return self.anchors
        anchors = self._anchors.get(reach)
        if anchors is None:
            # Made once per reach (it follows the crop size: one value per stylizer): 0.1-0.25 ms of
            # torch calls a face otherwise. Bounded, should a caller vary it.
            n = int(round(len(self.anchors) / 4 * reach)) + 1  # 4 (n - 1) anchors, corners included
            anchors = border_anchors(n).double().numpy() * reach
            if len(self._anchors) > 8:
                self._anchors = {}
            self._anchors[reach] = anchors
        return anchors

    @staticmethod
    def displacement(spline: FaceSpline, points: np.ndarray) -> np.ndarray:
        """``spline(points) - points`` for ``points (N, 2)`` float64 in the normalised crop frame,
        ``(N, 2)`` float32."""
        k = len(spline.centres)
        pts = points.astype(np.float32)
        c = spline.centres
        # The kernel sum in float32, in place: the precision the trainer's torch field has, at
        # half the cost of float64 (this loop over grid points x centres is most of the field).
        d2 = pts @ (-2.0 * c.T)
        d2 += (pts * pts).sum(1)[:, None]
        d2 += (c * c).sum(1)[None]
        values = _kernel_sum(d2, spline)
        values += (spline.coeffs[k] + points @ spline.coeffs[k + 1 :]).astype(np.float32)
        return values - pts

    def low_res(self, landmarks: np.ndarray, strength: float) -> np.ndarray:
        """The displacement ``field - identity`` on the ``grid x grid`` evaluation grid, ``(g, g, 2)``,
        with training's anchors on the crop border."""
        return self.crop_displacement(self.solve(landmarks, strength))

    def crop_displacement(self, spline: FaceSpline) -> np.ndarray:
        """The spline's displacement on the crop's ``grid x grid`` evaluation grid, ``(g, g, 2)``:
        :meth:`displacement` at the grid's points, with the squared distances to the centres built
        from the grid's rows and columns (``(y - cy)^2 + (x - cx)^2`` as one broadcast sum of two
        ``g x k`` tables): a quarter of the work of the general form, whose ``N x 2`` by ``2 x k``
        matrix product is most of it (0.27 of 0.41 ms at 64 x 64 and 63 centres, one core)."""
        k, g = len(spline.centres), self.grid
        c = spline.centres
        dx = self._axis[:, None] - c[:, 0][None]  # (g, k): column x to each centre
        dy = self._axis[:, None] - c[:, 1][None]
        d2 = (dy * dy)[:, None, :] + (dx * dx)[None, :, :]  # (g rows, g columns, k)
        values = _kernel_sum(d2.reshape(g * g, k), spline)
        values += (spline.coeffs[k] + self._points @ spline.coeffs[k + 1 :]).astype(np.float32)
        return (values - self._points.astype(np.float32)).reshape(g, g, 2)

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
        """``(full (S, S, 2), quarter (1, S/4, S/4, 2))`` float32 fields for one crop, with training's
        anchors on the crop border."""
        return self.crop_fields(self.solve(landmarks, strength))

    def crop_fields(self, spline: FaceSpline) -> tuple[np.ndarray, np.ndarray]:
        """``(full (S, S, 2), quarter (1, S/4, S/4, 2))`` float32 fields of a solved spline."""
        low = self.crop_displacement(spline)
        full = self.resize(low, self.size)
        quarter = np.ascontiguousarray(self.resize(low, self.size // 4)[None])
        return full, quarter
