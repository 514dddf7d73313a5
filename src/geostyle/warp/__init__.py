"""Geometric alignment: thin-plate-spline warps driven by facial landmarks.

Modules
-------
* :mod:`~geostyle.warp.tps` — textbook thin-plate spline (batched, masked, differentiable) and the
  precomputed :class:`~geostyle.warp.tps.TemplateSolver`.
* :mod:`~geostyle.warp.grid` — dense backward sampling grids, image / feature-map resampling, random
  smooth deformations.
* :mod:`~geostyle.warp.geometry` — mean photo / style geometry and target landmarks ``t(p, α)``.
* :mod:`~geostyle.warp.local` — per-part boxes, crops for local discriminators, local alignment.
* :mod:`~geostyle.warp.onnx_export` — the warp as an ONNX graph (solve outside, in NumPy).

Frames, grid and TPS conventions: ``docs/conventions.md``; usage and measurements: ``docs/warp.md``.
The names below are re-exported lazily, so ``import geostyle.warp.geometry`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ThinPlateSpline": "tps",
    "TemplateSolver": "tps",
    "border_anchors": "tps",
    "append_anchors": "tps",
    "identity_grid": "grid",
    "tps_grid": "grid",
    "tps_grid_fast": "grid",
    "resize_grid": "grid",
    "warp_image": "grid",
    "landmark_warp_grid": "grid",
    "warp_landmarks_forward": "grid",
    "random_tps_grid": "grid",
    "GeometryModel": "geometry",
    "part_boxes": "local",
    "crop_parts": "local",
    "local_warp_grid": "local",
    "solve_tps_numpy": "onnx_export",
    "TPSWarp": "onnx_export",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"geostyle.warp.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'geostyle.warp' has no attribute {name!r}")
