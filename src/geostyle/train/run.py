"""Entry point of a training run: resolve the config, build, resume if asked, train."""

from __future__ import annotations

from pathlib import Path

from geostyle.errors import CheckpointError
from geostyle.train import checkpoint as ckpt
from geostyle.train.config import Config, config_from_dict
from geostyle.train.distributed import init_distributed, shutdown
from geostyle.train.trainer import build_trainer


def train(config: Config, run_dir: str | Path, resume: bool = False, progress: bool = True) -> Path | None:
    """Train (or continue) the run in ``run_dir``. Returns the final release checkpoint path."""
    run_dir = Path(run_dir)
    info = init_distributed()
    try:
        if resume:
            state = ckpt.load_resume(run_dir / "resume.pt")
            saved = config_from_dict(__import__("json").loads(state["config"]))
            # A resumed run continues the saved configuration; only its length may be extended.
            saved.train.steps = (
                max(saved.train.steps, config.train.steps) if config.train.steps else saved.train.steps
            )
            # Thread count is an execution detail, not part of the run's identity.
            saved.train.threads = config.train.threads
            config = saved
        trainer = build_trainer(config, run_dir, info, progress=progress)
        if resume:
            trainer.load_state_dict(state)
            if trainer.step >= config.train.steps:
                raise CheckpointError(
                    f"{run_dir}: run already finished at step {trainer.step} (raise train.steps)"
                )
        return trainer.run()
    finally:
        shutdown(info)
