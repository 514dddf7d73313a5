"""Speed of every registered generator: parameters, FLOPs, PyTorch and ONNX Runtime latency.

    python benchmarks/generator_speed.py                       # all generators, 256 and 512
    python benchmarks/generator_speed.py --models geo_mobile --sizes 512 --repeats 100

For each generator and input size ``S x S`` (batch 1, eval mode, ``torch.no_grad``):

* params; GMACs and GFLOPs (= 2 x MACs) of conv/matmul ops with a grid, counted by
  ``torch.utils.flop_counter`` (``geostyle.nets.flops``); resampling MACs (grid_sample, bilinear
  upsampling) separately.
* PyTorch latency with ``torch.set_num_threads(threads)``: without a grid, and with a smooth
  non-identity ``S x S`` grid (warped path).
* ONNX Runtime latency (CPUExecutionProvider, ``intra_op_num_threads = threads``, TorchScript-path
  export, opset 17): ``no grid``; ``grid`` (the grid is a graph input; the image is warped inside);
  ``grid + warped`` (the warped photo is a second input, e.g. produced almost for free by the
  cropping resample of an inference pipeline; the grid, given at the S/4 resolution of the features
  it warps, only warps the features). The ``grid`` graph gets the field at full resolution (resizing
  a coarse field inside the graph was measured slower). The same three graphs
  are also run with one ORT thread and timed in *CPU time of the calling thread* (``*_1thread_cpu``,
  ``time.thread_time``; with one thread ORT computes in the caller): the work
  itself, much less disturbed by other processes than wall time.
* Latency = median wall time over ``--repeats`` runs; the minimum is also kept (on a shared machine
  the minimum is the best estimate of the uncontended cost, the median what a run saw). The runs are
  split into ``--passes`` sweeps over all configurations (``--warmup`` untimed runs before each
  block), so that load from other processes affects all alike. fps = 1000 / median ms. ORT runs with
  its default thread spinning. Load averages before and after are recorded.

Prints a table and writes ``benchmarks/results/generator_speed.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from geostyle.eval.speed import smooth_grid, summarize
from geostyle.infer.runtime import ort_session as runtime_ort_session
from geostyle.infer.timing import cpu_name
from geostyle.nets.blocks import warp
from geostyle.nets.flops import count_flops
from geostyle.nets.generator import DEFAULT_GENERATOR, export_generator_onnx
from geostyle.nets.registry import create_model, list_models

RESULTS = Path(__file__).resolve().parent / "results"


def ort_session(path: Path, threads: int):
    # The runtime's session with ONNX Runtime's default thread spinning (see the module docstring).
    return runtime_ort_session(path, threads, spinning=True)


def prepare_model(name: str, size: int, threads: int, workdir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Counts for one (model, size) and the callables to time, keyed by result column."""
    torch.manual_seed(0)
    model = create_model(name).eval()
    x = torch.rand(1, 3, size, size) * 2 - 1
    grid = smooth_grid(size)
    meta = create_model(name).eval().to("meta")
    report = count_flops(meta, torch.zeros(1, 3, size, size, device="meta"), grid.to("meta"))
    row: dict[str, Any] = {
        "model": name,
        "size": size,
        "params": report.params,
        "gmacs": round(report.gmacs, 3),
        "gflops": round(report.gflops, 3),
        "resample_gmacs": round(report.resample_macs / 1e9, 4),
        "gmacs_by_module": {k: round(v / 1e9, 4) for k, v in report.by_module.items()},
    }

    def torch_call(*args: torch.Tensor):
        def run() -> None:
            with torch.no_grad():
                model(*args)

        return run

    calls = {"torch_no_grid": torch_call(x), "torch_grid": torch_call(x, grid)}
    with torch.no_grad():
        warped = warp(x, grid).numpy()
    quarter = size // 4
    for key, with_grid, warped_input in (
        ("ort_no_grid", False, False),
        ("ort_grid", True, False),
        ("ort_grid_warped_input", True, True),
    ):
        # The warped-input graph only warps the 1/4-resolution features: it gets the field at that
        # resolution (no resize in the graph). The full graph also warps the photo: full-res field.
        grid_size = quarter if warped_input else size
        feeds = {"image": x.numpy(), "grid": smooth_grid(grid_size).numpy(), "warped": warped}
        path = workdir / f"{name}_{size}_{key}.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            export_generator_onnx(
                model,
                path,
                size,
                size,
                (grid_size, grid_size),
                with_grid=with_grid,
                warped_input=warped_input,
            )
        session = ort_session(path, threads)
        inputs = {i.name: feeds[i.name] for i in session.get_inputs()}
        calls[key] = lambda s=session, f=inputs: s.run(None, f)
        # With one thread ORT computes in the calling thread, so its CPU time measures the work itself,
        # which other processes on a shared machine disturb much less than wall time.
        single = ort_session(path, 1)
        calls[key + "_1thread_cpu"] = lambda s=single, f=inputs: s.run(None, f)
    return row, calls


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| model | size | params | GMACs | GFLOPs | torch no grid | torch grid | ORT no grid | ORT grid "
        "| ORT grid + warped input | ORT 1-thread CPU ms: no grid / grid / grid + warped |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )

    def cell(r: dict[str, float]) -> str:
        return f"{r['median_ms']:.1f} ms (min {r['min_ms']:.1f}, {r['fps']:.0f} fps)"

    lines = [
        f"| {r['model']}{' (default)' if r['model'] == DEFAULT_GENERATOR else ''} | {r['size']} | {r['params']:,} "
        f"| {r['gmacs']:.3f} | {r['gflops']:.3f} | {cell(r['torch_no_grid'])} | {cell(r['torch_grid'])} "
        f"| {cell(r['ort_no_grid'])} | {cell(r['ort_grid'])} | {cell(r['ort_grid_warped_input'])} "
        f"| {r['ort_no_grid_1thread_cpu']['median_ms']:.1f} / {r['ort_grid_1thread_cpu']['median_ms']:.1f} / "
        f"{r['ort_grid_warped_input_1thread_cpu']['median_ms']:.1f} |"
        for r in rows
    ]
    return head + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=None, help="registry names (default: every generator)")
    parser.add_argument("--sizes", nargs="*", type=int, default=[256, 512])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs before each block")
    parser.add_argument("--repeats", type=int, default=60, help="timed runs per configuration in total")
    parser.add_argument("--passes", type=int, default=3, help="sweeps over all configurations")
    parser.add_argument("--out", type=Path, default=RESULTS / "generator_speed.json")
    args = parser.parse_args(argv)

    import onnxruntime

    torch.set_num_threads(args.threads)
    models = args.models or list_models("generator")
    load_before = os.getloadavg()
    rows, timers = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in models:
            for size in args.sizes:
                row, calls = prepare_model(name, size, args.threads, Path(tmp))
                rows.append(row)
                timers += [(row, key, fn, []) for key, fn in calls.items()]
        # Passes: every configuration is timed in a block of runs per pass, so load from other processes
        # on a shared machine spreads over all of them instead of skewing whichever ran at a bad moment.
        # Blocks (not single runs) because ORT worker threads keep spinning briefly after a run and
        # would slow down whatever runs next.
        per_pass = max(1, args.repeats // args.passes)
        for _ in range(args.passes):
            for _, key, fn, times in timers:
                clock = time.thread_time if key.endswith("_cpu") else time.perf_counter
                for _ in range(args.warmup):
                    fn()
                for _ in range(per_pass):
                    start = clock()
                    fn()
                    times.append((clock() - start) * 1000)
    for row, key, _, times in timers:
        row[key] = summarize(times)
    for row in rows:
        print(
            f"{row['model']:14s} {row['size']:4d}  {row['gflops']:.2f} GFLOPs  ORT no grid "
            f"{row['ort_no_grid']['median_ms']:.1f} ms  grid {row['ort_grid']['median_ms']:.1f} ms  "
            f"grid+warped {row['ort_grid_warped_input']['median_ms']:.1f} ms"
        )
    result = {
        "benchmark": "generator_speed",
        "command": "python benchmarks/generator_speed.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {
            "platform": platform.platform(),
            "processor": cpu_name(),
            "cpu_count": os.cpu_count(),
            "threads": args.threads,
            "load_average_before": [round(v, 2) for v in load_before],
            "load_average_after": [round(v, 2) for v in os.getloadavg()],
        },
        "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__},
        "default_generator": DEFAULT_GENERATOR,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    markdown = table(rows)
    args.out.with_suffix(".md").write_text(
        f"# Generator speed\n\n`{result['command'].strip()}`; load average before/after "
        f"{result['machine']['load_average_before']} / {result['machine']['load_average_after']}.\n\n{markdown}"
    )
    print()
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
