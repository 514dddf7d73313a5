"""The loss-balance probe: gradient norms of the generator terms at G(x)."""

from __future__ import annotations

import pytest

from geostyle.train.balance import gradient_balance, run_balance
from geostyle.train.run import train
from geostyle.train.trainer import build_trainer

from .test_trainer import tiny_config


def test_gradient_norm_scales_with_the_term_weight(tiny_datasets, tmp_path):
    base = gradient_balance(build_trainer(tiny_config(tiny_datasets), tmp_path / "a", progress=False), 2)
    doubled = gradient_balance(
        build_trainer(tiny_config(tiny_datasets, "loss.cycle=20.0"), tmp_path / "b", progress=False), 2
    )
    # Same seed, same networks, same batches: only the cycle pull changes, and exactly 2x.
    assert doubled["g/cycle"] == pytest.approx(2 * base["g/cycle"], rel=1e-4)
    for key in ("g/adv", "g/adv_local", "g/content", "g/deform_inv"):
        assert base[key] > 0
        assert doubled[key] == pytest.approx(base[key], rel=1e-4)
    # Terms of the reverse (style -> photo) path do not depend on G(x) and are not reported.
    assert "g/cycle_style" not in base and "g/adv_photo" not in base


def test_run_balance_reads_the_resume_checkpoint_and_writes_nothing(tiny_datasets, tmp_path):
    train(tiny_config(tiny_datasets, "train.steps=2"), tmp_path, progress=False)
    before = sorted(p.name for p in tmp_path.iterdir())
    norms = run_balance(tmp_path, batches=1)
    assert norms["g/adv"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == before
