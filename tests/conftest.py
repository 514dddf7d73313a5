"""Shared fixtures. Real data lives in ``../shared/data`` beside the checkout (read-only)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("GEOSTYLE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA}; set GEOSTYLE_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def astronaut_path() -> Path:
    return REPO_ROOT / "src" / "geostyle" / "assets" / "astronaut.png"
