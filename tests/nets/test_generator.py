"""GeoGenerator: every registered size, warp paths, budget, ONNX export parity."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch

from geostyle.nets.blocks import identity_grid, warp
from geostyle.nets.flops import count_flops
from geostyle.nets.generator import DEFAULT_GENERATOR, GeoGenerator, export_generator_onnx
from geostyle.nets.registry import create_model, list_models, model_spec

GENERATORS = list_models("generator")


def _randomize(model: torch.nn.Module, seed: int = 0, gain: float = 1.5) -> torch.nn.Module:
    """Replace the near-identity initialisation by large random weights, so the output depends on
    every branch (a test that passes because the residuals are ~0 would prove nothing)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            fan_in = p[0].numel() if p.dim() > 1 else 1
            p.copy_(torch.randn(p.shape, generator=g) * (gain / math.sqrt(fan_in)))
    return model


def _smooth_grid(batch: int, height: int, width: int, strength: float = 0.08, seed: int = 0) -> torch.Tensor:
    """A smooth non-trivial backward map: identity plus a low-frequency sinusoidal displacement."""
    g = torch.Generator().manual_seed(seed)
    base = identity_grid(batch, height, width).clone()
    phase = torch.rand(batch, 1, 1, 2, generator=g) * 6.28
    x, y = base[..., :1], base[..., 1:]
    return base + strength * torch.sin(2.5 * torch.cat([y, x], dim=-1) + phase)


