"""Speed of the TPS warp at 512x512: fit, template fit, dense vs low-res fields, resampling, ONNX Runtime.

    python benchmarks/tps_speed.py [--size 512] [--repeats 20] [--threads 2[,1]]

Control points: a real face (the first HELEN image's 68 ground-truth points, aligned to the crop), as
our canonical 33 points (``from_ibug68``) or all 68, each plus 16 fixed border anchors. Target: the same
face with eyes enlarged 1.4x and a smooth ~2 % displacement field (a style-like warp). Times are
medians over ``--repeats`` runs after a warm-up, float32, batch 1, wall clock on this machine; "err"
compares a low-res field (evaluated at that many pixels and upsampled) with the dense field, in
output pixels. Writes ``benchmarks/results/tps_speed.json`` (one entry per thread count, with the load
average: on a shared machine, two threads stall in OpenMP barriers whenever the other core is busy, so
compare the minima, or use one thread).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from geostyle.faces.align import apply_affine, estimate_alignment
from geostyle.faces.landmarks import INDEX, from_ibug68, pixels_to_normalized
from geostyle.warp.grid import identity_grid, tps_grid, tps_grid_fast, warp_image
from geostyle.warp.tps import TemplateSolver, ThinPlateSpline, append_anchors, border_anchors

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GEOSTYLE_SHARED_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results"
LOWRES = (64, 128)


def _read_pts(path: Path) -> np.ndarray:
    lines = path.read_text().splitlines()
    start = lines.index("{") + 1
    return np.array([[float(v) for v in line.split()] for line in lines[start : start + 68]])


def _face_points(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(68, 2) and canonical (33, 2) points of a real face in the pixel frame of a size x size crop."""
    pts_files = sorted((SHARED / "landmarks" / "helen").glob("*.pts"))
    if pts_files:
        p68 = _read_pts(pts_files[0]) - 1.0  # iBUG .pts files are 1-based
    else:  # no shared data: a coarse synthetic face (an ellipse of 68 points)
        a = np.linspace(0, 2 * np.pi, 68, endpoint=False)
        p68 = np.stack([200 + 80 * np.cos(a) * np.linspace(0.3, 1, 68), 220 + 100 * np.sin(a)], -1)
    alignment = estimate_alignment(from_ibug68(p68), size=size)
    p68 = apply_affine(alignment.matrix, p68)
    return p68, from_ibug68(p68)


def _style_like(points: np.ndarray, eye_sets: list[list[int]], size: int) -> np.ndarray:
    t = points.copy()
    for idx in eye_sets:
        c = points[idx].mean(0)
        t[idx] = c + 1.4 * (points[idx] - c)
    u = points / size
    t += 0.02 * size * np.stack([np.sin(3 * u[:, 0] + 1), np.cos(2 * u[:, 1])], -1)
    return t


