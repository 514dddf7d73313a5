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
