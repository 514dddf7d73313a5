"""The manifest of a prepared dataset (``DATASET/manifest.json``): reading, validating, writing.

The on-disk format is described in ``docs/conventions.md``. In memory, landmarks are ``(K, 2)``
float64 arrays in the crop pixel frame with NaN for missing points, and ``matrix`` is the ``(2, 3)``
source-pixels -> crop-pixels similarity.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geostyle.errors import GeostyleError
from geostyle.faces.landmarks import CANONICAL_NAMES, MIN_CONFIDENCE, NUM_LANDMARKS, confident_points

MANIFEST_NAME = "manifest.json"
FORMAT = "geostyle-dataset"
VERSION = 1
DOMAINS = ("photo", "style")


class ManifestError(GeostyleError):
    """A dataset manifest is missing, corrupt, of another format, or inconsistent with this version."""


@dataclass
class ManifestItem:
    """One aligned crop."""

    id: str
    crop: str  # relative to the dataset root, "crops/<id>.png"
    source: str
    backend: str
    score: float
    faces_found: int
    landmarks: np.ndarray  # (K, 2) crop pixel frame, NaN = missing
    matrix: np.ndarray  # (2, 3) source pixels -> crop pixels
    root: Path | None = field(default=None, repr=False, compare=False)
    # (K,) per-point confidence in [0, 1] where the backend gives one (mediapipe: the far-side outline
    # of a turned head); None = every point fully trusted (older manifests, other backends).
    confidence: np.ndarray | None = field(default=None, compare=False)

    def usable_landmarks(self, min_confidence: float = MIN_CONFIDENCE) -> np.ndarray:
        """``(K, 2)`` landmarks with the points below ``min_confidence`` missing (NaN): what the
        geometry model and the training warps use, so a guessed hidden jaw moves no pixels."""
        return confident_points(self.landmarks, self.confidence, min_confidence)

    @property
    def crop_path(self) -> Path:
        if self.root is None:
            raise ManifestError(f"item {self.id!r} is not attached to a dataset folder")
        return self.root / self.crop

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "crop": self.crop,
            "source": self.source,
            "backend": self.backend,
            "score": round(float(self.score), 4),
            "faces_found": int(self.faces_found),
            "landmarks": [
                [round(float(x), 3), round(float(y), 3)] if math.isfinite(x) and math.isfinite(y) else None
                for x, y in np.asarray(self.landmarks, dtype=np.float64)
            ],
            "matrix": [[float(v) for v in row] for row in np.asarray(self.matrix, dtype=np.float64)],
            **(
                {"confidence": [round(float(c), 3) for c in np.asarray(self.confidence, np.float64)]}
                if self.confidence is not None
                else {}
            ),
        }


@dataclass
class Manifest:
    """A prepared dataset. ``root`` is the dataset folder (not stored in the JSON)."""

    domain: str
    size: int
    zoom: float
    root: Path
    items: list[ManifestItem] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)
    landmark_names: list[str] = field(default_factory=lambda: list(CANONICAL_NAMES))
    format: str = FORMAT
    version: int = VERSION
    # Statistics of the `prepare_dataset` call that returned this object; never stored.
    run: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def path(self) -> Path:
        return Path(self.root) / MANIFEST_NAME

    def __len__(self) -> int:
        return len(self.items)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "version": self.version,
            "domain": self.domain,
            "size": int(self.size),
            "zoom": float(self.zoom),
            "landmark_names": list(self.landmark_names),
            "items": [item.to_json() for item in self.items],
            "failures": [dict(f) for f in self.failures],
            "summary": dict(self.summary),
        }


def landmarks_array(manifest: Manifest, min_confidence: float = MIN_CONFIDENCE) -> np.ndarray:
    """``(N, K, 2)`` float64 landmarks of every item (crop frame, NaN = missing or less confident
    than ``min_confidence``; 0 keeps every detected point)."""
    if not manifest.items:
        return np.zeros((0, len(manifest.landmark_names), 2), dtype=np.float64)
    return np.stack([item.usable_landmarks(min_confidence) for item in manifest.items])


def save_manifest(manifest: Manifest) -> Path:
    """Write ``manifest.json`` atomically (temporary file in the same folder, then ``os.replace``)."""
    root = Path(manifest.root)
    root.mkdir(parents=True, exist_ok=True)
    text = _dumps(manifest.to_json())
    tmp = root / f".{MANIFEST_NAME}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        # os.open honours the umask (mkstemp would make the manifest private to its owner).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, root / MANIFEST_NAME)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return root / MANIFEST_NAME


def _dumps(data: dict[str, Any]) -> str:
    """JSON with one line per item and per failure: readable, diffable, and compact."""

    def one(value: Any) -> str:
        return json.dumps(value, allow_nan=False, ensure_ascii=False)

    lines = ["{"]
    keys = list(data)
    for n, key in enumerate(keys):
        value = data[key]
        comma = "," if n < len(keys) - 1 else ""
        if key in ("items", "failures") and value:
            body = ",\n".join(f"  {one(v)}" for v in value)
            lines.append(f"{one(key)}: [\n{body}\n ]{comma}")
        else:
            lines.append(f"{one(key)}: {one(value)}{comma}")
    return "\n ".join(lines[:-1] + [lines[-1]]) + "\n}"


def load_manifest(dataset: str | Path) -> Manifest:
    """Read ``DATASET/manifest.json`` (``dataset`` may also be the manifest file itself).

    Raises :class:`ManifestError` if it is missing, not JSON, of another format or version, or was
    written with a different landmark set.
    """
    dataset = Path(dataset)
    path = dataset if dataset.name == MANIFEST_NAME and dataset.is_file() else dataset / MANIFEST_NAME
    root = path.parent
    if not path.is_file():
        raise ManifestError(f"{root}: no {MANIFEST_NAME}; is this a folder made by `geostyle prepare`?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: unreadable or corrupt ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ManifestError(f"{path}: not a geostyle dataset manifest (format should be {FORMAT!r})")
    if data.get("version") != VERSION:
        raise ManifestError(
            f"{path}: manifest version {data.get('version')!r}, this geostyle reads {VERSION}"
        )
    names = data.get("landmark_names")
    if names != list(CANONICAL_NAMES):
        raise ManifestError(
            f"{path}: landmark names differ from this geostyle's canonical set "
            f"({len(names) if isinstance(names, list) else '?'} vs {NUM_LANDMARKS} names); re-run `geostyle prepare`"
        )
    try:
        domain = str(data["domain"])
        size = int(data["size"])
        zoom = float(data["zoom"])
        items = [_item_from_json(raw, root) for raw in data.get("items", [])]
        failures = [
            {"source": str(f["source"]), "reason": str(f["reason"]), "detail": str(f.get("detail", ""))}
            for f in data.get("failures", [])
        ]
        summary = {str(k): int(v) for k, v in dict(data.get("summary", {})).items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise ManifestError(f"{path}: malformed manifest ({exc.__class__.__name__}: {exc})") from exc
    if domain not in DOMAINS:
        raise ManifestError(f"{path}: unknown domain {domain!r}")
    return Manifest(
        domain=domain,
        size=size,
        zoom=zoom,
        root=root,
        items=items,
        failures=failures,
        summary=summary,
        landmark_names=list(names),
        format=FORMAT,
        version=VERSION,
    )


def _item_from_json(raw: dict[str, Any], root: Path) -> ManifestItem:
    points = raw["landmarks"]
    if len(points) != NUM_LANDMARKS:
        raise ValueError(f"item {raw.get('id')!r} has {len(points)} landmarks, expected {NUM_LANDMARKS}")
    landmarks = np.full((NUM_LANDMARKS, 2), np.nan, dtype=np.float64)
    for i, p in enumerate(points):
        if p is not None:
            landmarks[i] = [float(p[0]), float(p[1])]
    matrix = np.asarray(raw["matrix"], dtype=np.float64)
    if matrix.shape != (2, 3):
        raise ValueError(f"item {raw.get('id')!r} has a matrix of shape {matrix.shape}, expected (2, 3)")
    confidence = None
    if raw.get("confidence") is not None:
        confidence = np.asarray(raw["confidence"], dtype=np.float64)
        if confidence.shape != (NUM_LANDMARKS,) or not ((confidence >= 0) & (confidence <= 1)).all():
            raise ValueError(f"item {raw.get('id')!r}: confidence must be {NUM_LANDMARKS} values in [0, 1]")
    return ManifestItem(
        id=str(raw["id"]),
        crop=str(raw["crop"]),
        source=str(raw["source"]),
        backend=str(raw["backend"]),
        score=float(raw["score"]),
        faces_found=int(raw["faces_found"]),
        landmarks=landmarks,
        matrix=matrix,
        root=root,
        confidence=confidence,
    )
