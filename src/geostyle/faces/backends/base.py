"""The backend interface and registry.

A backend turns one RGB image into a list of :class:`~geostyle.faces.landmarks.Face`, largest first,
in the pixel frame of that image. A backend that finds nothing returns an empty list (the caller
decides whether that is an error); a backend that cannot run raises
:class:`~geostyle.errors.BackendUnavailableError`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol

import numpy as np

from geostyle.errors import BackendUnavailableError
from geostyle.faces.landmarks import Face


class LandmarkBackend(Protocol):
    name: str

    def detect(self, image: np.ndarray, path: Path | None = None) -> list[Face]:
        """All faces in ``image`` ((H, W, 3) uint8 RGB), largest first. ``path`` lets file backends
        find the landmark file that belongs to the image; detector backends ignore it."""
        ...


# name -> "module:Class"; modules import lazily because each detector package is heavy.
BACKENDS: dict[str, str] = {
    "mediapipe": "geostyle.faces.backends.mediapipe_mesh:MediapipeBackend",
    "dlib": "geostyle.faces.backends.dlib68:DlibBackend",
    "animeface": "geostyle.faces.backends.anime:AnimeFaceBackend",
    "file": "geostyle.faces.backends.files:LandmarkFileBackend",
}


def get_backend(name: str, **kwargs) -> LandmarkBackend:
    """Build the backend registered as ``name``."""
    if name not in BACKENDS:
        raise BackendUnavailableError(f"unknown landmark backend {name!r}; choose from {', '.join(BACKENDS)}")
    module_name, class_name = BACKENDS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendUnavailableError(f"backend {name!r} cannot be imported: {exc}") from exc
    return getattr(module, class_name)(**kwargs)
