"""dlib: HOG frontal face detector + the 68-point iBUG shape predictor, mapped with ``from_ibug68``.

The shape predictor model comes from the ``face-recognition-models`` package. It was trained on
iBUG 300-W, whose licence excludes commercial use: so is this backend's output.

``face_recognition_models`` is located without importing it (its ``__init__`` needs
``pkg_resources``, which is not installed here).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np

from geostyle.errors import BackendUnavailableError
from geostyle.faces.landmarks import Face, from_ibug68

SHAPE_MODEL = "shape_predictor_68_face_landmarks.dat"


def shape_predictor_path() -> Path:
    """Path of the 68-point model shipped by ``face-recognition-models``."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError(
            "the 'face-recognition-models' package is not installed (needed by dlib)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / SHAPE_MODEL
    if not path.is_file():
        raise BackendUnavailableError(f"dlib shape model not found at {path}")
    return path


class DlibBackend:
    """Faces from dlib's HOG detector (``upsample`` pyramid-up steps), 68 points per face.

    ``detector="hog"`` is the only detector: dlib's CNN detector needs a separate model file that
    no installed package ships. Scores are the HOG detector's confidences (about -0.5 to 3).
    """

    name = "dlib"

    def __init__(self, upsample: int = 1, detector: str = "hog") -> None:
        if detector != "hog":
            raise BackendUnavailableError(f"dlib detector {detector!r} is not available; use 'hog'")
        try:
            import dlib
        except ImportError as exc:
            raise BackendUnavailableError(f"dlib cannot be imported (install dlib-bin): {exc}") from exc
        self.upsample = int(upsample)
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(shape_predictor_path()))
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray, path: Path | None = None) -> list[Face]:
        image = np.ascontiguousarray(image, dtype=np.uint8)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
        with self._lock:
            rects, scores, _ = self._detector.run(image, self.upsample, 0.0)
            faces = []
            for rect, score in zip(rects, scores, strict=True):
                shape = self._predictor(image, rect)
                pts68 = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
                faces.append(
                    Face(
                        # dlib rectangles are inclusive pixel indices; the box covers whole pixels
                        box=(rect.left() - 0.5, rect.top() - 0.5, rect.right() + 0.5, rect.bottom() + 0.5),
                        landmarks=from_ibug68(pts68),
                        score=float(score),
                        backend=self.name,
                        extra={"ibug68": pts68},
                    )
                )
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces
