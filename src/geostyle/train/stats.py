"""Training statistics: a JSONL stream in the run directory plus TensorBoard scalars."""

from __future__ import annotations

import json
import time
from pathlib import Path


class StatsWriter:
    """Appends one JSON object per logged step to ``stats.jsonl`` and mirrors scalars to TensorBoard."""

    def __init__(self, run_dir: str | Path, tensorboard: bool = True):
        self.path = Path(run_dir) / "stats.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", buffering=1)
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))
            except ImportError:  # TensorBoard is optional for the JSONL stream
                self._tb = None

    def write(self, step: int, values: dict[str, float]) -> None:
        record = {
            "step": step,
            "time": round(time.time(), 3),
            **{k: round(float(v), 6) for k, v in values.items()},
        }
        self._fh.write(json.dumps(record) + "\n")
        if self._tb is not None:
            for key, value in values.items():
                self._tb.add_scalar(key, float(value), step)

    def close(self) -> None:
        self._fh.close()
        if self._tb is not None:
            self._tb.close()


def read_stats(path: str | Path) -> list[dict]:
    """All records of a ``stats.jsonl`` (a torn last line from a crash is skipped)."""
    records = []
    for line in Path(path).read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
