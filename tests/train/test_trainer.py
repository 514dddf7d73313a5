"""Real (tiny) training runs: losses move, resume is exact, DDP runs with gloo."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from geostyle.train import checkpoint as ckpt
from geostyle.train.config import load_config
from geostyle.train.run import train
from geostyle.train.stats import read_stats

TINY = [
    "data.resolution=32",
    "train.batch_size=2",
    "train.log_every=1",
    "train.sample_every=1000",
    "train.checkpoint_every=1000",
    "train.release_every=1000",
    "train.num_samples=2",
    "train.ema_start=0",
    "loss.content_resolution=32",
    "geometry.grid_resolution=16",
    "model.discriminator_kwargs={num_scales: 1, base_channels: 8, num_layers: 2}",
    "model.local_discriminator_kwargs={base_channels: 8}",
    "model.generator_kwargs={widths: [8, 8, 16], num_blocks: 1}",
    "model.reverse_generator_kwargs={widths: [8, 8, 16], num_blocks: 1}",
]


def tiny_config(datasets, *extra):
    cfg = load_config(None, TINY + list(extra))
    cfg.data.photos, cfg.data.styles = str(datasets["photo"]), str(datasets["style"])
    return cfg


def test_tiny_run_learns_and_writes_everything(tiny_datasets, tmp_path):
    cfg = tiny_config(tiny_datasets, "train.steps=40", "train.sample_every=40", "train.lr_generator=1e-3")
    final = train(cfg, tmp_path, progress=False)
    stats = read_stats(tmp_path / "stats.jsonl")
    assert [s["step"] for s in stats] == list(range(1, 41))

    def mean(key, part):
        return sum(s[key] for s in part) / len(part)

    # The critic learns to tell photos-turned-style from exemplars (LSGAN starts at 0.5), and the
    # generator leaves the identity it starts from (its output residual is near 0 at initialisation).
    assert mean("d/style", stats[-5:]) < mean("d/style", stats[:5]) - 0.02
    assert mean("g/change", stats[-5:]) > 1.5 * mean("g/change", stats[:5])
    assert all(
        k in stats[-1] for k in ("g/adv", "g/adv_local", "g/content", "g/deform_inv", "d/style", "d/local")
    )
    assert (tmp_path / "samples" / "step-000040.png").is_file()
    assert (tmp_path / "config.yaml").is_file() and (tmp_path / "resume.pt").is_file()
    model = ckpt.load_release(final)
    assert model.resolution == 32 and model.geometry["version"] >= 1
    y = model.generator(torch.zeros(1, 3, 32, 32))
    assert y.shape == (1, 3, 32, 32) and torch.isfinite(y).all()
    assert "default_strength" not in model.metadata["extra"]  # geometry.inference_strength 0: none


def test_inference_strength_is_written_into_the_release(tiny_datasets, tmp_path):
    cfg = tiny_config(tiny_datasets, "train.steps=2", "geometry.inference_strength=0.35")
    final = train(cfg, tmp_path, progress=False)
    assert ckpt.load_release(final).metadata["extra"]["default_strength"] == 0.35


CARTOON_G = "model.generator_kwargs={widths: [8, 8, 16], num_blocks: 1, cartoon_base: true}"
RELEASE = (
    CARTOON_G,
    "release.generator={ink: 1.0, dark_colour: 1.0, dark_depth: 0.6}",
    "release.extra={eyes: 1.0, outline: 0.5, part_gains: {outline: 1.5, brows: 2}}",
)


def test_release_settings_reach_every_release_and_not_the_training(tiny_datasets, tmp_path):
    from geostyle.infer.stylize import Stylizer
    from geostyle.train.trainer import build_trainer

    cfg = tiny_config(tiny_datasets, "train.steps=2", *RELEASE)
    trainer = build_trainer(cfg, tmp_path / "look", progress=False)
    assert trainer.ema.model.ink == 0.0  # trained without the ink: the release alone draws it
    final = train(cfg, tmp_path / "run", progress=False)
    meta = ckpt.read_release_metadata(final)
    assert (meta["arch_kwargs"]["ink"], meta["arch_kwargs"]["dark_colour"], meta["arch_kwargs"]["dark_depth"]) == (1.0, 1.0, 0.6)
    extra = meta["extra"]
    assert (extra["eyes"], extra["outline"], extra["part_gains"]) == (1.0, 0.5, {"outline": 1.5, "brows": 2.0})
    stylizer = Stylizer(final)
    assert (stylizer.ink, stylizer.dark_depth, stylizer.eyes, stylizer.outline) == (1.0, 0.6, 1.0, 0.5)
    assert stylizer.part_gains == {"outline": 1.5, "brows": 2.0}
    # Without the section a release carries the generator's own settings, as before.
    plain = ckpt.read_release_metadata(train(tiny_config(tiny_datasets, "train.steps=2", CARTOON_G), tmp_path / "plain", progress=False))
    assert plain["arch_kwargs"].get("ink", 0.0) == 0.0 and "eyes" not in plain["extra"]


@pytest.mark.parametrize(
    "setting, message",
    [
        ("release.generator={inc: 1.0}", "does not take"),
        ("release.generator={ink: 2.0}", "does not take"),
        ("release.extra={eyes: 1.5}", "between 0 and 1"),
        ("release.extra={glasses: 1.0}", "unknown setting"),
        ("release.extra={part_gains: {ears: 2}}", "unknown face part 'ears'"),
    ],
)
def test_a_bad_release_setting_is_refused_before_the_first_step(tiny_datasets, tmp_path, setting, message):
    from geostyle.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        train(tiny_config(tiny_datasets, "train.steps=2", CARTOON_G, setting), tmp_path, progress=False)
    assert not (tmp_path / "stats.jsonl").exists()


@pytest.mark.parametrize("preset, bundled", [("anime", "anime_large"), ("anime_fast", "anime")])
def test_anime_presets_release_the_bundled_models_drawings(preset, bundled):
    from geostyle.nets.release import read_release_metadata, resolve_model
    from geostyle.train.presets import preset_path

    release = load_config(preset_path(preset)).release
    meta = read_release_metadata(resolve_model(bundled))
    for key, value in release.generator.items():
        assert meta["arch_kwargs"][key] == pytest.approx(value), key
    for key, value in release.extra.items():
        assert meta["extra"][key] == pytest.approx(value), key
    assert {"ink", "dark_colour", "dark_depth"} <= set(release.generator) <= {"ink", "dark_colour", "dark_depth", "smooth_head"}
    assert set(release.extra) == {"eyes", "outline", "exposure", "part_gains"}


# The fast recipe's switches: terms every other step, a cartoon base shared with the target.
EVERY_OTHER = (
    "loss.deformation_every=2",
    "loss.style_cycle_every=2",
    "loss.photo_cycle_every=2",
    "data.target=cartoon",
    "data.target_filter=guided",
    "loss.target=1.0",
    "model.generator_kwargs={widths: [8, 8, 16], num_blocks: 1, cartoon_base: true}",
)


# The presets' speed settings: bfloat16 autocast and channels-last networks.
FAST_NUMERICS = ("train.precision=bf16", "train.channels_last=true")


@pytest.mark.parametrize(
    "recipe", [(), EVERY_OTHER, FAST_NUMERICS], ids=["every-step", "every-other-step", "bf16-channels-last"]
)
def test_resume_matches_uninterrupted_run(tiny_datasets, tmp_path, recipe):
    full = tiny_config(tiny_datasets, "train.steps=6", *recipe)
    train(full, tmp_path / "full", progress=False)
    half = tiny_config(tiny_datasets, "train.steps=3", *recipe)  # stops after a step with the terms
    train(half, tmp_path / "split", progress=False)
    train(tiny_config(tiny_datasets, *recipe), tmp_path / "split", resume=True, progress=False, steps=6)
    a = ckpt.load_resume(tmp_path / "full" / "resume.pt")
    b = ckpt.load_resume(tmp_path / "split" / "resume.pt")
    assert a["step"] == b["step"] == 6
    for key in ("generator", "reverse", "disc_style", "disc_photo", "ema"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name} differs after resume"


def test_ablation_switches_change_the_computation(tiny_datasets, tmp_path):
    cfg = tiny_config(
        tiny_datasets,
        "train.steps=2",
        "geometry.tps_alignment=false",
        "loss.local_adversarial=0",
        "loss.reverse_adversarial=0",
    )
    train(cfg, tmp_path, progress=False)
    stats = read_stats(tmp_path / "stats.jsonl")
    assert "g/adv_local" not in stats[-1] and "d/photo" not in stats[-1]
    saved = json.loads(ckpt.load_resume(tmp_path / "resume.pt")["config"])
    assert saved["geometry"]["tps_alignment"] is False


def test_local_blur_reaches_the_local_critic_in_both_passes(tiny_datasets, tmp_path, monkeypatch):
    from geostyle.errors import ConfigError
    from geostyle.train import losses as L

    # Same seed, same data: only the view of the part crops differs, so both local losses must.
    views: list[tuple[int, float]] = []
    surface_view = L.surface_view
    monkeypatch.setattr(L, "surface_view", lambda c, f: views.append((c.shape[0], f)) or surface_view(c, f))
    runs = {}
    for blur in ("0", "0.2"):
        cfg = tiny_config(tiny_datasets, "train.steps=1", "train.adversarial_warmup=0", f"loss.local_blur={blur}")
        train(cfg, tmp_path / blur, progress=False)
        runs[blur] = read_stats(tmp_path / blur / "stats.jsonl")[-1]
    assert runs["0"]["g/adv"] == pytest.approx(runs["0.2"]["g/adv"])  # the global critic is untouched
    assert runs["0"]["d/local"] != pytest.approx(runs["0.2"]["d/local"], rel=1e-4)
    assert runs["0"]["g/adv_local"] != pytest.approx(runs["0.2"]["g/adv_local"], rel=1e-4)
    # per step: the generator's fake crops, then the critic's real and fake crops, all at one fraction
    assert [f for _, f in views] == [0.0] * 3 + [0.2] * 3 and all(n > 0 for n, _ in views)
    with pytest.raises(ConfigError, match="loss.local_blur"):
        train(tiny_config(tiny_datasets, "train.steps=1", "loss.local_blur=-0.1"), tmp_path / "bad", progress=False)
    with pytest.raises(ConfigError, match="loss.target_tone_cell"):
        train(tiny_config(tiny_datasets, "train.steps=1", "loss.target_tone_cell=0"), tmp_path / "bad2", progress=False)


def test_texture_terms_are_logged_and_trained(tiny_datasets, tmp_path):
    cfg = tiny_config(tiny_datasets, "train.steps=3", "loss.style=1.0", "loss.style_local=1.0")
    train(cfg, tmp_path, progress=False)
    stats = read_stats(tmp_path / "stats.jsonl")
    # Real faces vs real exemplars: their texture statistics differ (each layer's term is in [0, 2]).
    for s in stats:
        assert 0.0 < s["g/style"] < 8.0 and 0.0 < s["g/style_local"] < 8.0
    off = tiny_config(tiny_datasets, "train.steps=1", "loss.style=0", "loss.style_local=0")
    train(off, tmp_path / "off", progress=False)
    assert "g/style" not in read_stats(tmp_path / "off" / "stats.jsonl")[-1]


def test_resume_continues_the_saved_run_and_only_an_explicit_length_extends_it(tiny_datasets, tmp_path):
    from geostyle.errors import CheckpointError

    train(tiny_config(tiny_datasets, "train.steps=2"), tmp_path, progress=False)
    # A preset's (longer) default length must not silently extend a finished run ...
    with pytest.raises(CheckpointError, match="already finished at step 2"):
        train(tiny_config(tiny_datasets, "train.steps=2500"), tmp_path, resume=True, progress=False)
    # ... nor may other settings of the command line change it; an explicit length does extend it.
    other = tiny_config(tiny_datasets, "train.steps=2500", "loss.cycle=99")
    train(other, tmp_path, resume=True, progress=False, steps=3)
    state = ckpt.load_resume(tmp_path / "resume.pt")
    saved = json.loads(state["config"])
    assert state["step"] == 3 and saved["train"]["steps"] == 3 and saved["loss"]["cycle"] != 99


def test_a_second_trainer_on_a_run_directory_in_use_is_refused(tiny_datasets, tmp_path):
    from geostyle.errors import RunInUseError
    from geostyle.train.run import run_directory_lock

    with run_directory_lock(tmp_path):
        with pytest.raises(RunInUseError, match="in use by a running trainer"):
            train(tiny_config(tiny_datasets, "train.steps=1"), tmp_path, progress=False)
    assert not (tmp_path / "resume.pt").exists()
    train(tiny_config(tiny_datasets, "train.steps=1"), tmp_path, progress=False)  # free again
    assert (tmp_path / "resume.pt").exists()


def test_explicit_cpu_device_and_a_missing_gpu(tiny_datasets, tmp_path):
    from geostyle.errors import ConfigError

    train(tiny_config(tiny_datasets, "train.steps=1", "train.device=cpu"), tmp_path, progress=False)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            train(tiny_config(tiny_datasets, "train.steps=1", "train.device=cuda"), tmp_path / "g", progress=False)
    with pytest.raises(ConfigError, match="train.device"):
        train(tiny_config(tiny_datasets, "train.steps=1", "train.device=tpu"), tmp_path / "t", progress=False)


def test_resume_without_checkpoint_is_a_clear_error(tiny_datasets, tmp_path):
    from geostyle.errors import CheckpointError

    with pytest.raises(CheckpointError, match="no resume checkpoint"):
        train(tiny_config(tiny_datasets, "train.steps=2"), tmp_path, resume=True, progress=False)


def test_two_process_ddp_with_gloo(tiny_datasets, tmp_path):
    overrides = TINY + ["train.steps=3"]
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port=29533",
        "-m",
        "geostyle.cli.main",
        "train",
        "--photos",
        str(tiny_datasets["photo"]),
        "--styles",
        str(tiny_datasets["style"]),
        "--run-dir",
        str(tmp_path),
        "--no-progress",
    ]
    for o in overrides:
        cmd += ["--set", o]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = ckpt.load_resume(tmp_path / "resume.pt")
    assert state["step"] == 3
    assert len(read_stats(tmp_path / "stats.jsonl")) == 3  # only rank 0 writes


def test_neutral_target_palette_trains_and_a_wrong_one_is_refused(tiny_datasets, tmp_path):
    from geostyle.errors import ConfigError

    cartoon = ("data.target=cartoon", "data.target_filter=guided", "train.steps=1")
    train(tiny_config(tiny_datasets, *cartoon, "data.target_palette=neutral"), tmp_path / "n", progress=False)
    assert (tmp_path / "n" / "resume.pt").exists()
    with pytest.raises(ConfigError, match="data.target_palette"):
        train(tiny_config(tiny_datasets, *cartoon, "data.target_palette=vivid"), tmp_path / "v", progress=False)


def test_set_target_palette_moves_every_photo_by_the_set_s_statistics(tiny_datasets, tmp_path):
    """``data.target_palette=set``: the trainer measures the photo set once, on G's drawings of the
    photos (the guided target moves those), and every target is moved by that one transfer."""
    from geostyle.train.targets import source_palette
    from geostyle.train.trainer import build_trainer, unwrap

    base = "model.generator_kwargs={widths: [8, 8, 16], num_blocks: 1, cartoon_base: true}"
    cartoon = ("data.target=cartoon", "data.target_filter=guided", "train.steps=1", base)
    tr = build_trainer(tiny_config(tiny_datasets, *cartoon, "data.target_palette=set"), tmp_path / "s", progress=False)
    g = unwrap(tr.nets.generator)
    drawn, plain = source_palette(tr.photos.images, g.draw_base), source_palette(tr.photos.images)
    assert tr.photo_palette is not None
    np.testing.assert_allclose(tr.photo_palette.mean, drawn.mean, atol=1e-9)
    np.testing.assert_allclose(tr.photo_palette.std, drawn.std, atol=1e-9)
    assert abs(drawn.mean[0] - plain.mean[0]) > 0.5  # G's drawings, not the photos
    # The photos' lightness spreads over the scale (a set read as [-1, 1] floats would sit at white).
    assert 60.0 < plain.mean[0] < 200.0 and plain.std[0] > 20.0
    bilateral = build_trainer(
        tiny_config(tiny_datasets, *cartoon, "data.target_palette=set", "data.target_filter=bilateral"),
        tmp_path / "b",
        progress=False,
    )
    assert bilateral.photo_palette is not None
    np.testing.assert_allclose(bilateral.photo_palette.mean, plain.mean, atol=1e-9)
    # The step's dense target is moved by the set's statistics (not each drawing's own).
    from geostyle.train.targets import cartoon_target

    x = tr.photos.images[:2].float().div(127.5).sub(1.0)
    drawn_x = g.draw_base(x)
    got = tr.dense_target(None, x, None, drawn_x)
    expected = cartoon_target(x, tr.palette, "guided", "set", drawn=drawn_x, source=tr.photo_palette)
    per_crop = cartoon_target(x, tr.palette, "guided", "reinhard", drawn=drawn_x)
    assert torch.allclose(got, expected, atol=1e-6)
    assert (got - per_crop).abs().mean() > 0.01
    reinhard = build_trainer(tiny_config(tiny_datasets, *cartoon), tmp_path / "r", progress=False)
    assert reinhard.photo_palette is None
    final = train(tiny_config(tiny_datasets, *cartoon, "data.target_palette=set"), tmp_path / "t", progress=False)
    # The run records the set's palette: in its resume state (a resume on other photos is refused)
    # and in its release (what the model's targets were moved by).
    from geostyle.errors import CheckpointError
    from geostyle.nets.release import read_release_metadata

    state = ckpt.load_resume(tmp_path / "t" / "resume.pt")
    assert state["photo_palette"] == tr.photo_palette.to_dict()
    assert read_release_metadata(final)["extra"]["photo_palette"] == tr.photo_palette.to_dict()
    again = build_trainer(tiny_config(tiny_datasets, *cartoon, "data.target_palette=set"), tmp_path / "t", progress=False)
    again.load_state_dict(state)
    assert again.step == state["step"]
    state["photo_palette"]["mean"][0] += 1.0
    with pytest.raises(CheckpointError, match="photo set's palette"):
        again.load_state_dict(state)


def test_skin_target_palette_anchors_both_sets_at_their_cheeks(tiny_datasets, tmp_path):
    """``data.target_palette=skin``: the set's one transfer, its chroma anchored at the cheeks of the
    exemplars and of G's drawings of the photos; the release records the anchor."""
    from geostyle.nets.release import read_release_metadata
    from geostyle.train.targets import cartoon_target, skin_chroma, source_palette
    from geostyle.train.trainer import build_trainer, unwrap

    base = "model.generator_kwargs={widths: [8, 8, 16], num_blocks: 1, cartoon_base: true}"
    cartoon = ("data.target=cartoon", "data.target_filter=guided", "train.steps=1", base, "data.target_palette=skin")
    tr = build_trainer(tiny_config(tiny_datasets, *cartoon), tmp_path / "k", progress=False)
    g = unwrap(tr.nets.generator)
    assert tr.palette is not None and tr.photo_palette is not None
    exemplars = tr.styles.images.permute(0, 2, 3, 1).numpy()
    assert tr.palette.skin == skin_chroma(exemplars, tr.styles.points.numpy(), tr.styles.mask.numpy())
    drawn = source_palette(tr.photos.images, g.draw_base, points=tr.photos.points, mask=tr.photos.mask)
    assert tr.photo_palette == drawn and drawn.skin is not None
    assert tr.photo_palette.mean == source_palette(tr.photos.images, g.draw_base).mean  # the set's, as before
    x = tr.photos.images[:2].float().div(127.5).sub(1.0)
    drawn_x = g.draw_base(x)
    got = tr.dense_target(None, x, None, drawn_x)
    expected = cartoon_target(x, tr.palette, "guided", "skin", drawn=drawn_x, source=tr.photo_palette)
    by_set = cartoon_target(x, tr.palette, "guided", "set", drawn=drawn_x, source=tr.photo_palette)
    assert torch.allclose(got, expected, atol=1e-6)
    assert (got - by_set).abs().mean() > 0.003
    final = train(tiny_config(tiny_datasets, *cartoon), tmp_path / "t", progress=False)
    assert read_release_metadata(final)["extra"]["photo_palette"]["skin"] == list(drawn.skin)
    # A few exemplars under a whole-image transfer get the advice; the anchored transfer does not.
    assert tr.palette_note() is None
    few = build_trainer(tiny_config(tiny_datasets, *cartoon[:-1], "data.target_palette=set"), tmp_path / "f", progress=False)
    note = few.palette_note()
    assert note is not None and f"{len(few.styles)} exemplar(s)" in note and "data.target_palette=skin" in note
    many = build_trainer(
        tiny_config(tiny_datasets, *cartoon[:-1], "data.target_palette=set"), tmp_path / "m", progress=False
    )
    many.styles.images = many.styles.images.repeat(2, 1, 1, 1)  # as many exemplars as the advice's bound
    assert len(many.styles) >= 10 and many.palette_note() is None


