"""The CUDA training path, checked end to end on a machine with a GPU.

    python benchmarks/gpu_training.py --out OUT_DIR [--preset anime] [--steps 60]

What it runs (each a real `geostyle train` process on the preset's prepared datasets):

1. ``train.device=cuda``, ``--steps`` steps (the preset's low-resolution phase and adversarial warm-up
   scaled to them, so both resolutions run), a checkpoint every ``steps // 3``;
2. ``--resume`` of the same run to ``steps + steps // 3`` on CUDA: the step count continues where the
   checkpoint left it;
3. the release checkpoint loaded on the CPU (``nets.release.load_release``) and run on a real crop of
   the photo set: a model trained on a GPU deploys without one;
4. the same recipe on the CPU for ``steps // 3`` steps (one thread), for the speed ratio;
5. ``torchrun --standalone --nproc_per_node N`` (N = the GPUs present) on CUDA: the launcher path,
   one process per GPU, NCCL when N > 1.

Every check records pass/fail with the reason, the last losses (finite) and steps/s from the run's
``stats.jsonl``; writes ``OUT_DIR/gpu_training.json`` and ``.md`` and exits non-zero if a check failed.
Needs CUDA; on a machine without it, it says so and exits 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _stats(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "stats.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def _train(args: list[str], log: Path, env_extra: dict[str, str] | None = None, launcher: list[str] | None = None):
    cmd = (launcher or [sys.executable]) + ["-m", "geostyle.cli.main", "train", *args]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), **(env_extra or {})}
    t0 = time.time()
    with open(log, "w") as fh:
        rc = subprocess.call(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    return rc, time.time() - t0, " ".join(cmd)


def _summary(run_dir: Path) -> dict[str, Any]:
    rows = _stats(run_dir)
    if not rows:
        return {"last_step": None}
    last = rows[-1]
    return {
        "last_step": last["step"],
        "steps_per_s": last.get("time/steps_per_s"),
        "g_total": last.get("g/total"),
        "g_target": last.get("g/target"),
        "d_style": last.get("d/style"),
        "finite": all(math.isfinite(v) for r in rows for k, v in r.items() if isinstance(v, float)),
        "resolutions": sorted({r.get("train/resolution") for r in rows if "train/resolution" in r}),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--preset", default="anime")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="extra config override")
    args = ap.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("no CUDA device here: nothing to check")
        return 2
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    n_gpu = torch.cuda.device_count()
    env = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpus": [torch.cuda.get_device_name(i) for i in range(n_gpu)],
        "nccl": ".".join(map(str, torch.cuda.nccl.version())) if hasattr(torch.cuda, "nccl") else None,
    }
    print(json.dumps(env), flush=True)
    steps, third = args.steps, max(3, args.steps // 3)
    from geostyle.train.config import load_config
    from geostyle.train.presets import preset_path

    base = load_config(preset_path(args.preset), args.overrides).train
    scale = steps / max(1, base.steps)
    common = [
        "--preset", args.preset,
        "--set", "train.quick_eval_photos=0",
        "--set", f"train.low_resolution_steps={int(round(base.low_resolution_steps * scale))}",
        "--set", f"train.adversarial_warmup={int(round(base.adversarial_warmup * scale))}",
        "--set", f"train.checkpoint_every={third}",
        "--set", f"train.release_every={steps}",
        "--set", f"train.sample_every={steps}",
        "--set", "train.log_every=5",
    ]  # fmt: skip
    for o in args.overrides:
        common += ["--set", o]
    checks: dict[str, dict[str, Any]] = {}

    # 1. CUDA, single process
    cuda_dir = out / "cuda"
    rc, secs, cmd = _train([*common, "--run-dir", str(cuda_dir), "--set", f"train.steps={steps}",
                            "--set", "train.device=cuda"], out / "cuda.log")  # fmt: skip
    s = _summary(cuda_dir)
    ok = rc == 0 and s["last_step"] == steps and s.get("finite", False) and (cuda_dir / "model.safetensors").is_file()
    checks["cuda_train"] = {"ok": ok, "rc": rc, "seconds": round(secs, 1), "command": cmd, **s}
    print("cuda_train", checks["cuda_train"], flush=True)

    # 2. resume on CUDA
    more = steps + third
    rc, secs, cmd = _train(["--preset", args.preset, "--run-dir", str(cuda_dir), "--resume",
                            "--set", f"train.steps={more}", "--set", "train.device=cuda"], out / "resume.log")  # fmt: skip
    rows = _stats(cuda_dir)
    steps_seen = [r["step"] for r in rows]
    continued = steps_seen == sorted(steps_seen) and steps_seen[-1:] == [more] if steps_seen else False
    checks["cuda_resume"] = {"ok": rc == 0 and continued, "rc": rc, "seconds": round(secs, 1), "command": cmd,
                             "steps_logged": steps_seen[-4:], **_summary(cuda_dir)}  # fmt: skip
    print("cuda_resume", checks["cuda_resume"], flush=True)

    # 3. the GPU-trained release runs on the CPU
    try:
        import numpy as np

        from geostyle.data.dataset import FaceSet
        from geostyle.nets.release import load_release

        release = load_release(cuda_dir / "model.safetensors")
        g = release.generator.cpu().eval()
        cfg = load_config(preset_path(args.preset), args.overrides)
        photos = FaceSet(cfg.data.photos, cfg.data.resolution, limit=2)
        x = photos.batch(torch.arange(2)).images
        with torch.no_grad():
            y = g(x)
        finite = bool(torch.isfinite(y).all())
        change = float((y - x).abs().mean())
        checks["release_on_cpu"] = {"ok": finite and tuple(y.shape) == tuple(x.shape) and change > 1e-3,
                                    "shape": list(y.shape), "mean_abs_change": round(change, 4),
                                    "weights_device": str(next(release.generator.parameters()).device)}  # fmt: skip
        del np
    except Exception as exc:  # a failed check is reported, not raised: the other checks still run
        checks["release_on_cpu"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    print("release_on_cpu", checks["release_on_cpu"], flush=True)

    # 4. the same recipe on the CPU, one thread, for the speed ratio
    cpu_dir = out / "cpu"
    rc, secs, cmd = _train([*common, "--run-dir", str(cpu_dir), "--set", f"train.steps={third}",
                            "--set", "train.device=cpu", "--set", "train.threads=1"], out / "cpu.log",
                           {"OMP_NUM_THREADS": "1"})  # fmt: skip
    checks["cpu_reference"] = {"ok": rc == 0, "rc": rc, "seconds": round(secs, 1), "command": cmd, **_summary(cpu_dir)}
    print("cpu_reference", checks["cpu_reference"], flush=True)

    # 5. torchrun, one process per GPU
    tr_dir = out / "torchrun"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n_gpu}"]
    rc, secs, cmd = _train([*common, "--run-dir", str(tr_dir), "--set", f"train.steps={third}",
                            "--set", "train.device=cuda"], out / "torchrun.log", launcher=launcher)  # fmt: skip
    s = _summary(tr_dir)
    checks["torchrun"] = {"ok": rc == 0 and s["last_step"] == third, "rc": rc, "processes": n_gpu,
                          "backend": "nccl" if n_gpu > 1 else "none (world of 1)", "seconds": round(secs, 1),
                          "command": cmd, **s}  # fmt: skip
    print("torchrun", checks["torchrun"], flush=True)

    gpu_rate = checks["cuda_train"].get("steps_per_s") or 0
    cpu_rate = checks["cpu_reference"].get("steps_per_s") or 0
    result = {"benchmark": "gpu_training", "preset": args.preset, "steps": steps, "env": env, "checks": checks,
              "speedup_vs_one_cpu_thread": round(gpu_rate / cpu_rate, 2) if cpu_rate else None}  # fmt: skip
    (out / "gpu_training.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# CUDA training path ({args.preset}, {steps} steps): {', '.join(env['gpus'])}, torch {env['torch']}", "",
             "| check | ok | steps/s | last step | g total | note |", "|---|---|---|---|---|---|"]  # fmt: skip
    for name, c in checks.items():
        note = c.get("error") or c.get("backend") or ""
        lines.append(f"| {name} | {'yes' if c['ok'] else 'NO'} | {c.get('steps_per_s') or ''} | "
                     f"{c.get('last_step') or ''} | {c.get('g_total') or ''} | {note} |")  # fmt: skip
    (out / "gpu_training.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(c["ok"] for c in checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
