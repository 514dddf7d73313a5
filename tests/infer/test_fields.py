"""The runtime's NumPy TPS field equals the trainer's torch field (the model was trained with it)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geostyle.data.images import load_image
from geostyle.faces.landmarks import pixels_to_normalized
from geostyle.infer.fields import identity_field
from geostyle.infer.stylize import Stylizer
from geostyle.warp.grid import identity_grid


@pytest.fixture(scope="module")
def face(astronaut_path):
    stylizer = Stylizer("anime")
    return stylizer, stylizer.align(load_image(astronaut_path)).landmarks


def test_identity_field_matches_torch_identity_grid():
    assert np.abs(identity_field(5, 7) - identity_grid(1, 5, 7, torch.float64)[0].numpy()).max() < 1e-12


@pytest.mark.parametrize("alpha", [0.5, 1.0])
def test_numpy_field_equals_training_field(face, alpha):
    stylizer, pts = face
    s = stylizer.size
    p = torch.from_numpy(np.nan_to_num(pixels_to_normalized(pts, s, s))).float()[None]
    mask = torch.from_numpy(np.isfinite(pts).all(-1))[None]
    target = stylizer.aligner.photo_target(p, mask, strength=alpha)
    reference = stylizer.aligner.field(target, p, mask)[0].numpy()
    full, quarter = stylizer.face_fields(pts, strength=alpha)
    assert full.shape == (s, s, 2) and quarter.shape == (1, s // 4, s // 4, 2)
    assert np.abs(full - reference).max() < 2e-5
    # A real warp (not the identity), pinned at the crop border by the anchors.
    assert np.abs(full - identity_field(s, s)).max() > 0.05
    assert np.abs(full[0, :] - identity_field(s, s)[0, :]).max() < 0.01


def test_strength_zero_means_no_warp(face):
    stylizer, pts = face
    assert stylizer.face_fields(pts, strength=0.0) is None
    field, target = stylizer.target_field(pts, stylizer.size, strength=0.0)
    assert field is not None and np.abs(field[0].numpy() - identity_field(stylizer.size, stylizer.size)).max() < 1e-5
    assert np.allclose(target, pts, atol=1e-6, equal_nan=True)
