"""ONNX export of the TPS warp: kernel evaluation and GridSample inside the graph, the solve outside.

Convention
----------
* Graph inputs: ``image (B, C, H_in, W_in)`` float32; ``coefficients (B, K+3, 2)`` = TPS kernel
  weights stacked over the affine part (rows: constant, x, y), as returned by
  :func:`solve_tps_numpy` or :attr:`geostyle.warp.tps.ThinPlateSpline.coefficients`;
  ``centres (B, K, 2)`` control points. Points are in the normalised ``[-1, 1]`` frame
  (``align_corners=False``), columns ``(x, y)``. Output: ``warped (B, C, H, W)`` with ``(H, W)``
  fixed at export.
* The spline is a backward map: fit it ``target -> source`` (:func:`solve_tps_numpy(t, p)`), so the
  output pixel at ``x`` reads the input at ``f(x)``.
* Exported through the TorchScript path (``torch.onnx.export(..., dynamo=False)``), opset 17
  (GridSample exists from 16). Batch, ``K`` and the input image size are dynamic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from geostyle.errors import GeostyleError
from geostyle.warp.grid import identity_grid
from geostyle.warp.tps import MIN_POINTS, kernel_apply

__all__ = ["TPSWarp", "GridWarp", "solve_tps_numpy", "export_tps_warp", "export_grid_warp", "DEFAULT_OPSET"]

DEFAULT_OPSET = 17


def _kernel_np(d2: np.ndarray) -> np.ndarray:
    out = np.zeros_like(d2)
    pos = d2 > 0
    out[pos] = 0.5 * d2[pos] * np.log(d2[pos])
    return out


def solve_tps_numpy(
    src: np.ndarray, dst: np.ndarray, regularization: float = 0.0, mask: np.ndarray | None = None
) -> np.ndarray:
    """NumPy TPS solve (float64): ``coefficients`` ``(K+3, 2)`` (or ``(B, K+3, 2)``) with ``f(src) ≈ dst``.

    Same system and masking as :meth:`geostyle.warp.tps.ThinPlateSpline.fit` (masked points get an
    identity row/column and weight 0). Feed ``centres = src`` (masked rows zeroed; returned in that
    form by :func:`masked_centres`) and the result to :class:`TPSWarp`.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    single = src.ndim == 2
    if single:
        src, dst = src[None], dst[None]
        mask = None if mask is None else np.asarray(mask)[None]
    if src.shape != dst.shape or src.ndim != 3 or src.shape[-1] != 2:
        raise GeostyleError(f"src and dst must both be (K, 2) or (B, K, 2), got {src.shape} and {dst.shape}")
    keep = np.isfinite(src).all(-1) & np.isfinite(dst).all(-1)
    if mask is not None:
        keep &= np.asarray(mask, dtype=bool)
    if (keep.sum(-1) < MIN_POINTS).any():
        raise GeostyleError(
            f"a thin-plate spline needs at least {MIN_POINTS} visible control points per sample"
        )
    src = np.where(keep[..., None], src, 0.0)
    dst = np.where(keep[..., None], dst, 0.0)
    b, k, _ = src.shape
    diff = src[:, :, None] - src[:, None]
    kmat = _kernel_np((diff**2).sum(-1)) + regularization * np.eye(k)
    pmat = np.concatenate([np.ones((b, k, 1)), src], -1)
    kf = keep.astype(np.float64)
    kmat = kmat * kf[:, :, None] * kf[:, None, :] + np.einsum("bi,ij->bij", 1.0 - kf, np.eye(k))
    pmat = pmat * kf[..., None]
    lmat = np.zeros((b, k + 3, k + 3))
    lmat[:, :k, :k] = kmat
    lmat[:, :k, k:] = pmat
    lmat[:, k:, :k] = pmat.transpose(0, 2, 1)
    rhs = np.concatenate([dst, np.zeros((b, 3, 2))], 1)
    try:
        coeffs = np.linalg.solve(lmat, rhs)
    except np.linalg.LinAlgError as exc:
        raise GeostyleError(f"thin-plate spline system is singular: {exc}") from exc
    return coeffs[0] if single else coeffs


