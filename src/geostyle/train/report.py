"""Pictures of a finished (or running) training run: loss curves from ``stats.jsonl``, and how the
output of G grew over the run from the sample grids in ``samples/``.

``python -m geostyle.train.report RUN_DIR [--out PNG]``
``python -m geostyle.train.report RUN_DIR --progress [--rows 3] [--out PNG]``
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


# Layout of the trainer's sample grids (Trainer.save_samples through data.contact_sheet.image_grid).
SAMPLE_LABEL_STRIP, SAMPLE_PAD = 14, 2
PHOTO_COLUMN, OUTPUT_COLUMN = 0, 2


def progression(run_dir: str | Path, out: str | Path | None = None, rows: int = 3, max_steps: int = 6) -> Path:
    """One picture of G's output over the run: a row per sample photo (the photo, then G_ema at up to
    ``max_steps`` sample steps, evenly chosen, the last included), cut from ``samples/step-*.png``."""
    from PIL import Image

    from geostyle.data.contact_sheet import image_grid

    run_dir = Path(run_dir)
    sheets = sorted((run_dir / "samples").glob("step-*.png"))
    if not sheets:
        raise ValueError(f"{run_dir}: no sample grids in samples/ yet")
    picks = sorted({int(round(i)) for i in np.linspace(0, len(sheets) - 1, min(max_steps, len(sheets)))})
    grids = [np.asarray(Image.open(sheets[i]).convert("RGB")) for i in picks]
    cols = 6
    side = (grids[0].shape[1] - SAMPLE_PAD) // cols - SAMPLE_PAD

    def cell(grid: np.ndarray, row: int, col: int) -> np.ndarray:
        y = SAMPLE_LABEL_STRIP + SAMPLE_PAD + row * (side + SAMPLE_PAD)
        x = SAMPLE_PAD + col * (side + SAMPLE_PAD)
        return grid[y : y + side, x : x + side]

    n_rows = min(rows, (grids[0].shape[0] - SAMPLE_LABEL_STRIP - SAMPLE_PAD) // (side + SAMPLE_PAD))
    table = [[cell(grids[-1], r, PHOTO_COLUMN)] + [cell(g, r, OUTPUT_COLUMN) for g in grids] for r in range(n_rows)]
    labels = ["photo"] + [f"step {int(sheets[i].stem.split('-')[1])}" for i in picks]
    out = Path(out) if out else run_dir / "progress.png"
    Image.fromarray(image_grid(table, labels)).save(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="plot the loss curves of a training run")
    parser.add_argument("run_dir")
    parser.add_argument("--out", default=None)
    parser.add_argument("--progress", action="store_true", help="G's output at several steps instead")
    parser.add_argument("--rows", type=int, default=3, help="sample photos in the --progress picture")
    args = parser.parse_args(argv)
    if args.progress:
        print(progression(args.run_dir, args.out, args.rows))
    else:
        print(plot_losses(args.run_dir, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
