"""Pictures of a finished (or running) training run: loss curves from ``stats.jsonl``.

``python -m geostyle.train.report RUN_DIR [--out PNG]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from geostyle.train.stats import read_stats

# Panels: (title, keys). Keys absent from a run (ablations) are skipped.
PANELS = [
    ("adversarial (G)", ["g/adv", "g/adv_local", "g/adv_photo"]),
    ("discriminators", ["d/style", "d/local", "d/photo"]),
    ("cycle / invariance", ["g/cycle", "g/cycle_style", "g/deform_inv"]),
    ("content and change", ["g/content", "g/change", "g/color"]),
    ("texture (Gram)", ["g/style", "g/style_local"]),
]


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    if len(values) < window or window <= 1:
        return values
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def plot_losses(run_dir: str | Path, out: str | Path | None = None, window: int = 25) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    records = read_stats(run_dir / "stats.jsonl")
    if not records:
        raise ValueError(f"{run_dir}: no stats recorded yet")
    out = Path(out) if out else run_dir / "loss_curves.png"
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.2))
    for ax, (title, keys) in zip(axes, PANELS):
        for key in keys:
            pts = [(r["step"], r[key]) for r in records if key in r]
            if not pts:
                continue
            steps, vals = np.array(pts).T
            w = min(window, max(1, len(vals) // 5))
            ax.plot(steps[w - 1 :] if w > 1 and len(vals) >= w else steps, smooth(vals, w), label=key, lw=1.2)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    rate = [r["time/steps_per_s"] for r in records if "time/steps_per_s" in r]
    fig.suptitle(
        f"{run_dir.name}: {records[-1]['step']} steps, {rate[-1]:.2f} steps/s" if rate else run_dir.name,
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="plot the loss curves of a training run")
    parser.add_argument("run_dir")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    print(plot_losses(args.run_dir, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
