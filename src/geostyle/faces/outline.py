"""Face outline (chin, jaw, cheeks) from the 3-D FaceMesh, chosen by head pose, with confidence.

The same pose-dependent regression maps every canonical point (the shipped asset re-fits all of
them; the inner points gain a little), but the outline is why it exists.

Why a regression and not a fixed contour vertex
-----------------------------------------------
iBUG-68 puts the jaw points on the face's *silhouette*: as the head turns, the far-side
silhouette moves onto other mesh vertices (towards the nose) and the near side onto vertices behind
the cheek. A fixed vertex per point (``MESH_INDICES``) therefore drifts off the outline exactly on
turned heads, where the warp needs it most. Each outline point here is the mean of its fixed
vertices (the *anchor*) plus a weighted sum of offsets to its ``J`` nearest mesh vertices, and the
weights are quadratic in the head's yaw::

    p = anchor + sum_j (a_j0 + a_j1 y + a_j2 y^2) (m_j - anchor),    y = yaw / 45 deg

Only differences of mesh points enter, so the map commutes with translation, rotation and scale of
the image (an affine-equivariant combination); the yaw comes from the mesh's own depth. The weights
are ridge regression on HELEN images 0-149 and their mirror images (each image flipped, with its
truth flipped and left/right names swapped), the ridge strength by 5-fold cross-validation on those
images; HELEN 150-299 are held out (``python benchmarks/landmark_accuracy.py --fit-outline``). The
fitted weights ship as ``geostyle/assets/mesh_outline.json``.

Confidence
----------
A turned head hides its far-side jaw behind the cheek: what the image shows there is the cheek's
silhouette, not the jaw, so the point is a guess about something unseen. :func:`outline_confidence`
ramps the far-side outline points (jaw, cheek, lower jaw of the side turned away; not the chin)
from 1 at 20 deg of yaw to 0 at 50 deg; everything else keeps 1. Negative yaw (as measured here)
turns the subject's *right* side away from the camera (FaceMesh depth grows away from the camera,
so the right cheek edge is the deeper one; on HELEN the nose then points to the image's left).

Confidence says what is hidden, not how large the error is: on the held-out HELEN half the
regression's *near*-side jaw, cheek and lower jaw are further from the human outline than the far
side's in every yaw bin beyond 15 deg (|yaw| > 30 deg: near 0.10 / 0.13, far 0.09 / 0.05 NME;
``benchmarks/results/landmark_accuracy.md``); the annotators, too, put the far side on its silhouette.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from geostyle.faces.landmarks import CANONICAL_NAMES, INDEX, NUM_LANDMARKS

OUTLINE_NAMES: tuple[str, ...] = (
    "chin",
    "jaw_right",
    "jaw_left",
    "cheek_right",
    "cheek_left",
    "jaw_right_lower",
    "jaw_left_lower",
)
ASSET = Path(__file__).resolve().parents[1] / "assets" / "mesh_outline.json"
YAW_SCALE = 45.0  # degrees; keeps the quadratic features near [-1, 1]
CONFIDENT_YAW, HIDDEN_YAW = 20.0, 50.0  # far-side outline confidence: 1 below, 0 above
# FaceMesh vertices at the subject's right and left cheek edge and the forehead/chin midline.
_RIGHT_EDGE, _LEFT_EDGE = 234, 454


def head_yaw(mesh: np.ndarray) -> float:
    """Yaw in degrees from a ``(N >= 468, 3)`` FaceMesh with depth in pixel units.

    The angle of the right-to-left cheek vector out of the image plane (FaceMesh depth: larger is
    further from the camera): 0 for a frontal face, negative when the subject's right side is turned
    away (their left cheek edge nearer the camera), positive when the left side is.
    """
    v = np.asarray(mesh[_LEFT_EDGE], np.float64) - np.asarray(mesh[_RIGHT_EDGE], np.float64)
    return float(np.degrees(np.arctan2(v[2], np.hypot(v[0], v[1]))))


def yaw_features(yaw: float | np.ndarray) -> np.ndarray:
    """``(..., 3)`` features ``[1, y, y^2]`` with ``y = yaw / YAW_SCALE``."""
    y = np.asarray(yaw, np.float64) / YAW_SCALE
    return np.stack([np.ones_like(y), y, y * y], axis=-1)


@dataclass
class OutlineModel:
    """Fitted outline regression: per outline name, anchor vertices, neighbour vertices and weights.

    ``weights[name]`` is ``(J, 3)``: for neighbour ``j`` the coefficients of ``[1, y, y^2]``.
    """

    anchors: dict[str, tuple[int, ...]]
    neighbours: dict[str, tuple[int, ...]]
    weights: dict[str, np.ndarray]
    meta: dict[str, Any]

    def points(self, mesh: np.ndarray, yaw: float | None = None) -> dict[str, np.ndarray]:
        """Outline points ``{name: (2,)}`` of one ``(N, 3)`` mesh (pixel frame of the mesh)."""
        mesh = np.asarray(mesh, np.float64)
        phi = yaw_features(head_yaw(mesh) if yaw is None else yaw)
        out = {}
        for name in self.anchors:
            anchor = mesh[list(self.anchors[name]), :2].mean(axis=0)
            offsets = mesh[list(self.neighbours[name]), :2] - anchor  # (J, 2)
            out[name] = anchor + (self.weights[name] @ phi) @ offsets
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "points": {
                n: {
                    "anchor": list(self.anchors[n]),
                    "neighbours": list(self.neighbours[n]),
                    "weights": np.round(self.weights[n], 6).tolist(),
                }
                for n in self.anchors
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutlineModel:
        points = data["points"]
        unknown = set(points) - set(CANONICAL_NAMES)
        if unknown:
            raise ValueError(f"outline model names unknown points {sorted(unknown)}")
        weights = {n: np.asarray(p["weights"], np.float64) for n, p in points.items()}
        for n, p in points.items():
            if weights[n].shape != (len(p["neighbours"]), 3):
                raise ValueError(f"outline model {n}: weights {weights[n].shape} for {len(p['neighbours'])} neighbours")
        return cls(
            anchors={n: tuple(int(i) for i in p["anchor"]) for n, p in points.items()},
            neighbours={n: tuple(int(i) for i in p["neighbours"]) for n, p in points.items()},
            weights=weights,
            meta=dict(data.get("meta", {})),
        )


@lru_cache(maxsize=1)
def load_outline_model(path: str | None = None) -> OutlineModel | None:
    """The shipped outline model, or None if the asset is absent (then the fixed vertices are used)."""
    file = Path(path) if path else ASSET
    if not file.is_file():
        return None
    return OutlineModel.from_json(json.loads(file.read_text()))


def fit_outline(
    meshes: np.ndarray,
    truth: np.ndarray,
    scale: np.ndarray,
    anchors: dict[str, tuple[int, ...]],
    neighbours: int = 40,
    lambdas: tuple[float, ...] = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1),
    folds: int = 5,
    seed: int = 0,
    names: tuple[str, ...] = OUTLINE_NAMES,
) -> OutlineModel:
    """Ridge-fit the outline regression.

    ``meshes (M, N, 3)`` FaceMeshes (pixels, depth in pixels), ``truth (M, K, 2)`` canonical truth,
    ``scale (M,)`` the normaliser of each sample's error (inter-ocular distance): residuals are
    divided by it so every face counts alike. ``anchors``: the fixed vertices of each outline name.
    The ridge strength of each point is the one with the lowest ``folds``-fold cross-validated error.
    """
    meshes, truth, scale = np.asarray(meshes, np.float64), np.asarray(truth, np.float64), np.asarray(scale)
    if len(meshes) != len(truth) or len(meshes) != len(scale) or truth.shape[1:] != (NUM_LANDMARKS, 2):
        raise ValueError("meshes, truth and scale must describe the same samples, truth (M, K, 2)")
    yaws = np.array([head_yaw(m) for m in meshes])
    phi = yaw_features(yaws)  # (M, 3)
    order = np.random.default_rng(seed).permutation(len(meshes))
    fold_of = np.empty(len(meshes), int)
    fold_of[order] = np.arange(len(meshes)) % folds
    weights, chosen_neighbours, chosen_lambda, cv_error = {}, {}, {}, {}
    mean_mesh = (meshes[..., :2] - meshes[:, None, :, :2].mean(axis=2)) / scale[:, None, None]
    mean_mesh = mean_mesh.mean(axis=0)
    for name in names:
        k = INDEX[name]
        anchor_idx = list(anchors[name])
        centre = mean_mesh[anchor_idx].mean(axis=0)
        near = np.argsort(np.linalg.norm(mean_mesh[:468] - centre, axis=1))[:neighbours]
        anchor = meshes[:, anchor_idx, :2].mean(axis=1)  # (M, 2)
        offsets = meshes[:, near, :2] - anchor[:, None]  # (M, J, 2)
        # design: p - anchor = sum_{j,f} a_jf phi_f offset_j ; rows are x and y of each sample
        design = (offsets[:, :, None, :] * phi[:, None, :, None]).reshape(len(meshes), -1, 2)
        design = design.transpose(0, 2, 1) / scale[:, None, None]  # (M, 2, J*3)
        target = (truth[:, k] - anchor) / scale[:, None]  # (M, 2)
        best = None
        for lam in lambdas:
            errs = []
            for f in range(folds):
                tr, te = fold_of != f, fold_of == f
                w = _ridge(design[tr].reshape(-1, design.shape[2]), target[tr].reshape(-1), lam)
                pred = design[te] @ w
                errs.append(np.linalg.norm(pred - target[te], axis=1))
            err = float(np.concatenate(errs).mean())
            if best is None or err < best[0]:
                best = (err, lam)
        assert best is not None
        w = _ridge(design.reshape(-1, design.shape[2]), target.reshape(-1), best[1])
        weights[name] = w.reshape(len(near), 3)
        chosen_neighbours[name] = tuple(int(i) for i in near)
        chosen_lambda[name], cv_error[name] = best[1], round(best[0], 5)
    meta = {
        "samples": int(len(meshes)),
        "neighbours": neighbours,
        "yaw_scale_deg": YAW_SCALE,
        "ridge_lambda": chosen_lambda,
        "cv_nme": cv_error,
    }
    return OutlineModel({n: tuple(anchors[n]) for n in names}, chosen_neighbours, weights, meta)


def _ridge(a: np.ndarray, b: np.ndarray, lam: float) -> np.ndarray:
    """``argmin |a w - b|^2 / rows + lam |w|^2`` (``lam`` per row, so it does not depend on the count)."""
    return np.linalg.solve(a.T @ a + lam * len(a) * np.eye(a.shape[1]), a.T @ b)


def outline_confidence(yaw: float) -> np.ndarray:
    """``(K,)`` per-point confidence for a face at ``yaw`` degrees (see module doc): the outline
    points of the side turned away (the subject's right for negative yaw) fall from 1 to 0."""
    conf = np.ones(NUM_LANDMARKS)
    hidden = float(np.clip((abs(yaw) - CONFIDENT_YAW) / (HIDDEN_YAW - CONFIDENT_YAW), 0.0, 1.0))
    side = "right" if yaw < 0 else "left"
    for name in OUTLINE_NAMES:
        if f"_{side}" in name:
            conf[INDEX[name]] = 1.0 - hidden
    return conf


__all__ = [
    "ASSET",
    "OUTLINE_NAMES",
    "OutlineModel",
    "fit_outline",
    "head_yaw",
    "load_outline_model",
    "outline_confidence",
    "yaw_features",
]
