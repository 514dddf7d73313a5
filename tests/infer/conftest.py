"""Fixtures of the inference tests: a tiny release checkpoint with an easy-to-see geometry."""

from __future__ import annotations

import glob

import numpy as np
import pytest
import torch

from geostyle.faces.landmarks import from_ibug68
from geostyle.nets.registry import create_model
from geostyle.nets.release import save_release
from geostyle.warp.geometry import GeometryModel


def make_tiny_model(path, shared_data, resolution: int = 128):
    """A release checkpoint (random ``geo_mobile_s``) whose geometry makes eyes 30 % wider apart."""
    pts = [
        from_ibug68(np.loadtxt(p, skiprows=3, max_rows=68))
        for p in sorted(glob.glob(str(shared_data / "landmarks/helen/*.pts")))[:5]
    ]
    photo = np.stack([(p - p.mean(0)) / np.ptp(p[:, 0]) * 1.0 for p in pts])  # rough normalised faces
    style = photo.copy()
    style[:, :, 0] *= 1.3
    geometry = GeometryModel.fit(photo, style)
    torch.manual_seed(0)
    g = create_model("geo_mobile_s", residual_init=1.0)
    save_release(
        path, g, "geo_mobile_s", dict(g.config), geometry.to_dict(), resolution, {}, {"zoom": 1.1, "strength": 1.0}
    )
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, shared_data):
    return make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors", shared_data)
