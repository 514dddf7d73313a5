"""The 512² product path of several variants side by side, interleaved: which is faster, measured
so that machine load falls on all of them alike.

    python benchmarks/product_path_ab.py anime runs/anime_v18/model.safetensors
    python benchmarks/product_path_ab.py anime@HEAD~1 anime@HEAD       # the same model, two revisions

Why: on this shared 2-core machine one ``pipeline_speed.py`` run can differ from the next by more
than 10 % (the same code gave an 11.5 ms and a 12.1 ms product path on different days); a change
worth a few percent only shows when the variants take turns. Each variant is a worker process
(``MODEL`` or ``MODEL@REV``: the model as ``geostyle stylize --model`` takes it, run on the source
of git revision ``REV`` checked out into a temporary worktree); the main process asks the workers
in turn for a batch of timed calls, ``--rounds`` times.

The product path is the one ``pipeline_speed.py`` times: the bundled portrait's TPS field (NumPy),
the one resampling that cuts the crop and the warped crop from the frame, the face graph in
ONNX Runtime with ``--threads`` threads, workers asleep between runs as the pipeline runs them,
and the anime eyes and face outline where the model draws them (from the revisions that have them).
Prints medians and the 10th percentiles; writes ``benchmarks/results/product_path_ab.json``
(or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def worker(model: str, size: int, threads: int) -> None:
    """Answer ``N`` on stdin with the times (ms) of N product-path calls, as one JSON line."""
    from pipeline_speed import ProductPath  # the same product path as the full benchmark

    from geostyle.infer.runtime import export_graph, ort_session, single_thread_numpy_blas
    from geostyle.infer.stylize import Stylizer

    single_thread_numpy_blas()  # as a Stylizer's pipeline runs
    stylizer = Stylizer(model)
    path = ProductPath(stylizer, size)
    with tempfile.TemporaryDirectory() as tmp:
        graph = export_graph(stylizer.release.generator.eval(), Path(tmp) / "face.onnx", "face", size, size)
        session = ort_session(graph, threads)
    for _ in range(5):
        path(session)
    print("ready", flush=True)
    for line in sys.stdin:
        n = int(line)
        if n <= 0:
            break
        times = []
        for _ in range(n):
            start = time.perf_counter()
            path(session)
            times.append((time.perf_counter() - start) * 1000)
        print(json.dumps(times), flush=True)


def _commit(rev: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"unknown git revision {rev!r}")
    return done.stdout.strip()


def _checkout(commit: str, into: Path) -> Path:
    """The source tree of ``commit`` (a detached worktree); returns its ``src``."""
    done = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(into), commit],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"could not check out {commit}: {done.stderr.strip()}")
    return into / "src"


def _split(variant: str) -> tuple[str, str]:
    """``MODEL@REV`` -> (MODEL, REV); the last ``@`` (a model path may contain one)."""
    model, at, rev = variant.rpartition("@")
    return (model, rev) if at else (variant, "")


def _working_tree() -> dict[str, Any]:
    """The code a variant without ``@REV`` runs: HEAD, and whether the tree differs from it."""
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True)
    return {"commit": head.stdout.strip(), "uncommitted_changes": bool(dirty.stdout.strip())}


def _stop(proc: subprocess.Popen) -> None:
    try:
        if proc.stdin is not None and not proc.stdin.closed:
            proc.stdin.write("0\n")
            proc.stdin.close()
    except OSError:  # the worker is gone already
        pass
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _answer(variant: str, proc: subprocess.Popen) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"worker for {variant} exited (rc={proc.wait()}); its errors are above")
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="*", help="MODEL or MODEL@REV (at least two, all different)")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=10, help="timed calls per variant and round")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "product_path_ab.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.size, args.threads)
        return 0
    if len(args.variants) < 2:
        parser.error("give at least two variants to compare")
    if len(set(args.variants)) != len(args.variants):
        parser.error("each variant once (to see the noise, compare a model with a copy of its file)")
    if args.rounds < 1 or args.calls < 1 or args.size % 8 or args.size < 64:
        parser.error("--rounds and --calls must be >= 1, --size a multiple of 8 from 64")
    import numpy as np

    load_before = list(os.getloadavg())
    workers: dict[str, subprocess.Popen] = {}
    trees: list[Path] = []
    # Every revision resolved before anything starts, so a typo fails at once.
    commits = {v: _commit(_split(v)[1]) for v in args.variants if _split(v)[1]}
    times: dict[str, list[float]] = {v: [] for v in args.variants}
    try:
        for variant in args.variants:
            model, rev = _split(variant)
            env = dict(os.environ)
            if rev:
                tree = Path(tempfile.mkdtemp(prefix="geostyle-ab-")) / "tree"
                trees.append(tree)
                env["PYTHONPATH"] = os.pathsep.join([str(_checkout(commits[variant], tree)), env.get("PYTHONPATH", "")])
            command = [sys.executable, __file__, "--worker", model, "--size", str(args.size),
                       "--threads", str(args.threads)]
            # One at a time: two graph exports at once would share the two cores.
            proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                                    cwd=ROOT)
            workers[variant] = proc
            if _answer(variant, proc).strip() != "ready":
                raise SystemExit(f"worker for {variant} failed to start")
        order = list(workers)
        for k in range(args.rounds):
            # A different variant first each round: no variant always runs right after another.
            for variant in order[k % len(order):] + order[: k % len(order)]:
                proc = workers[variant]
                assert proc.stdin is not None
                proc.stdin.write(f"{args.calls}\n")
                proc.stdin.flush()
                times[variant] += json.loads(_answer(variant, proc))
    finally:
        for proc in workers.values():
            _stop(proc)
        for tree in trees:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False,
                           capture_output=True)
            shutil.rmtree(tree.parent, ignore_errors=True)
    rows: dict[str, Any] = {}
    first = args.variants[0]
    working = _working_tree()
    for variant, t in times.items():
        rows[variant] = {"median_ms": round(float(np.median(t)), 2), "p10_ms": round(float(np.percentile(t, 10)), 2),
                         "calls": len(t)}
        rows[variant].update({"commit": commits[variant]} if variant in commits else working)
    for variant, row in rows.items():
        row["vs_first"] = round(row["median_ms"] / rows[first]["median_ms"], 3)
        print(f"{variant:50s} median {row['median_ms']:6.2f} ms  p10 {row['p10_ms']:6.2f} ms  "
              f"x{row['vs_first']:.3f} of {first}")
    result = {"command": "python benchmarks/product_path_ab.py " + " ".join(sys.argv[1:] if argv is None else argv),
              "size": args.size, "threads": args.threads, "rounds": args.rounds, "calls": args.calls,
              "load_before": load_before, "load_after": list(os.getloadavg()), "variants": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
