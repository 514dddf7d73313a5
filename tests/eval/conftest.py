"""Fixtures of the evaluation tests: small sets of real images and a tiny real release checkpoint."""

from __future__ import annotations

import glob

import numpy as np
import pytest
import torch

from geostyle.data.images import list_images, load_image
from geostyle.faces.landmarks import from_ibug68
from geostyle.nets.registry import create_model
from geostyle.nets.release import save_release
from geostyle.warp.geometry import GeometryModel


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: on a shared 2-core machine two spinning OpenMP threads per process make the
    Inception / LPIPS passes many times slower, not faster."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def anime_images(shared_data) -> list[np.ndarray]:
    return [load_image(p) for p in list_images(shared_data / "styles/anime")[:16]]


@pytest.fixture(scope="session")
def selfie_images(shared_data) -> list[np.ndarray]:
    return [load_image(p) for p in list_images(shared_data / "photos/selfie")[:16]]


def make_tiny_model(path, shared_data, extra: dict | None = None, name: str = "tiny", seed: int = 0) -> None:
    """An untrained ``geo_mobile_s`` at 128 px whose geometry widens the eyes by 30 %."""
    pts = [
        from_ibug68(np.loadtxt(p, skiprows=3, max_rows=68))
        for p in sorted(glob.glob(str(shared_data / "landmarks/helen/*.pts")))[:5]
    ]
    photo = np.stack([(p - p.mean(0)) / np.ptp(p[:, 0]) for p in pts])
    style = photo.copy()
    style[:, :, 0] *= 1.3
    torch.manual_seed(seed)
    g = create_model("geo_mobile_s")
    save_release(
        path,
        g,
        "geo_mobile_s",
        dict(g.config),
        GeometryModel.fit(photo, style).to_dict(),
        128,
        {"name": name},
        {"zoom": 1.1, "strength": 1.0, **(extra or {})},
    )


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, shared_data):
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    make_tiny_model(path, shared_data)
    return path
