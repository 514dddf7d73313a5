"""Face outline (chin, jaw, cheeks) from the 3-D FaceMesh, chosen by head pose, with confidence.

The same pose-dependent regression maps every canonical point (the shipped asset re-fits all of
them; the inner points gain a little), but the outline is why it exists.

Why a regression and not a fixed contour vertex
-----------------------------------------------
iBUG-68 puts the jaw points on the face's *silhouette*: as the head turns, the far-side
silhouette moves onto other mesh vertices (towards the nose) and the near side onto vertices behind
the cheek. A fixed vertex per point (``MESH_INDICES``) therefore drifts off the outline exactly on
turned heads, where the warp needs it most. Each point here is the mean of its fixed vertices
(the *anchor*) plus a weighted sum of offsets to its ``J`` mesh vertices nearest its mean position,
written in the face's own frame (rotation ``R`` whose rows are the outer-eye axis and its
perpendicular), one 2x2 matrix per vertex and pose feature::

    p = anchor + R^T sum_j sum_f phi_f A_jf R (m_j - anchor),    phi = [1, y, y^2, q]

with ``y = yaw / 45 deg`` and ``q = pitch / 45 deg``. Only differences of mesh points enter and the
frame turns with the face, so the map commutes with translation, rotation and scale of the image;
yaw and pitch come from the mesh's own depth. The weights are fitted on HELEN images 0-149, their
mirror images (each image flipped, its truth flipped and left/right names swapped) and the exact
mirrors of all those meshes (so left and right are fitted alike): ridge regression, then three
rounds of iteratively reweighted least squares towards the least mean distance (the error
measure); the ridge strength of each point by 5-fold cross-validation on those images, an image
and its mirror always in the same fold. HELEN 150-299 are held out
(``python benchmarks/landmark_accuracy.py --fit-outline``). The fitted weights ship as
``geostyle/assets/mesh_outline.json``.

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
side's in every yaw bin beyond 15 deg (|yaw| > 30 deg: near 0.13 / 0.14, far 0.09 / 0.04 NME;
``benchmarks/results/landmark_accuracy.md``); the annotators, too, put the far side on its silhouette.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from geostyle.faces.landmarks import CANONICAL_NAMES, INDEX, NUM_LANDMARKS, mirror_permutation

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
# FaceMesh vertices at the subject's right and left cheek edge, outer eye corners, forehead and chin.
_RIGHT_EDGE, _LEFT_EDGE = 234, 454
_RIGHT_EYE, _LEFT_EYE = 33, 263
_FOREHEAD, _CHIN = 10, 152
NUM_FEATURES = 4  # pose_features: 1, yaw, yaw^2, pitch
RIDGE_LAMBDAS: tuple[float, ...] = tuple(10.0 ** (k / 2) for k in range(-12, -1))  # 1e-6 .. 1e-1


def head_yaw(mesh: np.ndarray) -> float:
    """Yaw in degrees from a ``(N >= 468, 3)`` FaceMesh with depth in pixel units.

    The angle of the right-to-left cheek vector out of the image plane (FaceMesh depth: larger is
    further from the camera): 0 for a frontal face, negative when the subject's right side is turned
    away (their left cheek edge nearer the camera), positive when the left side is.
    """
    v = np.asarray(mesh[_LEFT_EDGE], np.float64) - np.asarray(mesh[_RIGHT_EDGE], np.float64)
    return float(np.degrees(np.arctan2(v[2], np.hypot(v[0], v[1]))))


def head_pitch(mesh: np.ndarray) -> float:
    """Pitch in degrees: the angle of the forehead-to-chin vector out of the image plane (0: upright
    and facing the camera; positive when the chin is further from the camera than the forehead)."""
    v = np.asarray(mesh[_CHIN], np.float64) - np.asarray(mesh[_FOREHEAD], np.float64)
    return float(np.degrees(np.arctan2(v[2], np.hypot(v[0], v[1]))))


def pose_features(yaw: float | np.ndarray, pitch: float | np.ndarray) -> np.ndarray:
    """``(..., 4)`` features ``[1, y, y^2, p]`` with ``y = yaw / YAW_SCALE``, ``p = pitch / YAW_SCALE``."""
    y = np.asarray(yaw, np.float64) / YAW_SCALE
    p = np.asarray(pitch, np.float64) / YAW_SCALE
    return np.stack([np.ones_like(y), y, y * y, p], axis=-1)


def face_frame(mesh: np.ndarray) -> np.ndarray:
    """``(..., 2, 2)`` rotation whose rows are the unit eye axis (right to left outer eye corner) and
    its perpendicular: image offsets times its transpose are offsets in the face's own frame."""
    e = np.asarray(mesh, np.float64)[..., _LEFT_EYE, :2] - np.asarray(mesh, np.float64)[..., _RIGHT_EYE, :2]
    e = e / np.linalg.norm(e, axis=-1, keepdims=True)
    return np.stack([e, np.stack([-e[..., 1], e[..., 0]], axis=-1)], axis=-2)