def masked_centres(src: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """``src`` with masked / non-finite rows set to 0 (their weight is 0; NaN would poison the graph)."""
    src = np.asarray(src, dtype=np.float64)
    keep = np.isfinite(src).all(-1)
    if mask is not None:
        keep &= np.asarray(mask, dtype=bool)
    return np.where(keep[..., None], src, 0.0)


class TPSWarp(nn.Module):
    """Evaluate a TPS backward map on the output grid and resample the image (export-safe).

    Args:
        out_size: output ``(H, W)`` (or an int for a square).
        lowres: if set, evaluate the field on a grid with this many pixels on the long side and
            upsample the displacement bilinearly (as :func:`geostyle.warp.grid.tps_grid_fast`).
        padding_mode: ``grid_sample`` padding, ``'border'`` by default.
        field_dtype: precision of the kernel sum. float64 (default) keeps PyTorch and ONNX Runtime
            within ~1e-7 of each other on the field; float32 (for accelerators without doubles)
            differs by ~2e-6 normalised (0.0003 px at 256 px), from cancellation in the kernel sum.

    ``forward(image (B, C, H_in, W_in), coefficients (B, K+3, 2), centres (B, K, 2)) -> (B, C, H, W)``.
    """

    points: Tensor  # (1, h*w, 2) evaluation points (normalised pixel centres)
    identity_low: Tensor  # (1, 2, h, w)
    identity_out: Tensor  # (1, H, W, 2)

    def __init__(
        self,
        out_size: int | tuple[int, int],
        lowres: int | None = None,
        padding_mode: str = "border",
        field_dtype: torch.dtype = torch.float64,
    ):
        super().__init__()
        self.field_dtype = field_dtype
        h, w = (out_size, out_size) if isinstance(out_size, int) else out_size
        self.out_size = (int(h), int(w))
        self.padding_mode = padding_mode
        if lowres is not None and lowres < max(h, w):
            s = lowres / max(h, w)
            self.eval_size = (max(2, round(h * s)), max(2, round(w * s)))
        else:
            self.eval_size = self.out_size
        eh, ew = self.eval_size
        self.register_buffer("points", identity_grid(1, eh, ew).reshape(1, eh * ew, 2), persistent=False)
        self.register_buffer(
            "identity_low", identity_grid(1, eh, ew).permute(0, 3, 1, 2).contiguous(), persistent=False
        )
        self.register_buffer("identity_out", identity_grid(1, h, w).contiguous(), persistent=False)

    def field(self, coefficients: Tensor, centres: Tensor) -> Tensor:
        """Backward grid ``(B, H, W, 2)`` for the given spline."""
        out_dtype = coefficients.dtype
        coefficients = coefficients.to(self.field_dtype)
        centres = centres.to(self.field_dtype)
        b = centres.shape[0]
        k = centres.shape[1]
        pts = self.points.to(self.field_dtype).expand(b, -1, -1)
        weights = coefficients[:, :k]
        affine = coefficients[:, k:]
        grid = kernel_apply(pts, centres, weights) + affine[:, 0:1] + pts @ affine[:, 1:]
        eh, ew = self.eval_size
        if self.eval_size == self.out_size:
            return grid.reshape(b, eh, ew, 2).to(out_dtype)
        disp = (grid.reshape(b, eh, ew, 2).permute(0, 3, 1, 2) - self.identity_low.to(self.field_dtype)).to(
            out_dtype
        )
        disp = F.interpolate(disp, size=self.out_size, mode="bilinear", align_corners=False)
        return disp.permute(0, 2, 3, 1) + self.identity_out

    def forward(self, image: Tensor, coefficients: Tensor, centres: Tensor) -> Tensor:
        grid = self.field(coefficients.to(image.dtype), centres.to(image.dtype)).to(image.dtype)
        return F.grid_sample(
            image, grid, mode="bilinear", padding_mode=self.padding_mode, align_corners=False
        )


class GridWarp(nn.Module):
    """``forward(image (B, C, H_in, W_in), grid (B, H, W, 2)) -> (B, C, H, W)``: a precomputed field."""

    def __init__(self, padding_mode: str = "border"):
        super().__init__()
        self.padding_mode = padding_mode

    def forward(self, image: Tensor, grid: Tensor) -> Tensor:
        return F.grid_sample(
            image, grid, mode="bilinear", padding_mode=self.padding_mode, align_corners=False
        )


def _export(module: nn.Module, args: tuple, path: str | Path, names_in, dynamic, opset: int) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module.eval()
    with torch.no_grad():
        torch.onnx.export(
            module,
            args,
            str(path),
            input_names=list(names_in),
            output_names=["warped"],
            dynamic_axes=dynamic,
            opset_version=opset,
            dynamo=False,
        )
    import onnx

    onnx.checker.check_model(onnx.load(str(path)))
    return path


def export_tps_warp(
    path: str | Path,
    out_size: int | tuple[int, int] = 256,
    lowres: int | None = None,
    num_points: int = 49,
    in_size: int | tuple[int, int] | None = None,
    channels: int = 3,
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Export :class:`TPSWarp` to ``path`` and validate it with ``onnx.checker``.

    ``num_points`` and ``in_size`` only shape the example inputs; batch, ``K`` and the input image
    size are dynamic axes of the exported graph.
    """
    module = TPSWarp(out_size, lowres)
    h, w = (
        module.out_size if in_size is None else ((in_size, in_size) if isinstance(in_size, int) else in_size)
    )
    gen = torch.Generator().manual_seed(0)
    centres = torch.rand(1, num_points, 2, generator=gen) * 2 - 1
    coeffs = torch.zeros(1, num_points + 3, 2)
    coeffs[:, num_points + 1, 0] = 1.0
    coeffs[:, num_points + 2, 1] = 1.0
    image = torch.zeros(1, channels, h, w)
    dynamic = {
        "image": {0: "batch", 2: "in_height", 3: "in_width"},
        "coefficients": {0: "batch", 1: "points_plus_3"},
        "centres": {0: "batch", 1: "points"},
        "warped": {0: "batch"},
    }
    return _export(
        module, (image, coeffs, centres), path, ("image", "coefficients", "centres"), dynamic, opset
    )


def export_grid_warp(
    path: str | Path, size: int = 256, channels: int = 3, opset: int = DEFAULT_OPSET
) -> Path:
    """Export :class:`GridWarp` (image and grid as inputs, all sizes dynamic)."""
    image = torch.zeros(1, channels, size, size)
    grid = identity_grid(1, size, size).contiguous()
    dynamic = {
        "image": {0: "batch", 2: "in_height", 3: "in_width"},
        "grid": {0: "batch", 1: "height", 2: "width"},
        "warped": {0: "batch", 2: "height", 3: "width"},
    }
    return _export(GridWarp(), (image, grid), path, ("image", "grid"), dynamic, opset)