def _median_ms(fn, repeats: int) -> float:
    """Median wall time in ms; the minimum goes to ``_MINIMA`` (less sensitive to a busy machine)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    _MINIMA.append(1000 * min(times))
    return 1000 * statistics.median(times)


_MINIMA: list[float] = []


def _onnx_ms(
    size: int, centres: torch.Tensor, coeffs: torch.Tensor, image: torch.Tensor, lowres, repeats, threads
):
    try:
        import onnxruntime as ort

        from geostyle.warp.onnx_export import export_tps_warp
    except ImportError:
        return None
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = export_tps_warp(Path(tmp) / "tps.onnx", out_size=size, lowres=lowres)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        feed = {
            "image": image.numpy(),
            "coefficients": coeffs.float().numpy(),
            "centres": centres.float().numpy(),
        }
        return _median_ms(lambda: sess.run(None, feed), repeats)


def run(size: int, repeats: int, threads: int, onnx: bool) -> dict:
    torch.set_num_threads(threads)
    p68, p33 = _face_points(size)
    eyes68 = [list(range(36, 42)), list(range(42, 48))]
    eyes33 = [[INDEX[n] for n in INDEX if n.startswith(s)] for s in ("right_eye", "left_eye")]
    sets = {
        "33 + 16 anchors": (p33, _style_like(p33, eyes33, size)),
        "68 + 16 anchors": (p68, _style_like(p68, eyes68, size)),
    }
    anchors = border_anchors(5)
    image = torch.rand(1, 3, size, size)
    rows = []
    for name, (p, t) in sets.items():
        p_n = pixels_to_normalized(torch.from_numpy(p).float()[None], size, size)
        t_n = pixels_to_normalized(torch.from_numpy(t).float()[None], size, size)
        centres, values, mask = append_anchors(t_n, p_n, None, anchors)  # backward map t -> p
        spline = ThinPlateSpline.fit(centres, values, mask=mask)
        solver = TemplateSolver(centres[0])
        row: dict = {"points": name, "control_points": int(centres.shape[1])}

        def timed(key, fn, row=row):
            row[key] = _median_ms(fn, repeats)
            row[key.replace("_ms", "_min_ms")] = _MINIMA[-1]

        timed("fit_ms", lambda c=centres, v=values, m=mask: ThinPlateSpline.fit(c, v, mask=m))
        timed("template_fit_ms", lambda s=solver, v=values: s.fit(v))
        timed("field_dense_ms", lambda s=spline: tps_grid(s, size, size))
        dense = tps_grid(spline, size, size)
        for lr in LOWRES:
            timed(f"field_lowres{lr}_ms", lambda s=spline, lr=lr: tps_grid_fast(s, size, size, lr))
            err = (tps_grid_fast(spline, size, size, lr) - dense).abs() * size / 2
            row[f"lowres{lr}_max_px"] = float(err.max())
            row[f"lowres{lr}_mean_px"] = float(err.mean())
        timed("warp_ms", lambda g=dense: warp_image(image, g))
        row["max_displacement_px"] = float(((dense - identity_grid(1, size, size)).abs() * size / 2).max())
        if onnx:
            row["onnx_lowres128_ms"] = _onnx_ms(
                size, centres, spline.coefficients, image, 128, repeats, threads
            )
            row["onnx_lowres128_min_ms"] = _MINIMA[-1] if row["onnx_lowres128_ms"] is not None else None
        rows.append(row)
    return {
        "size": size,
        "threads": threads,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "repeats": repeats,
        "torch": torch.__version__,
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "rows": rows,
    }


_TABLE = [
    ("fit (torch.linalg.solve)", "fit_ms"),
    ("fit, template path (one matmul)", "template_fit_ms"),
    ("field, dense", "field_dense_ms"),
    ("field, 64 px + bilinear upsampling", "field_lowres64_ms"),
    ("field, 128 px + bilinear upsampling", "field_lowres128_ms"),
    ("warp image (grid_sample)", "warp_ms"),
    ("ONNX Runtime: 128 px field + upsampling + warp", "onnx_lowres128_ms"),
]


def table(result: dict) -> str:
    rows = result["rows"]
    lines = [
        "| median (min) | " + " | ".join(r["points"] for r in rows) + " |",
        "|---" * (len(rows) + 1) + "|",
    ]
    for label, key in _TABLE:
        cells = []
        for r in rows:
            v, m = r.get(key), r.get(key.replace("_ms", "_min_ms"))
            cells.append("-" if v is None else f"{v:.2f} ms ({m:.2f})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for lr in LOWRES:
        cells = [f"{r[f'lowres{lr}_max_px']:.2f} / {r[f'lowres{lr}_mean_px']:.4f} px" for r in rows]
        lines.append(f"| {lr} px field vs dense: max / mean error | " + " | ".join(cells) + " |")
    lines.append(
        "| largest displacement of the warp | "
        + " | ".join(f"{r['max_displacement_px']:.1f} px" for r in rows)
        + " |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", default="2", help="torch/ORT thread counts, comma separated (default 2)")
    parser.add_argument("--no-onnx", action="store_true")
    args = parser.parse_args()
    runs = []
    for threads in (int(t) for t in args.threads.split(",")):
        result = run(args.size, args.repeats, threads, not args.no_onnx)
        print(
            f"\n{args.size}x{args.size}, torch threads {threads}, median (min) of {args.repeats}, "
            f"1-min load average {result['load_average_1min']} on {os.cpu_count()} cpus"
        )
        print(table(result))
        runs.append(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "tps_speed.json").write_text(json.dumps({"runs": runs}, indent=1))
    print(f"wrote {RESULTS / 'tps_speed.json'}")


if __name__ == "__main__":
    main()
