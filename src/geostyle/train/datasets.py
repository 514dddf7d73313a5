"""Training inputs from whatever folder a user has: a prepared dataset is used as it is, a folder of
raw images is prepared (detected, aligned, cropped) once into the run directory and reused after."""

from __future__ import annotations

from pathlib import Path

from geostyle.data.manifest import MANIFEST_NAME
from geostyle.errors import GeostyleError


def ensure_prepared(folder: str | Path, prepared_dir: Path, domain: str, backend: str | None = None) -> Path:
    """``folder`` if it is a prepared dataset, else ``prepared_dir`` after preparing ``folder`` into it
    (resumable: images already done are skipped)."""
    from geostyle.data.prepare import prepare_dataset

    folder = Path(folder)
    if (folder / MANIFEST_NAME).is_file():
        return folder
    if not folder.is_dir():
        raise GeostyleError(f"{folder}: no such folder")
    manifest = prepare_dataset(folder, prepared_dir, domain=domain, backends=backend)
    if not manifest.items:
        raise GeostyleError(f"{folder}: no usable face found in any image (see {prepared_dir}/manifest.json)")
    return prepared_dir
