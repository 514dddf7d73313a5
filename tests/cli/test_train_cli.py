"""``geostyle train`` as a user meets it: a preset, raw folders, and the resume rules."""

from __future__ import annotations

import shutil

import pytest

from geostyle.cli.main import main
from geostyle.train import checkpoint as ckpt

SMALL = [
    "train.steps=2",
    "data.resolution=32",
    "train.batch_size=2",
    "train.low_resolution=0",
    "train.sample_every=1000",
    "train.checkpoint_every=1000",
    "train.release_every=1000",
    "train.num_samples=2",
    "geometry.grid_resolution=16",
    "model.discriminator_kwargs={num_scales: 1, base_channels: 8, num_layers: 2}",
    "model.local_discriminator_kwargs={base_channels: 8}",
    "model.generator_kwargs={widths: [8, 8, 16], num_blocks: 1}",
    "model.reverse_generator_kwargs={widths: [8, 8, 16], num_blocks: 1}",
]


def _sets(overrides):
    return [x for o in overrides for x in ("--set", o)]


def test_preset_with_raw_folders_prepares_then_trains(shared_data, tmp_path, capsys):
    photos, styles = tmp_path / "my_photos", tmp_path / "my_anime"
    photos.mkdir()
    styles.mkdir()
    for p in sorted((shared_data / "photos/selfie").glob("*.jpg"))[:4]:
        shutil.copy(p, photos / p.name)
    for p in sorted((shared_data / "styles/anime").glob("*.jpg"))[:4]:
        shutil.copy(p, styles / p.name)
    run = tmp_path / "run"
    argv = ["train", "--preset", "anime", "--photos", str(photos), "--styles", str(styles)]
    argv += ["--run-dir", str(run), "--no-progress", *_sets(SMALL)]
    assert main(argv) == 0
    assert (run / "datasets/photos/manifest.json").is_file()
    assert (run / "datasets/styles/manifest.json").is_file()
    from geostyle.data.manifest import load_manifest

    # The anime preset prepares raw anime folders with the anime landmark backend.
    assert {it.backend for it in load_manifest(run / "datasets/styles").items} == {"animeface"}
    assert ckpt.load_resume(run / "resume.pt")["step"] == 2
    assert "model:" in capsys.readouterr().out
    # Resume: the saved run as it was; other settings are refused with one readable line.
    assert main(["train", "--preset", "anime", "--run-dir", str(run), "--resume", "--set", "loss.cycle=3"]) == 1
    assert "cannot change loss.cycle" in capsys.readouterr().err
    assert main(["train", "--preset", "anime", "--run-dir", str(run), "--resume", "--no-progress"]) == 1
    assert "already finished at step 2" in capsys.readouterr().err
    argv = ["train", "--preset", "anime", "--run-dir", str(run), "--resume", "--no-progress"]
    assert main(argv + ["--set", "train.steps=3"]) == 0
    assert ckpt.load_resume(run / "resume.pt")["step"] == 3


def test_unknown_preset_and_missing_folder(tmp_path, capsys):
    assert main(["train", "--preset", "watercolour", "--run-dir", str(tmp_path)]) == 1
    assert "unknown preset 'watercolour'" in capsys.readouterr().err
    argv = ["train", "--preset", "anime", "--photos", str(tmp_path / "nope"), "--run-dir", str(tmp_path / "r")]
    assert main(argv) == 1
    assert "no such folder" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["anime", "anime_fast", "sketch", "paint"])
def test_shipped_presets_load(name):
    from geostyle.train.config import load_config
    from geostyle.train.presets import preset_path

    cfg = load_config(preset_path(name))
    assert cfg.name == name
    if name == "anime_fast":
        from geostyle.nets.release import load_release, resolve_model

        # Its teacher is bundled, and is not the model the preset makes (the bundled `anime`).
        teacher = load_release(resolve_model(cfg.data.teacher))
        assert cfg.data.target == "teacher" and teacher.arch == "geo_mobile"
        assert load_release(resolve_model("anime")).arch == cfg.model.generator
    if name == "sketch":
        assert cfg.data.target == "paired" and cfg.data.pairs.endswith("cuhk_pairs.csv")
        from pathlib import Path

        assert Path(cfg.data.pairs).is_file()


def test_distillation_presets_are_not_offered_for_a_new_style_set():
    # A distillation preset needs a teacher trained on the same styles; the web app's trainer
    # starts from an uploaded style set, so it lists only the presets that train from scratch.
    from geostyle.serve.jobs import presets
    from geostyle.train.presets import available_presets, needs_teacher

    assert needs_teacher("anime_fast") and not needs_teacher("anime")
    assert "anime_fast" in available_presets() and "anime_fast" not in presets()
    assert {"anime", "sketch", "paint"} <= set(presets())


def test_an_unreadable_preset_does_not_break_the_listing(tmp_path, monkeypatch):
    from geostyle.train import presets as P

    (tmp_path / "broken.yaml").write_text("data: [unclosed\n")
    (tmp_path / "plain.yaml").write_text("- a list, not a mapping\n")
    monkeypatch.setattr(P, "PRESETS_DIR", tmp_path)
    assert not P.needs_teacher("broken") and not P.needs_teacher("plain")
