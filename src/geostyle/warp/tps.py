"""Textbook thin-plate splines in torch: batched, masked, differentiable, with a precomputed path.

Convention
----------
* Points are ``(B, K, 2)`` (control points) or ``(B, N, 2)`` (query points), columns ``(x, y)``.
  A spline is frame-agnostic, but everything in :mod:`geostyle.warp` fits it in the **normalised
  frame** of ``grid_sample(..., align_corners=False)`` (``[-1, 1]``; see
  :func:`geostyle.faces.landmarks.pixels_to_normalized`). The regularisation ``λ`` is in squared
  units of that frame, so a given ``λ`` means the same smoothing at every image resolution.
* ``ThinPlateSpline.fit(src, dst)`` gives the map ``f`` with ``f(src_i) ≈ dst_i``:

  .. math::  f(x) = a_0 + a_1 x + a_2 y + \\sum_i w_i\\, U(\\lVert x - c_i \\rVert),
             \\qquad U(r) = r^2 \\log r = \\tfrac12 r^2 \\log r^2,\\ U(0) = 0,

  with centres ``c_i = src_i`` and ``[w; a]`` solving the textbook system
  ``[[K + λI, P], [Pᵀ, 0]] [w; a] = [dst; 0]``, ``K_ij = U(|c_i - c_j|)``, ``P = [1, x, y]``.
  This is the interpolant of ``scipy.interpolate.RBFInterpolator(kernel='thin_plate_spline',
  smoothing=λ)``: scipy's ``smoothing`` is exactly our ``λ`` (added to the kernel diagonal).
* To warp an image from geometry ``p`` to geometry ``t`` you need the *backward* map ``t -> p``:
  ``ThinPlateSpline.fit(t, p)`` evaluated on the output grid (see :mod:`geostyle.warp.grid`).

The solve (``torch.linalg.solve``) happens in :meth:`ThinPlateSpline.fit` or once in
:class:`TemplateSolver`; :meth:`ThinPlateSpline.transform` is plain matmul / log / where and exports
to ONNX.
"""

from __future__ import annotations

import torch
from torch import Tensor

from geostyle.errors import GeostyleError

__all__ = [
    "ThinPlateSpline",
    "TemplateSolver",
    "tps_kernel",
    "pairwise_kernel",
    "pairwise_sqdist",
    "kernel_apply",
    "border_anchors",
    "append_anchors",
    "system_matrix",
]

# Smallest number of visible control points that pins down the affine part (3 non-collinear points).
MIN_POINTS = 3


def tps_kernel(d2: Tensor) -> Tensor:
    """``U = ½ d² log d²`` from squared distances ``d2`` (any shape), with ``U(0) = 0``.

    ``d2`` is clamped to the dtype's smallest normal number first, so ``U(0)`` is ``-1e-36``
    (float32) / ``-2e-305`` (float64) instead of 0 (far below the round-off of anything it is added
    to) and value and gradient stay finite; the gradient at ``d2 = 0`` is 0, as is the true
    derivative of ``r² log r`` with respect to the points. Three elementwise ops: this is the inner
    loop of dense grids and of the ONNX graph.
    """
    d2 = d2.clamp_min(torch.finfo(d2.dtype).tiny)
    return 0.5 * d2 * torch.log(d2)


def pairwise_sqdist(points: Tensor, centres: Tensor) -> Tensor:
    """Squared distances ``(B, N, K)`` as one matmul: ``[x, y, |p|², 1] · [-2cx, -2cy, 1, |c|²]``.

    No ``(B, N, K, 2)`` temporary and one pass over the ``N x K`` output, so it stays cheap for dense
    512x512 grids (memory-bound here). The cancellation error is ~1e-7 (float32) / 1e-16 (float64)
    in the normalised frame; negative round-off is clamped away by :func:`tps_kernel`.
    """
    ones_p = torch.ones_like(points[..., :1])
    ones_c = torch.ones_like(centres[..., :1])
    p_aug = torch.cat([points, (points * points).sum(-1, keepdim=True), ones_p], -1)
    c_aug = torch.cat([-2.0 * centres, ones_c, (centres * centres).sum(-1, keepdim=True)], -1)
    return p_aug @ c_aug.transpose(-1, -2)


