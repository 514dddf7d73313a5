"""Loss balance of a run: how hard each weighted generator term pulls on the stylized output G(x).

``python -m geostyle.train.balance RUN_DIR [--batches 4]``

Loss *values* of a GAN say little about which term drives the generator; their *gradients* at the
output do. For a few batches this loads the run's resume checkpoint, computes ``G(x)`` once, and for
each weighted photo -> style term ``w_k L_k`` the norm ``||d(w_k L_k) / d G(x)||`` (all terms that
depend on ``G(x)``: adversarial, local adversarial, cycle, content, texture, colour, deformation
invariance). A term whose pull is 10x smaller than the others barely trains the generator, whatever
its weight looks like in the config. Batches are drawn past the run's step so they are not the ones
just trained on; the random draws follow the run's seed, so the numbers are reproducible.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from geostyle.train import checkpoint as ckpt
from geostyle.train.config import config_from_dict
from geostyle.train.trainer import Trainer, build_trainer


def gradient_balance(trainer: Trainer, batches: int = 4, first_step: int = 0) -> dict[str, float]:
    """Mean over ``batches`` of ``||d(w_k L_k) / d G(x)||_2`` per generator term ``k`` (stats keys)."""
    if batches < 1:
        raise ValueError("batches must be >= 1")
    weights = trainer.term_weights()
    sums: dict[str, float] = {}
    for i in range(batches):
        step = first_step + i
        s = trainer.prepare_step(step)
        with trainer.autocast():  # the run's precision, as its training step computes the terms
            fake = trainer.nets.generator(s.x.images, s.geo.target_from_photo, drawn=s.drawn)
            fake = fake.detach().requires_grad_(True)
            terms = trainer.style_path_terms(s, fake, every_term=True)
        for key, value in terms.items():
            # Terms share parts of the graph (one backbone pass serves content and texture).
            (grad,) = torch.autograd.grad(weights[key] * value, fake, allow_unused=True, retain_graph=True)
            norm = 0.0 if grad is None else grad.norm().item()
            sums[key] = sums.get(key, 0.0) + norm / batches
    return sums


def run_balance(run_dir: str | Path, batches: int = 4) -> dict[str, float]:
    """:func:`gradient_balance` of the run in ``run_dir`` at its last resume checkpoint."""
    run_dir = Path(run_dir)
    state = ckpt.load_resume(run_dir / "resume.pt")
    config = config_from_dict(json.loads(state["config"]))
    with tempfile.TemporaryDirectory() as scratch:  # the probe writes nothing into the run
        trainer = build_trainer(config, scratch, progress=False)
        trainer.load_state_dict(state)
        return gradient_balance(trainer, batches, first_step=trainer.step + 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="gradient norm of each generator loss term at G(x)")
    parser.add_argument("run_dir")
    parser.add_argument("--batches", type=int, default=4)
    args = parser.parse_args(argv)
    norms = run_balance(args.run_dir, args.batches)
    total = sum(norms.values()) or 1.0
    print(f"{'term':16s} {'|grad| at G(x)':>15s} {'share':>7s}")
    for key, value in sorted(norms.items(), key=lambda kv: -kv[1]):
        print(f"{key:16s} {value:15.4f} {value / total:7.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
