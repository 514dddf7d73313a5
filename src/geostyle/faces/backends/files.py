"""Landmarks read from files that sit beside the images: iBUG ``.pts`` or geostyle ``.json``.

For an image ``X.jpg`` the backend reads ``X.json`` if it exists, else ``X.pts``.

``.pts`` (iBUG-300W text format, 68 points, 0-based pixel coordinates of the image)::

    version: 1
    n_points: 68
    {
    x1 y1
    ...
    x68 y68
    }

``.json`` (either one face written by hand, or the output of ``geostyle landmarks --json``)::

    {"landmarks": {"right_eye_outer": [x, y], "nose_tip": [x, y], "chin": null, ...},
     "box": [x0, y0, x1, y1]}                    # optional, default: extent of the landmarks
    {"path": "...", "faces": [{"box": [...], "score": 1.0, "backend": "mediapipe",
                               "landmarks": {...}}, ...]}

Names are the canonical names of :mod:`geostyle.faces.landmarks`; absent or ``null`` names are
missing points. All coordinates use the pixel frame (centre of the top-left pixel at ``(0, 0)``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from geostyle.errors import BackendUnavailableError, LandmarkFileError
from geostyle.faces.landmarks import INDEX, Face, empty_landmarks, from_ibug68, visibility

PTS_SUFFIXES = (".pts", ".PTS")
JSON_SUFFIXES = (".json",)


# --------------------------------------------------------------------------------------------- .pts
def read_pts(path: str | Path, n_points: int = 68) -> np.ndarray:
    """Read an iBUG ``.pts`` file as an ``(n_points, 2)`` float64 array (0-based pixels).

    Raises :class:`LandmarkFileError` naming the file and line for anything malformed.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LandmarkFileError(f"{path}: cannot read ({exc})") from exc
    lines = [(i + 1, line.strip()) for i, line in enumerate(text.splitlines())]
    lines = [(no, line) for no, line in lines if line]
    if not lines:
        raise LandmarkFileError(f"{path}: empty file")

    header: dict[str, str] = {}
    pos = 0
    while pos < len(lines) and lines[pos][1] != "{":
        no, line = lines[pos]
        key, sep, value = line.partition(":")
        if not sep:
            raise LandmarkFileError(f"{path}:{no}: expected 'key: value' header or '{{', got {line!r}")
        header[key.strip().lower()] = value.strip()
        pos += 1
    if pos == len(lines):
        raise LandmarkFileError(f"{path}:{lines[-1][0]}: missing '{{' before the points")
    if "n_points" in header:
        try:
            declared = int(header["n_points"])
        except ValueError:
            raise LandmarkFileError(f"{path}: n_points is not an integer: {header['n_points']!r}") from None
        if declared != n_points:
            raise LandmarkFileError(f"{path}: n_points is {declared}, expected {n_points}")
    open_no = lines[pos][0]
    pos += 1

    points: list[tuple[float, float]] = []
    while pos < len(lines) and lines[pos][1] != "}":
        no, line = lines[pos]
        parts = line.split()
        if len(parts) != 2:
            raise LandmarkFileError(f"{path}:{no}: expected two numbers 'x y', got {line!r}")
        try:
            x, y = float(parts[0]), float(parts[1])
        except ValueError:
            raise LandmarkFileError(f"{path}:{no}: not a number in {line!r}") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise LandmarkFileError(f"{path}:{no}: non-finite coordinate in {line!r}")
        points.append((x, y))
        pos += 1
    if pos == len(lines):
        raise LandmarkFileError(
            f"{path}:{lines[-1][0]}: missing closing '}}' (block opened on line {open_no})"
        )
    if len(points) != n_points:
        raise LandmarkFileError(f"{path}:{lines[pos][0]}: found {len(points)} points, expected {n_points}")
    if pos + 1 < len(lines):
        no, line = lines[pos + 1]
        raise LandmarkFileError(f"{path}:{no}: unexpected text after '}}': {line!r}")
    return np.asarray(points, dtype=np.float64)


# -------------------------------------------------------------------------------------------- .json
def _line_of(text: str, needle: str) -> int | None:
    """1-based line of the first occurrence of ``needle`` in ``text`` (for error messages)."""
    at = text.find(needle)
    return None if at < 0 else text.count("\n", 0, at) + 1


def _q(key: str) -> str:
    return json.dumps(key)


def _where(path: Path, text: str, needle: str | None) -> str:
    line = _line_of(text, needle) if needle else None
    return f"{path}:{line}" if line else str(path)


def _parse_point(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"expected [x, y] or null, got {value!r}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise ValueError(f"expected two numbers, got {value!r}")
    x, y = float(value[0]), float(value[1])
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"non-finite coordinate {value!r}")
    return x, y


def _box_of(points: np.ndarray) -> tuple[float, float, float, float]:
    present = points[visibility(points)]
    x0, y0 = present.min(axis=0)
    x1, y1 = present.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def _parse_face(obj: Any, path: Path, text: str, label: str) -> Face:
    if not isinstance(obj, dict):
        raise LandmarkFileError(f"{path}: {label} must be an object, got {type(obj).__name__}")
    mapping = obj.get("landmarks")
    if not isinstance(mapping, dict):
        raise LandmarkFileError(
            f'{_where(path, text, _q("landmarks"))}: {label} needs a "landmarks" object {{name: [x, y] or null}}'
        )
    points = empty_landmarks()
    for name, value in mapping.items():
        if name not in INDEX:
            raise LandmarkFileError(
                f"{_where(path, text, _q(name))}: unknown landmark name {name!r} in {label} "
                f"(see geostyle.faces.landmarks.CANONICAL_NAMES)"
            )
        try:
            point = _parse_point(value)
        except ValueError as exc:
            raise LandmarkFileError(f"{_where(path, text, _q(name))}: {label} {name}: {exc}") from None
        if point is not None:
            points[INDEX[name]] = point
    if not visibility(points).any():
        raise LandmarkFileError(f"{path}: {label} has no landmark with coordinates")

    box_value = obj.get("box")
    if box_value is None:
        box = _box_of(points)
    else:
        ok = (
            isinstance(box_value, (list, tuple))
            and len(box_value) == 4
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box_value)
        )
        if not ok or not all(math.isfinite(float(v)) for v in box_value):
            raise LandmarkFileError(f"{_where(path, text, _q('box'))}: {label} box must be [x0, y0, x1, y1]")
        box = tuple(float(v) for v in box_value)  # type: ignore[assignment]
    score = obj.get("score", 1.0)
    if not isinstance(score, (int, float)) or isinstance(score, bool):
        raise LandmarkFileError(f"{_where(path, text, _q('score'))}: {label} score must be a number")
    backend = obj.get("backend", "file")
    return Face(box=box, landmarks=points, score=float(score), backend=str(backend))  # type: ignore[arg-type]


def read_landmark_json(path: str | Path) -> list[Face]:
    """Read a landmark ``.json`` (one hand-written face, or ``{"faces": [...]}``), largest face first.

    A ``{"faces": []}`` file (an image known to have no face) gives an empty list.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LandmarkFileError(f"{path}: cannot read ({exc})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LandmarkFileError(
            f"{path}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})"
        ) from None
    if isinstance(data, dict) and "faces" in data:
        faces_obj = data["faces"]
        if not isinstance(faces_obj, list):
            raise LandmarkFileError(f'{_where(path, text, _q("faces"))}: "faces" must be a list')
        faces = [_parse_face(f, path, text, f"faces[{i}]") for i, f in enumerate(faces_obj)]
    elif isinstance(data, dict) and "landmarks" in data:
        faces = [_parse_face(data, path, text, "face")]
    elif isinstance(data, dict) and "error" in data:
        raise LandmarkFileError(f"{path}: file records a detection error, not landmarks: {data['error']}")
    else:
        raise LandmarkFileError(f'{path}:1: expected an object with "landmarks" or "faces"')
    return sorted(faces, key=lambda f: f.area, reverse=True)


def write_landmark_json(path: str | Path, faces: list[Face], image_path: str | Path | None = None) -> None:
    """Write ``faces`` in the ``{"faces": [...]}`` form that :func:`read_landmark_json` reads back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {}
    if image_path is not None:
        data["path"] = str(image_path)
    data["faces"] = [face.to_json() for face in faces]
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------------ backend
def landmark_file_for(image_path: str | Path) -> Path | None:
    """The landmark file beside ``image_path`` (``.json`` preferred over ``.pts``), or None."""
    image_path = Path(image_path)
    for suffix in JSON_SUFFIXES + PTS_SUFFIXES:
        candidate = image_path.with_suffix(suffix)
        if candidate.is_file() and candidate != image_path:
            return candidate
    return None


def read_landmark_file(path: str | Path) -> list[Face]:
    """Faces from a ``.pts`` or ``.json`` landmark file (chosen by suffix)."""
    path = Path(path)
    if path.suffix.lower() == ".pts":
        points = from_ibug68(read_pts(path))
        return [Face(box=_box_of(points), landmarks=points, score=1.0, backend="file")]
    if path.suffix.lower() == ".json":
        return read_landmark_json(path)
    raise LandmarkFileError(f"{path}: unknown landmark file type (expected .pts or .json)")


class LandmarkFileBackend:
    """Reads ``X.json`` or ``X.pts`` beside the image ``X.*``; an image without one gives no face."""

    name = "file"

    def detect(self, image: np.ndarray, path: Path | None = None) -> list[Face]:
        if path is None:
            raise BackendUnavailableError(
                "the 'file' backend needs the image's path to find its .pts/.json file"
            )
        found = landmark_file_for(path)
        if found is None:
            return []
        faces = read_landmark_file(found)
        for face in faces:
            face.extra["file"] = str(found)
        return faces
