"""Turn a folder of images into a prepared dataset: detect, pick one face, align, crop, record.

Layout and manifest format: ``docs/conventions.md`` ("Prepared dataset"). One bad file never stops
a run: it becomes a *failure* with a reason (see :data:`REASONS`). A run can be interrupted and
resumed: items already in the manifest whose crop exists are skipped, earlier failures are retried
only on request.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import numpy as np
from PIL import Image

from geostyle.data.images import list_images, load_image
from geostyle.data.manifest import (
    DOMAINS,
    MANIFEST_NAME,
    Manifest,
    ManifestError,
    ManifestItem,
    load_manifest,
    save_manifest,
)
from geostyle.errors import BackendUnavailableError, GeostyleError, ImageReadError
from geostyle.faces.align import apply_affine, estimate_alignment, surround, warp_to_crop
from geostyle.faces.landmarks import INDEX, Face

# Style: hand-written landmark files win over any detector. For anime use `--backend animeface`:
# FaceMesh fits a photo-shaped mesh onto most anime faces and halves the measured geometry gap.
DEFAULT_BACKENDS = {"photo": "mediapipe,dlib", "style": "file,mediapipe,dlib,animeface"}
DEFAULT_SIZE = 256
DEFAULT_ZOOM = 1.1  # see docs/prepare.md: keeps the chin in, limits border smear on tight selfies
# Smallest usable face: inter-ocular distance (eye centres) in source pixels. At zoom 1 the eyes of
# a 256 crop are ~64 px apart, so this allows at most ~4x upsampling.
DEFAULT_MIN_FACE = 16.0
CONTACT_SHEET_NAME = "contact_sheet.png"

# Failure reasons, in the order the summary lists them.
REASONS = ("unreadable", "no_face", "tiny_face", "incomplete_landmarks", "bad_alignment", "error")
SUMMARY_KEYS = ("ok", *REASONS, "multiple_faces")


class Detector(Protocol):
    """What :func:`prepare_dataset` needs from a landmark backend (a chain of them, usually)."""

    def detect(self, image: np.ndarray, path: Path | None = None) -> list[Face]: ...


def build_detector(spec: str) -> Detector:
    """The backend chain for ``spec`` ("mediapipe,dlib,..."); raises ``BackendUnavailableError``."""
    from geostyle.faces.backends.chain import build_backend

    return build_backend(spec)


def make_id(relative: str | PurePosixPath, taken: set[str]) -> str:
    """A file-name-safe id from a source path relative to the source folder.

    ``sub/img 1.jpg`` -> ``sub__img_1-<hash>``: separators become ``__``; other unsafe characters
    ``_``. When that rewriting is lossy, or the id is already ``taken`` (compared case-insensitively,
    for case-insensitive file systems), an 8-character hash of the relative path is appended. The id
    is then added to ``taken`` (casefolded).
    """
    rel = PurePosixPath(relative)
    stem = rel.with_suffix("").as_posix()
    base = "__".join(stem.split("/"))
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".") or "image"
    ident = safe
    if safe != base or safe.casefold() in taken:
        ident = f"{safe}-{hashlib.sha1(rel.as_posix().encode('utf-8')).hexdigest()[:8]}"
    n = 2
    while ident.casefold() in taken:  # a hash collision, or a name that already looks like one
        ident = f"{safe}-{hashlib.sha1(f'{rel.as_posix()}#{n}'.encode()).hexdigest()[:8]}"
        n += 1
    taken.add(ident.casefold())
    return ident


class _Failure(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _eye_distance(landmarks: np.ndarray) -> float | None:
    r, l_ = landmarks[INDEX["right_eye_center"]], landmarks[INDEX["left_eye_center"]]
    if np.isfinite(r).all() and np.isfinite(l_).all():
        return float(np.hypot(*(l_ - r)))
    return None


def count_distinct_faces(faces: list[Face], overlap: float = 0.5) -> int:
    """Faces that are not mostly (``overlap`` of their box) inside a larger face's box: a detector's
    duplicate or a "face" found in a reflection on glasses is not a second person."""
    kept: list[tuple[float, float, float, float]] = []
    for face in sorted(faces, key=lambda f: f.area, reverse=True):
        x0, y0, x1, y1 = face.box
        area = face.area
        inside = False
        for a0, b0, a1, b1 in kept:
            inter = max(0.0, min(x1, a1) - max(x0, a0)) * max(0.0, min(y1, b1) - max(y0, b0))
            if area <= 0 or inter >= overlap * area:
                inside = True
                break
        if not inside:
            kept.append(face.box)
    return max(1, len(kept)) if faces else 0


def process_image(
    path: Path, detector: Detector, size: int, zoom: float, min_face: float
) -> tuple[np.ndarray, Face, int, np.ndarray, np.ndarray]:
    """Detect, choose and align one image: ``(crop, face, faces_found, matrix, crop_landmarks)``.

    The largest face is used. When ``detector`` is a chain (has ``backends``), each backend is
    tried in turn until one gives a usable face: a tiny false detection or a face without eyes and
    mouth from the first backend does not hide a good face the next one finds. Raises
    ``_Failure(reason, detail)`` (the first backend's, when none succeeds) if the image is unusable.
    """
    try:
        image = load_image(path)
    except ImageReadError as exc:
        raise _Failure("unreadable", str(exc)) from exc
    stages = list(getattr(detector, "backends", None) or [detector])
    first: _Failure | None = None
    unavailable: BackendUnavailableError | None = None
    ran = False
    for stage in stages:
        try:
            faces = stage.detect(image, path=path)
        except BackendUnavailableError as exc:
            if len(stages) == 1:
                raise
            unavailable = exc  # this backend cannot run on this input (e.g. no landmark file reader)
            continue
        except Exception as exc:  # a detector crashing on one odd image must not stop the run
            failure = _Failure("error", f"detection failed ({exc.__class__.__name__}: {exc})")
            ran = True
            first = first or failure
            continue
        ran = True
        try:
            return _align_largest(image, faces, size, zoom, min_face)
        except _Failure as failure:
            if failure.reason != "no_face":
                first = failure if first is None or first.reason == "no_face" else first
            elif first is None:
                first = failure
    if not ran and unavailable is not None:
        raise unavailable
    assert first is not None
    raise first


def _align_largest(
    image: np.ndarray, faces: list[Face], size: int, zoom: float, min_face: float
) -> tuple[np.ndarray, Face, int, np.ndarray, np.ndarray]:
    if not faces:
        raise _Failure("no_face", f"no face found in {image.shape[1]}x{image.shape[0]} image")
    face = max(faces, key=lambda f: f.area)
    found = count_distinct_faces(faces)
    landmarks = np.asarray(face.landmarks, dtype=np.float64)
    iod = _eye_distance(landmarks)
    x0, y0, x1, y1 = face.box
    box_side = min(x1 - x0, y1 - y0)
    if iod is not None and iod < min_face:
        raise _Failure("tiny_face", f"{face.backend}: eyes {iod:.1f} px apart (< {min_face:g})")
    if iod is None and box_side < 2.5 * min_face:
        raise _Failure("tiny_face", f"{face.backend}: face box {box_side:.1f} px (< {2.5 * min_face:g})")
    try:
        alignment = estimate_alignment(landmarks, size=size, zoom=zoom)
    except ValueError as exc:
        reason = "incomplete_landmarks" if "needs" in str(exc) else "bad_alignment"
        raise _Failure(reason, f"{face.backend}: {exc}") from exc
    # Past the picture's edges, the same fill the stylizer's crops show (no stripes above the head).
    around = surround(np.ascontiguousarray(image), alignment)
    crop = warp_to_crop(around.frame, around.alignment)
    return crop, face, found, alignment.matrix, apply_affine(alignment.matrix, landmarks)


def _confidence(face: Face) -> np.ndarray | None:
    """The backend's per-point confidence (mediapipe gives one), or None."""
    conf = face.extra.get("confidence")
    return None if conf is None else np.clip(np.asarray(conf, dtype=np.float64), 0.0, 1.0)


def summarize(manifest: Manifest) -> dict[str, int]:
    """Counts of the manifest's content: ``ok``, each failure reason, and ``multiple_faces``
    (kept items whose image held more than one distinct face; the largest was used)."""
    summary = dict.fromkeys(SUMMARY_KEYS, 0)
    summary["ok"] = len(manifest.items)
    for failure in manifest.failures:
        summary[failure["reason"]] = summary.get(failure["reason"], 0) + 1
    summary["multiple_faces"] = sum(1 for item in manifest.items if item.faces_found > 1)
    return summary


def prepare_dataset(
    src_dir: str | Path,
    out_dir: str | Path,
    domain: str = "photo",
    size: int = DEFAULT_SIZE,
    zoom: float = DEFAULT_ZOOM,
    backends: str | None = None,
    min_face: float = DEFAULT_MIN_FACE,
    progress: bool = True,
    limit: int | None = None,
    retry_failures: bool = False,
    save_every: int = 25,
    contact_sheet: bool = True,
    detector: Detector | None = None,
) -> Manifest:
    """Detect, align and crop every image below ``src_dir`` (recursive, sorted) into ``out_dir``.

    ``backends`` is a backend chain spec; the default depends on ``domain`` (:data:`DEFAULT_BACKENDS`).
    ``detector`` overrides it with a ready object (it is built lazily otherwise, so a re-run with
    nothing new to do loads no model). ``limit`` keeps only the first ``limit`` source files.
    The manifest is saved every ``save_every`` processed images and on Ctrl-C; the statistics of
    this call are in the returned manifest's ``run`` attribute.
    """
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    if domain not in DOMAINS:
        raise GeostyleError(f"domain must be one of {', '.join(DOMAINS)}, not {domain!r}")
    if int(size) != size or size < 32:
        raise GeostyleError(f"crop size must be an integer >= 32, not {size}")
    if not zoom > 0:
        raise GeostyleError(f"zoom must be positive, not {zoom}")
    if not src_dir.is_dir():
        raise GeostyleError(f"{src_dir}: no such folder")
    spec = backends or DEFAULT_BACKENDS[domain]

    manifest = _open_or_create(out_dir, domain, int(size), float(zoom))
    crops_dir = out_dir / "crops"
    crops_dir.mkdir(parents=True, exist_ok=True)

    sources = _list_sources(src_dir, out_dir)
    if limit is not None and limit >= 0:
        sources = sources[:limit]

    by_source = {item.source: item for item in manifest.items}
    failed = {f["source"] for f in manifest.failures}
    todo: list[Path] = []
    skipped = 0
    for path in sources:
        key = _source_key(path)
        item = by_source.get(key)
        if item is not None and item.crop_path.is_file():
            skipped += 1
        elif key in failed and not retry_failures:
            skipped += 1
        else:
            todo.append(path)
    # Items whose crop vanished, and retried failures, are done again from scratch.
    todo_keys = {_source_key(p) for p in todo}
    changed = bool(todo) or not manifest.path.is_file()
    manifest.items = [it for it in manifest.items if it.source not in todo_keys]
    manifest.failures = [f for f in manifest.failures if f["source"] not in todo_keys]
    taken = {item.id.casefold() for item in manifest.items}
    reuse_ids = {it.source: it.id for it in by_source.values() if it.source in todo_keys}

    stats: dict[str, Any] = {
        "found": len(sources),
        "skipped": skipped,
        "processed": 0,
        "new_ok": 0,
        "new_failed": 0,
        "backends": spec,
        "load_seconds": 0.0,
        "seconds": 0.0,
    }
    owned = None
    if todo and detector is None:
        t0 = time.perf_counter()
        detector = owned = build_detector(spec)
        stats["load_seconds"] = time.perf_counter() - t0

    bar = _progress(todo, progress and bool(todo))
    t_start = time.perf_counter()
    since_save = 0
    try:
        for path in bar:
            key = _source_key(path)
            rel = path.relative_to(src_dir).as_posix()
            assert detector is not None  # built above whenever there is work to do
            try:
                crop, face, found, matrix, crop_pts = process_image(path, detector, int(size), zoom, min_face)
            except _Failure as fail:
                manifest.failures.append({"source": key, "reason": fail.reason, "detail": fail.detail})
                stats["new_failed"] += 1
            else:
                ident = reuse_ids.get(key)
                if ident is None or ident.casefold() in taken:
                    ident = make_id(rel, taken)
                else:
                    taken.add(ident.casefold())
                item = ManifestItem(
                    id=ident,
                    crop=f"crops/{ident}.png",
                    source=key,
                    backend=face.backend,
                    score=float(face.score),
                    faces_found=found,
                    landmarks=crop_pts,
                    matrix=matrix,
                    root=out_dir,
                    confidence=_confidence(face),
                )
                Image.fromarray(crop).save(item.crop_path)
                manifest.items.append(item)
                stats["new_ok"] += 1
            stats["processed"] += 1
            since_save += 1
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(ok=stats["new_ok"], failed=stats["new_failed"], refresh=False)
            if since_save >= save_every:
                _finish(manifest)
                since_save = 0
    except BaseException as exc:  # Ctrl-C, or a failure that must stop the run: keep what is done
        stats["interrupted"] = isinstance(exc, KeyboardInterrupt)
        _finish(manifest)
        raise
    finally:
        if hasattr(bar, "close"):
            bar.close()
        if owned is not None and hasattr(owned, "close"):
            owned.close()
        stats["seconds"] = time.perf_counter() - t_start
        stats["seconds_per_image"] = stats["seconds"] / stats["processed"] if stats["processed"] else 0.0
        manifest.run = stats
    if changed or manifest.summary != summarize(manifest):
        _finish(manifest)
    sheet = out_dir / CONTACT_SHEET_NAME
    if contact_sheet and (changed or not sheet.is_file()):
        from geostyle.data.contact_sheet import contact_sheet as draw_sheet

        draw_sheet(manifest, sheet)
    return manifest


def format_summary(manifest: Manifest) -> str:
    """A few human-readable lines: counts per outcome, and the timing of the last run."""
    summary = manifest.summary or summarize(manifest)
    total = summary.get("ok", 0) + sum(summary.get(r, 0) for r in REASONS)
    parts = [f"{k} {v}" for k, v in summary.items() if v or k == "ok"]
    lines = [f"{manifest.root}: {total} images: " + ", ".join(parts)]
    run = manifest.run
    if run:
        line = f"this run: {run['processed']} processed, {run['skipped']} skipped (already done)"
        if run["processed"]:
            line += (
                f", {run['seconds']:.1f} s ({1000 * run['seconds_per_image']:.0f} ms/image"
                f" + {run['load_seconds']:.1f} s loading {run['backends']})"
            )
        lines.append(line)
    if manifest.failures:
        lines.append(f"failures are listed with their reason in {manifest.path}")
    return "\n".join(lines)


def _finish(manifest: Manifest) -> None:
    manifest.items.sort(key=lambda it: it.source)
    manifest.failures.sort(key=lambda f: f["source"])
    manifest.summary = summarize(manifest)
    save_manifest(manifest)


def _open_or_create(out_dir: Path, domain: str, size: int, zoom: float) -> Manifest:
    if (out_dir / MANIFEST_NAME).is_file():
        manifest = load_manifest(out_dir)
        if (manifest.domain, manifest.size, manifest.zoom) != (domain, size, zoom):
            raise ManifestError(
                f"{out_dir} holds a dataset prepared with domain={manifest.domain} size={manifest.size} "
                f"zoom={manifest.zoom:g}; use the same settings to continue it, or another --out"
            )
        return manifest
    if out_dir.exists() and not out_dir.is_dir():
        raise GeostyleError(f"{out_dir}: exists and is not a folder")
    return Manifest(domain=domain, size=size, zoom=zoom, root=out_dir)


def _source_key(path: Path) -> str:
    """How a source is recorded: absolute and normalised, symlinks kept as given."""
    return os.path.abspath(path)


def _list_sources(src_dir: Path, out_dir: Path) -> list[Path]:
    """Images below ``src_dir``, sorted, excluding the output folder if it lies inside it."""
    out = out_dir.resolve()
    found = []
    for path in list_images(src_dir):
        resolved = path.resolve()
        if resolved == out or out in resolved.parents:
            continue
        found.append(path)
    return found


def _progress(items: list[Path], enabled: bool) -> Iterable[Path]:
    if not enabled:
        return items
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return items
    return tqdm(items, unit="img", desc="prepare", dynamic_ncols=True, smoothing=0.1)


__all__: list[str] = [
    "DEFAULT_BACKENDS",
    "DEFAULT_MIN_FACE",
    "DEFAULT_SIZE",
    "DEFAULT_ZOOM",
    "REASONS",
    "build_detector",
    "count_distinct_faces",
    "format_summary",
    "make_id",
    "prepare_dataset",
    "process_image",
    "summarize",
]
