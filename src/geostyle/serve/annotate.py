"""Image sets (style exemplars and photos) and hand-fixed landmarks of style exemplars.

A style set is a folder of uploaded exemplars ``images/NNNN.png``. Each exemplar's landmarks are
detected once in the background (``detected/NNNN.json``, the detector's own output, never read by
``prepare``) and shown in the annotation page; when the user saves, the points go to
``images/NNNN.json`` beside the image, in the landmark-file format of
:mod:`geostyle.faces.backends.files`, which ``geostyle prepare --backend file,...`` reads first.
Every save is read back with that backend's own reader, so what the page shows after a reload is
exactly what training will use.

The geometry preview is the mean style geometry of the set (each exemplar aligned like ``prepare``
aligns it) against the mean photo geometry of the bundled models' 1199 training selfies, and the
bundled portrait warped toward it at strengths 0, 0.5 and 1.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from geostyle.errors import GeostyleError, LandmarkFileError
from geostyle.faces.landmarks import CANONICAL_NAMES, INDEX, PARTS, Face, empty_landmarks, to_dict
from geostyle.serve.storage import DataDir, NotFoundError, check_item, read_json, write_json
from geostyle.serve.uploads import Limits, UploadError, display_name, store_image

log = logging.getLogger("geostyle.serve")

# Detector chains offered for style sets (no "file": the saved file is handled separately).
DETECTORS: dict[str, str] = {
    "animeface,mediapipe,dlib": "anime first, then photo detectors",
    "mediapipe,dlib,animeface": "photo detectors first (sketches, paintings)",
    "animeface": "animeface only",
    "mediapipe": "mediapipe only",
    "dlib": "dlib only",
}
DEFAULT_DETECTOR = "animeface,mediapipe,dlib"
PREVIEW_SIZE = 256
PREVIEW_ALPHAS = (0.0, 0.5, 1.0)


def part_of(name: str) -> str:
    for part, names in PARTS.items():
        if name in names:
            return part
    for prefix in ("right_brow", "left_brow"):
        if name.startswith(prefix):
            return "brow"
    return "outline"


class ImageSets:
    """Uploaded image sets of one kind (``styles`` or ``photos``)."""

    def __init__(self, data: DataDir, kind: str, limits: Limits) -> None:
        self.data = data
        self.kind = kind
        self.limits = limits

    def create(self, name: str, files: list[tuple[str | None, BinaryIO]], detector: str | None = None) -> str:
        if not files:
            raise UploadError("choose at least one image")
        set_id, folder = self.data.create(self.kind)
        meta = {
            "id": set_id,
            "name": display_name(name or "")[:60] if name else f"{self.kind[:-1]} set",
            "created": time.time(),
        }
        if self.kind == "styles":
            meta["detector"] = detector if detector in DETECTORS else DEFAULT_DETECTOR
        write_json(folder / "set.json", meta)
        try:
            self.add(set_id, files)
        except GeostyleError:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
            raise
        return set_id

    def add(self, set_id: str, files: list[tuple[str | None, BinaryIO]]) -> list[str]:
        """Store uploaded images; one bad file refuses the whole batch (nothing half-added)."""
        folder = self.data.folder(self.kind, set_id)
        images = folder / "images"
        images.mkdir(exist_ok=True)
        existing = self.item_ids(set_id)
        if len(existing) + len(files) > self.limits.files_per_set:
            raise UploadError(f"a set holds at most {self.limits.files_per_set} images")
        start = int(existing[-1]) + 1 if existing else 1
        added: list[str] = []
        names = read_json(folder / "names.json", {})
        try:
            for offset, (name, src) in enumerate(files):
                item = f"{start + offset:04d}"
                try:
                    store_image(src, images, item, self.limits)
                except UploadError as exc:
                    raise UploadError(f"{display_name(name)}: {exc}") from exc
                added.append(item)
                names[item] = display_name(name)
        except GeostyleError:
            for item in added:
                (images / f"{item}.png").unlink(missing_ok=True)
            raise
        write_json(folder / "names.json", names)
        return added

    def item_ids(self, set_id: str) -> list[str]:
        images = self.data.folder(self.kind, set_id) / "images"
        if not images.is_dir():
            return []
        return sorted(p.stem for p in images.glob("[0-9][0-9][0-9][0-9].png"))

    def meta(self, set_id: str) -> dict[str, Any]:
        folder = self.data.folder(self.kind, set_id)
        meta = read_json(folder / "set.json", {})
        meta["count"] = len(self.item_ids(set_id))
        return meta

    def list(self) -> list[dict[str, Any]]:
        sets = [self.meta(i) for i in self.data.ids(self.kind)]
        return sorted(sets, key=lambda m: m.get("created", 0))

    def image_path(self, set_id: str, item: str) -> Path:
        path = self.data.folder(self.kind, set_id) / "images" / f"{check_item(item)}.png"
        if not path.is_file():
            raise NotFoundError(f"no such image: {item}")
        return self.data.inside(path)

    def folder(self, set_id: str) -> Path:
        return self.data.folder(self.kind, set_id)


class StyleLandmarks:
    """Detection, hand-fixed landmark files and the geometry preview of style sets."""

    def __init__(self, sets: ImageSets, executor: Executor) -> None:
        self.sets = sets
        # One worker thread owns every detector: FaceMesh and animeface objects are not thread-safe,
        # and detection of 100 exemplars must not compete with the page for both cores.
        self.executor = executor
        self._backends: dict[str, Any] = {}
        self._pending: set[tuple[str, str]] = set()
        self._guard = threading.Lock()
        self._preview_cache: dict[str, tuple[tuple, dict[str, Any]]] = {}
        self._photo_geometry = None
        self._reference: tuple[np.ndarray, np.ndarray] | None = None

    # ------------------------------------------------------------------------------------ detection
    def _backend(self, spec: str):
        if spec not in self._backends:
            from geostyle.faces.backends.chain import build_backend

            self._backends[spec] = build_backend(spec)
        return self._backends[spec]

    def _detected_path(self, set_id: str, item: str) -> Path:
        return self.sets.folder(set_id) / "detected" / f"{item}.json"

    def saved_path(self, set_id: str, item: str) -> Path:
        return self.sets.folder(set_id) / "images" / f"{check_item(item)}.json"

    def schedule(self, set_id: str) -> int:
        """Queue detection of every exemplar not detected yet; returns how many were queued."""
        spec = self.sets.meta(set_id).get("detector", DEFAULT_DETECTOR)
        queued = 0
        for item in self.sets.item_ids(set_id):
            key = (set_id, item)
            with self._guard:
                if key in self._pending or self._detected_path(set_id, item).is_file():
                    continue
                self._pending.add(key)
            self.executor.submit(self._detect_one, set_id, item, spec)
            queued += 1
        return queued

    def _detect_one(self, set_id: str, item: str, spec: str) -> None:
        from geostyle.data.images import load_image
        from geostyle.faces.backends.files import write_landmark_json

        try:
            path = self.sets.image_path(set_id, item)
            faces = self._backend(spec).detect(load_image(path), None)
            write_landmark_json(self._detected_path(set_id, item), faces[:1])
        except Exception as exc:  # one bad exemplar shows as "error" in the page; the rest go on
            log.exception("landmark detection failed on %s/%s", set_id, item)
            write_json(self._detected_path(set_id, item), {"faces": [], "error": exc.__class__.__name__})
        finally:
            with self._guard:
                self._pending.discard((set_id, item))

    def _detected_face(self, set_id: str, item: str) -> tuple[str, Face | None]:
        from geostyle.faces.backends.files import read_landmark_json

        path = self._detected_path(set_id, item)
        if not path.is_file():
            return "pending", None
        data = read_json(path, {})
        if data.get("error"):
            return "error", None
        try:
            faces = read_landmark_json(path)
        except LandmarkFileError:
            return "error", None
        return ("detected", faces[0]) if faces else ("no_face", None)

    def landmarks(self, set_id: str, item: str) -> tuple[str, Face | None]:
        """``(source, face)``: the saved file if there is one (``saved``), else the detection."""
        from geostyle.faces.backends.files import read_landmark_file

        saved = self.saved_path(set_id, item)
        if saved.is_file():
            faces = read_landmark_file(saved)
            return "saved", faces[0] if faces else None
        return self._detected_face(set_id, item)

    # ----------------------------------------------------------------------------------------- pages
    def overview(self, set_id: str) -> dict[str, Any]:
        self.schedule(set_id)
        folder = self.sets.folder(set_id)
        names = read_json(folder / "names.json", {})
        items = []
        for item in self.sets.item_ids(set_id):
            source, face = self.landmarks(set_id, item)
            count = int(np.isfinite(face.landmarks).all(axis=1).sum()) if face is not None else 0
            items.append({"item": item, "name": names.get(item, item), "status": source, "points": count})
        return {"set": self.sets.meta(set_id), "items": items, "detectors": DETECTORS}

    def item(self, set_id: str, item: str) -> dict[str, Any]:
        from geostyle.data.images import load_image

        path = self.sets.image_path(set_id, item)
        self.schedule(set_id)
        h, w = load_image(path).shape[:2]
        source, face = self.landmarks(set_id, item)
        points = face.landmarks if face is not None else empty_landmarks()
        ids = self.sets.item_ids(set_id)
        at = ids.index(item)
        return {
            "item": item,
            "width": w,
            "height": h,
            "source": source,
            "backend": face.backend if face is not None else None,
            "landmarks": to_dict(points),
            "names": list(CANONICAL_NAMES),
            "parts": {name: part_of(name) for name in CANONICAL_NAMES},
            "prev": ids[at - 1] if at > 0 else None,
            "next": ids[at + 1] if at + 1 < len(ids) else None,
        }

    def save(self, set_id: str, item: str, mapping: Any) -> dict[str, Any]:
        """Write hand-fixed landmarks ``{name: [x, y] | null}`` (pixel frame of the exemplar)."""
        from geostyle.data.images import load_image
        from geostyle.faces.backends.files import read_landmark_file, write_landmark_json

        path = self.sets.image_path(set_id, item)
        h, w = load_image(path).shape[:2]
        if not isinstance(mapping, dict):
            raise GeostyleError("landmarks must be an object {name: [x, y] or null}")
        points = empty_landmarks()
        for name, value in mapping.items():
            if name not in INDEX:
                raise GeostyleError(f"unknown landmark name {str(name)[:40]!r}")
            if value is None:
                continue
            ok = (
                isinstance(value, (list, tuple))
                and len(value) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
                and all(math.isfinite(float(v)) for v in value)
            )
            if not ok:
                raise GeostyleError(f"{name}: expected [x, y] or null")
            x, y = float(value[0]), float(value[1])
            # A point may sit a little outside the picture (a chin cut by the frame), not far away.
            if not (-0.5 * w <= x <= 1.5 * w and -0.5 * h <= y <= 1.5 * h):
                raise GeostyleError(f"{name}: ({x:.0f}, {y:.0f}) is far outside the {w}x{h} image")
            points[INDEX[name]] = (x, y)
        present = np.isfinite(points).all(axis=1)
        if not present.any():
            raise GeostyleError("mark at least one landmark before saving")
        lo, hi = points[present].min(axis=0), points[present].max(axis=0)
        face = Face(
            box=(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])),
            landmarks=points,
            score=1.0,
            backend="manual",
        )
        saved = self.saved_path(set_id, item)
        # Written beside the target under a .json name (the reader picks the format by suffix), read
        # back with prepare's own reader, then renamed over the old file: never a torn landmark file.
        tmp = saved.with_name(f".{saved.stem}.{time.time_ns()}.json")
        try:
            write_landmark_json(tmp, [face], image_path=path.name)
            read_landmark_file(tmp)
            tmp.replace(saved)
        finally:
            tmp.unlink(missing_ok=True)
        return self.item(set_id, item)

    def revert(self, set_id: str, item: str) -> dict[str, Any]:
        self.sets.image_path(set_id, item)
        self.saved_path(set_id, item).unlink(missing_ok=True)
        return self.item(set_id, item)

    # --------------------------------------------------------------------------------------- preview
    def _photo_domain(self):
        if self._photo_geometry is None:
            from geostyle.nets.release import available_models, load_release, resolve_model
            from geostyle.warp.geometry import GeometryModel

            names = available_models()
            if not names:
                raise GeostyleError("no bundled model to take the photo geometry from")
            release = load_release(resolve_model(names[0]))
            if release.geometry is None:
                raise GeostyleError("the bundled model carries no geometry model")
            self._photo_geometry = GeometryModel.from_dict(release.geometry)
        return self._photo_geometry

    def _reference_photo(self) -> tuple[np.ndarray, np.ndarray]:
        """The bundled portrait and its landmarks (detected once, on the detector thread)."""
        if self._reference is None:
            from geostyle.data.images import load_image
            from geostyle.infer.demo import EXAMPLE

            image = load_image(EXAMPLE)
            faces = self.executor.submit(lambda: self._backend("mediapipe").detect(image, None)).result()
            if not faces:
                raise GeostyleError("no face found on the reference portrait")
            self._reference = (image, faces[0].landmarks)
        return self._reference

    def _signature(self, set_id: str) -> tuple:
        folder = self.sets.folder(set_id)
        files = sorted([*(folder / "images").glob("*.json"), *(folder / "detected").glob("*.json")])
        return tuple((p.name, p.parent.name, p.stat().st_mtime_ns) for p in files)

    def preview(self, set_id: str) -> dict[str, Any]:
        """Geometry of the set and the preview picture (cached until a landmark file changes)."""
        signature = self._signature(set_id)
        cached = self._preview_cache.get(set_id)
        if cached is not None and cached[0] == signature:
            return cached[1]
        result = self._render_preview(set_id)
        self._preview_cache[set_id] = (signature, result)
        return result

    def _render_preview(self, set_id: str) -> dict[str, Any]:
        from geostyle.data.images import save_image
        from geostyle.faces.align import apply_affine, estimate_alignment
        from geostyle.faces.landmarks import normalized_to_pixels, pixels_to_normalized
        from geostyle.warp.geometry import (
            DomainGeometry,
            GeometryModel,
            preview_photo,
            render_warp_panel,
            warp_crop_to_target,
        )

        bundled = self._photo_domain()
        zoom = float(bundled.meta.get("zoom", 1.0))
        aligned, hand_fixed, skipped = [], 0, 0
        for item in self.sets.item_ids(set_id):
            source, face = self.landmarks(set_id, item)
            if face is None:
                continue
            try:
                alignment = estimate_alignment(face.landmarks, PREVIEW_SIZE, zoom)
            except ValueError:
                skipped += 1  # prepare rejects it too (no eyes or mouth)
                continue
            crop_points = apply_affine(alignment.matrix, face.landmarks)
            aligned.append(pixels_to_normalized(crop_points, PREVIEW_SIZE, PREVIEW_SIZE))
            hand_fixed += source == "saved"
        info: dict[str, Any] = {"exemplars": len(aligned), "hand_fixed": hand_fixed, "unusable": skipped}
        if not aligned:
            info["message"] = "no exemplar has both eyes and the mouth yet"
            return info
        style = DomainGeometry.from_landmarks(np.stack(aligned))
        model = GeometryModel(bundled.photo, style, meta={"zoom": zoom})
        photo_px = normalized_to_pixels(model.photo_mean, PREVIEW_SIZE, PREVIEW_SIZE)
        style_px = normalized_to_pixels(model.style_mean, PREVIEW_SIZE, PREVIEW_SIZE)
        canvas = np.full((PREVIEW_SIZE, PREVIEW_SIZE, 3), 236, np.uint8)
        grid = warp_crop_to_target(canvas, photo_px, style_px)
        mean_panel = render_warp_panel(canvas, photo_px, style_px, grid, "mean style")
        image, points = self._reference_photo()
        row = preview_photo(image, points, model, PREVIEW_ALPHAS, size=PREVIEW_SIZE, zoom=zoom)
        sep = np.full((PREVIEW_SIZE, 8, 3), 255, np.uint8)
        picture = np.concatenate([mean_panel, sep, row], axis=1)
        path = self.sets.folder(set_id) / "preview.png"
        save_image(path, picture)
        info["version"] = time.time_ns()
        info["style_mean"] = to_dict(style_px)
        return info
