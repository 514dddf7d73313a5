"""Generator size and speed: parameters, FLOPs (``geostyle.nets.flops``) and PyTorch latency.

``benchmarks/generator_speed.py`` (every registered generator, ONNX Runtime too) and
``geostyle evaluate`` (the model under test) share the definitions here: the smooth TPS-like grid the
warped path is timed with and the latency summary (median and minimum wall time, fps from the
median). Latency is batch 1, eval mode, ``torch.no_grad``, after ``warmup`` untimed runs.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from geostyle.nets.blocks import identity_grid
from geostyle.nets.flops import count_flops


def smooth_grid(size: int) -> torch.Tensor:
    """A TPS-like smooth backward map ``(1, size, size, 2)``, normalised frame: identity plus a
    low-frequency displacement of ~4 % of the frame."""
    base = identity_grid(1, size, size).clone()
    x, y = base[..., :1], base[..., 1:]
    return (base + 0.04 * torch.sin(2.5 * torch.cat([y, x], dim=-1) + 1.0)).contiguous()


def summarize(times: list[float]) -> dict[str, float]:
    """Milliseconds -> ``{median_ms, min_ms, fps}`` (fps from the median)."""
    median = float(np.median(times))
    return {
        "median_ms": round(median, 2),
        "min_ms": round(float(np.min(times)), 2),
        "fps": round(1000 / median, 1),
    }


def time_calls(fn, repeats: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def generator_speed(
    generator: nn.Module, size: int = 512, repeats: int = 10, warmup: int = 2, threads: int = 0
) -> dict[str, Any]:
    """Params, GMACs/GFLOPs with a warp grid, and PyTorch latency without / with the grid at ``size``."""
    if threads > 0:
        torch.set_num_threads(threads)
    generator = generator.eval()
    grid = smooth_grid(size)
    meta = copy.deepcopy(generator).to("meta")
    report = count_flops(meta, torch.zeros(1, 3, size, size, device="meta"), grid.to("meta"))
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1

    def call(*args: torch.Tensor):
        def run() -> None:
            with torch.no_grad():
                generator(*args)

        return run

    out: dict[str, Any] = {
        "size": size,
        "params": report.params,
        "gmacs": round(report.gmacs, 3),
        "gflops": round(report.gflops, 3),
        "threads": torch.get_num_threads(),
    }
    if repeats > 0:
        out["torch_no_grid"] = summarize(time_calls(call(x), repeats, warmup))
        out["torch_grid"] = summarize(time_calls(call(x, grid), repeats, warmup))
    return out
