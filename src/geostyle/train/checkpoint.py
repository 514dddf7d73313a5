"""Resume checkpoints (``resume.pt``): everything needed to continue the same run at the same step:
all networks, optimizers, EMA, step, RNG states. Written atomically (temp file + fsync + rename), so a
kill in the middle of a save leaves the previous checkpoint intact. Loaded with
``torch.load(weights_only=True)``. Release checkpoints (what inference reads) are
:mod:`geostyle.nets.release`; they are re-exported here for the trainer's convenience.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from geostyle.errors import CheckpointError
from geostyle.nets.release import (  # noqa: F401  (re-exported for the trainer)
    FORMAT_VERSION,
    RELEASE_FORMAT,
    ReleaseModel,
    atomic_write,
    load_release,
    read_release_metadata,
    save_release,
)

RESUME_FORMAT = "geostyle-resume"


def save_resume(path: str | Path, state: dict[str, Any]) -> None:
    """Atomically write a resume checkpoint. ``state`` holds tensors, state dicts and plain values."""
    payload = {"format": RESUME_FORMAT, "version": FORMAT_VERSION, **state}
    atomic_write(Path(path), lambda tmp: torch.save(payload, tmp))


def load_resume(path: str | Path) -> dict[str, Any]:
    """Read a resume checkpoint safely (no code runs on load). Raises :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no resume checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for truncated / foreign files
        raise CheckpointError(
            f"{path}: corrupt or unreadable resume checkpoint ({exc.__class__.__name__})"
        ) from exc
    if not isinstance(state, dict) or state.get("format") != RESUME_FORMAT:
        raise CheckpointError(f"{path}: not a geostyle resume checkpoint")
    return state
