"""mediapipe FaceMesh (468 + 10 iris points) mapped to the canonical landmark set.

Mapping
-------
Each canonical point is one mesh vertex or the mean of a few (``MESH_INDICES``). The indices were
chosen on data, not only by eye: for every canonical name, the candidates (each single vertex, the
means of pairs among the 25 best single vertices, and for the eye centres the mean of the 16-vertex
eye contour) were scored by their mean error against the iBUG-68 definition of that name
(``IBUG68_DEFINITION``) on HELEN images 0-149 of ``shared/data/landmarks/helen``, normalised by the
outer-eye-corner distance; a pair replaced a single vertex only if it lowered the error by more
than 0.003. Left/right names were chosen jointly with mirrored vertices (the mirror of every vertex
was measured by running the mesh on flipped images) so the mapping is symmetric, and midline names
only from midline vertices or symmetric pairs. HELEN images 150-299 are held out for reporting.
``python benchmarks/landmark_accuracy.py --tune-mediapipe`` reruns the selection.

The outline points (chin, jaw, cheeks) are the exception: a fixed vertex leaves the face's
silhouette as the head turns, so when the mesh comes with depth they come from the pose-dependent
regression of :mod:`geostyle.faces.outline`, and each face carries a per-point ``confidence``
(``extra["confidence"]``) that falls for the far-side outline of a turned head.

Small faces (crop-and-retry)
----------------------------
FaceMesh finds faces with mediapipe's *short-range* detector, which misses faces smaller than
about a fifth of the image (a 130 px face in a 1600 px photo is not found). When FaceMesh finds
nothing, this backend runs mediapipe's *full-range* face detector on the whole image and, if that
finds nothing either and the image is large, on overlapping tiles; around each detected face it cuts
a square crop (padded at the image border), scales it to ``CROP_SIZE`` pixels and runs FaceMesh on
the crop, mapping the points back. Such faces get the full-range detector's score; faces found
directly by FaceMesh (which reports no score) get 1.0.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from geostyle.errors import BackendUnavailableError
from geostyle.faces.landmarks import CANONICAL_NAMES, INDEX, Face
from geostyle.faces.outline import head_yaw, load_outline_model, outline_confidence

# canonical name -> mediapipe FaceMesh vertex indices whose mean gives the point (see module doc).
RIGHT_EYE_CONTOUR = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE_CONTOUR = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
MESH_INDICES: dict[str, tuple[int, ...]] = {
    "right_eye_outer": (7, 33),
    "right_eye_inner": (155,),
    "left_eye_inner": (382,),
    "left_eye_outer": (249, 263),
    "right_eye_center": RIGHT_EYE_CONTOUR,
    "left_eye_center": LEFT_EYE_CONTOUR,
    "right_eye_top": (158, 159),
    "right_eye_bottom": (145,),
    "left_eye_top": (385, 386),
    "left_eye_bottom": (374,),
    "right_brow_outer": (70, 156),
    "right_brow_center": (66, 105),
    "right_brow_inner": (55, 107),
    "left_brow_inner": (285, 336),
    "left_brow_center": (296, 334),
    "left_brow_outer": (300, 383),
    "nose_bridge": (193, 417),
    "nose_tip": (45, 275),
    "nose_base": (2, 164),
    "nose_right": (102, 167),
    "nose_left": (331, 393),
    "mouth_right": (61,),
    "mouth_left": (291,),
    "mouth_top": (72, 302),
    "mouth_bottom": (17,),
    "mouth_center": (13, 14),
    "chin": (152,),
    "jaw_right": (127,),
    "jaw_left": (356,),
    "cheek_right": (215,),
    "cheek_left": (435,),
    "jaw_right_lower": (136, 150),
    "jaw_left_lower": (365, 379),
}
assert tuple(MESH_INDICES) == CANONICAL_NAMES

CROP_SIZE = 384  # side of the square crop FaceMesh sees in crop-and-retry
CROP_SCALE = 2.2  # crop side / detected face box side
TILE_MIN_SIDE = 640  # tile the image in crop-and-retry only if its long side is at least this


def mesh_to_canonical(mesh: np.ndarray, outline: bool = True) -> np.ndarray:
    """``(468 or 478, 2 or 3)`` FaceMesh points -> ``(K, 2)`` canonical points (same frame).

    With depth (3 columns) and ``outline``, the outline points come from the shipped pose-dependent
    regression (module doc); otherwise every point is the mean of its ``MESH_INDICES`` vertices.
    """
    mesh = np.asarray(mesh, dtype=np.float64)
    points = np.stack([mesh[list(idx), :2].mean(axis=0) for idx in MESH_INDICES.values()])
    model = load_outline_model() if outline and mesh.shape[1] >= 3 else None
    if model is not None:
        for name, p in model.points(mesh).items():
            points[INDEX[name]] = p
    return points


def mesh_pixels(landmarks, width: int, height: int) -> np.ndarray:
    """mediapipe's normalised landmarks -> ``(N, 3)`` pixels ``(x, y, depth)``.

    mediapipe normalises by the image size with 0 at the image edge; pixel centres are at integers,
    so the edge is at -0.5. Depth is relative to the face centre, in the units of x.
    """
    pts = np.array([(lm.x, lm.y, lm.z) for lm in landmarks], dtype=np.float64)
    pts[:, 0] = pts[:, 0] * width - 0.5
    pts[:, 1] = pts[:, 1] * height - 0.5
    pts[:, 2] *= width
    return pts


def face_from_mesh(mesh: np.ndarray, score: float, backend: str, extra: dict | None = None) -> Face:
    """A :class:`Face` from one ``(N, 3)`` pixel mesh: canonical points, yaw and confidence.

    ``extra["mesh"]`` keeps the 2-D mesh (as before), ``extra["mesh_z"]`` its depth.
    """
    core = mesh[:468, :2]
    (x0, y0), (x1, y1) = core.min(axis=0), core.max(axis=0)
    yaw = head_yaw(mesh)
    info = {"mesh": mesh[:, :2].copy(), "mesh_z": mesh[:, 2].copy(), "yaw": yaw}
    info["confidence"] = outline_confidence(yaw)
    info.update(extra or {})
    return Face(
        box=(float(x0), float(y0), float(x1), float(y1)),
        landmarks=mesh_to_canonical(mesh),
        score=float(score),
        backend=backend,
        extra=info,
    )


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class MediapipeBackend:
    """Faces and canonical landmarks from mediapipe FaceMesh (``refine_landmarks=True``).

    The mediapipe graphs are created on first use and reused; call :meth:`close` (or use the
    backend as a context manager) to release them early.
    """

    name = "mediapipe"

    def __init__(self, max_faces: int = 5, min_confidence: float = 0.5, retry: bool = True) -> None:
        try:
            import mediapipe as mp

            self._solutions = mp.solutions
        except Exception as exc:  # ImportError, or protobuf/numpy mismatches at import time
            raise BackendUnavailableError(f"mediapipe cannot be imported: {exc}") from exc
        self.max_faces = int(max_faces)
        self.min_confidence = float(min_confidence)
        self.retry = bool(retry)
        self._mesh = None
        self._crop_mesh = None
        self._detector = None
        self._lock = threading.Lock()

    # --------------------------------------------------------------------------- graph lifetime
    def _get_mesh(self):
        if self._mesh is None:
            self._mesh = self._solutions.face_mesh.FaceMesh(
                static_image_mode=True,
                max_num_faces=self.max_faces,
                refine_landmarks=True,
                min_detection_confidence=self.min_confidence,
            )
        return self._mesh

    def _get_crop_mesh(self):
        if self._crop_mesh is None:
            # a crop holds one face; a lower threshold because the full-range detector already vouched
            self._crop_mesh = self._solutions.face_mesh.FaceMesh(
                static_image_mode=True,
                max_num_faces=1,
                refine_landmarks=True,
                min_detection_confidence=min(self.min_confidence, 0.3),
            )
        return self._crop_mesh

    def _get_detector(self):
        if self._detector is None:
            self._detector = self._solutions.face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=self.min_confidence
            )
        return self._detector

    def close(self) -> None:
        for attr in ("_mesh", "_crop_mesh", "_detector"):
            graph = getattr(self, attr, None)
            if graph is not None:
                try:
                    graph.close()
                except Exception:  # closing twice or at interpreter exit
                    pass
                setattr(self, attr, None)

    def __enter__(self) -> MediapipeBackend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    # ---------------------------------------------------------------------------------- detect
    @staticmethod
    def _meshes(result, width: int, height: int) -> list[np.ndarray]:
        """``(478, 3)`` meshes in pixels: x, y and depth (mediapipe scales z like x, by the width)."""
        return [mesh_pixels(face.landmark, width, height) for face in result.multi_face_landmarks or []]

    def _face(self, mesh: np.ndarray, score: float, how: str) -> Face:
        return face_from_mesh(mesh, score, self.name, {"found_by": how})

    def detect(self, image: np.ndarray, path: Path | None = None) -> list[Face]:
        image = np.ascontiguousarray(image, dtype=np.uint8)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
        height, width = image.shape[:2]
        with self._lock:
            result = self._get_mesh().process(image)
            faces = [self._face(m, 1.0, "facemesh") for m in self._meshes(result, width, height)]
            if not faces and self.retry:
                faces = self._crop_and_retry(image)
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces[: self.max_faces]

    def _detect_boxes(self, image: np.ndarray) -> list[tuple[tuple[float, float, float, float], float]]:
        """Full-range face detections ``(box, score)`` in pixels; tiles large images if needed."""
        height, width = image.shape[:2]
        windows = [(0, 0, width, height)]
        found = self._run_detector(image, windows[0])
        if not found and max(width, height) >= TILE_MIN_SIDE:
            side = int(round(max(width, height) / 2))
            step = side // 2
            xs = list(range(0, max(width - side, 0) + 1, step)) or [0]
            ys = list(range(0, max(height - side, 0) + 1, step)) or [0]
            for y in ys:
                for x in xs:
                    found += self._run_detector(image, (x, y, min(x + side, width), min(y + side, height)))
        # non-maximum suppression across windows
        found.sort(key=lambda bs: bs[1], reverse=True)
        kept: list[tuple[tuple[float, float, float, float], float]] = []
        for box, score in found:
            if all(_iou(box, k[0]) < 0.3 for k in kept):
                kept.append((box, score))
        return kept[: self.max_faces]

    def _run_detector(self, image: np.ndarray, window: tuple[int, int, int, int]):
        x0, y0, x1, y1 = window
        sub = np.ascontiguousarray(image[y0:y1, x0:x1])
        result = self._get_detector().process(sub)
        h, w = sub.shape[:2]
        out = []
        for det in result.detections or []:
            rb = det.location_data.relative_bounding_box
            box = (
                x0 + rb.xmin * w - 0.5,
                y0 + rb.ymin * h - 0.5,
                x0 + (rb.xmin + rb.width) * w - 0.5,
                y0 + (rb.ymin + rb.height) * h - 0.5,
            )
            out.append((box, float(det.score[0]) if det.score else 1.0))
        return out

    def _crop_and_retry(self, image: np.ndarray) -> list[Face]:
        import cv2

        faces = []
        for box, score in self._detect_boxes(image):
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            side = CROP_SCALE * max(box[2] - box[0], box[3] - box[1])
            scale = CROP_SIZE / side
            # crop pixel = scale * (source pixel - (cx, cy)) + (CROP_SIZE - 1) / 2
            matrix = np.array(
                [
                    [scale, 0.0, (CROP_SIZE - 1) / 2 - scale * cx],
                    [0.0, scale, (CROP_SIZE - 1) / 2 - scale * cy],
                ]
            )
            crop = cv2.warpAffine(
                image,
                matrix,
                (CROP_SIZE, CROP_SIZE),
                flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            result = self._get_crop_mesh().process(np.ascontiguousarray(crop))
            meshes = self._meshes(result, CROP_SIZE, CROP_SIZE)
            if not meshes:
                continue
            mesh = meshes[0].copy()
            mesh[:, :2] = (mesh[:, :2] - matrix[:, 2]) / scale
            mesh[:, 2] /= scale  # depth is a length: scaled, not shifted
            faces.append(self._face(mesh, score, "full-range-crop"))
        return faces
