"""Data efficiency: quality against the number of style exemplars N, with and without TPS alignment.

    python benchmarks/data_efficiency.py --study anime                 # N = 10, 25, 50, 100
    python benchmarks/data_efficiency.py --study sketch                # N = 10, 25, 68 pairs
    python benchmarks/data_efficiency.py --study anime --ns 10 --steps 20 --eval-photos 4 \
        --runs /tmp/de --docs /tmp/de_docs                            # smoke test

For each N and each arm (``tps``: the preset as it is; ``notps``: the same with
``geometry.tps_alignment=false``, the ablation switch that turns every warp off) one short training
run from the preset config (``geostyle.train.config.load_config`` + ``geostyle.train.run.train``) with
``data.max_styles=N``, the same seed, the same photos and the same step budget (``--steps``; the
preset's low-resolution phase and adversarial warm-up are scaled to it). Runs go two at a time
(``--jobs``) into background processes with one thread each (``OMP_NUM_THREADS=1``, nice 10);
each process then evaluates its model with ``geostyle.eval`` (``RUN/eval/metrics.json``). Arms whose
model and report exist are skipped, an interrupted run resumes from its checkpoint: the study is
resumable by running the same command again.

Held-out data, identical for every arm so that the numbers are comparable:

* photos: the photo source folder minus each model's training photos (its ``trained_on`` metadata),
  first ``--eval-photos`` of them (sorted);
* style images: the style source folder minus the first ``max(N)`` exemplars the preset would use
  (``max`` over ``--ns`` and the study's default N list; ``RUN_ROOT/reference_exclude.txt``), i.e. none
  of the study's models saw them; for the paired sketch study that leaves the 20 held-out CUHK pairs,
  whose drawings are also the ground truth.

Writes ``DOCS/data_efficiency_<study>.md`` (table + the command) and
``DOCS/img/data_efficiency_<study>.png`` (KID and anime rate vs N for anime, paired SSIM and KID for
sketch; both arms; the classical baselines of the same evaluation as dashed lines) and
``benchmarks/results/data_efficiency_<study>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
PRESETS = REPO / "src" / "geostyle" / "train" / "presets"
STUDIES: dict[str, dict[str, Any]] = {
    "anime": {"config": PRESETS / "anime.yaml", "ns": [10, 25, 50, 100], "metrics": ["kid", "anime_rate"]},
    "sketch": {"config": PRESETS / "sketch.yaml", "ns": [10, 25, 68], "metrics": ["ssim", "kid"]},
}
ARMS = {"tps": [], "notps": ["geometry.tps_alignment=false"]}
LABELS = {"kid": "KID×1000 (lower is better)", "anime_rate": "anime rate (higher is better)",
          "ssim": "paired SSIM (higher is better)", "fid": "FID", "identity_rank1": "identity rank-1"}  # fmt: skip
BASELINE_LINES = ("photo", "grayscale", "pencil", "cartoon")


# ---------------------------------------------------------------------------------------------- config
def arm_overrides(config_path: Path, n: int, arm: str, steps: int, seed: int, extra: list[str]) -> list[str]:
    """Config overrides of one arm: N exemplars, the step budget (preset phases scaled to it), one
    thread, no per-release quick evaluation, and the ablation switch for ``notps``."""
    from geostyle.train.config import load_config

    base = load_config(config_path, extra)
    tc = base.train
    scale = steps / max(1, tc.steps)
    out = [
        f"data.max_styles={n}",
        f"train.steps={steps}",
        f"train.seed={seed}",
        "train.threads=1",
        "train.quick_eval_photos=0",
        f"train.release_every={steps}",
        f"train.sample_every={steps}",
        f"train.checkpoint_every={max(10, min(tc.checkpoint_every, steps // 10 or 1))}",
    ]
    if tc.low_resolution > 0 and tc.low_resolution_steps > 0:
        out.append(f"train.low_resolution_steps={int(round(tc.low_resolution_steps * scale))}")
    if tc.adversarial_warmup > 0:
        out.append(f"train.adversarial_warmup={int(round(tc.adversarial_warmup * scale))}")
    return [*extra, *out, *ARMS[arm]]


def source_items(config_path: Path, extra: list[str]) -> tuple[Path, Path, list[str], str]:
    """Photo and style source folders of the preset's prepared datasets, the style stems in the order
    the trainer takes exemplars (manifest order, holdout removed), and the pairs CSV (or '')."""
    from geostyle.data.manifest import load_manifest
    from geostyle.train.config import load_config

    cfg = load_config(config_path, extra)
    photos, styles = load_manifest(cfg.data.photos), load_manifest(cfg.data.styles)
    hold = set(cfg.data.holdout)
    order = [
        Path(it.source).stem for it in styles.items if it.id not in hold and Path(it.source).stem not in hold
    ]
    photo_dir = Path(photos.items[0].source).parent
    style_dir = Path(styles.items[0].source).parent
    return photo_dir, style_dir, order, cfg.data.pairs


# ---------------------------------------------------------------------------------------------- one arm
def run_arm(spec_path: Path) -> int:
    """Train (or resume) one arm, then evaluate it; everything is described by ``spec_path`` (JSON)."""
    import torch

    from geostyle.errors import CheckpointError
    from geostyle.eval.run import EvalOptions, evaluate
    from geostyle.train.config import load_config
    from geostyle.train.run import train

    torch.set_num_threads(1)
    spec = json.loads(spec_path.read_text())
    run_dir = Path(spec["run_dir"])
    model = run_dir / "model.safetensors"
    if not model.is_file():
        config = load_config(spec["config"], spec["overrides"])
        resume = (run_dir / "resume.pt").is_file()
        start = time.time()
        try:
            train(config, run_dir, resume=resume, progress=False)
        except CheckpointError:
            if not resume:
                raise
            # Finished before the final copy was written: the last release is the model.
            releases = sorted(run_dir.glob("model-*.safetensors"))
            model.write_bytes(releases[-1].read_bytes())
        (run_dir / "train_seconds.txt").write_text(f"{time.time() - start:.0f}\n")
    if spec.get("train_only"):
        return 0
    report = run_dir / "eval"
    if not (report / "metrics.json").is_file():
        evaluate(
            EvalOptions(
                model=str(model),
                photos=Path(spec["photos"]),
                styles=Path(spec["styles"]),
                out=report,
                pairs=spec["pairs"] or None,
                n=spec["eval_photos"],
                exclude=[Path(spec["exclude"])],
                threads=1,
                speed_repeats=0,
                baselines=spec.get("baselines", True),
                kid_subsets=50,
                progress=False,
                sheet_rows=6,
                command=f"data_efficiency arm {spec['name']}",
            )
        )
    return 0


# ---------------------------------------------------------------------------------------------- study
def launch(spec_path: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with open(log, "a") as fh:
        return subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--arm", str(spec_path)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            preexec_fn=lambda: os.nice(10),
            cwd=REPO,
        )


def collect(root: Path, ns: list[int], arms: list[str]) -> dict[str, Any]:
    rows, baselines = [], None
    for n in ns:
        for arm in arms:
            metrics_path = root / f"n{n:03d}_{arm}" / "eval" / "metrics.json"
            if not metrics_path.is_file():
                continue
            m = json.loads(metrics_path.read_text())
            seconds = root / f"n{n:03d}_{arm}" / "train_seconds.txt"
            rows.append(
                {
                    "n": n,
                    "arm": arm,
                    **{
                        k: m.get(k)
                        for k in (
                            "kid",
                            "kid_std",
                            "fid",
                            "anime_rate",
                            "anime_rate_crop",
                            "identity_rank1",
                            "landmark_nme",
                            "ssim",
                            "lpips",
                            "n_outputs",
                        )
                    },  # fmt: skip
                    "style_images": m.get("style_images"),
                    "train_seconds": float(seconds.read_text()) if seconds.is_file() else None,
                }
            )
            if not baselines and "photo" in m["baselines"]:
                baselines = m["baselines"]
    return {"rows": rows, "baselines": baselines or {}}


def plot(study: str, data: dict[str, Any], metrics: list[str], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        _plot_pil(study, data, metrics, path)
        return
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), dpi=110)
    for ax, key in zip(np.atleast_1d(axes), metrics):
        for arm, style in (("tps", "o-"), ("notps", "s--")):
            pts = sorted((r["n"], r[key]) for r in data["rows"] if r["arm"] == arm and r.get(key) is not None)
            if pts:
                ax.plot(*zip(*pts), style, label=f"TPS {'on' if arm == 'tps' else 'off'}")
        ax.set_xscale("log")
        ns = sorted({r["n"] for r in data["rows"]})
        if ns:
            ax.set_xticks(ns, [str(n) for n in ns])
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        # Baselines as labelled lines; x in axes fraction so the label sits at the left edge.
        label_at = ax.get_yaxis_transform()
        lines = sorted((v, n) for n in BASELINE_LINES if (v := data["baselines"].get(n, {}).get(key)) is not None)
        lo, hi = ax.get_ylim()
        groups: list[list[tuple[float, str]]] = []
        for value, name in lines:  # baselines closer than 3 % of the axis share one label
            if groups and value - groups[-1][-1][0] < 0.03 * (max(hi, value) - min(lo, value)):
                groups[-1].append((value, name))
            else:
                groups.append([(value, name)])
        for group in groups:
            for value, _ in group:
                ax.axhline(value, color="grey", lw=0.8, ls=":")
            label = " / ".join(name for _, name in group)
            ax.text(0.01, group[-1][0], label, transform=label_at, fontsize=7, color="dimgrey", va="bottom")
        ax.set_xlabel("style exemplars N")
        ax.set_title(LABELS.get(key, key), fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle(f"data efficiency: {study}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_pil(study: str, data: dict[str, Any], metrics: list[str], path: Path) -> None:
    """The same plot drawn with PIL (where matplotlib is not installed): lines only, values labelled."""
    from PIL import Image, ImageDraw

    w, h, pad = 420, 300, 40
    canvas = Image.new("RGB", (w * len(metrics), h), "white")
    draw = ImageDraw.Draw(canvas)
    for i, key in enumerate(metrics):
        x0 = i * w
        vals = [r[key] for r in data["rows"] if r.get(key) is not None]
        ns = sorted({r["n"] for r in data["rows"]})
        draw.text((x0 + pad, 8), f"{study}: {LABELS.get(key, key)}", fill="black")
        if not vals or not ns:
            continue
        lo, hi = min(vals), max(vals)
        hi = hi if hi > lo else lo + 1

        def xy(
            n: float, v: float, x0: int = x0, lo: float = lo, hi: float = hi, ns: list[int] = ns
        ) -> tuple[float, float]:
            fx = 0.5 if len(ns) == 1 else (np.log(n) - np.log(ns[0])) / (np.log(ns[-1]) - np.log(ns[0]))
            return x0 + pad + fx * (w - 2 * pad), h - pad - (v - lo) / (hi - lo) * (h - 2 * pad)

        for arm, color in (("tps", (30, 90, 200)), ("notps", (200, 80, 30))):
            pts = [
                xy(r["n"], r[key])
                for r in sorted(data["rows"], key=lambda r: r["n"])
                if r["arm"] == arm and r.get(key) is not None
            ]
            if len(pts) > 1:
                draw.line(pts, fill=color, width=2)
            for (px, py), r in zip(
                pts,
                [
                    r
                    for r in sorted(data["rows"], key=lambda r: r["n"])
                    if r["arm"] == arm and r.get(key) is not None
                ],
            ):
                draw.ellipse((px - 3, py - 3, px + 3, py + 3), fill=color)
                draw.text((px + 4, py - 12), f"{arm} {r[key]:.3g}", fill=color)
        for n in ns:
            px, _ = xy(n, lo)
            draw.text((px - 6, h - pad + 6), str(n), fill="black")
    canvas.save(path)


def fmt(v: Any, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def markdown(study: str, data: dict[str, Any], command: str, steps: int, image: str) -> str:
    lines = [f"# Data efficiency: {study}", "", f"`{command}`", "",
             f"Step budget per arm: {steps} steps (same seed, photos and schedule for every arm).", "",
             "| N | TPS | KID×1000 | FID | anime rate | anime rate crop | id rank-1 | NME | SSIM | ST-LPIPS | train s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in sorted(data["rows"], key=lambda r: (r["n"], r["arm"])):
        lines.append(
            f"| {r['n']} | {'on' if r['arm'] == 'tps' else 'off'} | {fmt(r['kid'], 1)} ± {fmt(r['kid_std'], 1)} "
            f"| {fmt(r['fid'], 1)} | {fmt(r['anime_rate'], 2)} | {fmt(r['anime_rate_crop'], 2)} "
            f"| {fmt(r['identity_rank1'], 2)} | {fmt(r['landmark_nme'])} | {fmt(r['ssim'])} | {fmt(r['lpips'])} "
            f"| {fmt(r['train_seconds'], 0)} |"
        )
    lines += ["", "Baselines of the same evaluation (same held-out photos and style images):", ""]
    for name, b in data["baselines"].items():
        lines.append(
            f"- {name}: KID×1000 {fmt(b.get('kid'), 1)}, anime rate {fmt(b.get('anime_rate'), 2)}, "
            f"SSIM {fmt(b.get('ssim'))}, id rank-1 {fmt(b.get('identity_rank1'), 2)}"
        )
    lines += ["", f"![data efficiency]({image})", ""]
    return "\n".join(lines)


def replot(study_name: str, docs: Path) -> int:
    """Doc and plot again from a finished study's results file (the runs need not exist any more)."""
    saved = RESULTS / f"data_efficiency_{study_name}.json"
    if not saved.is_file():
        print(f"no results file {saved}: run the study first", file=sys.stderr)
        return 2
    result = json.loads(saved.read_text())
    data = {"rows": result["rows"], "baselines": result["baselines"]}
    image = docs / "img" / f"data_efficiency_{study_name}.png"
    plot(study_name, data, STUDIES[study_name]["metrics"], image)
    md = docs / f"data_efficiency_{study_name}.md"
    text = markdown(study_name, data, result["command"], result["steps"], os.path.relpath(image, md.parent))
    if result.get("notes"):  # the reading of the measurement, written after it (kept in the results file)
        text += "\n## What it shows\n\n" + "\n\n".join(result["notes"]) + "\n"
    md.write_text(text)
    print(f"wrote {md}, {image} from {saved}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", choices=sorted(STUDIES), default="anime")
    ap.add_argument("--config", type=Path, help="preset config (default: the study's shipped preset)")
    ap.add_argument("--ns", help="comma-separated exemplar counts (default: the study's)")
    ap.add_argument("--steps", type=int, default=1500, help="training steps per arm (same for every arm)")
    ap.add_argument("--arms", default="tps,notps")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="extra config override")
    ap.add_argument("--jobs", type=int, default=2, help="arms trained at the same time")
    ap.add_argument("--eval-photos", type=int, default=50, help="held-out photos per evaluation")
    ap.add_argument("--runs", type=Path, default=REPO / "runs" / "data_efficiency")
    ap.add_argument("--docs", type=Path, default=REPO / "docs")
    ap.add_argument("--replot", action="store_true",
                    help="rewrite the doc and plot from benchmarks/results/data_efficiency_<study>.json")  # fmt: skip
    ap.add_argument("--train-only", action="store_true",
                    help="train the arms and stop (e.g. on an accelerator machine); a later run without it "
                         "evaluates the models it finds and writes the doc")  # fmt: skip
    ap.add_argument("--arm", type=Path, help=argparse.SUPPRESS)  # internal: run one arm from its spec
    args = ap.parse_args(argv)
    if args.arm is not None:
        return run_arm(args.arm)
    if args.replot:
        return replot(args.study, args.docs)

    study = STUDIES[args.study]
    config = (args.config or study["config"]).resolve()
    ns = [int(v) for v in args.ns.split(",")] if args.ns else list(study["ns"])
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        ap.error(f"unknown arms {unknown}; choose from {', '.join(ARMS)}")
    root = (args.runs / args.study).resolve()
    root.mkdir(parents=True, exist_ok=True)
    photo_dir, style_dir, order, pairs = source_items(config, args.overrides)
    if max(ns) > len(order):
        ap.error(f"N = {max(ns)} but the preset's style set has only {len(order)} exemplars")
    # Identical held-out style images for every arm, and for a trial run with fewer N as for the full
    # study: none of the first max(N) exemplars of the study's default N list either.
    reach = max(max(ns), max(study["ns"]) if args.config is None else 0)
    exclude = root / "reference_exclude.txt"
    exclude.write_text("# exemplars some arm of this study trains on\n" + "\n".join(order[:reach]) + "\n")
    command = "python benchmarks/data_efficiency.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )

    pending: list[tuple[str, Path, Path]] = []
    any_done = False
    for n in ns:
        for arm in arms:
            name = f"n{n:03d}_{arm}"
            run_dir = root / name
            done = (run_dir / "model.safetensors").is_file()
            if done and (args.train_only or (run_dir / "eval" / "metrics.json").is_file()):
                print(f"{name}: done, skipped")
                any_done = any_done or (run_dir / "eval" / "metrics.json").is_file()
                continue
            run_dir.mkdir(parents=True, exist_ok=True)
            spec = {
                "name": name,
                "run_dir": str(run_dir),
                "config": str(config),
                "overrides": arm_overrides(config, n, arm, args.steps, args.seed, args.overrides),
                "photos": str(photo_dir),
                "styles": str(style_dir),
                "pairs": pairs,
                "exclude": str(exclude),
                "eval_photos": args.eval_photos,
                "train_only": args.train_only,
                # The classical baselines do not depend on the arm: measured once, with the first arm.
                "baselines": not pending and not any_done,
            }
            spec_path = run_dir / "arm.json"
            spec_path.write_text(json.dumps(spec, indent=2) + "\n")
            pending.append((name, spec_path, run_dir / "arm.log"))

    running: list[tuple[str, subprocess.Popen, float]] = []
    failed = []
    start = time.time()
    while pending or running:
        while pending and len(running) < max(1, args.jobs):
            name, spec_path, log = pending.pop(0)
            print(f"{name}: started (log {log})", flush=True)
            running.append((name, launch(spec_path, log), time.time()))
        time.sleep(2)
        for item in list(running):
            name, proc, t0 = item
            if proc.poll() is not None:
                running.remove(item)
                status = "done" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
                print(f"{name}: {status} after {time.time() - t0:.0f} s", flush=True)
                if proc.returncode != 0:
                    failed.append(name)

    if args.train_only:
        print(f"trained {len(ns) * len(arms) - len(failed)} arms in {time.time() - start:.0f} s; failed: {failed or 'none'}")
        return 1 if failed else 0
    data = collect(root, ns, arms)
    image = args.docs / "img" / f"data_efficiency_{args.study}.png"
    plot(args.study, data, study["metrics"], image)
    md = args.docs / f"data_efficiency_{args.study}.md"
    md.write_text(markdown(args.study, data, command, args.steps, os.path.relpath(image, md.parent)))
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "data_efficiency", "study": args.study, "command": command, "steps": args.steps,
              "ns": ns, "arms": arms, "seconds": round(time.time() - start), "failed": failed, **data}  # fmt: skip
    out = RESULTS / f"data_efficiency_{args.study}.json"
    if args.docs.resolve() != (REPO / "docs").resolve():
        out = args.docs / f"data_efficiency_{args.study}.json"  # a trial run does not overwrite results
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(md.read_text())
    print(f"wrote {md}, {image}, {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