def test_bf16_precision_runs_the_networks_in_bfloat16_and_releases_float32(tiny_datasets, tmp_path):
    from geostyle.train.trainer import build_trainer

    dtypes = {}
    for precision in ("fp32", "bf16"):
        cfg = tiny_config(tiny_datasets, "train.steps=2", f"train.precision={precision}", "train.channels_last=true")
        tr = build_trainer(cfg, tmp_path / precision, progress=False)
        stem = tr.nets.generator.stem[0]
        assert stem.weight.is_contiguous(memory_format=torch.channels_last)
        seen: set[torch.dtype] = set()
        hook = stem.register_forward_hook(lambda m, i, o, seen=seen: seen.add(o.dtype))
        stats = tr.train_step(0)
        hook.remove()
        assert all(torch.isfinite(torch.tensor(v)) for v in stats.values())
        dtypes[precision] = seen
        assert all(p.dtype == torch.float32 for p in tr.nets.generator.parameters())
    assert dtypes == {"fp32": {torch.float32}, "bf16": {torch.bfloat16}}
    # Every loss term is computed in float32 from the bfloat16 passes.
    with tr.autocast():
        s = tr.prepare_step(1)
        terms = tr.style_path_terms(s, tr.nets.generator(s.x.images, s.geo.target_from_photo, drawn=s.drawn), True)
    assert terms and {k: v.dtype for k, v in terms.items()} == {k: torch.float32 for k in terms}
    # The release file holds float32 weights and says how it was trained.
    final = train(tiny_config(tiny_datasets, "train.steps=2", *FAST_NUMERICS), tmp_path / "run", progress=False)
    from safetensors.torch import load_file

    assert {t.dtype for t in load_file(str(final)).values()} == {torch.float32}
    model = ckpt.load_release(final)
    assert model.metadata["extra"]["precision"] == "bf16"
    y = model.generator(torch.zeros(1, 3, 32, 32))
    assert torch.isfinite(y).all()


