"""Training presets shipped with the package: ``geostyle train --preset NAME`` reads ``NAME.yaml`` here."""

from __future__ import annotations

from pathlib import Path

from geostyle.errors import ConfigError

PRESETS_DIR = Path(__file__).resolve().parent


def available_presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def preset_path(name: str) -> Path:
    path = PRESETS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown preset {name!r}; presets: {', '.join(available_presets())}")
    return path


def needs_teacher(name: str) -> bool:
    """Does preset ``name`` distil a trained model (``data.target: teacher``)? Such a preset needs a
    teacher trained on the same styles (``--set data.teacher=...``), so it is no first step for a new
    style set (the web app's trainer does not offer it)."""
    from geostyle.train.config import load_config

    try:
        return load_config(preset_path(name)).data.target == "teacher"
    except ConfigError:
        return False  # unreadable: listed as before; loading it reports what is wrong
