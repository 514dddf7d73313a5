"""Training throughput: samples per second of whole steps and a per-component profile, for the
previous recipe (anime v4: 256 px, batch 2, full-width critics, photo critic, Gram texture) and the
shipped presets, measured in the same run on the same machine.

    python benchmarks/training_speed.py                      # v4 vs anime and sketch presets, 1 thread
    python benchmarks/training_speed.py --threads 2 --steps 12

Needs the prepared datasets the presets name (docs/training.md, "How to reproduce").
For each recipe and each resolution phase it uses (low-resolution steps, full-size finish):

* ``step``: median wall time of ``--steps`` whole training steps (after 2 warm-up steps) and
  samples/s = batch / step time; where a recipe runs some terms every N-th step, each timed unit is
  a whole cycle of steps (their average), so light and heavy steps weigh as in a run;
* components, each timed alone at that phase's shapes (median of ``--repeats``): ``data`` (batch
  assembly), ``warps`` (target geometry, TPS solves and dense fields of the step), ``base`` (the
  generator's cartoon base, drawn once a step and shared), ``target`` (the dense target),
  ``G``/``F`` forward+backward (G(x) with the shared base), each critic's forward+backward on one batch, the
  perceptual backbone's forward+backward at ``loss.content_resolution``; the networks under the
  recipe's ``train.precision`` (bfloat16 autocast where the presets ask for it and the CPU has it) and
  memory layout. Critics run more than once per step (generator pass; real, fake and hard negatives in
  one batched pass), so components do not sum to the step.

Two "before" rows: the v4 recipe on this code (every shared speed-up of the trainer included), and
the trainer with its bundled v4 preset as shipped when training speed became an issue (commit
``SHIPPED_BEFORE``, run from a temporary git worktree in a child process; ``--shipped-before ''``
skips it, and it is skipped without git history).

The whole-run rate is the phase rates weighted by their step counts. Prints a table and writes
``benchmarks/results/training_speed.json``. Other processes on the machine slow every number alike;
the load average is recorded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from run_outputs import median_ms

from geostyle.train.config import load_config
from geostyle.train.distributed import native_bf16, unwrap
from geostyle.train.presets import preset_path
from geostyle.train.trainer import Trainer, build_trainer

RESULTS = Path(__file__).resolve().parent / "results"

# The recipe of the anime model bundled before the fast recipe (preset v4), as overrides of the anime
# preset: the "before" of the before/after comparison.
ANIME_V4 = [
    "data.target=none",
    "data.target_parts=[]",  # the anime preset's later additions, off (v4 had none of them)
    "model.generator_kwargs={}",
    "model.discriminator_kwargs={max_channels: 128}",
    "model.local_discriminator_kwargs={}",
    "loss.adversarial=3.0",
    "loss.local_adversarial=1.5",
    "loss.reverse_adversarial=1.0",
    "loss.cycle=3.0",
    "loss.content=0.25",
    "loss.target=0",
    "loss.edge_fake=0",
    "loss.style=0.5",
    "loss.deformation_every=1",  # every term on every step, as v4 ran them
    "loss.style_cycle_every=1",
    "loss.photo_cycle_every=1",
    "train.precision=fp32",  # float32 NCHW networks, as v4 ran
    "train.channels_last=false",
    "train.low_resolution=0",
    "train.low_resolution_steps=0",
    "train.steps=2500",
]


def _fwd_bwd(module: torch.nn.Module, *inputs, autocast: Callable[[], Any] = contextlib.nullcontext) -> Callable[[], None]:
    def run() -> None:
        module.zero_grad(set_to_none=True)
        with autocast():  # the recipe's precision, as its training step runs the networks
            out = module(*inputs)
        loss = sum(o.float().mean() for o in out) if isinstance(out, (list, tuple)) else out.float().mean()
        loss.backward()

    return run


def profile_phase(tr: Trainer, step: int, repeats: int) -> dict[str, float]:
    """Per-component milliseconds at the shapes of ``step``'s phase."""
    from geostyle.warp.local import crop_parts

    cfg = tr.cfg
    s = tr.prepare_step(step)
    x, y, geo = s.x, s.y, s.geo
    G, Fr, Dy, Dx, Dl = (tr.nets.generator, tr.nets.reverse, tr.nets.disc_style, tr.nets.disc_photo, tr.nets.disc_local)
    ph = s.phase
    out: dict[str, float] = {
        "data": median_ms(lambda: tr.batches(step), repeats),
        "warps": median_ms(
            lambda: ph.aligner.pair(x.points, x.mask, y.points, y.mask, cfg.geometry.align_exemplars), repeats
        ),
    }
    if s.drawn is not None:
        # The generator's cartoon base of the warped photo: drawn once a step for G(x) and the target.
        out["base"] = median_ms(lambda: unwrap(G).draw_base(s.warped_x), repeats)
    if cfg.data.target != "none":
        guided = cfg.data.target == "cartoon" and cfg.data.target_filter == "guided"
        drawn = s.drawn if guided else None
        out["target"] = median_ms(lambda: tr.dense_target(y, s.warped_x, geo, drawn), repeats)
    ac = tr.autocast
    out["G fwd+bwd"] = median_ms(_fwd_bwd(G, x.images, geo.target_from_photo, None, s.drawn, autocast=ac), repeats)
    out["F fwd+bwd"] = median_ms(_fwd_bwd(Fr, y.images, geo.style_target_from_style, autocast=ac), repeats)
    # Critics see generator outputs: inputs that need a gradient, as in the generator step.
    fake = x.images.detach().clone().requires_grad_(True)
    out["D style fwd+bwd"] = median_ms(_fwd_bwd(Dy, fake, autocast=ac), repeats)
    if Dx is not None:
        out["D photo fwd+bwd"] = median_ms(_fwd_bwd(Dx, fake, autocast=ac), repeats)
    if Dl is not None:
        crops, ids = crop_parts(x.images, geo.photo_target, geo.photo_target_mask, ph.part_crop)
        out["D local fwd+bwd"] = median_ms(_fwd_bwd(Dl, crops.detach().requires_grad_(True), ids, autocast=ac), repeats)
    if tr.perceptual is not None:
        size = cfg.loss.content_resolution
        img = torch.nn.functional.interpolate(x.images, size=(size, size), mode="bilinear").requires_grad_(True)

        def backbone() -> None:
            feats = tr.perceptual.features(img)  # type: ignore[union-attr]
            sum(f.mean() for f in feats).backward()

        out["perceptual fwd+bwd"] = median_ms(backbone, repeats)
    return out


