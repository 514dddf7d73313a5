import pytest

from geostyle.errors import ConfigError
from geostyle.train.config import Config, load_config, save_config


def test_defaults_yaml_and_overrides_apply_in_order(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: anime\ntrain:\n  steps: 100\n  batch_size: 2\nloss:\n  cycle: 5\n")
    cfg = load_config(path, ["train.steps=7", "geometry.tps_alignment=false", "train.betas=[0.0, 0.99]"])
    assert cfg.name == "anime"
    assert cfg.train.steps == 7  # override beats file
    assert cfg.train.batch_size == 2  # file beats default
    assert cfg.loss.cycle == 5.0 and isinstance(cfg.loss.cycle, float)
    assert cfg.geometry.tps_alignment is False
    assert cfg.train.betas == (0.0, 0.99)
    assert cfg.loss.adversarial == Config().loss.adversarial  # untouched default


def test_round_trip_through_yaml(tmp_path):
    cfg = load_config(None, ["train.steps=3", "data.holdout=[a, b]"])
    save_config(cfg, tmp_path / "out.yaml")
    assert load_config(tmp_path / "out.yaml") == cfg


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.stepz=3", "unknown option"),
        ("train.steps=three", "expected an integer"),
        ("geometry.tps_alignment=3", "expected true/false"),
        ("nonsense", "section.key=value"),
        ("loss.cycle=[1, 2]", "expected a number"),
    ],
)
def test_bad_overrides_raise_config_error(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="no such config"):
        load_config(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