def pairwise_kernel(points: Tensor, centres: Tensor) -> Tensor:
    """Kernel matrix ``U(|points_n - centres_k|)`` of shape ``(B, N, K)`` (see :func:`pairwise_sqdist`)."""
    return tps_kernel(pairwise_sqdist(points, centres))


def kernel_apply(points: Tensor, centres: Tensor, weights: Tensor) -> Tensor:
    """``U(points, centres) @ weights`` -> ``(B, N, 2)``, the ½ folded into the small weight matrix."""
    d2 = pairwise_sqdist(points, centres).clamp_min(torch.finfo(points.dtype).tiny)
    return (d2 * torch.log(d2)) @ (0.5 * weights)


def _exact_pairwise_kernel(a: Tensor, b: Tensor) -> Tensor:
    """Like :func:`pairwise_kernel` but from explicit differences (no cancellation: coincident points
    give ``d2 = 0`` exactly). Used for the small ``K x K`` system matrix."""
    diff = a.unsqueeze(-2) - b.unsqueeze(-3)
    return tps_kernel((diff * diff).sum(-1))


def _affine_basis(points: Tensor) -> Tensor:
    """``P = [1, x, y]`` of shape ``(B, N, 3)``."""
    return torch.cat([torch.ones_like(points[..., :1]), points], dim=-1)


def _check_points(name: str, points: Tensor) -> None:
    if not isinstance(points, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(points).__name__}")
    if points.ndim != 3 or points.shape[-1] != 2:
        raise GeostyleError(f"{name} must have shape (B, K, 2), got {tuple(points.shape)}")
    if not points.is_floating_point():
        raise GeostyleError(f"{name} must be a floating point tensor, got {points.dtype}")


def _regularization_tensor(regularization: float | Tensor, batch: int, like: Tensor) -> Tensor:
    lam = torch.as_tensor(regularization, dtype=like.dtype, device=like.device)
    if lam.ndim == 0:
        lam = lam.expand(batch)
    if lam.shape != (batch,):
        raise GeostyleError(f"regularization must be a scalar or shape ({batch},), got {tuple(lam.shape)}")
    if bool((lam < 0).any()):
        raise GeostyleError("regularization must be >= 0")
    return lam


def system_matrix(
    centres: Tensor, regularization: float | Tensor = 0.0, mask: Tensor | None = None
) -> Tensor:
    """The ``(B, K+3, K+3)`` TPS system ``L = [[K + λI, P], [Pᵀ, 0]]`` for ``centres (B, K, 2)``.

    Masked points (``mask`` False) get an identity row and column (``L_ii = 1``, zeros elsewhere),
    so with a zero right-hand side their weight is exactly 0 and they take no part in the affine
    fit: the solution equals the fit without them, while the batch keeps one shape.
    """
    batch, k, _ = centres.shape
    lam = _regularization_tensor(regularization, batch, centres)
    kmat = _exact_pairwise_kernel(centres, centres) + lam[:, None, None] * torch.eye(
        k, dtype=centres.dtype, device=centres.device
    )
    pmat = _affine_basis(centres)
    if mask is not None:
        keep = mask.to(centres.dtype)
        pair = keep.unsqueeze(-1) * keep.unsqueeze(-2)
        kmat = kmat * pair + torch.diag_embed(1.0 - keep)
        pmat = pmat * keep.unsqueeze(-1)
    zeros = centres.new_zeros(batch, 3, 3)
    top = torch.cat([kmat, pmat], dim=-1)
    bottom = torch.cat([pmat.transpose(-1, -2), zeros], dim=-1)
    return torch.cat([top, bottom], dim=-2)