def measure(name: str, overrides: list[str], args) -> dict[str, Any]:
    cfg = load_config(preset_path(args.preset_of.get(name, name)), overrides + [f"train.threads={args.threads}"])
    with tempfile.TemporaryDirectory() as scratch:
        tr = build_trainer(cfg, scratch, progress=False)
        phases = []
        starts = [0] + ([cfg.train.low_resolution_steps] if len(tr.phases) > 1 else [])
        # Terms computed every N-th step make steps unequal: time whole cycles of ``cycle`` steps
        # (the least common multiple of the N) and divide, so the median is of a step's average cost.
        lc = cfg.loss
        cycle = math.lcm(lc.deformation_every, lc.style_cycle_every, lc.photo_cycle_every)
        for phase, first in zip(tr.phases, starts):
            for k in range(2):
                tr.train_step(first + k)
            times = []
            for k in range(args.steps):
                t = time.perf_counter()
                for j in range(cycle):
                    tr.train_step(first + 2 + k * cycle + j)
                times.append((time.perf_counter() - t) / cycle)
            step_s = statistics.median(times)
            n_steps = (
                cfg.train.low_resolution_steps
                if phase is not tr.phases[-1]
                else cfg.train.steps - (cfg.train.low_resolution_steps if len(tr.phases) > 1 else 0)
            )
            phases.append(
                {
                    "resolution": phase.resolution,
                    "batch": phase.batch_size,
                    "steps_in_run": n_steps,
                    "step_ms": 1000 * step_s,
                    "samples_per_s": phase.batch_size / step_s,
                    "components_ms": profile_phase(tr, first + 2, args.repeats),
                }
            )
    total_steps = sum(p["steps_in_run"] for p in phases)
    total_s = sum(p["steps_in_run"] * p["step_ms"] / 1000 for p in phases)
    samples = sum(p["steps_in_run"] * p["batch"] for p in phases)
    return {
        "recipe": name,
        "precision": "bf16" if tr.autocast_dtype is not None else "fp32",
        "channels_last": cfg.train.channels_last,
        "phases": phases,
        "run_steps": total_steps,
        "run_minutes_estimate": total_s / 60,
        "run_samples_per_s": samples / total_s,
    }


