"""Release checkpoints (``*.safetensors``): what inference needs and nothing else: the generator's
(EMA) weights plus, in the safetensors metadata, the format version, architecture name, construction
arguments, the geometry model and the training config. Loads without any training flag and never runs
code on load. It lives below the trainer so a deployed runtime can read models without training code.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from geostyle.errors import CheckpointError

RELEASE_FORMAT = "geostyle-model"
FORMAT_VERSION = 1
# The bundled models (``anime``, ``sketch``) ship inside the package.
MODELS_DIR = Path(__file__).resolve().parents[1] / "models"


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then rename over ``path``; the old file survives any crash before the rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    # mkstemp creates 0600; a checkpoint is an ordinary file (respect the umask like open() would).
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        write(Path(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class ReleaseModel:
    """A loaded release checkpoint: the generator (eval mode) and what it was trained with."""

    generator: torch.nn.Module
    arch: str
    arch_kwargs: dict[str, Any]
    geometry: dict[str, Any] | None
    resolution: int
    metadata: dict[str, Any]


def save_release(
    path: str | Path,
    generator: torch.nn.Module,
    arch: str,
    arch_kwargs: dict[str, Any],
    geometry: dict[str, Any] | None,
    resolution: int,
    config: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write a release checkpoint (safetensors; metadata values are JSON strings)."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in generator.state_dict().items()}
    metadata = {
        "format": RELEASE_FORMAT,
        "version": str(FORMAT_VERSION),
        "arch": arch,
        "arch_kwargs": json.dumps(arch_kwargs, sort_keys=True),
        "geometry": json.dumps(geometry),
        "resolution": str(int(resolution)),
        "config": json.dumps(config or {}, sort_keys=True),
        "extra": json.dumps(extra or {}, sort_keys=True),
    }
    atomic_write(Path(path), lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def update_release_extra(path: str | Path, out: str | Path, **extra: Any) -> None:
    """Copy a release checkpoint to ``out`` (may be ``path``) with keys of its ``extra`` metadata set
    (e.g. ``default_strength`` chosen by an evaluation after training); weights are unchanged."""
    meta = read_release_metadata(path)  # ours, readable: raises CheckpointError otherwise
    copy_release(path, out, extra=json.dumps({**meta["extra"], **extra}, sort_keys=True))


def copy_release(
    path: str | Path, out: str | Path, tensors: dict[str, torch.Tensor] | None = None, **fields: str
) -> None:
    """Copy a release checkpoint to ``out`` (may be ``path``) with some of its metadata strings
    replaced by ``fields`` (JSON already encoded, as stored); weights are unchanged (``tensors``:
    the file's own, where the caller has loaded them already). ``path`` is read as it is: check it
    with :func:`read_release_metadata` first."""
    with safe_open(str(path), framework="pt") as fh:
        raw = dict(fh.metadata() or {})
    if tensors is None:
        tensors = load_file(str(path))
    raw.update(fields)
    atomic_write(Path(out), lambda tmp: save_file(tensors, str(tmp), metadata=raw))


def update_release_arch_kwargs(path: str | Path, out: str | Path, **kwargs: Any) -> None:
    """Copy a release checkpoint to ``out`` (may be ``path``) with settings of its generator that
    carry no weights changed (e.g. ``ink``); weights are unchanged. The generator is rebuilt with
    the new settings and must take the weights as they are: raises :class:`CheckpointError`."""
    from geostyle.nets.registry import create_model

    meta = read_release_metadata(path)
    merged = {**meta["arch_kwargs"], **kwargs}
    tensors = load_file(str(path))
    try:
        create_model(meta["arch"], **merged).load_state_dict(tensors, strict=True)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: the generator does not take {kwargs} ({exc})") from exc
    copy_release(path, out, tensors, arch_kwargs=json.dumps(merged, sort_keys=True))


def read_release_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata of a release checkpoint, JSON fields decoded. Raises :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model file")
    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = fh.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable model file ({exc})") from exc
    if raw.get("format") != RELEASE_FORMAT:
        raise CheckpointError(f"{path}: not a geostyle model (format {raw.get('format')!r})")
    if int(raw.get("version", "0")) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: model format v{raw['version']} is newer than this geostyle (v{FORMAT_VERSION})"
        )
    try:
        return {
            "arch": raw["arch"],
            "arch_kwargs": json.loads(raw["arch_kwargs"]),
            "geometry": json.loads(raw["geometry"]),
            "resolution": int(raw["resolution"]),
            "config": json.loads(raw.get("config", "{}")),
            "extra": json.loads(raw.get("extra", "{}")),
            "version": int(raw["version"]),
        }
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"{path}: model metadata is incomplete ({exc})") from exc


def load_release(path: str | Path) -> ReleaseModel:
    """Rebuild the generator from a release checkpoint alone."""
    from geostyle.nets.registry import create_model

    meta = read_release_metadata(path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: weights are unreadable ({exc})") from exc
    try:
        generator = create_model(meta["arch"], **meta["arch_kwargs"])
        generator.load_state_dict(tensors, strict=True)
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: weights do not fit architecture {meta['arch']!r} ({exc})") from exc
    generator.eval()
    return ReleaseModel(
        generator, meta["arch"], meta["arch_kwargs"], meta["geometry"], meta["resolution"], meta
    )


def available_models() -> list[str]:
    """Names of the bundled models."""
    return sorted(p.stem for p in MODELS_DIR.glob("*.safetensors"))


def resolve_model(name_or_path: str | Path) -> Path:
    """A bundled model name (``anime``) or a path to a release checkpoint."""
    path = Path(name_or_path)
    if path.suffix == ".safetensors" or path.exists():
        if not path.is_file():
            raise CheckpointError(f"{path}: no such model file")
        return path
    bundled = MODELS_DIR / f"{name_or_path}.safetensors"
    if bundled.is_file():
        return bundled
    names = ", ".join(available_models()) or "none bundled"
    raise CheckpointError(
        f"unknown model {name_or_path!r}; bundled models: {names}; or pass a .safetensors path"
    )
