"""Per-stage timing of the frame pipeline, peak memory and a description of the machine.

Latency summaries of single calls live in :mod:`geostyle.eval.speed`; this module holds what the
runtime itself needs (the stage timer of :meth:`geostyle.infer.stylize.Stylizer.render` and the
frame loop) and what every benchmark records beside its numbers: the load average, so that a reader
can judge how contended a measurement on a shared machine was.
"""

from __future__ import annotations

import os
import platform
import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class StageTimer:
    """Accumulates wall time per named stage of a frame loop (decode, detect, warp, G, ...).

    ``with timer("warp"): ...`` adds the block's duration to the stage ``warp``; :meth:`per_frame_ms` gives
    ms per frame for each stage over :attr:`frames` frames. Disabled timers cost one attribute test.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.totals: dict[str, float] = {}
        # CPU time of the whole process (all threads) per stage: what the stage costs, much less
        # disturbed by other processes than wall time on a shared machine.
        self.cpu: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.frames = 0
        self._lock = threading.Lock()  # stages may run in two threads (Stylizer(overlap=True))

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        start, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - start, time.process_time() - cpu)

    def add(self, stage: str, seconds: float, cpu_seconds: float = 0.0) -> None:
        with self._lock:
            self.totals[stage] = self.totals.get(stage, 0.0) + seconds
            self.cpu[stage] = self.cpu.get(stage, 0.0) + cpu_seconds
            self.counts[stage] = self.counts.get(stage, 0) + 1

    def frame_done(self) -> None:
        self.frames += 1

    def reset(self) -> None:
        self.totals.clear()
        self.cpu.clear()
        self.counts.clear()
        self.frames = 0

    def per_frame_ms(self) -> dict[str, float]:
        """Mean milliseconds per frame for each stage (stages that ran on only some frames, such as a
        face stage on frames with faces, are still divided by all frames: they add up to the total)."""
        frames = max(1, self.frames)
        return {k: round(v * 1000 / frames, 2) for k, v in self.totals.items()}

    def cpu_per_frame_ms(self) -> dict[str, float]:
        """Like :meth:`per_frame_ms` for process CPU time (summed over threads)."""
        frames = max(1, self.frames)
        return {k: round(v * 1000 / frames, 2) for k, v in self.cpu.items()}


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB.

    On Linux from ``VmHWM`` (``/proc/self/status``): ``getrusage``'s ``ru_maxrss`` survives
    ``fork`` + ``exec``, so a child started by a large parent would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if platform.system() == "Darwin" else peak / 1024, 1)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine_info(threads: int | None = None) -> dict[str, Any]:
    """Platform, CPU, core count and the current load averages (1, 5, 15 min)."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": cpu_name(),
        "cpu_count": os.cpu_count(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }
    if threads is not None:
        info["threads"] = threads
    return info
