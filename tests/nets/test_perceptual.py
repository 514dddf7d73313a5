"""Perceptual backbone loaded offline from the stlpips-pytorch wheel: loading, sanity, gradients."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from geostyle.nets import perceptual
from geostyle.nets.perceptual import (
    LAYERS,
    LPIPS,
    PerceptualLoss,
    PerceptualWeightsError,
    ShiftTolerantAlexNet,
)


@pytest.fixture(scope="module")
def faces(shared_data) -> torch.Tensor:
    """Four real selfies, (4, 3, 128, 128) in [-1, 1]."""
    paths = sorted((shared_data / "photos" / "selfie").glob("*.jpg"))[:4]
    images = [np.asarray(Image.open(p).convert("RGB").resize((128, 128), Image.BILINEAR)) for p in paths]
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1


@pytest.fixture(scope="module")
def lpips() -> LPIPS:
    return LPIPS()


def _blur(x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    r = torch.arange(-3, 4, dtype=x.dtype)
    k = torch.exp(-(r**2) / (2 * sigma**2))
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (3, 3, 0, 0), mode="reflect"), k.view(1, 1, 1, 7).expand(3, 1, 1, 7), groups=3)
    return F.conv2d(F.pad(x, (0, 0, 3, 3), mode="reflect"), k.view(1, 1, 7, 1).expand(3, 1, 7, 1), groups=3)


def test_weights_load_with_expected_layout():
    net = ShiftTolerantAlexNet()
    assert not any(p.requires_grad for p in net.parameters())
    # ImageNet statistics in [-1, 1] form, stored in the file
    torch.testing.assert_close(net.shift.flatten(), torch.tensor([-0.030, -0.088, -0.188]), atol=1e-3, rtol=0)
    torch.testing.assert_close(net.scale.flatten(), torch.tensor([0.458, 0.448, 0.450]), atol=1e-3, rtol=0)
    # blur-pool filters are the binomial [1 2 1]^T [1 2 1] / 16
    expected = torch.tensor([1.0, 2.0, 1.0])
    torch.testing.assert_close(net.blur2.filt[0, 0], torch.outer(expected, expected) / 16)
    # LPIPS heads are non-negative channel weights
    assert all((lin.weight >= 0).all() for lin in net.lins)
    feats = net(torch.zeros(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == [64, 192, 384, 256, 256]
    assert [f.shape[-1] for f in feats] == [30, 15, 8, 8, 8]
    assert len(net(torch.zeros(1, 3, 64, 64), upto=2)) == 2
    net.train()
    assert not net.training  # frozen backbone stays in eval mode


def test_lpips_is_zero_on_itself_and_orders_degradations(faces, lpips):
    with torch.no_grad():
        same = lpips(faces, faces)
        blurred = lpips(faces, _blur(faces))
        shifted = lpips(faces, torch.roll(faces, 1, dims=3))
        other = lpips(faces, faces.roll(1, dims=0))
    assert same.shape == (4,) and same.abs().max() < 1e-6
    assert (blurred > 0.005).all() and (blurred < 0.25).all()
    assert (blurred < other).all() and (other > 0.25).all()
    assert (shifted < blurred).all()  # shift tolerance: a 1-px shift matters less than a blur
    with torch.no_grad():
        torch.testing.assert_close(
            perceptual.lpips_distance(faces[:2], faces[2:]), lpips(faces[:2], faces[2:])
        )


def test_perceptual_loss_orders_and_backpropagates_into_images_only(faces):
    loss = PerceptualLoss(layers=("relu1", "relu2", "relu3"), weights=(1.0, 1.0, 0.5))
    assert loss.upto == 3
    x = faces[:2].clone().requires_grad_(True)
    near = loss(x, _blur(faces[:2]))
    far = loss(x, faces[2:])
    assert loss(faces[:2], faces[:2]).item() == pytest.approx(0.0, abs=1e-7)
    assert 0 < near.item() < far.item()
    far.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.parameters())


def test_perceptual_loss_options(faces):
    small = PerceptualLoss(layers=("relu2",), distance="l1", max_size=64)
    assert small(faces[:1], faces[1:2]).item() > 0
    with pytest.raises(ValueError):
        PerceptualLoss(layers=("conv9",))
    with pytest.raises(ValueError):
        PerceptualLoss(layers=LAYERS, weights=(1.0,))


def test_missing_package_raises_clear_error(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        perceptual.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "stlpips_pytorch" else real(name, *a),
    )
    with pytest.raises(PerceptualWeightsError, match="pip install stlpips-pytorch"):
        PerceptualLoss()


def test_corrupt_weight_file_raises(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(PerceptualWeightsError):
        ShiftTolerantAlexNet(bad)
    wrong = tmp_path / "wrong.pth"
    torch.save({"net.slice1.0.weight": torch.zeros(64, 3, 3, 3)}, wrong)
    with pytest.raises(PerceptualWeightsError):
        ShiftTolerantAlexNet(wrong)
