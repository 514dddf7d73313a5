"""Faces followed through a video: detection when a track is lost, landmark tracking in between, and
One-Euro smoothing so that the face crop and its TPS warp do not jitter.

* :class:`OneEuroFilter` — the speed-adaptive low-pass filter of Casiez, Roussel and Vogel (CHI 2012):
  a low cutoff while a point is still (removes jitter), a higher one as it moves (removes lag).
* :class:`VideoFaceMesh` — mediapipe FaceMesh in its video mode: the face detector runs only
  when the landmark model has lost the face; otherwise the landmarks of the previous frame define
  where the landmark model looks next (tracking between detections).
* :class:`FaceTracker` — keeps one track per face (matched frame to frame by box overlap), each
  with its own filter.

Convention: landmarks ``(K, 2)`` canonical, pixel frame of the full frame (NaN = missing);
timestamps in seconds.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from geostyle.errors import BackendUnavailableError
from geostyle.faces.landmarks import INDEX, MIN_CONFIDENCE, Face, confident_points

# Tuned on the talking heads (benchmarks/temporal_consistency.py, docs/inference.md): a still head's
# landmark jitter at under half the detector's, a moving head followed within 0.02 eye distances.
# The earlier beta 2 with the speed smoothed at 1 Hz lagged a moving head by 0.10 eye distances: the
# warp and the anime eyes were placed where the face had been.
DEFAULT_MIN_CUTOFF = 1.0  # Hz
DEFAULT_BETA = 8.0  # 1/(eye distances per second): how fast the cutoff rises with speed
DEFAULT_D_CUTOFF = 4.0  # Hz, smoothing of the speed estimate (faster: the cutoff rises as a head starts to move)


def _smoothing_factor(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter over arrays of points ``(..., 2)`` (each point filtered separately).

    ``__call__(x, t, scale=1.0)``: the filtered value at time ``t`` (seconds, increasing). The cutoff
    of each point is ``min_cutoff + beta * speed / scale`` where ``speed`` is that point's smoothed
    speed (units of ``x`` per second): pass the face size as ``scale`` so that ``beta`` does not
    depend on how large the face is in pixels. A NaN point passes through and restarts that point.
    """

    def __init__(
        self,
        min_cutoff: float = DEFAULT_MIN_CUTOFF,
        beta: float = DEFAULT_BETA,
        d_cutoff: float = DEFAULT_D_CUTOFF,
    ) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError("One-Euro cutoffs must be > 0 and beta >= 0")
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._t is None or self._x.shape != x.shape or t <= self._t:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), float(t)
            return x.copy()
        dt = float(t) - self._t
        assert self._dx is not None
        fresh = ~np.isfinite(self._x) | ~np.isfinite(x)
        prev = np.where(fresh, x, self._x)
        dx = np.where(fresh, 0.0, (x - prev) / dt)
        a_d = _smoothing_factor(self.d_cutoff, dt)
        dx_hat = self._dx + a_d * (dx - self._dx)
        dx_hat = np.where(fresh, 0.0, dx_hat)
        speed = np.linalg.norm(dx_hat, axis=-1, keepdims=True) / max(scale, 1e-9)
        a = _smoothing_factor(self.min_cutoff + self.beta * speed, dt)
        out = prev + a * (x - prev)
        out = np.where(fresh, x, out)
        self._x, self._dx, self._t = out, dx_hat, float(t)
        return out.copy()


def face_scale(landmarks: np.ndarray) -> float:
    """Distance between the eye centres in pixels (NaN-safe; falls back to the landmark spread)."""
    a, b = landmarks[INDEX["right_eye_center"]], landmarks[INDEX["left_eye_center"]]
    if np.isfinite(a).all() and np.isfinite(b).all():
        return float(np.hypot(*(a - b)))
    pts = landmarks[np.isfinite(landmarks).all(-1)]
    return float(np.ptp(pts[:, 0])) if len(pts) else 1.0