# The trainer and bundled anime preset (v4) as they were when training speed became an issue: the
# "before" as a user had it, measured here on the same machine in the same run. Its code is read
# from the repository's history into a temporary worktree and run in a child process.
SHIPPED_BEFORE = "cbc001f"
_SHIPPED_SCRIPT = """
import json, statistics, sys, tempfile, time, torch
from geostyle.train.config import load_config
from geostyle.train.trainer import build_trainer
threads, steps, config = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
torch.set_num_threads(threads)
cfg = load_config(config, [f"train.threads={threads}"])
with tempfile.TemporaryDirectory() as scratch:
    tr = build_trainer(cfg, scratch, progress=False)
    for k in range(2):
        tr.train_step(k)
    times = []
    for k in range(steps):
        t = time.perf_counter()
        tr.train_step(2 + k)
        times.append(time.perf_counter() - t)
step = statistics.median(times)
print(json.dumps({"resolution": cfg.data.resolution, "batch": cfg.train.batch_size,
                  "steps_in_run": cfg.train.steps, "step_ms": 1000 * step,
                  "samples_per_s": cfg.train.batch_size / step}))
"""


def measure_shipped(rev: str, args) -> dict[str, Any] | None:
    """Whole-step rate of the trainer and anime preset at ``rev`` (None without git history)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "tree"
        try:
            add = subprocess.run(
                ["git", "-C", str(root), "worktree", "add", "--detach", str(tree), rev], capture_output=True, text=True
            )
        except FileNotFoundError:
            print(f"skipped the trainer at {rev}: no git")
            return None
        if add.returncode != 0:
            print(f"skipped the trainer at {rev}: {add.stderr.strip()}")
            return None
        try:
            env = {**os.environ, "PYTHONPATH": str(tree / "src"), "OMP_NUM_THREADS": str(args.threads)}
            run = subprocess.run(
                [sys.executable, "-c", _SHIPPED_SCRIPT, str(args.threads), str(args.steps),
                 str(tree / "configs" / "cpu_anime.yaml")],
                cwd=root, env=env, capture_output=True, text=True,
            )
        finally:
            subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(tree)], capture_output=True)
            subprocess.run(["git", "-C", str(root), "worktree", "prune"], capture_output=True)
    if run.returncode != 0:
        print(f"skipped the trainer at {rev}: {run.stderr.strip()[-500:]}")
        return None
    phase = json.loads(run.stdout.strip().splitlines()[-1])
    return {
        "recipe": f"anime v4 as shipped ({rev})",
        "precision": "fp32",
        "channels_last": False,
        "phases": [{**phase, "components_ms": {}}],
        "run_steps": phase["steps_in_run"],
        "run_minutes_estimate": phase["steps_in_run"] * phase["step_ms"] / 60000,
        "run_samples_per_s": phase["samples_per_s"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=8, help="timed whole steps per phase")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per component")
    parser.add_argument("--out", default=str(RESULTS / "training_speed.json"))
    parser.add_argument(
        "--preset-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an override for the anime and sketch preset rows only (repeatable), e.g. train.channels_last=false",
    )
    parser.add_argument(
        "--shipped-before", default=SHIPPED_BEFORE, help="git revision of the 'as shipped' row ('' = skip it)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.preset_of = {"anime v4 (before)": "anime"}
    recipes = {"anime v4 (before)": ANIME_V4, "anime": list(args.preset_set), "sketch": list(args.preset_set)}
    load_before = os.getloadavg()
    results = [measure(name, overrides, args) for name, overrides in recipes.items()]
    base = results[0]["run_samples_per_s"]
    shipped = measure_shipped(args.shipped_before, args) if args.shipped_before else None
    if shipped is not None:
        results.insert(0, shipped)
    bf16 = native_bf16(torch.device("cpu"))
    print(
        f"threads {args.threads}; load average before {load_before[0]:.2f}; CPU with native bfloat16: {bf16}"
        + (f"; preset overrides: {' '.join(args.preset_set)}" if args.preset_set else "")
    )
    print(f"{'recipe':20s} {'res':>4s} {'batch':>5s} {'step ms':>8s} {'samples/s':>9s}  components (ms)")
    for r in results:
        for p in r["phases"]:
            comps = ", ".join(f"{k} {v:.0f}" for k, v in p["components_ms"].items())
            print(
                f"{r['recipe']:20s} {p['resolution']:4d} {p['batch']:5d} {p['step_ms']:8.0f} "
                f"{p['samples_per_s']:9.2f}  {comps}"
            )
        print(
            f"{'':20s} whole run ({r['precision']}{', channels-last' if r['channels_last'] else ''}): "
            f"{r['run_samples_per_s']:.2f} samples/s "
            f"({r['run_samples_per_s'] / base:.1f}x v4 on this code"
            + (f", {r['run_samples_per_s'] / shipped['run_samples_per_s']:.1f}x as shipped" if shipped else "")
            + f"), {r['run_steps']} steps ~{r['run_minutes_estimate']:.0f} min"
        )
    payload = {
        "threads": args.threads,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "cpu_native_bf16": bf16,  # `train.precision: auto` runs bfloat16 only where this is true
        "preset_overrides": args.preset_set,
        "recipes": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
