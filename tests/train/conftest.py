"""Tiny real datasets (prepared from shared selfies and anime faces) for training tests."""

from __future__ import annotations

import shutil

import pytest

from geostyle.data.prepare import prepare_dataset


@pytest.fixture(scope="session")
def tiny_datasets(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    out = {}
    for domain, folder in (("photo", "photos/selfie"), ("style", "styles/anime")):
        src = root / f"src_{domain}"
        src.mkdir()
        for path in sorted((shared_data / folder).glob("*.jpg"))[:8]:
            shutil.copy(path, src / path.name)
        manifest = prepare_dataset(src, root / domain, domain=domain, size=64, progress=False)
        assert len(manifest.items) >= 6
        out[domain] = root / domain
    return out