def reduce_for_detection(image: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """A copy with its long side at most ``max_side`` (area-averaged) and the factor ``f`` such
    that full-frame pixel ``p = f * (p_small + 0.5) - 0.5``. Returns ``(image, 1.0)`` when small."""
    h, w = image.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return image, 1.0
    f = max(h, w) / max_side
    small = cv2.resize(image, (max(1, round(w / f)), max(1, round(h / f))), interpolation=cv2.INTER_AREA)
    return small, f


def scale_face(face: Face, f: float) -> Face:
    """A face found on a copy reduced by ``f`` (see :func:`reduce_for_detection`), in full-frame pixels."""
    if f == 1.0:
        return face

    def up(p: np.ndarray) -> np.ndarray:
        return f * (np.asarray(p, dtype=np.float64) + 0.5) - 0.5

    x0, y0, x1, y1 = face.box
    extra = dict(face.extra)
    if "mesh" in extra:
        extra["mesh"] = up(extra["mesh"])
    return Face(
        box=(f * (x0 + 0.5) - 0.5, f * (y0 + 0.5) - 0.5, f * (x1 + 0.5) - 0.5, f * (y1 + 0.5) - 0.5),
        landmarks=up(face.landmarks),
        score=face.score,
        backend=face.backend,
        extra=extra,
    )


class VideoFaceMesh:
    """mediapipe FaceMesh in video mode (``static_image_mode=False``): detection only when tracking
    is lost. Same canonical landmarks as :class:`geostyle.faces.backends.mediapipe_mesh.MediapipeBackend`."""

    name = "mediapipe-video"

    def __init__(self, max_faces: int = 4, min_detection: float = 0.5, min_tracking: float = 0.5) -> None:
        try:
            import mediapipe as mp

            from geostyle.faces.backends.mediapipe_mesh import face_from_mesh, mesh_pixels
        except Exception as exc:  # ImportError, or protobuf/numpy mismatches at import time
            raise BackendUnavailableError(f"mediapipe cannot be imported: {exc}") from exc
        self._face_from_mesh, self._mesh_pixels = face_from_mesh, mesh_pixels
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False,
            max_num_faces=max_faces,
            refine_landmarks=True,
            min_detection_confidence=min_detection,
            min_tracking_confidence=min_tracking,
        )
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray, path: Path | None = None) -> list[Face]:
        image = np.ascontiguousarray(image, dtype=np.uint8)
        h, w = image.shape[:2]
        with self._lock:
            result = self._mesh.process(image)
        faces = [
            self._face_from_mesh(self._mesh_pixels(lms.landmark, w, h), 1.0, self.name)
            for lms in result.multi_face_landmarks or []
        ]
        return sorted(faces, key=lambda f: -f.area)

    def close(self) -> None:
        mesh, self._mesh = getattr(self, "_mesh", None), None
        if mesh is not None:
            try:
                mesh.close()
            except Exception:  # closing twice or at interpreter exit
                pass

    def __del__(self) -> None:
        self.close()


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    """One face followed over frames. ``landmarks`` are the smoothed points (what the renderer
    uses), ``raw`` the detector's points of the last frame it was seen."""

    id: int
    landmarks: np.ndarray
    raw: np.ndarray
    box: tuple[float, float, float, float]
    missed: int = 0
    filter: OneEuroFilter = field(default_factory=OneEuroFilter)
    motion: float = 0.0  # mean move of the smoothed landmarks since the last frame, in eye distances
    confidence: np.ndarray | None = None  # per-point confidence of the last detection (K,)

    def warp_landmarks(self, min_confidence: float = MIN_CONFIDENCE) -> np.ndarray:
        """The smoothed points the warp may move: low-confidence points (the hidden far-side jaw of a
        turned head) missing, as for a still image (:meth:`Face.warp_landmarks`). All points stay
        smoothed, so a point that turns visible again continues from where the filter had it."""
        return confident_points(self.landmarks, self.confidence, min_confidence)


class FaceTracker:
    """Faces of consecutive frames, matched by box overlap and smoothed per track.

    ``detector`` is anything with ``detect(image) -> list[Face]`` (a :class:`VideoFaceMesh` tracks
    between detections by itself; a still-image backend simply detects on every frame).
    ``detect_size`` caps the long side of the copy the detector sees (large frames are searched on
    a reduced copy). A track that is not seen is kept, frozen, for ``hold_frames`` frames (bridges a
    single missed frame without the warp popping off and on), then dropped.
    """

    def __init__(
        self,
        detector,
        smoothing: bool = True,
        min_cutoff: float = DEFAULT_MIN_CUTOFF,
        beta: float = DEFAULT_BETA,
        detect_size: int | None = 1280,
        hold_frames: int = 1,
        min_iou: float = 0.2,
        d_cutoff: float = DEFAULT_D_CUTOFF,
    ) -> None:
        self.detector = detector
        self.smoothing = smoothing
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self.detect_size = detect_size
        self.hold_frames = hold_frames
        self.min_iou = min_iou
        self.tracks: list[Track] = []
        self._next_id = 0

    def reset(self) -> None:
        self.tracks = []

    def detect(self, frame: np.ndarray) -> list[Face]:
        small, f = reduce_for_detection(frame, self.detect_size)
        return [scale_face(face, f) for face in self.detector.detect(small)]

    def update(self, frame: np.ndarray, t: float) -> list[Track]:
        """Detect/track the faces of ``frame`` (RGB uint8) at time ``t``; the live tracks, largest first."""
        faces = self.detect(frame)
        return self.update_with(faces, t)

    def update_with(self, faces: list[Face], t: float) -> list[Track]:
        """Advance the tracks with already detected ``faces`` (full-frame pixels) at time ``t``."""
        unmatched = list(range(len(self.tracks)))
        kept: list[Track] = []
        for face in faces:
            best, best_iou = None, self.min_iou
            for i in unmatched:
                iou = _iou(self.tracks[i].box, face.box)
                if iou > best_iou:
                    best, best_iou = i, iou
            if best is None:
                track = Track(
                    self._next_id,
                    face.landmarks.copy(),
                    face.landmarks.copy(),
                    face.box,
                    filter=OneEuroFilter(self.min_cutoff, self.beta, self.d_cutoff),
                )
                self._next_id += 1
            else:
                unmatched.remove(best)
                track = self.tracks[best]
                track.raw, track.box, track.missed = face.landmarks.copy(), face.box, 0
            conf = face.extra.get("confidence")
            track.confidence = None if conf is None else np.asarray(conf, dtype=np.float64)
            previous = track.landmarks
            if self.smoothing:
                track.landmarks = track.filter(face.landmarks, t, scale=face_scale(face.landmarks))
            else:
                track.landmarks = face.landmarks.copy()
            if best is not None:
                step = np.linalg.norm(track.landmarks - previous, axis=-1)
                track.motion = float(np.nanmean(step) / max(face_scale(track.landmarks), 1e-6))
            kept.append(track)
        for i in unmatched:
            track = self.tracks[i]
            track.missed += 1
            track.motion = 0.0
            if track.missed <= self.hold_frames:
                kept.append(track)
        self.tracks = kept
        return sorted(kept, key=lambda tr: -(tr.box[2] - tr.box[0]) * (tr.box[3] - tr.box[1]))