def _prepare_mask(mask: Tensor | None, src: Tensor, dst: Tensor) -> Tensor | None:
    """Validate the mask; also treat non-finite rows of src/dst as missing."""
    finite = torch.isfinite(src).all(-1) & torch.isfinite(dst).all(-1)
    if mask is None:
        if bool(finite.all()):
            return None
        mask = finite
    else:
        if mask.shape != src.shape[:2]:
            raise GeostyleError(f"mask must have shape {tuple(src.shape[:2])}, got {tuple(mask.shape)}")
        mask = mask.to(torch.bool) & finite
    counts = mask.sum(-1)
    if bool((counts < MIN_POINTS).any()):
        raise GeostyleError(
            f"a thin-plate spline needs at least {MIN_POINTS} visible control points per sample; "
            f"got {counts.tolist()}"
        )
    return mask


class ThinPlateSpline:
    """A batch of fitted 2-D thin-plate splines ``f_b: R² -> R²``.

    Convention
    ----------
    ``centres (B, K, 2)``, ``weights (B, K, 2)`` and ``affine (B, 3, 2)`` (rows: constant, x, y), all
    in the frame the spline was fitted in, columns ``(x, y)``. ``f(x) = U(x, centres) @ weights +
    [1, x, y] @ affine``. Masked-out centres carry a weight of exactly 0.
    """

    def __init__(self, centres: Tensor, weights: Tensor, affine: Tensor) -> None:
        self.centres = centres
        self.weights = weights
        self.affine = affine

    # -- fitting ---------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        src: Tensor,
        dst: Tensor,
        regularization: float | Tensor = 0.0,
        mask: Tensor | None = None,
    ) -> ThinPlateSpline:
        """Fit ``f`` with ``f(src) ≈ dst`` (exact when ``regularization == 0``).

        Convention: ``src, dst`` are ``(B, K, 2)`` in one frame (normally the normalised
        ``[-1, 1]`` frame), columns ``(x, y)``. ``mask (B, K)`` bool: False drops that point from
        that sample's fit (its rows may hold anything, NaN included). Non-finite points are treated
        as masked. ``regularization`` (``λ`` >= 0, scalar or ``(B,)``) trades exactness for
        smoothness; it equals scipy's ``RBFInterpolator(smoothing=λ)``.

        Differentiable with respect to ``src``, ``dst`` and ``regularization``.
        """
        _check_points("src", src)
        _check_points("dst", dst)
        if src.shape != dst.shape:
            raise GeostyleError(
                f"src and dst must have the same shape, got {tuple(src.shape)} and {tuple(dst.shape)}"
            )
        if src.shape[1] < MIN_POINTS:
            raise GeostyleError(
                f"a thin-plate spline needs at least {MIN_POINTS} control points, got {src.shape[1]}"
            )
        dst = dst.to(src.dtype)
        mask = _prepare_mask(mask, src, dst)
        if mask is not None:
            keep = mask.unsqueeze(-1)
            src = torch.where(keep, src, torch.zeros_like(src))
            dst = torch.where(keep, dst, torch.zeros_like(dst))
        lmat = system_matrix(src, regularization, mask)
        rhs = torch.cat([dst, dst.new_zeros(dst.shape[0], 3, 2)], dim=1)
        try:
            sol = torch.linalg.solve(lmat, rhs)
        except RuntimeError as exc:  # singular: e.g. all visible points collinear
            raise GeostyleError(
                f"thin-plate spline system is singular (collinear or repeated points?): {exc}"
            ) from exc
        k = src.shape[1]
        return cls(src, sol[:, :k], sol[:, k:])

    @classmethod
    def from_coefficients(cls, centres: Tensor, coefficients: Tensor) -> ThinPlateSpline:
        """Rebuild from ``centres (B, K, 2)`` and stacked ``coefficients (B, K+3, 2)`` (= ``[w; a]``)."""
        k = centres.shape[1]
        return cls(centres, coefficients[:, :k], coefficients[:, k:])

    # -- evaluation ------------------------------------------------------------------------------
    @property
    def coefficients(self) -> Tensor:
        """``(B, K+3, 2)``: kernel weights stacked over the affine part (the ONNX module's input)."""
        return torch.cat([self.weights, self.affine], dim=1)

    @property
    def batch_size(self) -> int:
        return self.centres.shape[0]

    def transform(self, points: Tensor) -> Tensor:
        """Apply the spline: ``points (B, N, 2) -> (B, N, 2)`` in the fitted frame, columns ``(x, y)``.

        Plain tensor ops (matmul, log, where): differentiable and ONNX-exportable.
        """
        _check_points("points", points)
        if points.shape[0] != self.batch_size and points.shape[0] != 1:
            raise GeostyleError(
                f"points batch {points.shape[0]} does not match spline batch {self.batch_size}"
            )
        points = points.to(self.centres.dtype)
        affine = self.affine[:, :1] + points @ self.affine[:, 1:]
        return kernel_apply(points, self.centres, self.weights) + affine

    __call__ = transform

    def jacobian(self, points: Tensor) -> Tensor:
        """``(B, N, 2, 2)`` Jacobian ``∂f_i/∂x_j`` at ``points (B, N, 2)`` (analytic).

        ``∇_x U(|x - c|) = (log d² + 1)(x - c)``, which tends to 0 at ``x = c``.
        """
        points = points.to(self.centres.dtype)
        diff = points.unsqueeze(-2) - self.centres.unsqueeze(-3)  # (B, N, K, 2)
        d2 = (diff * diff).sum(-1)
        positive = d2 > 0
        g = torch.where(
            positive, torch.log(torch.where(positive, d2, torch.ones_like(d2))) + 1.0, torch.zeros_like(d2)
        )
        grad_u = g.unsqueeze(-1) * diff  # (B, N, K, 2): dU_k/dx_j
        jac = torch.einsum("bnkj,bki->bnij", grad_u, self.weights)
        return jac + self.affine[:, 1:].transpose(-1, -2).unsqueeze(1)

    def inverse_transform(self, points: Tensor, init: Tensor | None = None, iterations: int = 8) -> Tensor:
        """Solve ``f(y) = points`` for ``y`` by Newton's method (differentiable, unrolled).

        A TPS has no closed-form inverse; for the smooth, fold-free warps used here a few Newton
        steps from ``init`` (default: ``points``) converge to round-off. Use it to move landmarks
        *forward* through a backward sampling grid: if ``grid = f(identity)`` then the content at
        source point ``x`` lands at output point ``f⁻¹(x)``.
        """
        _check_points("points", points)
        y = points.to(self.centres.dtype) if init is None else init.to(self.centres.dtype)
        for _ in range(iterations):
            residual = self.transform(y) - points
            step = torch.linalg.solve(self.jacobian(y), residual.unsqueeze(-1)).squeeze(-1)
            y = y - step
        return y

    def to(self, *args, **kwargs) -> ThinPlateSpline:
        return ThinPlateSpline(
            self.centres.to(*args, **kwargs),
            self.weights.to(*args, **kwargs),
            self.affine.to(*args, **kwargs),
        )

    def __repr__(self) -> str:
        b, k, _ = self.centres.shape
        return f"ThinPlateSpline(batch={b}, points={k}, dtype={self.centres.dtype})"