def mirror_mesh(mesh: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """The mesh of the mirror image (x negated, each vertex takes its mirror vertex's place)."""
    out = np.asarray(mesh, np.float64)[..., np.asarray(mirror), :].copy()
    out[..., 0] *= -1
    return out


@dataclass
class OutlineModel:
    """Fitted regression: per canonical name, anchor vertices, neighbour vertices and weights.

    ``weights[name]`` is ``(J, F, 2, 2)``: for neighbour ``j`` and pose feature ``f`` the 2x2 matrix
    that maps the neighbour's face-frame offset from the anchor to a face-frame offset of the point.
    """

    anchors: dict[str, tuple[int, ...]]
    neighbours: dict[str, tuple[int, ...]]
    weights: dict[str, np.ndarray]
    meta: dict[str, Any]

    def points(self, mesh: np.ndarray, yaw: float | None = None) -> dict[str, np.ndarray]:
        """Points ``{name: (2,)}`` of one ``(N, 3)`` mesh (pixel frame of the mesh)."""
        mesh = np.asarray(mesh, np.float64)
        phi = pose_features(head_yaw(mesh) if yaw is None else yaw, head_pitch(mesh))
        rot = face_frame(mesh)
        names, anchor_mean, neighbours, weights = self._stacked
        anchors = anchor_mean @ mesh[: anchor_mean.shape[1], :2]  # (P, 2)
        offsets = (mesh[neighbours, :2] - anchors[:, None]) @ rot.T  # (P, J, 2), face frame
        features = (offsets[..., None] * phi).reshape(len(names), -1, 1)  # (P, J*2*F, 1): j, i, f
        points = anchors + (weights @ features)[..., 0] @ rot
        return dict(zip(names, points, strict=True))

    @cached_property
    def _stacked(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """All points at once: names, ``(P, N)`` anchor averaging, ``(P, J)`` neighbours and ``(P, 2,
        J*2*F)`` weights, output component by (neighbour, input component, feature); the points of one
        model share ``J``."""
        names = list(self.anchors)
        width = 1 + max(max(max(self.anchors[n]), max(self.neighbours[n])) for n in names)
        anchor_mean = np.zeros((len(names), width))
        for p, n in enumerate(names):
            anchor_mean[p, list(self.anchors[n])] += 1.0 / len(self.anchors[n])
        neighbours = np.array([self.neighbours[n] for n in names], dtype=np.intp)
        weights = np.stack([self.weights[n] for n in names])  # (P, J, F, c, i)
        return names, anchor_mean, neighbours, weights.transpose(0, 3, 1, 4, 2).reshape(len(names), 2, -1)

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
            if weights[n].shape != (len(p["neighbours"]), NUM_FEATURES, 2, 2):
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
    lambdas: tuple[float, ...] = RIDGE_LAMBDAS,
    folds: int = 5,
    seed: int = 0,
    names: tuple[str, ...] = OUTLINE_NAMES,
    groups: np.ndarray | None = None,
    mirror: np.ndarray | None = None,
    reweight: int = 3,
) -> OutlineModel:
    """Fit the regression of every name in ``names``.

    ``meshes (M, N, 3)`` FaceMeshes (pixels, depth in pixels), ``truth (M, K, 2)`` canonical truth,
    ``scale (M,)`` the normaliser of each sample's error (inter-ocular distance): residuals are
    divided by it so every face counts alike. ``anchors``: the fixed vertices of each name.
    ``groups (M,)``: samples of one group (an image and its mirror image) share a cross-validation
    fold; default: every sample its own group. ``mirror (N,)``: the mirror vertex of each mesh vertex;
    if given, every sample is added once more as its exact mirror (``mirror_mesh``, truth flipped
    and left/right names swapped), so left and right points are fitted alike.

    Each point: its ``neighbours`` mesh vertices nearest to its mean truth position, the weights
    fitted by ridge regression followed by ``reweight`` rounds of iteratively reweighted least
    squares towards the least *distance* (the error measure, less swayed by the worst faces than
    the squared one); the ridge strength of each point is the one with the lowest
    ``folds``-fold cross-validated mean error.
    """
    meshes, truth, scale = np.asarray(meshes, np.float64), np.asarray(truth, np.float64), np.asarray(scale)
    if len(meshes) != len(truth) or len(meshes) != len(scale) or truth.shape[1:] != (NUM_LANDMARKS, 2):
        raise ValueError("meshes, truth and scale must describe the same samples, truth (M, K, 2)")
    groups = np.arange(len(meshes)) if groups is None else np.asarray(groups)
    if mirror is not None:
        flipped = truth[:, mirror_permutation()].copy()
        flipped[..., 0] *= -1
        meshes = np.concatenate([meshes, mirror_mesh(meshes, mirror)])
        truth, scale, groups = np.concatenate([truth, flipped]), np.tile(scale, 2), np.tile(groups, 2)
    phi = pose_features(np.array([head_yaw(m) for m in meshes]), np.array([head_pitch(m) for m in meshes]))
    rot = face_frame(meshes)  # (M, 2, 2)
    unique = np.unique(groups)
    fold_of_group = np.empty(len(unique), int)
    fold_of_group[np.random.default_rng(seed).permutation(len(unique))] = np.arange(len(unique)) % folds
    fold_of = fold_of_group[np.searchsorted(unique, groups)]
    centre = meshes[:, :468, :2].mean(axis=1, keepdims=True)
    # mean face (face frame, scale-normalised): each point's neighbours are the vertices nearest its mean truth
    unit = rot / scale[:, None, None]
    mean_mesh = np.einsum("mab,mvb->va", unit, meshes[:, :468, :2] - centre) / len(meshes)
    mean_truth = np.einsum("mab,mkb->ka", unit, truth - centre) / len(meshes)
    weights, chosen_neighbours, chosen_lambda, cv_error = {}, {}, {}, {}
    for name in names:
        k = INDEX[name]
        anchor_idx = list(anchors[name])
        # rounded, so that mirror-image vertices (equally near a midline point) tie on any machine
        # and the lower index wins
        distance = np.round(np.linalg.norm(mean_mesh - mean_truth[k], axis=1), 9)
        near = np.argsort(distance, kind="stable")[:neighbours]
        anchor = meshes[:, anchor_idx, :2].mean(axis=1)  # (M, 2)
        offsets = np.einsum("mab,mjb->mja", rot, meshes[:, near, :2] - anchor[:, None])  # (M, J, 2)
        feats = (offsets[:, :, None, :] * phi[:, None, :, None]).reshape(len(meshes), -1)  # (M, J*F*2)
        size = feats.shape[1]
        # rows are the face-frame x and y of each sample; x and y have their own weights
        design = np.zeros((len(meshes), 2, 2 * size))
        design[:, 0, :size], design[:, 1, size:] = feats, feats
        design /= scale[:, None, None]
        target = np.einsum("mab,mb->ma", rot, truth[:, k] - anchor) / scale[:, None]  # (M, 2)
        best = None
        for lam in lambdas:
            errs = []
            for f in range(folds):
                tr, te = fold_of != f, fold_of == f
                w = _fit(design[tr], target[tr], lam, reweight)
                errs.append(np.linalg.norm(design[te] @ w - target[te], axis=1))
            err = float(np.concatenate(errs).mean())
            if best is None or err < best[0]:
                best = (err, lam)
        assert best is not None
        w = _fit(design, target, best[1], reweight)
        weights[name] = w.reshape(2, len(near), NUM_FEATURES, 2).transpose(1, 2, 0, 3)
        chosen_neighbours[name] = tuple(int(i) for i in near)
        chosen_lambda[name], cv_error[name] = float(f"{best[1]:.3g}"), round(best[0], 5)
    meta = {
        "samples": int(len(meshes)),
        "neighbours": neighbours,
        "features": ["1", "yaw/45", "(yaw/45)^2", "pitch/45"],
        "frame": "outer eye corners",
        "reweight": reweight,
        "ridge_lambda": chosen_lambda,
        "cv_nme": cv_error,
    }
    return OutlineModel({n: tuple(anchors[n]) for n in names}, chosen_neighbours, weights, meta)


def _fit(design: np.ndarray, target: np.ndarray, lam: float, reweight: int) -> np.ndarray:
    """Ridge fit of ``design (M, 2, P) @ w ~ target (M, 2)``, then ``reweight`` rounds of iteratively
    reweighted least squares (weights ``1 / max(distance, 0.01)``) towards the least mean distance."""
    a, b = design.reshape(-1, design.shape[2]), target.reshape(-1)
    w = _ridge(a, b, lam)
    for _ in range(reweight):
        r = np.repeat(1.0 / np.maximum(np.linalg.norm(design @ w - target, axis=1), 0.01), 2)
        w = _ridge(a, b, lam, r / r.mean())
    return w


def _ridge(a: np.ndarray, b: np.ndarray, lam: float, row_weights: np.ndarray | None = None) -> np.ndarray:
    """``argmin sum_r c_r (a_r w - b_r)^2 / rows + lam |w|^2`` (``lam`` per row, so it does not depend
    on the count; ``c`` the row weights, default 1)."""
    aw = a if row_weights is None else a * row_weights[:, None]
    return np.linalg.solve(aw.T @ a + lam * len(a) * np.eye(a.shape[1]), aw.T @ b)


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
    "face_frame",
    "fit_outline",
    "head_pitch",
    "head_yaw",
    "load_outline_model",
    "mirror_mesh",
    "outline_confidence",
    "pose_features",
]
