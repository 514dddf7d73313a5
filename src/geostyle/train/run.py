"""Entry point of a training run: resolve the config, take the run directory, build, resume if asked, train."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from geostyle.errors import CheckpointError, RunInUseError
from geostyle.train import checkpoint as ckpt
from geostyle.train.config import Config, config_from_dict
from geostyle.train.distributed import init_distributed, shutdown
from geostyle.train.trainer import build_trainer

LOCK_NAME = ".lock"


@contextmanager
def run_directory_lock(run_dir: Path, active: bool = True) -> Iterator[None]:
    """Hold an exclusive lock on ``run_dir`` for the duration of a run, so a second trainer started
    on the same directory is refused instead of interleaving checkpoints. The operating system drops
    the lock when the process ends, however it ends (no stale lock after a crash)."""
    if not active:
        yield
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise RunInUseError(f"{run_dir}: in use by a running trainer (pid {holder})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def train(
    config: Config,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    steps: int | None = None,
    teacher: str | None = None,
) -> Path | None:
    """Train (or continue) the run in ``run_dir``. Returns the final release checkpoint path.

    ``resume=True`` continues the configuration saved in the run's checkpoint exactly as it was; only
    ``steps`` (an explicit new length, e.g. ``--set train.steps=N``) may extend it, ``teacher`` may
    name the same teacher file by another name or path (its SHA-256 must match the saved one), and the
    thread count and device follow ``config``. Without ``resume``, ``steps`` overrides
    ``config.train.steps``.
    """
    run_dir = Path(run_dir)
    info = init_distributed()
    try:
        with run_directory_lock(run_dir, active=info.is_main):
            if resume:
                state = ckpt.load_resume(run_dir / "resume.pt")
                saved = config_from_dict(json.loads(state["config"]))
                if steps is not None:
                    saved.train.steps = steps
                if teacher is not None:
                    saved.data.teacher = teacher  # checked against the saved hash on load
                # Execution details, not part of the run's identity.
                saved.train.threads = config.train.threads
                saved.train.device = config.train.device
                config = saved
            elif steps is not None:
                config.train.steps = steps
            trainer = build_trainer(config, run_dir, info, progress=progress)
            if resume:
                trainer.load_state_dict(state, teacher_named=teacher is not None)
                if trainer.step >= config.train.steps:
                    raise CheckpointError(
                        f"{run_dir}: run already finished at step {trainer.step} "
                        f"(extend it with --set train.steps=N, N > {trainer.step})"
                    )
            return trainer.run()
    finally:
        shutdown(info)