class TemplateSolver:
    """Precomputed TPS for *fixed* control points: the per-frame fit is one matrix product.

    For centres ``c`` that do not change (e.g. a fixed target template ``t`` plus border anchors, and
    the backward map ``t -> p`` for each new photo ``p``), ``L⁻¹`` is computed once and
    ``[w; a] = L⁻¹ [dst; 0]``, i.e. ``coefficients = solver.inverse[:, :, :K] @ dst``.

    Convention: ``centres (K, 2)`` or ``(B0, K, 2)`` with ``B0`` 1 or the batch size of ``dst``;
    same frame as the ``dst`` passed to :meth:`fit`. The visibility pattern (``mask``, ``(K,)`` or
    ``(B0, K)``) is fixed at construction too; ``dst`` values of masked points are ignored.
    """

    def __init__(
        self, centres: Tensor, regularization: float | Tensor = 0.0, mask: Tensor | None = None
    ) -> None:
        if centres.ndim == 2:
            centres = centres.unsqueeze(0)
        _check_points("centres", centres)
        if mask is not None:
            mask = mask.reshape(-1, centres.shape[1]).expand(centres.shape[0], -1)
        mask = _prepare_mask(mask, centres, centres)
        if mask is not None:
            centres = torch.where(mask.unsqueeze(-1), centres, torch.zeros_like(centres))
        self.centres = centres
        self.mask = mask
        lmat = system_matrix(centres, regularization, mask)
        k = centres.shape[1]
        # Only the columns that multiply dst are ever needed (the rest multiply the zero block).
        self.inverse = torch.linalg.inv(lmat)[:, :, :k].contiguous()  # (B0, K+3, K)

    def fit(self, dst: Tensor) -> ThinPlateSpline:
        """Spline mapping the template centres to ``dst (B, K, 2)``: plain matmul, export-safe."""
        _check_points("dst", dst)
        if dst.shape[1] != self.centres.shape[1]:
            raise GeostyleError(f"dst has {dst.shape[1]} points, the template has {self.centres.shape[1]}")
        dst = dst.to(self.inverse.dtype)
        if self.mask is not None:
            dst = torch.where(self.mask.unsqueeze(-1), dst, torch.zeros_like(dst))
        coeffs = self.inverse @ dst
        centres = self.centres.expand(dst.shape[0], -1, -1) if self.centres.shape[0] == 1 else self.centres
        return ThinPlateSpline.from_coefficients(centres, coeffs)