def test_precision_names_and_auto():
    from geostyle.errors import ConfigError
    from geostyle.train.distributed import native_bf16, resolve_precision

    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) is None and resolve_precision("bf16", cpu) is torch.bfloat16
    assert resolve_precision("auto", cpu) is (torch.bfloat16 if native_bf16(cpu) else None)
    with pytest.raises(ConfigError, match="train.precision"):
        resolve_precision("fp16x", cpu)


def test_critic_passes_over_several_batches_equal_separate_passes():
    from geostyle.nets.discriminator import LocalPatchDiscriminator, MultiScalePatchDiscriminator
    from geostyle.train.trainer import critic_passes

    torch.manual_seed(0)
    # eval(): in training each call also steps spectral norm's power iteration (once per pass).
    critic = MultiScalePatchDiscriminator(num_scales=2, base_channels=8, max_channels=16).eval()
    batches = [torch.randn(3, 3, 64, 64), torch.randn(2, 3, 64, 64), torch.randn(4, 3, 64, 64)]
    together = critic_passes(critic, batches)
    assert len(together) == 3
    for batch, maps in zip(batches, together):
        alone = critic(batch)
        assert len(maps) == len(alone) == 2
        for a, b in zip(maps, alone):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    local = LocalPatchDiscriminator(base_channels=8).eval()
    crops = [torch.randn(3, 3, 32, 32), torch.randn(5, 3, 32, 32)]
    ids = [torch.tensor([0, 1, 2]), torch.tensor([2, 2, 1, 0, 3])]
    for (maps,), crop, part in zip(critic_passes(local, crops, ids), crops, ids):
        torch.testing.assert_close(maps, local(crop, part)[0], atol=1e-5, rtol=1e-4)