def test_registry_lists_the_sizes_and_default():
    assert {"geo_mobile_s", "geo_mobile", "geo_mobile_l"} <= set(GENERATORS)
    assert DEFAULT_GENERATOR in GENERATORS


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("mode", ["no_grid", "feature_warp", "feature_warp_level3", "pixel_warp"])
def test_forward_backward_reaches_every_parameter(name, mode):
    torch.manual_seed(0)
    model = create_model(
        name, feature_warp=mode != "pixel_warp", warp_level=3 if mode.endswith("level3") else 2
    )
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    grid = None if mode == "no_grid" else _smooth_grid(2, 32, 32)
    y = model(x, grid)
    assert y.shape == x.shape
    assert torch.isfinite(y).all() and y.abs().max() < 1
    (y * torch.randn_like(y)).sum().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} got no gradient"
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, f"{pname} has an all-zero gradient"


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("warp_level", [2, 3])
def test_identity_grid_equals_no_warp(name, warp_level):
    model = _randomize(create_model(name, feature_warp=True, warp_level=warp_level)).eval()
    x = torch.rand(1, 3, 64, 32) * 2 - 1
    with torch.no_grad():
        plain = model(x)
        assert (plain - x).abs().max() > 0.1  # the randomised network really transforms the image
        full = model(x, identity_grid(1, 64, 32))
        coarse = model(x, identity_grid(1, 16, 8))  # resized inside: still exactly the identity
    torch.testing.assert_close(full, plain, atol=1e-5, rtol=0)
    torch.testing.assert_close(coarse, plain, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", GENERATORS)
def test_identity_grid_equals_no_warp_at_odd_sizes(name):
    """At sizes that are not powers of two, grid_sample's un-normalisation ((x + 1) W - 1) / 2 rounds
    (~1e-6 px); with the default initialisation the output still agrees to 1e-5."""
    torch.manual_seed(0)
    model = create_model(name, feature_warp=True).eval()
    x = torch.rand(2, 3, 40, 56) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(model(x, identity_grid(2, 40, 56)), model(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize(("feature_warp", "warp_level"), [(True, 2), (True, 3), (False, 2)])
def test_warp_is_geometrically_exact_for_translations(feature_warp, warp_level):
    """A translation by 8 px (1 px at 1/8 resolution) commutes with the network away from the borders:
    G(x, T) == T(G(x)). This checks that the field is resized and applied correctly at every level."""
    model = create_model("geo_mobile_s", num_blocks=1, feature_warp=feature_warp, warp_level=warp_level)
    model = _randomize(model).eval()
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    shift = identity_grid(1, 128, 128).clone()
    shift[..., 0] -= 2 * 8 / 128  # content moves 8 px right
    shift[..., 1] -= 2 * 16 / 128  # and 16 px down
    with torch.no_grad():
        warped_inside = model(x, shift)
        warped_after = warp(model(x), shift)
    inner = (slice(None), slice(None), slice(48, 96), slice(48, 96))
    torch.testing.assert_close(warped_inside[inner], warped_after[inner], atol=1e-4, rtol=0)
    # and the warp really moved things (the comparison is not trivially between equal images)
    assert (warped_inside[inner] - model(x)[inner]).abs().max() > 0.05


def test_warped_input_replaces_the_internal_pixel_warp():
    model = _randomize(create_model(DEFAULT_GENERATOR)).eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    grid = _smooth_grid(1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x, grid, warp(x, grid)), model(x, grid), atol=1e-6, rtol=0)


def test_initial_residual_has_no_checkerboard():
    model = create_model(DEFAULT_GENERATOR)
    kernel = model.head.weight  # (w0, C, 2, 2): one kernel per sub-pixel position
    assert torch.equal(kernel, kernel[:, :, :1, :1].expand_as(kernel))


def test_zero_residual_is_identity():
    model = create_model(DEFAULT_GENERATOR).eval()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
        x = torch.rand(1, 3, 16, 16) * 1.9 - 0.95
        torch.testing.assert_close(model(x), x, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", GENERATORS)
def test_parameter_budget(name):
    model = create_model(name)
    assert sum(p.numel() for p in model.parameters()) <= 2_000_000


def test_default_flops_budget_at_512():
    model = create_model(DEFAULT_GENERATOR).eval().to("meta")  # shapes only: no arithmetic runs
    report = count_flops(
        model, torch.zeros(1, 3, 512, 512, device="meta"), identity_grid(1, 512, 512, device="meta")
    )
    assert report.flops <= 2.0e9, f"{report.gflops:.2f} GFLOPs"


def test_spec_roundtrip_rebuilds_identical_model():
    model = create_model("geo_mobile_s", norm="instance", feature_warp=False)
    spec = model_spec(model)
    spec = json.loads(json.dumps(spec))  # what a checkpoint stores
    rebuilt = create_model(spec["arch"], **spec["config"])
    rebuilt.load_state_dict(model.state_dict())
    assert rebuilt.config == model.config and not rebuilt.feature_warp
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    model.eval(), rebuilt.eval()
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), model(x))


@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_norm_options(norm):
    model = create_model("geo_mobile_s", norm=norm)
    assert model(torch.rand(2, 3, 16, 16) * 2 - 1, identity_grid(2, 16, 16)).shape == (2, 3, 16, 16)


def test_bad_inputs_raise():
    model = create_model("geo_mobile_s")
    with pytest.raises(AssertionError):
        model(torch.zeros(3, 16, 16))
    with pytest.raises(AssertionError):
        model(torch.zeros(1, 4, 16, 16))
    with pytest.raises(AssertionError):
        model(torch.zeros(1, 3, 20, 16))
    with pytest.raises(AssertionError):
        model(torch.zeros(1, 3, 16, 16), torch.zeros(1, 16, 16, 3))
    with pytest.raises(AssertionError):
        model(torch.zeros(2, 3, 16, 16), torch.zeros(1, 16, 16, 2))
    with pytest.raises(ValueError):
        model(torch.zeros(1, 3, 16, 16), warped=torch.zeros(1, 3, 16, 16))
    with pytest.raises(AssertionError):
        model(torch.zeros(1, 3, 16, 16), identity_grid(1, 16, 16), torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError):
        GeoGenerator(widths=(8, 16))
    with pytest.raises(ValueError):
        GeoGenerator(warp_level=1)


def _ort_session(path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize(
    ("variant", "gather_warp"),
    [("grid", True), ("grid", False), ("coarse_grid", True), ("warped_input", True), ("no_grid", True)],
)
def test_onnx_export_matches_pytorch(tmp_path, variant, gather_warp):
    import onnx

    # gain 1: activations stay O(10) like a trained network's (gain 1.5 reaches O(1000) and float32
    # rounding differences between the two runtimes then exceed 1e-4)
    model = _randomize(create_model(DEFAULT_GENERATOR), gain=1.0).eval()
    size = 64
    grid_size = (16, 16) if variant == "coarse_grid" else (size, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = export_generator_onnx(
            model,
            tmp_path / "g.onnx",
            size,
            size,
            grid_size=grid_size,
            with_grid=variant != "no_grid",
            warped_input=variant == "warped_input",
            gather_warp=gather_warp,
        )
    onnx.checker.check_model(onnx.load(str(path)))
    session = _ort_session(path)
    x = torch.rand(1, 3, size, size) * 2 - 1
    grid = _smooth_grid(1, *grid_size)
    with torch.no_grad():
        if variant == "no_grid":
            expected, feeds = model(x), {"image": x.numpy()}
        elif variant == "warped_input":
            warped = warp(x, grid)
            expected = model(x, grid, warped)
            feeds = {"image": x.numpy(), "grid": grid.numpy(), "warped": warped.numpy()}
        else:
            expected, feeds = model(x, grid), {"image": x.numpy(), "grid": grid.numpy()}
    assert [i.name for i in session.get_inputs()] == list(feeds)
    (out,) = session.run(["stylized"], feeds)
    assert np.abs(out - expected.numpy()).max() < 1e-4
    assert model.training is False and not model.gather_feature_warp and not model.gather_pixel_warp
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert ("GridSample" in ops) == (variant != "no_grid" and not gather_warp)


def test_monochrome_generator_outputs_gray_and_exports():
    import numpy as np
    import onnxruntime as ort

    from geostyle.nets.registry import create_model

    torch.manual_seed(0)
    g = create_model("geo_mobile_s", monochrome=True).eval()
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        y = g(x)
    assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 1], y[:, 2])
    # At initialisation the residual is small: the output is close to the photo's luma.
    luma = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    assert (y[:, 0] - luma).abs().mean() < 0.1
    assert g.config["monochrome"] is True
    colour = create_model("geo_mobile_s").eval()
    with torch.no_grad():
        assert not torch.equal(colour(x)[:, 0], colour(x)[:, 1])
    import io

    buf = io.BytesIO()
    torch.onnx.export(g, (x,), buf, opset_version=17, input_names=["image"], dynamo=False)
    out = ort.InferenceSession(buf.getvalue()).run(None, {"image": x.numpy()})[0]
    np.testing.assert_allclose(out, y.numpy(), atol=1e-4)


def test_pencil_base_is_the_classical_pencil_filter_and_exports(shared_data):
    """``pencil_sigma``: with a zero residual the generator draws exactly the colour-dodge filter."""
    import io

    import cv2
    import onnxruntime as ort

    from geostyle.eval.baselines import PENCIL_SIGMA, pencil

    photo = cv2.imread(str(shared_data / "styles" / "sketch_cuhk" / "photo" / "f-005-01.jpg"))
    photo = cv2.cvtColor(cv2.resize(photo, (96, 128), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    x = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 127.5 - 1
    g = create_model("geo_mobile_s", monochrome=True, pencil_sigma=PENCIL_SIGMA).eval()
    assert g.config["pencil_sigma"] == PENCIL_SIGMA
    with torch.no_grad():
        g.head.weight.zero_()
        g.head.bias.zero_()
        y = g(x)
    drawn = (y[0, 0].numpy() + 1) * 127.5
    reference = pencil(photo)[..., 0].astype(np.float64)
    below_cap = reference < 0.94 * 255  # the base is capped at 0.9 in [-1, 1] (242 of 255)
    assert below_cap.mean() > 0.2  # the photo has real strokes to compare
    assert np.abs(drawn - reference)[below_cap].mean() < 1.0
    assert drawn.max() <= 242.3
    gray = photo.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    assert np.abs(drawn - gray).mean() > 20  # a drawing, not the photo's luma
    buf = io.BytesIO()
    torch.onnx.export(g, (x,), buf, opset_version=17, input_names=["image"], dynamo=False)
    out = ort.InferenceSession(buf.getvalue()).run(None, {"image": x.numpy()})[0]
    np.testing.assert_allclose(out, y.numpy(), atol=1e-4)


def test_pencil_base_needs_a_monochrome_generator():
    with pytest.raises(ValueError, match="monochrome"):
        create_model("geo_mobile_s", pencil_sigma=0.02)
    with pytest.raises(ValueError, match="pencil_sigma"):
        create_model("geo_mobile_s", monochrome=True, pencil_sigma=-1.0)
    assert "pencil_sigma" not in create_model("geo_mobile_s", monochrome=True).config


def _box_reference(a: np.ndarray, r: int) -> np.ndarray:
    """Window mean with windows cut at the border, by explicit loops (float64)."""
    h, w = a.shape
    out = np.empty_like(a)
    for i in range(h):
        for j in range(w):
            out[i, j] = a[max(0, i - r) : i + r + 1, max(0, j - r) : j + r + 1].mean()
    return out


def test_box_mean_and_guided_smooth_match_a_reference():
    from geostyle.nets.blocks import box_mean, guided_smooth

    rng = np.random.default_rng(0)
    img = rng.uniform(-1, 1, (1, 3, 12, 17))
    t = torch.from_numpy(img)
    np.testing.assert_allclose(box_mean(t, 2)[0, 1].numpy(), _box_reference(img[0, 1], 2), atol=1e-12)
    # guided filter (He et al. 2010) with the luma as guide, written out with the reference box
    eps, r = 0.05, 2
    g = 0.299 * img[0, 0] + 0.587 * img[0, 1] + 0.114 * img[0, 2]
    for c in range(3):
        p = img[0, c]
        mg, mp = _box_reference(g, r), _box_reference(p, r)
        a = (_box_reference(g * p, r) - mg * mp) / (_box_reference(g * g, r) - mg * mg + eps)
        b = mp - a * mg
        ref = _box_reference(a, r) * g + _box_reference(b, r)
        np.testing.assert_allclose(guided_smooth(t, r, eps)[0, c].numpy(), ref, atol=1e-10)
    # a flat image stays flat; a step edge survives a small eps
    flat = torch.full((1, 3, 9, 9), 0.3, dtype=torch.float64)
    assert torch.allclose(guided_smooth(flat, 2, 0.01), flat)
    step = torch.cat([torch.full((1, 3, 9, 5), -0.8), torch.full((1, 3, 9, 5), 0.8)], dim=-1).double()
    out = guided_smooth(step, 2, 1e-4)
    assert float(out[..., 0].max()) < -0.75 and float(out[..., -1].min()) > 0.75


def test_box_mean_running_sums_and_exported_pooling_agree(tmp_path):
    """Eager PyTorch sums shifted views (radius <= 8) or running sums, exported graphs average
    pooling: the same window means (to float32 rounding) at radii up to and beyond the image size,
    and the exported graph has no CumSum."""
    import onnx
    import onnxruntime as ort

    from geostyle.nets.blocks import box_mean, pooled_box_filters

    class Box(torch.nn.Module):
        def __init__(self, r: int) -> None:
            super().__init__()
            self.r = r

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return box_mean(x, self.r)

    rng = np.random.default_rng(1)
    cases = (((2, 3, 40, 33), 3), ((1, 1, 9, 30), 6), ((1, 1, 5, 7), 8), ((1, 3, 20, 21), 9), ((1, 2, 16, 16), 15))
    for shape, r in cases:
        x = torch.from_numpy(rng.uniform(-1, 1, shape).astype(np.float32))
        ref = np.stack([[_box_reference(c.astype(np.float64), r) for c in b] for b in x.numpy()])
        eager = box_mean(x, r).numpy()
        traced = torch.jit.trace(Box(r), x)(x).numpy()
        with pooled_box_filters():
            pooled = box_mean(x, r).numpy()
        for out in (eager, traced, pooled):
            assert np.abs(out - ref).max() < 2e-6
    # One square pool up to a 31-pixel window (in ONNX Runtime cheaper than a row pass and a column
    # pass), the two passes beyond (where its square pooling is ~15x slower); never running sums.
    for r, pools in ((3, 1), (15, 1), (16, 2)):
        path = tmp_path / f"box{r}.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(Box(r), (torch.zeros(1, 3, 40, 36),), str(path), opset_version=17, dynamo=False)
        x = rng.uniform(-1, 1, (1, 3, 40, 36)).astype(np.float32)
        ref = np.stack([[_box_reference(c.astype(np.float64), r) for c in b] for b in x])
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        assert np.abs(session.run(None, {session.get_inputs()[0].name: x})[0] - ref).max() < 2e-6
        ops = [n.op_type for n in onnx.load(str(path)).graph.node]
        assert ops.count("AveragePool") == pools and "CumSum" not in ops, (r, ops)


def test_fast_guided_smooth_is_close_to_the_exact_filter(shared_data):
    """``subsample=2`` (coefficients on a half-size copy) against the exact filter on a real portrait:
    the difference is a tenth of what the filter changes."""
    import cv2

    from geostyle.nets.blocks import guided_smooth

    path = sorted((shared_data / "photos" / "celebahq").glob("*.jpg"))[0]
    img = cv2.cvtColor(cv2.resize(cv2.imread(str(path)), (256, 256)), cv2.COLOR_BGR2RGB)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 127.5 - 1
    exact, fast = guided_smooth(x, 4, 0.01), guided_smooth(x, 4, 0.01, subsample=2)
    assert float((exact - fast).abs().mean()) < 0.15 * float((exact - x).abs().mean())
    assert fast.shape == x.shape


def test_cartoon_base_is_flat_with_lines_and_exports(shared_data):
    """``cartoon_base``: with a zero residual the generator draws the in-graph cartoon filter: the
    lightness on the quantisation grid, dark lines on a minority of pixels, ONNX parity."""
    import io

    import cv2
    import onnxruntime as ort

    from geostyle.nets.blocks import cartoon_base

    photo = cv2.imread(str(shared_data / "photos" / "selfie" / "female_13582.jpg"))
    photo = cv2.cvtColor(cv2.resize(photo, (128, 128), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    x = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 127.5 - 1
    g = create_model("geo_mobile_s", cartoon_base=True).eval()
    assert g.config["cartoon_base"] is True
    with torch.no_grad():
        g.head.weight.zero_()
        g.head.bias.zero_()
        y = g(x)
        base = cartoon_base(x)
        no_lines = cartoon_base(x, line_strength=0.0)
    np.testing.assert_allclose(y.numpy(), base.clamp(-0.999, 0.999).numpy(), atol=2e-3)
    luma = (0.299 * no_lines[0, 0] + 0.587 * no_lines[0, 1] + 0.114 * no_lines[0, 2]).numpy()
    grid = (luma + 1.0) / 0.2 - 0.5  # 10 levels: centres at integers
    assert np.mean(np.abs(grid - np.round(grid)) < 1e-3) > 0.9
    lines = (base - no_lines).abs().amax(1)[0].numpy() > 0.05
    assert 0.02 < lines.mean() < 0.3  # lines at structure, not everywhere
    assert float(base.mean(1)[0].numpy()[lines].mean()) < float(base.mean(1)[0].numpy()[~lines].mean()) - 0.3
    assert float((base - x).abs().mean()) > 0.05  # a drawing, not the photo
    buf = io.BytesIO()
    torch.onnx.export(g, (x,), buf, opset_version=17, input_names=["image"], dynamo=False)
    out = ort.InferenceSession(buf.getvalue()).run(None, {"image": x.numpy()})[0]
    np.testing.assert_allclose(out, y.numpy(), atol=1e-3)
    with pytest.raises(ValueError, match="monochrome"):
        create_model("geo_mobile_s", cartoon_base=True, monochrome=True)


def test_cartoon_base_carries_no_gradient_and_a_precomputed_one_is_the_same(shared_data):
    """The base is a fixed filter of the input: with a zero residual the output is the base, and the
    input gets no gradient through it (with the head alive, it gets one through the encoder). The
    base a caller computed once (training shares it with the dense target) gives the same output."""
    import cv2

    from geostyle.nets.blocks import cartoon_base

    photo = cv2.imread(str(shared_data / "photos" / "selfie" / "female_13582.jpg"))
    photo = cv2.cvtColor(cv2.resize(photo, (64, 64), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    x = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 127.5 - 1
    grid = identity_grid(1, 64, 64) + 0.05 * torch.sin(3 * identity_grid(1, 64, 64)).flip(-1)
    g = create_model("geo_mobile_s", cartoon_base=True)
    with torch.no_grad():
        g.head.weight.zero_()
        g.head.bias.zero_()
    xin = x.clone().requires_grad_(True)
    g(xin, grid).sum().backward()
    assert xin.grad is not None and float(xin.grad.abs().max()) == 0.0
    with torch.no_grad():
        g.head.weight.normal_(0.0, 0.1)
    xin.grad = None
    g(xin, grid).sum().backward()
    assert xin.grad is not None and float(xin.grad.abs().max()) > 0.0  # through the encoder and skip
    g.eval()
    with torch.no_grad():
        drawn = cartoon_base(warp(x, grid))
        torch.testing.assert_close(g(x, grid, drawn=drawn), g(x, grid), atol=0, rtol=0)
        torch.testing.assert_close(g(x, drawn=cartoon_base(x)), g(x), atol=0, rtol=0)
        # A wrong base shows: the argument is used, not ignored.
        assert float((g(x, grid, drawn=torch.zeros_like(x)) - g(x, grid)).abs().max()) > 0.1
    with pytest.raises(ValueError, match="has none"):
        create_model("geo_mobile_s")(x, grid, drawn=drawn)
    with pytest.raises(ValueError, match="has none"):
        create_model("geo_mobile_s")(x, drawn=drawn)


def test_soft_levels_ramp_across_a_boundary_and_stay_flat_inside():
    """``soft_levels``: a grey ramp comes out at the level's centre in the middle of each level (as
    the hard quantisation), but crosses each boundary in a ramp instead of a step of a whole level,
    so a lightness that drifts across a boundary moves the drawing a little, not by a level."""
    from geostyle.nets.blocks import cartoon_base

    ramp = torch.linspace(-0.95, 0.95, 256).expand(1, 3, 64, 256).contiguous()
    hard = cartoon_base(ramp, line_strength=0.0)[0, 0, 32]
    soft = cartoon_base(ramp, line_strength=0.0, soft_levels=2.0)[0, 0, 32]
    sharp = cartoon_base(ramp, line_strength=0.0, soft_levels=30.0)[0, 0, 32]
    jump = lambda row: float(row.diff().abs().max())  # noqa: E731
    assert jump(hard) > 0.19  # a whole level (0.2) between two neighbours
    assert jump(soft) < 0.06  # the ramp: a few neighbours share the step
    centres = torch.isclose(((hard + 1.0) / 0.2 - 0.5), torch.round((hard + 1.0) / 0.2 - 0.5), atol=1e-4)
    assert bool(centres.all())
    # In a level's middle third both are at the centre; far sharper, the soft form is the hard one.
    level_pos = ((ramp[0, 0, 32] + 1.0) / 0.2) % 1.0
    middle = (level_pos > 0.4) & (level_pos < 0.6)
    torch.testing.assert_close(soft[middle], hard[middle], atol=0.02, rtol=0)
    assert float((sharp - hard).abs().gt(0.05).float().mean()) < 0.03


def test_cartoon_base_above_256_px_exports_with_parity():
    """The reduced-copy path (frames above 256 px) in ONNX Runtime equals PyTorch."""
    import io

    import onnxruntime as ort

    from geostyle.nets.blocks import cartoon_base

    class Base(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return cartoon_base(x)

    x = torch.rand(1, 3, 512, 384, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        y = Base()(x)
    buf = io.BytesIO()
    torch.onnx.export(Base(), (x,), buf, opset_version=17, input_names=["image"], dynamo=False)
    out = ort.InferenceSession(buf.getvalue()).run(None, {"image": x.numpy()})[0]
    # quantisation can flip a pixel to the next level where float rounding differs
    assert np.mean(np.abs(out - y.numpy()) < 1e-3) > 0.995


def test_cartoon_base_reduced_copy_stays_close_to_the_exact_filter(shared_data):
    """Above 384 px the whole filter runs on a half-size copy and is upsampled once: exactly the
    exact filter of the pooled copy (the drawing a 256 px crop gets). Against the exact full-size
    filter, all channels: the bundled 512 px portrait (native resolution) 0.039 mean, 3.6 % of
    pixels off by a quarter of the range; 256 px selfies upscaled to 512 (no detail beyond 256 px
    to lose) 0.014-0.016 for the three used here, 0.013-0.029 over eight; its lines kept (softened
    by the upsampling at their edges: at least 0.91 of the exact filter's line pixels here)."""
    import cv2
    import torch.nn.functional as F

    from geostyle.data.images import load_image
    from geostyle.infer.demo import EXAMPLE
    from geostyle.nets.blocks import cartoon_base, pooled_box_filters

    portrait = load_image(EXAMPLE)
    assert portrait.shape[:2] == (512, 512)
    selfies = sorted((shared_data / "photos" / "selfie").glob("*.jpg"))[:3]
    images = [(portrait, 0.05, 0.05)] + [
        (cv2.resize(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), (512, 512)), 0.03, 0.02) for p in selfies
    ]
    for image, mean_limit, share_limit in images:
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 127.5 - 1
        with torch.no_grad(), pooled_box_filters():
            exact, reduced = cartoon_base(x, exact=True), cartoon_base(x)
            no_lines = cartoon_base(x, line_strength=0.0)
            half = cartoon_base(F.avg_pool2d(x, 2), exact=True)
            single = cartoon_base(x, passes=1)
        upsampled = F.interpolate(half, size=(512, 512), mode="bilinear", align_corners=False)
        torch.testing.assert_close(reduced, upsampled, atol=1e-6, rtol=0)
        off = (reduced - exact).abs()
        assert off.mean() < mean_limit and (off > 0.25).float().mean() < share_limit
        # Lines are drawn (the line-free filter is far from both where the lines are).
        drawn = (exact - cartoon_base(x, exact=True, line_strength=0.0)).abs() > 0.5
        assert drawn.float().mean() > 0.01
        assert ((reduced - no_lines).abs() > 0.3)[drawn].float().mean() > 0.85
        # One smoothing pass is another drawing, though a near one.
        assert 0.005 < (single - reduced).abs().mean() < 0.04
    with pytest.raises(ValueError, match="passes"):
        cartoon_base(x, passes=0)


def test_a_painted_base_has_smooth_shading_soft_lines_and_survives_a_release(shared_data, tmp_path):
    """``base_levels=0, base_lines=0.3`` (the paint preset): the base keeps smooth lightness (many
    grey levels, where the quantised cartoon base has about ten) and draws softer lines; the two
    settings travel in the release's config."""
    import cv2

    from geostyle.nets.release import load_release, save_release

    image = cv2.resize(cv2.cvtColor(cv2.imread(str(next((shared_data / "photos" / "selfie").glob("*.jpg")))), cv2.COLOR_BGR2RGB), (256, 256))
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1
    paint = create_model("geo_mobile_s", cartoon_base=True, base_levels=0, base_lines=0.3).eval()
    cartoon = create_model("geo_mobile_s", cartoon_base=True).eval()
    with torch.no_grad():
        soft, flat = paint.draw_base(x), cartoon.draw_base(x)
    def on_levels(base):  # share of pixels whose lightness sits on one of the ten quantised levels
        lightness = 0.299 * base[0, 0] + 0.587 * base[0, 1] + 0.114 * base[0, 2]
        step = 0.2
        centre = torch.floor((lightness + 1) / step) * step + step / 2 - 1
        return ((lightness - centre).abs() < 0.01).float().mean().item()

    assert on_levels(flat) > 0.5 and on_levels(soft) < 0.2, (on_levels(flat), on_levels(soft))
    assert soft.min() > flat.min()  # on this photo the softer lines stay lighter than the cartoon's
    assert paint.config["base_levels"] == 0 and paint.config["base_lines"] == 0.3
    assert "base_levels" not in cartoon.config  # defaults stay out of older configs
    path = tmp_path / "paint.safetensors"
    save_release(path, paint, arch="geo_mobile_s", arch_kwargs=paint.config, geometry=None, resolution=256)
    again = load_release(path).generator.eval()
    with torch.no_grad():
        torch.testing.assert_close(again.draw_base(x), soft, atol=0, rtol=0)
    with pytest.raises(ValueError, match="cartoon_base=True"):
        create_model("geo_mobile_s", base_levels=0)
    with pytest.raises(ValueError, match="base_lines"):
        create_model("geo_mobile_s", cartoon_base=True, base_lines=2.0)


def test_above_384_px_the_decode_lifts_the_reduced_base_before_upsampling():
    """At 512 px a cartoon-base generator returns tanh(upsampled atanh(reduced drawing) + head):
    the decode's addition formula moved before the base's one resize; within ~1 % of the formula
    on the upsampled base (the lines' edges differ), and the same network in both."""
    import torch.nn.functional as F

    from geostyle.nets.blocks import cartoon_base

    torch.manual_seed(0)
    g = create_model("geo_mobile_s", cartoon_base=True).eval()
    x = torch.rand(1, 3, 512, 512, generator=torch.Generator().manual_seed(2)) * 2 - 1
    x = F.interpolate(F.avg_pool2d(x, 16), size=(512, 512), mode="bilinear", align_corners=False)  # shapes, not noise
    with torch.no_grad():
        out = g(x)
        e2 = g.down2(g.stem(x))
        h = g.up1(g.up2(g.body(g.down3(e2)), e2), g.detail(x))
        small = cartoon_base(F.avg_pool2d(x, 2), exact=True).clamp(-1 + 1e-3, 1 - 1e-3)
        lifted = F.interpolate(torch.atanh(small), size=(512, 512), mode="bilinear", align_corners=False)
        torch.testing.assert_close(out, torch.tanh(lifted + g.head(h)), atol=1e-5, rtol=0)
        b, t = cartoon_base(x).clamp(-1 + 1e-3, 1 - 1e-3), torch.tanh(g.head(h))
        assert (out - (b + t) / (1 + b * t)).abs().mean() < 0.01
        # a caller's full-size drawing (training shares one) does not change the output up here
        torch.testing.assert_close(g(x, drawn=g.draw_base(x)), out, atol=0, rtol=0)
        # and the reduced drawing is the generator's own: passes, levels and line strength kept
        painted = create_model("geo_mobile_s", cartoon_base=True, base_passes=1, base_levels=0, base_lines=0.3).eval()
        e2 = painted.down2(painted.stem(x))
        h = painted.up1(painted.up2(painted.body(painted.down3(e2)), e2), painted.detail(x))
        small = cartoon_base(F.avg_pool2d(x, 2), levels=0, line_strength=0.3, exact=True, passes=1)
        lifted = F.interpolate(torch.atanh(small.clamp(-1 + 1e-3, 1 - 1e-3)), size=(512, 512), mode="bilinear", align_corners=False)
        torch.testing.assert_close(painted(x), torch.tanh(lifted + painted.head(h)), atol=1e-5, rtol=0)


def test_base_passes_draws_one_smoothing_pass_and_travels_in_the_release(tmp_path):
    """``base_passes=1`` (the lighter anime base): the generator draws the one-pass filter, the
    setting is in the release's config (and only when not the default), and bad values are refused."""
    from geostyle.nets.blocks import cartoon_base
    from geostyle.nets.release import load_release, save_release

    x = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(1)) * 2 - 1
    light = create_model("geo_mobile_s", cartoon_base=True, base_passes=1).eval()
    with torch.no_grad():
        torch.testing.assert_close(light.draw_base(x), cartoon_base(x, passes=1), atol=0, rtol=0)
        assert (light.draw_base(x) - cartoon_base(x)).abs().mean() > 0.005
    assert light.config["base_passes"] == 1
    assert "base_passes" not in create_model("geo_mobile_s", cartoon_base=True).config
    path = tmp_path / "light.safetensors"
    save_release(path, light, arch="geo_mobile_s", arch_kwargs=light.config, geometry=None, resolution=256)
    with torch.no_grad():
        torch.testing.assert_close(load_release(path).generator.eval().draw_base(x), light.draw_base(x), atol=0, rtol=0)
    with pytest.raises(ValueError, match="base_passes"):
        create_model("geo_mobile_s", base_passes=1)
    with pytest.raises(ValueError, match="base_passes"):
        create_model("geo_mobile_s", cartoon_base=True, base_passes=0)


@pytest.mark.parametrize("kwargs", [{"monochrome": True, "pencil_sigma": 0.02}, {"cartoon_base": True}])
def test_the_fixed_base_is_drawn_in_float32_under_bfloat16_autocast(shared_data, kwargs):
    """Training autocasts the generator to bfloat16; its base (the pencil drawing's blur is a
    convolution) must still be the float32 filter the exported graph draws. With the output head
    zeroed the generator returns its base exactly."""
    import cv2

    path = next((shared_data / "photos" / "selfie").glob("*.jpg"))
    image = cv2.resize(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB), (128, 128))
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1
    g = create_model("geo_mobile_s", **kwargs).eval()
    with torch.no_grad():
        g.head.weight.zero_()
        assert g.head.bias is not None
        g.head.bias.zero_()
        plain = g(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = g(x)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, plain, atol=1e-6, rtol=0)


def _released_and_exported(g: torch.nn.Module, tmp_path, name: str) -> torch.nn.Module:
    """``g`` (a 128 px generator) saved as a release and loaded back, giving the same output on the
    step photo to the bit, and exported to ONNX, giving it to 1e-3 in ONNX Runtime; the loaded
    generator, for its settings."""
    import onnxruntime as ort

    from geostyle.nets.release import load_release, save_release

    x = _step_photo(128)
    path = tmp_path / f"{name}.safetensors"
    save_release(path, g, arch="geo_mobile_s", arch_kwargs=g.config, geometry=None, resolution=128)
    back = load_release(path).generator.eval()
    with torch.no_grad():
        y = g(x)
        torch.testing.assert_close(back(x), y, atol=0, rtol=0)
    onnx = export_generator_onnx(g, tmp_path / f"{name}.onnx", 128, 128, with_grid=False)
    out = ort.InferenceSession(str(onnx)).run(None, {"image": x.numpy()})[0]
    np.testing.assert_allclose(out, y.numpy(), atol=1e-3)
    return back


def _step_photo(size: int) -> torch.Tensor:
    """A grey photo with a dark square in the middle: edges on four sides, flat elsewhere."""
    x = torch.full((1, 3, size, size), 0.6)
    q = size // 4
    x[..., q : 3 * q, q : 3 * q] = -0.6
    return x


def test_ink_lines_follow_the_dark_side_of_edges_only():
    """``ink_lines``: near 1 just inside the dark square's edge, 0 on the flat grey, the flat dark
    square's middle and the bright side of the edge."""
    from geostyle.nets.blocks import ink_lines

    lines = ink_lines(_step_photo(64))[0, 0]
    assert lines.shape == (64, 64)
    assert float(lines[32, 16]) > 0.9 and float(lines[16, 32]) > 0.9  # first dark pixel at the left / top edge
    assert float(lines[32, 15]) < 0.05  # first bright pixel: the line is on the dark side
    assert float(lines[32, 32]) < 1e-6 and float(lines[4, 4]) < 1e-6  # flat regions draw nothing
    assert float(ink_lines(torch.full((1, 3, 32, 32), 0.3)).abs().max()) < 1e-6


def test_ink_lines_smooth_a_noisy_photos_grain_away_and_keep_its_edges():
    """A photo's noise (blotches about two pixels across, 7.5 levels: a dim room's JPEG) peppers
    unsmoothed ink with dots across the flat grey; the default grain smoothing draws almost none
    there, and the dark square's edge keeps its line at full strength. Also the smoothing alone: a
    flat noisy patch comes out near its mean, a step keeps its two sides."""
    import torch.nn.functional as F

    from geostyle.nets.blocks import INK_GRAIN, ink_lines, smooth_grain

    assert INK_GRAIN > 0
    noise = torch.randn(1, 1, 65, 65, generator=torch.Generator().manual_seed(0))
    noise = F.interpolate(noise, scale_factor=2, mode="bilinear", align_corners=False)[..., :128, :128] * (12.0 / 127.5)
    x = _step_photo(128) + noise
    flat = torch.zeros(128, 128, dtype=torch.bool)
    flat[:20, :] = True  # the grey above the square, well away from its edges
    raw, smoothed = ink_lines(x, grain=0.0)[0, 0], ink_lines(x)[0, 0]
    assert float((raw[flat] > 0.5).float().mean()) > 0.02  # the noise is drawn as dots
    assert float((smoothed[flat] > 0.5).float().mean()) < 0.2 * float((raw[flat] > 0.5).float().mean())
    assert float(smoothed[64, 33:36].max()) > 0.9 and float(smoothed[33:36, 64].max()) > 0.9  # the edges stay
    grain = torch.randn(1, 1, 32, 32, generator=torch.Generator().manual_seed(1)) * (6.0 / 127.5)
    lightness = 0.2 + grain  # pixel-fine grain of 6 levels
    assert float((smooth_grain(lightness) - 0.2).abs().mean()) < 0.5 * float(grain.abs().mean())  # 0.41
    step = torch.full((1, 1, 32, 32), 0.6)
    step[..., 16:] = -0.6
    out = smooth_grain(step)
    assert float(out[0, 0, 8, 8]) > 0.59 and float(out[0, 0, 8, 24]) < -0.59
    assert float((out[0, 0, :, 14] - out[0, 0, :, 17]).min()) > 0.9  # the step is still a step
    torch.testing.assert_close(smooth_grain(lightness, 0.0), lightness)


@pytest.mark.parametrize("size", [128, 512])  # 512: the decode on the reduced cartoon base
def test_ink_darkens_the_output_along_the_photos_lines_and_nowhere_else(size):
    """``ink``: the same weights give the same output away from the photo's lines and a darker one
    on them, by the set share (ink 1 draws black); in both decode paths (above 384 px the lines are
    drawn on the photo reduced as the cartoon base is, and upsampled: twice as wide at 512 px as at
    256); the release keeps it."""
    import torch.nn.functional as F

    from geostyle.nets.blocks import base_reduction, ink_lines

    x = _step_photo(size)
    plain = _randomize(create_model("geo_mobile_s", cartoon_base=True)).eval()
    inked = create_model("geo_mobile_s", cartoon_base=True, ink=0.6).eval()
    inked.load_state_dict(plain.state_dict())
    sub = base_reduction(size, size)
    assert sub == (2 if size == 512 else 1)
    with torch.no_grad():
        y0, y1 = plain(x), inked(x)
        lines = ink_lines(x)[0, 0]
        if sub > 1:
            small = ink_lines(F.avg_pool2d(x, sub))
            assert float((lines > 0.5).float().mean()) < 0.7 * float((small > 0.5).float().mean())
            lines = F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)[0, 0]
    flat = lines < 1e-6
    assert flat.float().mean() > 0.8
    torch.testing.assert_close(y1[..., flat], y0[..., flat], atol=1e-6, rtol=0)
    on = lines > 0.9
    assert on.any()
    expected = (y0[..., on] + 1) * (1 - 0.6 * lines[on]) - 1
    torch.testing.assert_close(y1[..., on], expected, atol=1e-5, rtol=0)
    assert float((y0[..., on] - y1[..., on]).mean()) > 0.1
    assert inked.config["ink"] == 0.6 and "ink" not in plain.config
    # draw_ink on something else of the picture's size (a training target) draws the output's lines.
    torch.testing.assert_close(inked.draw_ink(y0, x), y1, atol=1e-5, rtol=0)


def test_ink_travels_in_the_release_exports_and_is_checked(tmp_path):
    """An inked generator survives a release and ONNX export with parity; ink outside [0, 1] or on
    a one-channel generator is refused."""


    g = _randomize(create_model("geo_mobile_s", cartoon_base=True, ink=1.0)).eval()
    assert _released_and_exported(g, tmp_path, "inked").ink == 1.0
    with pytest.raises(ValueError, match="ink"):
        create_model("geo_mobile_s", ink=1.5)
    with pytest.raises(ValueError, match="ink"):
        create_model("geo_mobile_s", channels=1, ink=0.5)


def test_ink_grain_is_a_setting_the_release_carries_when_not_the_default(tmp_path):
    """``ink_grain``: the default (8 levels) is not written into the config, so releases from before
    it draw with it; another value is, survives a release and ONNX export, and changes the ink on
    a noisy photo; values outside [0, 64] are refused."""
    import torch.nn.functional as F

    from geostyle.nets.blocks import INK_GRAIN

    g = _randomize(create_model("geo_mobile_s", cartoon_base=True, ink=1.0)).eval()
    assert g.ink_grain == INK_GRAIN == 8.0 and "ink_grain" not in g.config
    raw = create_model("geo_mobile_s", cartoon_base=True, ink=1.0, ink_grain=0.0).eval()
    raw.load_state_dict(g.state_dict())
    assert raw.config["ink_grain"] == 0.0
    assert _released_and_exported(raw, tmp_path, "raw_ink").ink_grain == 0.0
    noise = torch.randn(1, 1, 65, 65, generator=torch.Generator().manual_seed(0))
    x = _step_photo(128) + F.interpolate(noise, scale_factor=2, mode="bilinear")[..., :128, :128] * (12.0 / 127.5)
    with torch.no_grad():
        assert float((raw(x) - g(x)).abs().max()) > 0.5  # dots drawn only without the smoothing
    g.set_ink_grain(8.0)
    assert "ink_grain" not in g.config
    for bad in (-1.0, 65.0):
        with pytest.raises(ValueError, match="ink_grain"):
            create_model("geo_mobile_s", ink=1.0, ink_grain=bad)


def _nyquist(y: torch.Tensor) -> float:
    """The two-pixel period's amplitude across the columns of ``y`` (B, C, H, W): per row and channel
    the magnitude of ``sum_x y(x) (-1)^x / W``, averaged. A checkerboard's columns add up in phase;
    smooth content and single edges nearly cancel."""
    sign = (-1.0) ** torch.arange(y.shape[-1], dtype=y.dtype)
    return float((y * sign).mean(dim=-1).abs().mean())


def test_smooth_checkerboard_removes_the_two_pixel_period_and_keeps_slower_change():
    from geostyle.nets.blocks import smooth_checkerboard

    ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    checker = ((-1.0) ** (ys + xs)).view(1, 1, 32, 32)
    inner = smooth_checkerboard(checker)[..., 1:-1, 1:-1]
    assert float(inner.abs().max()) < 1e-6  # the period-2 pattern is gone
    ramp = (xs / 31.0).view(1, 1, 32, 32).repeat(1, 3, 1, 1)
    torch.testing.assert_close(smooth_checkerboard(ramp)[..., :, 1:-1], ramp[..., :, 1:-1], atol=1e-6, rtol=0)
    stripes = torch.cos(xs * math.pi / 4).view(1, 1, 32, 32)  # an 8-pixel period keeps most of itself
    assert float(smooth_checkerboard(stripes)[..., 2:-2].abs().max()) > 0.8


def test_smooth_head_removes_a_trained_heads_checkerboard_and_travels_in_the_release(tmp_path):
    """A head whose four sub-pixel kernels differ (as training leaves them) draws a two-pixel
    checkerboard; ``smooth_head`` 1 takes its two-pixel period back to about that of the head with one
    shared kernel; the setting is weight-free, written only when used, survives a release and ONNX
    export, and is refused outside [0, 1]."""
    g = _randomize(create_model("geo_mobile_s", cartoon_base=True)).eval()
    with torch.no_grad():
        g.head.weight.mul_(4.0)  # a strong, uneven head: the four kernels are independent draws
    shared = create_model("geo_mobile_s", cartoon_base=True).eval()
    shared.load_state_dict(g.state_dict())
    with torch.no_grad():
        shared.head.weight.copy_(g.head.weight.mean(dim=(2, 3), keepdim=True).expand_as(g.head.weight))
    smooth = create_model("geo_mobile_s", cartoon_base=True, smooth_head=1.0).eval()
    smooth.load_state_dict(g.state_dict())
    x = _step_photo(128) + 0.2 * torch.sin(torch.arange(128.0) / 3.0)
    with torch.no_grad():
        rough, even, smoothed = (_nyquist(m(x)) for m in (g, shared, smooth))
    assert rough > 5 * even, (rough, even)  # the uneven head's checkerboard
    assert smoothed < 0.01 * rough, (rough, smoothed)  # nearly gone with the filter (the tanh and the base bend it)
    assert smooth.config["smooth_head"] == 1.0 and "smooth_head" not in g.config
    assert _released_and_exported(smooth, tmp_path, "smooth_head").smooth_head == 1.0
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="smooth_head"):
            create_model("geo_mobile_s", smooth_head=bad)


def _rgb01(*colour: float, size: int = 8) -> torch.Tensor:
    """A flat ``(1, 3, size, size)`` image of one RGB colour given in 0-255, in ``[-1, 1]``."""
    return (torch.tensor(colour).view(1, 3, 1, 1) / 255.0 * 2 - 1).expand(1, 3, size, size).clone()


def _tint(image: torch.Tensor) -> torch.Tensor:
    """The colour offset from luma (0-1 scale) of the first pixel of an image in ``[-1, 1]``."""
    from geostyle.nets.blocks import luma

    px = (image[:, :, :1, :1] + 1) / 2
    return (px - luma(px))[0, :, 0, 0]


def test_dark_colour_gives_black_back_its_grey_and_brown_its_hue_at_the_outputs_lightness():
    """``keep_dark_colour``: where the photo is dark the output keeps its lifted luma and its
    saturation but takes the photo's hue; a grey photo leaves a nearly grey output; nothing comes
    out more saturated than the output was; a lit photo leaves the output exactly as it was."""
    from geostyle.nets.blocks import DARK_CHROMA_LIMIT, keep_dark_colour, luma

    green = _rgb01(70, 100, 90)  # the anime residual's lifted, green-tinted black
    for photo_rgb, grey in (((20, 20, 22), True), ((60, 40, 28), False)):  # black hair, dark brown
        photo = _rgb01(*photo_rgb)
        out = keep_dark_colour(green, photo, 1.0)
        torch.testing.assert_close(luma((out + 1) / 2), luma((green + 1) / 2), atol=1e-6, rtol=0)
        before, after, wanted = _tint(green), _tint(out), _tint(photo)
        assert float(after.norm()) <= float(before.norm()) + 1e-6
        cosine = float(after @ wanted / (after.norm() * wanted.norm()))
        assert cosine > 0.999  # the photo's hue
        if grey:
            assert float(after.norm()) <= DARK_CHROMA_LIMIT * float(wanted.norm()) + 1e-6
            assert float(after.norm()) < 0.2 * float(before.norm())  # 3.6 levels of blue, not 22 of green
        else:
            torch.testing.assert_close(after.norm(), before.norm(), atol=0, rtol=0.02)  # the output's saturation
        half = keep_dark_colour(green, photo, 0.5)
        torch.testing.assert_close(half, (out + green) / 2, atol=1e-6, rtol=0)
    lit = _rgb01(200, 150, 120)  # skin in light (luma above the ramp)
    torch.testing.assert_close(keep_dark_colour(green, lit, 1.0), green, atol=0, rtol=0)
    torch.testing.assert_close(keep_dark_colour(green, _rgb01(20, 20, 22), 0.0), green, atol=0, rtol=0)
    # Halfway up the ramp: half the correction.
    mid = _rgb01(80, 80, 80)  # luma 80 of 255, the middle of 50-110
    torch.testing.assert_close(keep_dark_colour(green, mid, 1.0), keep_dark_colour(green, _rgb01(20, 20, 20), 0.5), atol=1e-5, rtol=0)


def test_dark_depth_gives_back_the_photos_darkness_only_darker_and_leaves_the_hue():
    """``keep_dark_colour(..., depth)``: where the photo is dark the output's luma moves ``depth`` of
    the way to the photo's, the colour offsets (the hue) as the dark colour left them; an output
    already darker than the photo and a lit photo are left as they were."""
    from geostyle.nets.blocks import keep_dark_colour, luma

    green = _rgb01(70, 100, 90)  # lifted black: luma 89 of 255
    photo = _rgb01(20, 20, 22)
    y_out, y_photo = (float(luma((img + 1) / 2)[0, 0, 0, 0]) for img in (green, photo))
    for share in (0.0, 1.0):
        coloured = keep_dark_colour(green, photo, share)
        for depth in (0.6, 1.0):
            out = keep_dark_colour(green, photo, share, depth)
            got = float(luma((out + 1) / 2)[0, 0, 0, 0])
            assert got == pytest.approx(y_out + depth * (y_photo - y_out), abs=1e-5)
            torch.testing.assert_close(_tint(out), _tint(coloured), atol=1e-6, rtol=0)
    # Halfway up the ramp (luma 80 of 255), half the pull.
    mid = _rgb01(80, 80, 80)
    half = float(luma((keep_dark_colour(green, mid, 0.0, 1.0) + 1) / 2)[0, 0, 0, 0])
    assert half == pytest.approx(y_out + 0.5 * (80 / 255 - y_out), abs=1e-5)
    darker = _rgb01(15, 12, 10)  # the output darker than a dark photo: nothing to give back
    torch.testing.assert_close(keep_dark_colour(darker, photo, 0.0, 1.0), darker, atol=0, rtol=0)
    lit = _rgb01(200, 150, 120)
    torch.testing.assert_close(keep_dark_colour(green, lit, 1.0, 1.0), green, atol=0, rtol=0)


def test_lift_cap_takes_back_part_of_a_lift_beyond_the_cap_and_keeps_the_hue():
    """``cap_lift``: an output 60 levels lighter than the photo comes out 60 - 0.6 (60 - 32) above
    it with a cap of 32, its colour offsets as they were; one 20 levels lighter, one darker than the
    photo and a cap of 0 (off) leave the output as it was."""
    from geostyle.nets.blocks import LIFT_CAP_SHARE, cap_lift, luma

    def levels(image: torch.Tensor) -> float:
        return float(luma((image + 1) / 2)[0, 0, 0, 0]) * 255

    photo = _rgb01(100, 90, 80)
    for lift in (60.0, 20.0, -30.0):
        out = (photo + 2 * lift / 255 + torch.tensor([0.05, -0.02, 0.0]).view(1, 3, 1, 1)).clamp(-1, 1)
        before = levels(out) - levels(photo)
        capped = cap_lift(out, photo, 32)
        expected = before - LIFT_CAP_SHARE * max(before - 32.0, 0.0)
        assert levels(capped) - levels(photo) == pytest.approx(expected, abs=1e-3)
        torch.testing.assert_close(_tint(capped), _tint(out), atol=1e-6, rtol=0)
        if before <= 32:
            torch.testing.assert_close(capped, out, atol=0, rtol=0)
        else:
            assert levels(capped) < levels(out) - 10
    torch.testing.assert_close(cap_lift(photo + 0.5, photo, 0), photo + 0.5, atol=0, rtol=0)


def test_a_generator_caps_its_lift_in_both_decode_paths_and_carries_it(tmp_path):
    """A generator with ``lift_cap`` (alone or after the dark colour and depth): its output is the
    same weights' output with :func:`cap_lift` applied before the ink, in both decode paths; the
    config, a release and an ONNX export carry it; values outside 0-255 and a one-lightness
    generator are refused."""

    from geostyle.nets.blocks import cap_lift, keep_dark_colour

    for size in (128, 512):
        x = _step_photo(size)
        raw = _randomize(create_model("geo_mobile_s", cartoon_base=True)).eval()
        for colour, depth in ((0.0, 0.0), (1.0, 0.6)):
            g = create_model("geo_mobile_s", cartoon_base=True, ink=0.5, dark_colour=colour, dark_depth=depth, lift_cap=16)
            g.load_state_dict(raw.state_dict())
            with torch.no_grad():
                y, plain = g.eval()(x), raw(x)
            expected = g.draw_ink(cap_lift(keep_dark_colour(plain, x, colour, depth), x, 16), x)
            torch.testing.assert_close(y, expected, atol=1e-5, rtol=0)
            assert float((y - g.draw_ink(keep_dark_colour(plain, x, colour, depth), x)).abs().max()) > 0.01
    assert g.config["lift_cap"] == 16 and "lift_cap" not in raw.config
    small = _randomize(create_model("geo_mobile_s", cartoon_base=True, lift_cap=24)).eval()
    assert _released_and_exported(small, tmp_path, "cap").lift_cap == 24
    for bad in ({"lift_cap": 300}, {"lift_cap": -1}, {"channels": 1, "lift_cap": 16}, {"monochrome": True, "lift_cap": 16}):
        with pytest.raises(ValueError, match="lift_cap"):
            create_model("geo_mobile_s", **bad)


def test_clear_light_marks_clears_thin_light_marks_the_photo_lacks_and_nothing_else():
    """``clear_light_marks``: a white dash two pixels wide and a small white dot on dark navy come
    out navy; the same dash where the photo has its own thin light line stays; a light patch five
    pixels wide, a dark line and a dash only 10 levels lighter than its surround stay; half the
    share goes half the way."""
    from geostyle.nets.blocks import clear_light_marks

    navy = torch.tensor([30.0, 40.0, 90.0]).view(1, 3, 1, 1) / 127.5 - 1.0
    photo = navy.expand(1, 3, 32, 48).clone()
    out = photo.clone()
    out[..., 4:16, 6:8] = 1.0  # the dash: 2 px wide, 12 px tall
    out[..., 24:26, 10:12] = 0.9  # a dot
    out[..., 4:16, 20:25] = 0.8  # a patch 5 px wide: a drawn light shape, not a mark
    out[..., 4:16, 30:31] = -1.0  # a dark line
    out[..., 4:16, 36:37] = photo[..., 4:16, 36:37] + 2 * 10 / 255  # a faint dash, 10 levels
    out[..., 4:16, 42:44] = 1.0  # a dash the photo has too (below)
    photo[..., 4:16, 42:43] = 0.95  # the photo's own light line (a strand of hair in light) under the dash
    cleared = clear_light_marks(out, photo, 1.0)
    torch.testing.assert_close(cleared[..., 4:16, 6:8], navy.expand(1, 3, 12, 2), atol=1e-6, rtol=0)
    torch.testing.assert_close(cleared[..., 24:26, 10:12], navy.expand(1, 3, 2, 2), atol=1e-6, rtol=0)
    for columns in (slice(20, 25), slice(30, 31), slice(36, 37), slice(42, 44)):
        torch.testing.assert_close(cleared[..., columns], out[..., columns], atol=0, rtol=0)
    half = clear_light_marks(out, photo, 0.5)
    torch.testing.assert_close(half, (out + cleared) / 2, atol=1e-6, rtol=0)
    torch.testing.assert_close(clear_light_marks(out, photo, 0.0), out, atol=0, rtol=0)


def test_a_generator_clears_light_marks_in_both_decode_paths_and_carries_it(tmp_path):
    """A generator with ``clear_marks``: its output is the same weights' output with
    :func:`clear_light_marks` applied first of the filters after the residual (before the dark
    colour and the ink), in both decode paths; the config, a release and an ONNX export carry it;
    values outside 0-1 and a one-lightness generator are refused."""
    from geostyle.nets.blocks import clear_light_marks, keep_dark_colour

    for size in (128, 512):
        x = _step_photo(size)
        raw = _randomize(create_model("geo_mobile_s", cartoon_base=True)).eval()
        g = create_model("geo_mobile_s", cartoon_base=True, ink=0.5, dark_colour=1.0, dark_depth=0.6, clear_marks=1.0)
        g.load_state_dict(raw.state_dict())
        with torch.no_grad():
            y, plain = g.eval()(x), raw(x)
        expected = g.draw_ink(keep_dark_colour(clear_light_marks(plain, x, 1.0), x, 1.0, 0.6), x)
        torch.testing.assert_close(y, expected, atol=1e-5, rtol=0)
        # The random network's speckle has light marks the step photo lacks: the filter acts.
        assert float((y - g.draw_ink(keep_dark_colour(plain, x, 1.0, 0.6), x)).abs().max()) > 0.05
    assert g.config["clear_marks"] == 1.0
    small = _randomize(create_model("geo_mobile_s", cartoon_base=True, clear_marks=0.5)).eval()
    assert _released_and_exported(small, tmp_path, "marks").clear_marks == 0.5
    for bad in ({"clear_marks": 1.5}, {"clear_marks": -0.1}, {"channels": 1, "clear_marks": 1.0}, {"monochrome": True, "clear_marks": 1.0}):
        with pytest.raises(ValueError, match="clear_marks"):
            create_model("geo_mobile_s", **bad)


def test_dark_colour_has_a_finite_gradient_where_the_output_has_no_colour():
    """A generator trained with the dark colour gets its gradient through it: a pure grey block and
    a block clipped to white (no colour offset, a length of zero) must not give NaN."""
    from geostyle.nets.blocks import keep_dark_colour

    photo = _rgb01(20, 30, 60)
    for value in (0.1, 1.0):
        out = torch.full((1, 3, 8, 8), value, requires_grad=True)
        keep_dark_colour(out, photo, 1.0, 0.6).sum().backward()
        assert out.grad is not None and bool(torch.isfinite(out.grad).all())


@pytest.mark.parametrize("edge", [16, 17])  # between two 2x2 blocks, and through one
def test_dark_colour_is_worked_out_at_half_size_and_reaches_at_most_two_pixels_past_an_edge(edge):
    """The photo dark up to column ``edge``, lit from there on; the output green everywhere. Deep in
    the dark the green turns grey; 3 px and more into the lit side nothing changes; the first lit
    pixel changes a little (the hue is worked out on 2x2 averages and upsampled: at full size it
    would not change at all)."""
    from geostyle.nets.blocks import keep_dark_colour

    photo = _rgb01(20, 20, 20, size=32)
    photo[..., edge:] = _rgb01(150, 150, 150, size=32)[..., edge:]  # lit: above the ramp's 110
    green = _rgb01(70, 100, 90, size=32)
    change = (keep_dark_colour(green, photo, 1.0) - green).abs().amax(dim=1)[0]  # (32, 32)
    deep = float(change[:, : edge - 3].amin())
    assert deep > 0.05 and float(change[:, : edge - 3].amax()) - deep < 1e-6
    assert float(change[:, edge + 2 :].amax()) == 0.0
    assert 0.0 < float(change[:, edge].amin()) < 0.5 * deep


@pytest.mark.parametrize("colour, depth", [(1.0, 0.0), (1.0, 0.6), (0.0, 0.6)])
def test_dark_colour_changes_only_the_darks_travels_in_the_release_and_exports(tmp_path, colour, depth):
    """A generator with ``dark_colour`` and / or ``dark_depth``: the same weights give the same
    output where the photo is lit and the photo's hue and darkness where it is dark, in both decode
    paths; the config, a release and an ONNX export carry them; a one-channel or monochrome
    generator and shares outside [0, 1] are refused."""

    from geostyle.nets.blocks import keep_dark_colour

    for size in (128, 512):
        x = _step_photo(size)  # lit grey (luma 204 of 255) around a dark square (luma 51)
        plain = _randomize(create_model("geo_mobile_s", cartoon_base=True, ink=0.5)).eval()
        kept = create_model("geo_mobile_s", cartoon_base=True, ink=0.5, dark_colour=colour, dark_depth=depth).eval()
        kept.load_state_dict(plain.state_dict())
        plain_ink_off = create_model("geo_mobile_s", cartoon_base=True).eval()
        plain_ink_off.load_state_dict(plain.state_dict())
        with torch.no_grad():
            y0, y1, raw = plain(x), kept(x), plain_ink_off(x)
        q = size // 4
        lit = torch.zeros(size, size, dtype=torch.bool)
        lit[: q - 4], lit[3 * q + 4 :] = True, True
        torch.testing.assert_close(y1[..., lit], y0[..., lit], atol=1e-6, rtol=0)
        dark = slice(q + 8, 3 * q - 8)
        expected = kept.draw_ink(keep_dark_colour(raw, x, colour, depth), x)
        torch.testing.assert_close(y1[..., dark, dark], expected[..., dark, dark], atol=1e-5, rtol=0)
        assert float((y1[..., dark, dark] - y0[..., dark, dark]).abs().max()) > 0.01
    assert kept.config.get("dark_colour", 0.0) == colour and kept.config.get("dark_depth", 0.0) == depth
    assert "dark_colour" not in plain.config and "dark_depth" not in plain.config
    g = _randomize(create_model("geo_mobile_s", cartoon_base=True, dark_colour=0.7 * colour, dark_depth=depth)).eval()
    # At 512 (the decode on the reduced cartoon base) the bundled anime models, which carry the dark
    # colour, are exported and checked in tests/export (face graph in ONNX, frame graph in ncnn).
    back = _released_and_exported(g, tmp_path, "dark")
    assert (back.dark_colour, back.dark_depth) == (0.7 * colour, depth)
    for name in ("dark_colour", "dark_depth"):
        for bad in ({name: 1.5}, {name: -0.1}, {"channels": 1, name: 0.5}, {"monochrome": True, name: 0.5}):
            with pytest.raises(ValueError, match=name):
                create_model("geo_mobile_s", **bad)