def border_anchors(
    n_per_side: int = 5,
    frame: str = "normalized",
    size: tuple[int, int] | int | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """``(M, 2)`` points evenly spaced on the crop border, ``M = 4 (n_per_side - 1)``, corners included.

    Convention: ``frame='normalized'`` gives points on the image edges ``x, y ∈ {-1, 1}`` of the
    ``[-1, 1]`` frame; ``frame='pixels'`` needs ``size=(W, H)`` (or an int for a square) and gives
    the same points in that image's pixel frame (edges at ``-0.5`` and ``W - 0.5``). Appended with
    ``dst == src`` they pin the background in place.
    """
    if n_per_side < 2:
        raise GeostyleError(f"n_per_side must be >= 2, got {n_per_side}")
    t = torch.linspace(-1.0, 1.0, n_per_side, dtype=torch.float64)
    one = torch.ones_like(t)
    top = torch.stack([t, -one], -1)[:-1]
    right = torch.stack([one, t], -1)[:-1]
    bottom = torch.stack([t.flip(0), one], -1)[:-1]
    left = torch.stack([-one, t.flip(0)], -1)[:-1]
    pts = torch.cat([top, right, bottom, left], 0)
    if frame == "pixels":
        if size is None:
            raise GeostyleError("border_anchors(frame='pixels') needs size=(W, H)")
        w, h = (size, size) if isinstance(size, int) else size
        pts = (pts + 1.0) * torch.tensor([w / 2.0, h / 2.0], dtype=torch.float64) - 0.5
    elif frame != "normalized":
        raise GeostyleError(f"frame must be 'normalized' or 'pixels', got {frame!r}")
    return pts.to(dtype=dtype, device=device)


def append_anchors(
    src: Tensor, dst: Tensor, mask: Tensor | None, anchors: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Append fixed points ``anchors (M, 2)`` (mapped to themselves) to ``src, dst (B, K, 2)``.

    Returns ``(src, dst, mask)`` of ``K + M`` points; the anchors are always visible.
    """
    batch = src.shape[0]
    a = anchors.to(dtype=src.dtype, device=src.device).unsqueeze(0).expand(batch, -1, -1)
    if mask is None:
        mask = torch.ones(src.shape[:2], dtype=torch.bool, device=src.device)
    ones = torch.ones(batch, a.shape[1], dtype=torch.bool, device=src.device)
    return (
        torch.cat([src, a], 1),
        torch.cat([dst.to(src.dtype), a], 1),
        torch.cat([mask.to(torch.bool), ones], 1),
    )
