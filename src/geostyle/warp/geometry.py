"""The geometry model: mean photo and style face geometry, and target landmarks for a photo.

Convention
----------
* Landmarks are ``(K, 2)`` / ``(N, K, 2)`` arrays in canonical order, columns ``(x, y)``, NaN for a
  missing point. Every function takes ``size``: ``None`` means the **normalised** ``[-1, 1]`` frame
  (``grid_sample``, ``align_corners=False``), an int means the **pixel frame of an aligned
  ``size x size`` crop** (``geostyle prepare`` output). The model itself is stored in the
  normalised frame, so it is independent of the crop resolution (but not of the crop framing:
  photos and styles must be aligned with the same recipe and ``zoom``).
* Parts (:data:`geostyle.faces.landmarks.PARTS`) are normalised by translation (centroid of the part's
  points) and scale (RMS distance to that centroid); no rotation (crops are already upright).

Target geometry (``α`` = geometry strength; 0 = identity, 1 = full style, > 1 exaggerates)
--------------------------------------------------------------------------------------------
Let ``P̄`` and ``S̄`` be the mean photo and style geometry (per point, over samples where it is visible),
and ``Δ = S̄ - P̄``.

* **Global** (``per_part=False``): ``t = p + α Δ``.
* **Per part** (``per_part=True``, default): points outside the parts as in the global mode. For a part
  with visible points ``V`` in ``p`` (at least 2), with ``c(·)`` the centroid and ``s(·)`` the RMS
  scale over ``V`` and ``q(X) = (X_V - c(X)) / s(X)`` the part-normalised shape::

      t_V = c(p) + α (c(S̄) - c(P̄)) + s(p) (s(S̄) / s(P̄))^α (q(p) + α (q(S̄) - q(P̄)))

  The part moves by the mean offset of its points, scales by the style/photo size ratio and changes
  shape by the mean normalised shape change, but keeps the person's own position, size and shape
  residual. ``α = 0`` gives ``t = p`` and ``p = P̄, α = 1`` gives ``t = S̄`` exactly (both modes).
* :meth:`GeometryModel.target_inverse` is the same map with photo and style swapped (style -> photo).
* **Part gains** (``gains={"eyes": 2.0}``): a part's points move with ``α × gain`` instead of ``α``
  (global offset and per-part formula alike), the rest of the face with ``α``; a gain above 1 moves
  them no further than ``max(α, 1)``, or ``min(α, -1)`` for a negative ``α``
  (:func:`gained_strength`). ``"eyes"`` names both eyes; ``"outline"`` (jaw, cheeks, chin) and
  ``"brows"`` name the points outside the parts, which keep the global formula at their own
  strength. ``α = 0`` is still the identity. A knob for users and for measuring which part's
  geometry the judges of ``geostyle evaluate`` react to (``docs/training.md``); the bundled anime
  models' face shape.

Points the style never shows (anime has no brows, jaw or nostrils) have no ``S̄``. ``missing='zero'``
gives them no style deformation (``Δ = 0``: the point stays pinned where it is). The default
``missing='interpolate'`` defines ``S̄`` there from a smooth extension of the mean deformation: a
thin-plate spline ``P̄ -> S̄`` fitted on the points both domains have (plus fixed crop-border anchors,
small regularisation) is evaluated at ``P̄`` of the missing points. Pinning them instead folds the warp
whenever the visible neighbours move far (anime: the nose tip rises above the pinned nostrils). Points
never seen in photos keep ``Δ = 0``. Per-point counts record which points were observed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from geostyle.errors import GeostyleError
from geostyle.faces.landmarks import CANONICAL_NAMES, INDEX, NUM_LANDMARKS, PARTS

__all__ = [
    "GeometryModel",
    "DomainGeometry",
    "PartStats",
    "FORMAT",
    "VERSION",
    "PART_GROUPS",
    "check_part_gains",
    "gained_strength",
    "part_gain_points",
    "GAIN_ONLY_GROUPS",
]

FORMAT = "geostyle-geometry"
VERSION = 1
MISSING_MODES = ("interpolate", "zero")
_PART_INDEX = {name: np.array([INDEX[n] for n in names]) for name, names in PARTS.items()}
# The points outside the parts, grouped for gains only (they keep the global formula): the face's
# outline (jaw, cheeks, chin) and the brows. A gain on the outline gives the anime chin without
# moving the eyes, nose and mouth, whose layout the identity judge reads (docs/training.md,
# "Face shape").
GAIN_ONLY_GROUPS: dict[str, tuple[str, ...]] = {
    "outline": ("jaw_right", "cheek_right", "jaw_right_lower", "chin", "jaw_left_lower", "cheek_left", "jaw_left"),
    "brows": tuple(f"{side}_brow_{p}" for side in ("right", "left") for p in ("outer", "center", "inner")),
}
_GAIN_INDEX = {
    **_PART_INDEX,
    **{name: np.array([INDEX[n] for n in names]) for name, names in GAIN_ONLY_GROUPS.items()},
}
# Names a part gain may use: the parts themselves, groups of them, and the gain-only groups.
PART_GROUPS: dict[str, tuple[str, ...]] = {
    **{name: (name,) for name in PARTS},
    "eyes": ("right_eye", "left_eye"),
    **{name: (name,) for name in GAIN_ONLY_GROUPS},
}
# Regularisation of the TPS that extends the mean style deformation to style-missing points
# (normalised frame units²): a touch of smoothing so one noisy mean point does not swing the fill.
_FILL_REGULARIZATION = 0.1


def part_gain_points(name: str) -> tuple[str, ...]:
    """The landmark names a gain of part ``name`` (a part or a gain-only group, as
    :func:`check_part_gains` returns them) moves."""
    return PARTS[name] if name in PARTS else GAIN_ONLY_GROUPS[name]


def gained_strength(alpha: float, gain: float) -> float:
    """A part's strength under a gain: ``alpha x gain``, but a gain above 1 moves a part no further
    than the style's own geometry (or than ``alpha``, past it; the same for a negative ``alpha``,
    away from the style, with -1): a face shape made at a low strength
    (the bundled anime models' outline at 1.857 x 0.35) stays a shape on the way to the style, not
    an exaggeration of it, when a user turns the strength up."""
    moved = alpha * gain
    if gain <= 1.0:
        return moved
    # The same bound on the other side: a negative strength (away from the style) stops at -1.
    return min(moved, max(alpha, 1.0)) if alpha >= 0 else max(moved, min(alpha, -1.0))


def check_part_gains(gains: Mapping[str, float] | None) -> dict[str, float]:
    """``gains`` as ``{part: gain}`` over :data:`PARTS` and the gain-only groups (groups expanded),
    with readable errors."""
    out: dict[str, float] = {}
    for name, value in (gains or {}).items():
        if name not in PART_GROUPS:
            raise GeostyleError(
                f"unknown face part {name!r} in part gains; choose from {', '.join(PART_GROUPS)}"
            )
        try:
            gain = float(value)
        except (TypeError, ValueError):
            raise GeostyleError(f"part gain {name}={value!r} is not a number") from None
        if not math.isfinite(gain) or not 0.0 <= gain <= 5.0:
            raise GeostyleError(f"part gain {name}={value} must be a number in [0, 5]")
        for part in PART_GROUPS[name]:
            out[part] = gain
    return out


def _to_normalized(points: np.ndarray, size: int | None) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    if size is None:
        return pts
    return (pts + 0.5) * (2.0 / size) - 1.0


def _from_normalized(points: np.ndarray, size: int | None) -> np.ndarray:
    if size is None:
        return points
    return (points + 1.0) * (size / 2.0) - 0.5


def _check_landmarks(name: str, points: np.ndarray, batched: bool) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    expect = 3 if batched else None
    if (expect is not None and pts.ndim != 3) or pts.shape[-2:] != (NUM_LANDMARKS, 2):
        want = "(N, K, 2)" if batched else "(K, 2) or (N, K, 2)"
        raise GeostyleError(f"{name} must have shape {want} with K={NUM_LANDMARKS}, got {pts.shape}")
    return pts


def _frozen(points: np.ndarray) -> np.ndarray:
    """A read-only float64 copy."""
    out = np.array(points, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


def _centroid_scale(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Centroid and RMS distance to it of ``(n, 2)`` finite points (sums divided by ``n``: what
    ``mean`` computes, without its Python-level wrapper; this runs for every face of every frame)."""
    n = len(points)
    c = points.sum(axis=0) / n
    s = float(np.sqrt(((points - c) ** 2).sum(axis=1).sum() / n))
    return c, s


def _part_frame(a: np.ndarray, b: np.ndarray) -> tuple[Any, ...] | None:
    """Centroids, scales and normalised shapes of one part's visible points in the two mean shapes
    ``a`` and ``b`` (``(n, 2)`` each), or None where either is degenerate (coincident points)."""
    c_a, s_a = _centroid_scale(a)
    c_b, s_b = _centroid_scale(b)
    if min(s_a, s_b) < 1e-9:
        return None
    return c_a, s_a, (a - c_a) / s_a, c_b, s_b, (b - c_b) / s_b


def _moved_part(part: np.ndarray, frame: tuple[Any, ...], alpha: float) -> np.ndarray | None:
    """One face's visible part points ``(n, 2)`` moved toward the other mean shape by ``alpha``:
    centroid, scale and normalised shape each interpolated (the module docstring's formula); None
    where the face's own points coincide."""
    c_a, s_a, q_a, c_b, s_b, q_b = frame
    c_p, s_p = _centroid_scale(part)
    if s_p < 1e-9:
        return None
    q_p = (part - c_p) / s_p
    return c_p + alpha * (c_b - c_a) + s_p * (s_b / s_a) ** alpha * (q_p + alpha * (q_b - q_a))


def _json_points(points: np.ndarray) -> list[list[float] | None]:
    return [[float(x), float(y)] if math.isfinite(x) and math.isfinite(y) else None for x, y in points]


def _points_from_json(values: list, name: str) -> np.ndarray:
    if len(values) != NUM_LANDMARKS:
        raise GeostyleError(f"geometry {name}: expected {NUM_LANDMARKS} points, got {len(values)}")
    return np.array([[np.nan, np.nan] if v is None else [float(v[0]), float(v[1])] for v in values])


class PartStats:
    """Statistics of one part in one domain, over samples where all its points are visible.

    ``shape``: mean part-normalised shape ``(n, 2)`` (zero centroid, unit RMS scale; mean of the
    normalised samples, renormalised). ``shape_std``: per-point std of the normalised samples.
    ``centroid``/``centroid_std`` and ``log_scale``/``log_scale_std``: position and size of the part
    in the normalised crop frame. ``count``: number of samples used (0 = no statistics, fields NaN).
    """

    def __init__(
        self,
        shape: np.ndarray,
        shape_std: np.ndarray,
        centroid: np.ndarray,
        centroid_std: np.ndarray,
        log_scale: float,
        log_scale_std: float,
        count: int,
    ) -> None:
        self.shape = shape
        self.shape_std = shape_std
        self.centroid = centroid
        self.centroid_std = centroid_std
        self.log_scale = log_scale
        self.log_scale_std = log_scale_std
        self.count = count

    @classmethod
    def from_samples(cls, part_points: np.ndarray) -> PartStats:
        """``part_points (N, n, 2)`` normalised frame; samples with a missing point are skipped."""
        n = part_points.shape[1]
        full = np.isfinite(part_points).all(axis=(1, 2))
        pts = part_points[full]
        if len(pts) == 0:
            nan2 = np.full((n, 2), np.nan)
            return cls(nan2, nan2.copy(), np.full(2, np.nan), np.full(2, np.nan), math.nan, math.nan, 0)
        centroids = pts.mean(axis=1)
        centred = pts - centroids[:, None]
        scales = np.sqrt((centred**2).sum(axis=2).mean(axis=1))
        scales = np.maximum(scales, 1e-12)
        shapes = centred / scales[:, None, None]
        mean_shape = shapes.mean(axis=0)
        c, s = _centroid_scale(mean_shape)
        mean_shape = (mean_shape - c) / max(s, 1e-12)
        return cls(
            mean_shape,
            shapes.std(axis=0),
            centroids.mean(axis=0),
            centroids.std(axis=0),
            float(np.log(scales).mean()),
            float(np.log(scales).std()),
            int(len(pts)),
        )

    def to_dict(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        return {
            "count": self.count,
            "shape": _json_points(self.shape),
            "shape_std": _json_points(self.shape_std),
            "centroid": [num(v) for v in self.centroid],
            "centroid_std": [num(v) for v in self.centroid_std],
            "log_scale": num(self.log_scale),
            "log_scale_std": num(self.log_scale_std),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PartStats:
        def arr(v: list) -> np.ndarray:
            return np.array([[np.nan, np.nan] if p is None else p for p in v], dtype=np.float64)

        def num(v: float | None) -> float:
            return math.nan if v is None else float(v)

        return cls(
            arr(d["shape"]),
            arr(d["shape_std"]),
            np.array([num(v) for v in d["centroid"]]),
            np.array([num(v) for v in d["centroid_std"]]),
            num(d["log_scale"]),
            num(d["log_scale_std"]),
            int(d["count"]),
        )


class DomainGeometry:
    """Mean geometry of one domain: ``mean (K, 2)`` normalised frame (NaN = never seen), per-point
    ``std (K, 2)``, ``count (K,)`` samples that showed each point, ``samples`` in total, and
    :class:`PartStats` per part."""

    def __init__(
        self, mean: np.ndarray, std: np.ndarray, count: np.ndarray, samples: int, parts: dict[str, PartStats]
    ) -> None:
        self.mean = mean
        self.std = std
        self.count = count
        self.samples = samples
        self.parts = parts

    @classmethod
    def from_landmarks(cls, points: np.ndarray) -> DomainGeometry:
        """``points (N, K, 2)`` normalised frame, NaN = missing."""
        vis = np.isfinite(points).all(axis=2)
        count = vis.sum(axis=0)
        safe = np.where(vis[..., None], points, 0.0)
        denom = np.maximum(count, 1)[:, None]
        mean = safe.sum(axis=0) / denom
        var = (np.where(vis[..., None], (points - mean) ** 2, 0.0)).sum(axis=0) / denom
        mean[count == 0] = np.nan
        std = np.sqrt(var)
        std[count == 0] = np.nan
        parts = {name: PartStats.from_samples(points[:, idx]) for name, idx in _PART_INDEX.items()}
        return cls(mean, std, count.astype(np.int64), int(points.shape[0]), parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "mean": _json_points(self.mean),
            "std": _json_points(self.std),
            "count": [int(c) for c in self.count],
            "parts": {name: stats.to_dict() for name, stats in self.parts.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], name: str) -> DomainGeometry:
        count = np.array(d["count"], dtype=np.int64)
        if count.shape != (NUM_LANDMARKS,):
            raise GeostyleError(f"geometry {name}: count must have {NUM_LANDMARKS} entries")
        return cls(
            _points_from_json(d["mean"], f"{name}.mean"),
            _points_from_json(d["std"], f"{name}.std"),
            count,
            int(d["samples"]),
            {part: PartStats.from_dict(v) for part, v in d["parts"].items()},
        )


def _interpolate_missing(photo_mean: np.ndarray, style_mean: np.ndarray) -> np.ndarray:
    """``S̄`` completed where the style lacks a point the photos have (see module docstring)."""
    have_p = np.isfinite(photo_mean).all(axis=1)
    have_s = np.isfinite(style_mean).all(axis=1)
    fill = have_p & ~have_s
    shared = have_p & have_s
    out = style_mean.copy()
    if not fill.any():
        return out
    if shared.sum() < 3:
        out[fill] = photo_mean[fill]  # too little to extrapolate from: no deformation
        return out
    import torch

    from geostyle.warp.tps import ThinPlateSpline, append_anchors, border_anchors

    src = torch.from_numpy(photo_mean[shared])[None]
    dst = torch.from_numpy(style_mean[shared])[None]
    src, dst, mask = append_anchors(src, dst, None, border_anchors(5, dtype=torch.float64))
    spline = ThinPlateSpline.fit(src, dst, _FILL_REGULARIZATION, mask)
    out[fill] = spline.transform(torch.from_numpy(photo_mean[fill])[None])[0].numpy()
    return out


class GeometryModel:
    """Mean photo and style geometry, per-part statistics, and the target map ``p -> t`` (module doc).

    Build with :meth:`fit` (landmark arrays) or :meth:`from_datasets` (prepared dataset folders);
    save with :meth:`save` / :meth:`to_dict` (plain JSON numbers, format version ``VERSION``).
    """

    def __init__(
        self, photo: DomainGeometry, style: DomainGeometry, missing: str = "interpolate", meta=None
    ) -> None:
        if missing not in MISSING_MODES:
            raise GeostyleError(f"missing must be one of {MISSING_MODES}, got {missing!r}")
        self.photo = photo
        self.style = style
        self.missing = missing
        # Per-part mean-shape frames, by direction and visibility (:meth:`_mean_part_frame`).
        self._part_frames: dict[tuple[Any, ...], tuple[Any, ...] | None] = {}
        self.meta: dict[str, Any] = dict(meta or {})
        self._refresh()

    def _refresh(self) -> None:
        """Completed means used by the target map (``missing`` policy applied to both directions)."""
        p, s = self.photo.mean, self.style.mean
        if self.missing == "interpolate":
            s_full = _interpolate_missing(p, s)
            p_full = _interpolate_missing(s, p)
        else:
            s_full, p_full = s.copy(), p.copy()
        # Where only one side is known after filling, the offset is 0: copy the known side.
        s_full = np.where(np.isfinite(s_full), s_full, p_full)
        p_full = np.where(np.isfinite(p_full), p_full, s_full)
        self.photo_mean = p_full  # (K, 2), NaN only where neither domain ever saw the point
        self.style_mean = s_full

    # The mean shapes are read-only copies (set through these properties, which also drop the part
    # frames kept between calls, :meth:`_mean_part_frame`): edited in place, those frames would go stale.
    @property
    def photo_mean(self) -> np.ndarray:
        return self._photo_mean

    @photo_mean.setter
    def photo_mean(self, value: np.ndarray) -> None:
        self._photo_mean = _frozen(value)
        self._part_frames = {}

    @property
    def style_mean(self) -> np.ndarray:
        return self._style_mean

    @style_mean.setter
    def style_mean(self, value: np.ndarray) -> None:
        self._style_mean = _frozen(value)
        self._part_frames = {}

    def __getstate__(self) -> dict[str, Any]:
        # Copies (pickle, deepcopy) get their own frozen means and no kept frames.
        state = dict(self.__dict__)
        state.pop("_part_frames", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.photo_mean, self.style_mean = state["_photo_mean"], state["_style_mean"]

    # ------------------------------------------------------------------ construction
    @classmethod
    def fit(
        cls,
        photo_landmarks: np.ndarray,
        style_landmarks: np.ndarray,
        size: int | None = None,
        missing: str = "interpolate",
    ) -> GeometryModel:
        """Fit from ``(N, K, 2)`` photo and ``(M, K, 2)`` style landmarks (NaN = missing).

        ``size=None``: points are in the normalised frame; ``size=S``: pixel frame of ``S x S``
        aligned crops. Raises :class:`GeostyleError` on empty input or a domain in which no eye or
        mouth point was ever visible.
        """
        photo = _to_normalized(_check_landmarks("photo_landmarks", photo_landmarks, True), size)
        style = _to_normalized(_check_landmarks("style_landmarks", style_landmarks, True), size)
        for name, pts in (("photo", photo), ("style", style)):
            if pts.shape[0] == 0:
                raise GeostyleError(f"no {name} landmarks to fit a geometry model")
            if not np.isfinite(pts).all(axis=2).any(axis=0).any():
                raise GeostyleError(f"every {name} landmark is missing")
        meta = {"fit_size": size, "photo_samples": int(photo.shape[0]), "style_samples": int(style.shape[0])}
        return cls(DomainGeometry.from_landmarks(photo), DomainGeometry.from_landmarks(style), missing, meta)

    @classmethod
    def from_datasets(
        cls, photo_dir: str | Path, style_dir: str | Path, missing: str = "interpolate"
    ) -> GeometryModel:
        """Fit from two prepared dataset folders (``geostyle prepare`` output)."""
        from geostyle.data.manifest import landmarks_array, load_manifest

        photos, styles = load_manifest(photo_dir), load_manifest(style_dir)
        if photos.zoom != styles.zoom:
            raise GeostyleError(
                f"photo and style datasets were cropped with different zoom ({photos.zoom} vs {styles.zoom}); "
                "prepare them with the same --zoom"
            )
        model = cls.fit(
            _to_normalized(landmarks_array(photos), photos.size),
            _to_normalized(landmarks_array(styles), styles.size),
            size=None,
            missing=missing,
        )
        model.meta.update(
            {"photo_dir": str(photo_dir), "style_dir": str(style_dir), "zoom": float(photos.zoom)}
        )
        return model

    # ------------------------------------------------------------------ targets
    @property
    def offset(self) -> np.ndarray:
        """``(K, 2)`` mean style deformation ``S̄ - P̄`` (normalised frame; 0 where undefined)."""
        return np.nan_to_num(self.style_mean - self.photo_mean, nan=0.0)

    def target(
        self,
        points: np.ndarray,
        alpha: float = 1.0,
        size: int | None = None,
        per_part: bool = True,
        gains: Mapping[str, float] | None = None,
    ):
        """Target geometry ``t`` of photo landmarks ``points`` ((K, 2) or (N, K, 2), NaN = missing).

        See the module docstring for the formula (``gains``: per-part multipliers of ``alpha``).
        ``size`` picks the frame of input and output (``None`` = normalised). Missing input points
        stay NaN. Accepts NumPy arrays or torch tensors (returned as the same type; computed in
        float64 NumPy, not differentiable).
        """
        return self._move(points, alpha, size, per_part, self.photo_mean, self.style_mean, gains)

    def target_inverse(
        self,
        points: np.ndarray,
        alpha: float = 1.0,
        size: int | None = None,
        per_part: bool = True,
        gains: Mapping[str, float] | None = None,
    ):
        """Style -> photo: the same map with the domains swapped (``s + α (P̄ - S̄)`` globally)."""
        return self._move(points, alpha, size, per_part, self.style_mean, self.photo_mean, gains)

    def _move(
        self,
        points,
        alpha: float,
        size: int | None,
        per_part: bool,
        a_mean: np.ndarray,
        b_mean: np.ndarray,
        gains: Mapping[str, float] | None = None,
    ):
        torch_like = None
        if not isinstance(points, np.ndarray) and hasattr(points, "detach"):
            torch_like = points
            points = points.detach().cpu().double().numpy()
        pts = _check_landmarks("points", points, False)
        single = pts.ndim == 2
        p = _to_normalized(pts[None] if single else pts, size)
        alpha = float(alpha)
        part_alpha = {name: gained_strength(alpha, g) for name, g in check_part_gains(gains).items()}
        point_alpha = np.full((p.shape[1], 1), alpha)
        for name, a in part_alpha.items():
            point_alpha[_GAIN_INDEX[name]] = a
        delta = np.nan_to_num(b_mean - a_mean, nan=0.0)
        t = p + point_alpha * delta
        if per_part:
            for name, idx in _PART_INDEX.items():
                a, b = a_mean[idx], b_mean[idx]
                known = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
                part = p[:, idx]  # (N, n, 2)
                vis = np.isfinite(part).all(axis=2) & known[None]
                for i in np.nonzero(vis.sum(axis=1) >= 2)[0]:
                    v = vis[i]
                    frame = self._mean_part_frame(name, v, a_mean, b_mean)
                    moved = None if frame is None else _moved_part(part[i, v], frame, part_alpha.get(name, alpha))
                    if moved is not None:  # else (a degenerate part) it keeps the global offset
                        t[i, idx[v]] = moved
        t = _from_normalized(t, size)
        t = t[0] if single else t
        if torch_like is not None:
            import torch

            return torch.as_tensor(t, dtype=torch_like.dtype, device=torch_like.device)
        return t

    def _mean_part_frame(
        self, name: str, visible: np.ndarray, a_mean: np.ndarray, b_mean: np.ndarray
    ) -> tuple[Any, ...] | None:
        """:func:`_part_frame` of part ``name``'s ``visible`` points in the two mean shapes (this
        model's own, in either order), kept per direction and visibility pattern (a video asks for
        the same few every frame). The means are read-only and setting one drops the kept frames, so
        an entry never outlives the means it was computed from."""
        cache = self._part_frames
        key = (name, a_mean is self._photo_mean, visible.tobytes())
        if key not in cache:
            if len(cache) > 64:
                cache.clear()
            idx = _PART_INDEX[name][visible]
            cache[key] = _part_frame(a_mean[idx], b_mean[idx])
        return cache[key]

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "frame": "normalized",
            "landmark_names": list(CANONICAL_NAMES),
            "missing": self.missing,
            "photo": self.photo.to_dict(),
            "style": self.style.to_dict(),
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GeometryModel:
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise GeostyleError(f"not a geometry model (format must be {FORMAT!r})")
        if d.get("version") != VERSION:
            raise GeostyleError(
                f"geometry model version {d.get('version')!r} is not supported (expected {VERSION})"
            )
        if list(d.get("landmark_names", [])) != list(CANONICAL_NAMES):
            raise GeostyleError("geometry model was built for a different landmark set")
        try:
            return cls(
                DomainGeometry.from_dict(d["photo"], "photo"),
                DomainGeometry.from_dict(d["style"], "style"),
                d.get("missing", "interpolate"),
                d.get("meta", {}),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise GeostyleError(f"malformed geometry model: {exc!r}") from exc

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False))
        return path

    @classmethod
    def load(cls, path: str | Path) -> GeometryModel:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise GeostyleError(f"{path}: no such geometry file") from exc
        except (OSError, ValueError) as exc:
            raise GeostyleError(f"{path}: not a readable geometry JSON ({exc})") from exc
        return cls.from_dict(data)

    def __repr__(self) -> str:
        return (
            f"GeometryModel(photo_samples={self.photo.samples}, style_samples={self.style.samples}, "
            f"missing={self.missing!r})"
        )


# ---------------------------------------------------------------------------------------------------
# Previews: a face crop warped to the style geometry at several strengths (``geostyle warp``, docs).
# ---------------------------------------------------------------------------------------------------


def warp_crop_to_target(
    crop: np.ndarray,
    landmarks: np.ndarray,
    target: np.ndarray,
    regularization: float | None = None,
    local: bool = False,
) -> np.ndarray:
    """Backward grid ``(S, S, 2)`` (float32 NumPy) moving ``landmarks`` of an ``S x S`` ``crop`` to ``target``.

    Both point sets ``(K, 2)`` in the crop pixel frame (NaN = missing). ``regularization=None`` uses
    :data:`geostyle.warp.grid.DEFAULT_REGULARIZATION`. ``local=True`` blends the
    per-part affine alignment of :func:`geostyle.warp.local.local_warp_grid` into the global TPS.
    """
    import torch

    from geostyle.faces.landmarks import pixels_to_normalized
    from geostyle.warp.grid import DEFAULT_REGULARIZATION, landmark_warp_grid
    from geostyle.warp.local import local_warp_grid

    if regularization is None:
        regularization = DEFAULT_REGULARIZATION

    size = crop.shape[0]
    p = torch.from_numpy(np.asarray(landmarks, dtype=np.float64))[None]
    t = torch.from_numpy(np.asarray(target, dtype=np.float64))[None]
    mask = torch.isfinite(p).all(-1) & torch.isfinite(t).all(-1)
    grid = landmark_warp_grid(p, t, size, mask=mask, regularization=regularization, lowres=None)
    if local:
        pn = pixels_to_normalized(torch.nan_to_num(p), size, size)
        tn = pixels_to_normalized(torch.nan_to_num(t), size, size)
        grid = local_warp_grid(pn, tn, size, size, mask=mask, base_grid=grid)
    return grid[0].float().numpy()


def _grid_lines(size: int, cells: int = 16) -> np.ndarray:
    lines = np.zeros((size, size), np.float32)
    step = size / cells
    for i in range(1, cells):
        c = int(round(i * step))
        lines[max(0, c - 1) : c + 1, :] = 1.0
        lines[:, max(0, c - 1) : c + 1] = 1.0
    return lines


def render_warp_panel(
    crop: np.ndarray,
    landmarks: np.ndarray,
    target: np.ndarray,
    grid: np.ndarray,
    label: str = "",
    show_grid: bool = True,
    show_arrows: bool = True,
) -> np.ndarray:
    """Warp ``crop`` with ``grid`` and draw the deformation: warped grid lines (cyan), arrows from the
    photo's landmarks to the target (magenta) and the target points (green). Pixel frame of the crop."""
    import cv2
    import torch

    from geostyle.warp.grid import warp_image

    size = crop.shape[0]
    g = torch.from_numpy(grid)[None]
    img = torch.from_numpy(crop).permute(2, 0, 1)[None].float()
    out = warp_image(img, g)[0].permute(1, 2, 0).numpy()
    if show_grid:
        lines = warp_image(torch.from_numpy(_grid_lines(size))[None, None], g)[0, 0].numpy()[..., None]
        out = out * (1 - 0.45 * lines) + np.array([0, 255, 255], np.float32) * 0.45 * lines
    out = np.ascontiguousarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))
    shift = 4
    scale = 1 << shift

    def fx(pt):
        return int(round(pt[0] * scale)), int(round(pt[1] * scale))

    r = max(1, size // 160)
    for a, b in zip(np.asarray(landmarks), np.asarray(target), strict=True):
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            continue
        if show_arrows and np.hypot(*(b - a)) > 0.75:
            cv2.arrowedLine(out, fx(a), fx(b), (255, 40, 220), 1, cv2.LINE_AA, shift, tipLength=0.3)
        cv2.circle(out, fx(b), r * scale, (40, 230, 40), -1, cv2.LINE_AA, shift)
    if label:
        cv2.putText(out, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def preview_strengths(
    crop: np.ndarray,
    landmarks: np.ndarray,
    model: GeometryModel,
    alphas: list[float] | tuple[float, ...] = (0.0, 0.5, 1.0),
    per_part: bool = True,
    local: bool = False,
    show_grid: bool = True,
    show_arrows: bool = True,
    pad: int = 4,
    regularization: float | None = None,
) -> np.ndarray:
    """One row: ``crop`` ((S, S, 3) uint8, aligned) warped to ``model.target(landmarks, α)`` per ``α``.

    ``landmarks (K, 2)`` in the crop pixel frame. Returns an ``(S, n S + (n - 1) pad, 3)`` uint8 image.
    """
    if crop.ndim != 3 or crop.shape[0] != crop.shape[1]:
        raise GeostyleError(f"crop must be a square (S, S, 3) image, got {crop.shape}")
    size = crop.shape[0]
    panels = []
    for alpha in alphas:
        t = model.target(landmarks, alpha, size=size, per_part=per_part)
        grid = warp_crop_to_target(crop, landmarks, t, regularization=regularization, local=local)
        panels.append(render_warp_panel(crop, landmarks, t, grid, f"a={alpha:g}", show_grid, show_arrows))
    sep = np.full((size, pad, 3), 255, np.uint8)
    row = [panels[0]]
    for p in panels[1:]:
        row += [sep, p]
    return np.concatenate(row, axis=1)


def preview_photo(
    image: np.ndarray,
    landmarks: np.ndarray,
    model: GeometryModel,
    alphas=(0.0, 0.5, 1.0),
    size: int = 256,
    zoom: float | None = None,
    **kwargs,
) -> np.ndarray:
    """Align a full photo (``image`` (H, W, 3) uint8, ``landmarks (K, 2)`` its pixel frame) to a
    ``size`` crop with the model's ``zoom`` (from its datasets; 1.0 if unknown) and call
    :func:`preview_strengths`."""
    from geostyle.faces.align import apply_affine, estimate_alignment, warp_to_crop

    zoom = float(model.meta.get("zoom", 1.0) if zoom is None else zoom)
    try:
        alignment = estimate_alignment(landmarks, size=size, zoom=zoom)
    except ValueError as exc:
        raise GeostyleError(f"cannot align the face: {exc}") from exc
    crop = warp_to_crop(image, alignment)
    return preview_strengths(crop, apply_affine(alignment.matrix, landmarks), model, alphas, **kwargs)
