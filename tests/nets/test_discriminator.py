"""Global multi-scale and local part discriminators."""

from __future__ import annotations

import pytest
import torch

from geostyle.nets.discriminator import (
    PART_NAMES,
    LocalPatchDiscriminator,
    MultiScalePatchDiscriminator,
    PatchDiscriminator,
)
from geostyle.nets.registry import create_model, list_models, model_spec


def _assert_grads_reach_every_parameter(model: torch.nn.Module) -> None:
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_registry_has_both_discriminators():
    assert {"patch_multiscale", "patch_local"} <= set(list_models("discriminator"))
    d = create_model("patch_local", num_parts=2)
    assert model_spec(d) == {"arch": "patch_local", "config": d.config}


@pytest.mark.parametrize("name", list_models("discriminator"))
def test_every_registered_discriminator_trains(name):
    d = create_model(name, base_channels=8)
    x = torch.rand(4, 3, 64, 64) * 2 - 1
    outs = d(x, torch.tensor([0, 1, 2, 3])) if name == "patch_local" else d(x)
    assert all(o.dim() == 4 and o.shape[:2] == (4, 1) and torch.isfinite(o).all() for o in outs)
    sum(o.pow(2).mean() for o in outs).backward()
    _assert_grads_reach_every_parameter(d)


@pytest.mark.parametrize("spectral_norm", [True, False])
@pytest.mark.parametrize("num_scales", [2, 3])
def test_multiscale_shapes_and_gradients(num_scales, spectral_norm):
    d = MultiScalePatchDiscriminator(num_scales=num_scales, base_channels=8, spectral_norm=spectral_norm)
    x = torch.rand(2, 3, 128, 128) * 2 - 1
    outs = d(x)
    assert isinstance(outs, list) and len(outs) == num_scales
    # PatchGAN with 3 layers: 128 -> 64 -> 32 -> 16 -> 15 (stride-1 conv) -> 14 logits
    expected = [14, 6, 2][:num_scales]
    assert [tuple(o.shape) for o in outs] == [(2, 1, s, s) for s in expected]
    sum(o.mean() for o in outs).backward()
    _assert_grads_reach_every_parameter(d)


def test_patch_receptive_field_is_local():
    d = PatchDiscriminator(base_channels=8, num_layers=3, spectral_norm=False).eval()
    x = torch.zeros(1, 3, 256, 256, requires_grad=True)
    d(x)[0, 0, 0, 0].backward()
    ys, xs = torch.nonzero(x.grad.abs().sum(dim=(0, 1)), as_tuple=True)
    assert ys.max() < 70 and xs.max() < 70  # one logit sees at most a 70x70 patch


@pytest.mark.parametrize("crop", [32, 48, 64])
def test_local_shapes_and_gradients(crop):
    d = LocalPatchDiscriminator(base_channels=8)
    assert d.num_parts == len(PART_NAMES) == 4
    crops = torch.rand(6, 3, crop, crop) * 2 - 1
    parts = torch.tensor([0, 1, 2, 3, 0, 2])
    (out,) = d(crops, parts)
    assert out.shape == (6, 1, crop // 4 - 2, crop // 4 - 2)
    out.mean().backward()
    _assert_grads_reach_every_parameter(d)


def test_local_part_embedding_changes_the_decision():
    torch.manual_seed(0)
    d = LocalPatchDiscriminator(base_channels=8, spectral_norm=False).eval()
    crop = torch.rand(1, 3, 32, 32).expand(4, 3, 32, 32)
    (out,) = d(crop, torch.arange(4))
    assert (out[0] - out[1]).abs().max() > 1e-4  # same pixels, different parts -> different logits
    with pytest.raises(ValueError):
        d(crop)


def test_local_without_embedding():
    d = LocalPatchDiscriminator(num_parts=0, base_channels=8)
    (out,) = d(torch.rand(3, 3, 32, 32))
    assert out.shape == (3, 1, 6, 6) and d.embed is None


def test_spectral_norm_bounds_the_weights():
    d = MultiScalePatchDiscriminator(num_scales=1, base_channels=8).train()
    x = torch.rand(1, 3, 64, 64)
    for _ in range(10):  # power iterations converge while the module runs in training mode
        d(x)
    conv = d.scales[0].features[2]
    w = conv.weight.detach().flatten(1)
    assert torch.linalg.matrix_norm(w, ord=2) == pytest.approx(1.0, abs=0.05)
