"""Anime faces from the ``animeface`` package (nvxs detector), mapped to the canonical landmark set.

animeface reports per face a face box, two eye boxes, a mouth box, and nose and chin points.
Its ``left_eye`` is the *subject's* left eye (on the image's right in a frontal drawing), the same
convention as ours; this was checked on ``shared/data/styles/anime`` (47 of 47 detected faces).

Mapping (box edges at pixel edges, i.e. ``x - 0.5`` and ``x + width - 0.5``):

* eye box -> ``*_eye_center`` (box centre), ``*_eye_outer`` / ``*_eye_inner`` (horizontal extremes
  at the centre height; outer is away from the nose), ``*_eye_top`` / ``*_eye_bottom`` (vertical
  extremes at the centre column);
* nose point -> ``nose_tip``; chin point -> ``chin``;
* mouth box -> ``mouth_right`` / ``mouth_left`` (horizontal extremes), ``mouth_top`` /
  ``mouth_bottom`` (vertical extremes), ``mouth_center`` (box centre).

Everything else (brows, nose wings, jaw) is missing. Box-derived corners are coarse: anime eye
boxes include lashes, so corners and top/bottom are approximations of the drawn eye.

animeface silently finds nothing under Pillow 12 or newer, so the backend refuses to run there.

Scale pyramid: animeface misses faces that are *large* in pixels. On ``shared/data/styles/anime``
(256 px crops, the face filling most of the image) it finds 278 of 300 faces at 256 px, 47 of the
first 60 at 512 px, but 298 of 300 at 160 px. So the backend runs it on the image as given (images
whose long side is below ``MIN_SIDE`` are first enlarged to ``MIN_SIDE``, those above ``MAX_SIDE``
shrunk to ``MAX_SIDE``) and, while it finds
nothing, on copies shrunk by ``PYRAMID_STEP`` until the long side would drop below ``SMALLEST_SIDE``;
the first level with a face wins. Coordinates are mapped back to the input image. With the pyramid
299 of 300 ``styles/anime`` faces are found (``benchmarks/detection_rate.py``).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from geostyle.errors import BackendUnavailableError
from geostyle.faces.landmarks import INDEX, Face, empty_landmarks

MIN_SIDE = 160
MAX_SIDE = 1024
PYRAMID_STEP = 0.8
SMALLEST_SIDE = 100


def _pillow_major() -> int:
    import PIL

    try:
        return int(PIL.__version__.split(".")[0])
    except ValueError:
        return 0


class AnimeFaceBackend:
    """Anime faces with ``likelihood >= min_likelihood``; score = animeface likelihood."""

    name = "animeface"

    def __init__(self, min_likelihood: float = 0.5, pyramid: bool = True) -> None:
        major = _pillow_major()
        if major >= 12:
            import PIL

            raise BackendUnavailableError(
                f"animeface returns no faces under Pillow {PIL.__version__} (needs Pillow <= 11.3); "
                "install 'pillow<=11.3' to use the animeface backend"
            )
        try:
            import animeface
        except ImportError as exc:
            raise BackendUnavailableError(f"animeface cannot be imported: {exc}") from exc
        self._animeface = animeface
        self.min_likelihood = float(min_likelihood)
        self.pyramid = bool(pyramid)
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray, path: Path | None = None) -> list[Face]:
        from PIL import Image

        image = np.ascontiguousarray(image, dtype=np.uint8)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
        height, width = image.shape[:2]
        base = Image.fromarray(image)
        long_side = max(width, height)
        scale = MIN_SIDE / long_side if long_side < MIN_SIDE else min(1.0, MAX_SIDE / long_side)
        found: list = []
        with self._lock:
            while True:
                size = (max(1, round(width * scale)), max(1, round(height * scale)))
                pil = base if size == (width, height) else base.resize(size, Image.Resampling.BICUBIC)
                found = [d for d in self._animeface.detect(pil) if d.likelihood >= self.min_likelihood]
                if found or not self.pyramid or long_side * scale * PYRAMID_STEP < SMALLEST_SIDE:
                    break
                scale *= PYRAMID_STEP
        sx, sy = pil.width / width, pil.height / height

        def point(x: float, y: float) -> tuple[float, float]:
            # integer pixel (centre) of the detection image -> pixel frame of the input image
            return (x + 0.5) / sx - 0.5, (y + 0.5) / sy - 0.5

        def edges(box) -> tuple[float, float, float, float]:
            # box edges of the detection image in the input image's pixel frame
            return (
                box.x / sx - 0.5,
                box.y / sy - 0.5,
                (box.x + box.width) / sx - 0.5,
                (box.y + box.height) / sy - 0.5,
            )

        faces = []
        for det in found:
            pts = empty_landmarks()

            def put(name: str, xy: tuple[float, float], pts: np.ndarray = pts) -> None:
                pts[INDEX[name]] = xy

            for side, box in (("right", det.right_eye.pos), ("left", det.left_eye.pos)):
                x0, y0, x1, y1 = edges(box)
                cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
                # the subject's right eye is on the image's left: its outer corner is the left edge
                outer, inner = (x0, x1) if side == "right" else (x1, x0)
                put(f"{side}_eye_center", (cx, cy))
                put(f"{side}_eye_outer", (outer, cy))
                put(f"{side}_eye_inner", (inner, cy))
                put(f"{side}_eye_top", (cx, y0))
                put(f"{side}_eye_bottom", (cx, y1))
            x0, y0, x1, y1 = edges(det.mouth.pos)
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            put("mouth_right", (x0, cy))
            put("mouth_left", (x1, cy))
            put("mouth_top", (cx, y0))
            put("mouth_bottom", (cx, y1))
            put("mouth_center", (cx, cy))
            put("nose_tip", point(det.nose.pos.x, det.nose.pos.y))
            put("chin", point(det.chin.pos.x, det.chin.pos.y))
            faces.append(
                Face(
                    box=edges(det.face.pos),
                    landmarks=pts,
                    score=float(det.likelihood),
                    backend=self.name,
                    extra={"detect_scale": round(sx, 4)},
                )
            )
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces
