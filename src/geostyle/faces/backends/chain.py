"""Several backends tried in order: the first that finds a face wins.

``build_backend(spec)`` turns a user's ``--backend`` value into a backend: a registered name
(``mediapipe``, ``dlib``, ``animeface``, ``file``), a comma-separated list of them, or ``auto``
(= ``AUTO``: a landmark file beside the image if there is one, else the photo detectors, else the
anime detector).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from geostyle.errors import BackendUnavailableError
from geostyle.faces.backends.base import BACKENDS, LandmarkBackend, get_backend
from geostyle.faces.landmarks import Face

AUTO = ("file", "mediapipe", "dlib", "animeface")


def parse_spec(spec: str) -> list[str]:
    """``"mediapipe, dlib"`` -> ``["mediapipe", "dlib"]``; ``"auto"`` -> ``AUTO``. Validates names."""
    names = [part.strip() for part in str(spec).split(",") if part.strip()]
    if not names:
        raise BackendUnavailableError("empty backend list; choose from " + ", ".join([*BACKENDS, "auto"]))
    out: list[str] = []
    for name in names:
        expanded = list(AUTO) if name == "auto" else [name]
        for item in expanded:
            if item not in BACKENDS:
                raise BackendUnavailableError(
                    f"unknown landmark backend {item!r}; choose from {', '.join([*BACKENDS, 'auto'])}"
                )
            if item not in out:
                out.append(item)
    return out


class BackendChain:
    """Tries ``names`` in order and returns the first non-empty result.

    Backends that cannot be built here are skipped with a warning as long as at least one other can;
    if none can, the first error is raised. A backend that cannot run on a particular call (the
    ``file`` backend without an image path) is skipped for that call.
    """

    def __init__(self, names: list[str] | tuple[str, ...]) -> None:
        names = list(names)
        if not names:
            raise BackendUnavailableError("a backend chain needs at least one backend")
        self.backends: list[LandmarkBackend] = []
        errors: list[tuple[str, BackendUnavailableError]] = []
        for name in names:
            try:
                self.backends.append(get_backend(name))
            except BackendUnavailableError as exc:
                errors.append((name, exc))
        if not self.backends:
            raise errors[0][1]
        for name, error in errors:
            warnings.warn(f"landmark backend {name!r} skipped: {error}", RuntimeWarning, stacklevel=2)
        self.skipped = [name for name, _ in errors]
        self.name = ",".join(b.name for b in self.backends)

    def detect(self, image: np.ndarray, path: Path | None = None) -> list[Face]:
        last_error: BackendUnavailableError | None = None
        ran = False
        for backend in self.backends:
            try:
                faces = backend.detect(image, path)
            except BackendUnavailableError as exc:
                last_error = exc
                continue
            ran = True
            if faces:
                return faces
        if not ran and last_error is not None:
            raise last_error
        return []

    def close(self) -> None:
        for backend in self.backends:
            close = getattr(backend, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> BackendChain:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def build_backend(spec: str) -> LandmarkBackend:
    """A backend from a ``--backend`` value: one name, a comma-separated list, or ``auto``.

    A single name builds that backend (errors propagate); a list builds a :class:`BackendChain`.
    """
    names = parse_spec(spec)
    if len(names) == 1:
        return get_backend(names[0])
    return BackendChain(names)


def detect_path(backend: LandmarkBackend, path: str | Path) -> tuple[np.ndarray, list[Face]]:
    """Load ``path`` (EXIF rotation applied) and detect faces on it: ``(image, faces)``.

    Raises :class:`~geostyle.errors.ImageReadError` for unreadable files.
    """
    from geostyle.data.images import load_image

    path = Path(path)
    image = load_image(path)
    return image, backend.detect(image, path)
