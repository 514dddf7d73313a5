"""Exports run on a tiny release checkpoint (fast to convert) and on a bundled model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_HELPER = Path(__file__).resolve().parents[1] / "infer" / "conftest.py"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, shared_data):
    spec = importlib.util.spec_from_file_location("infer_fixtures", _HELPER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors", shared_data)
