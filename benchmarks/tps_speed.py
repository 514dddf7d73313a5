"""Speed of the TPS warp at 512x512: fit, template fit, dense vs low-res fields, resampling, ONNX Runtime.

    python benchmarks/tps_speed.py [--size 512] [--repeats 20] [--threads 2]

Control points: a real face (the first HELEN image's 68 ground-truth points, aligned to the crop), as
our canonical 33 points (``from_ibug68``) or all 68, each plus 16 fixed border anchors. Target: the same
face with eyes enlarged 1.4x and a smooth ~2 % displacement field (a style-like warp). Times are
medians over ``--repeats`` runs after a warm-up, float32, batch 1, wall clock on this machine; "err"
compares a low-res field (evaluated at that many pixels and upsampled) with the dense field, in
output pixels. Writes ``benchmarks/results/tps_speed.json``.
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
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def _onnx_ms(size: int, centres: torch.Tensor, coeffs: torch.Tensor, image: torch.Tensor, lowres, repeats, threads):
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
        feed = {"image": image.numpy(), "coefficients": coeffs.float().numpy(), "centres": centres.float().numpy()}
        return _median_ms(lambda: sess.run(None, feed), repeats)


def run(size: int, repeats: int, threads: int, onnx: bool) -> dict:
    torch.set_num_threads(threads)
    p68, p33 = _face_points(size)
    eyes68 = [list(range(36, 42)), list(range(42, 48))]
    eyes33 = [[INDEX[n] for n in INDEX if n.startswith(s)] for s in ("right_eye", "left_eye")]
    sets = {"33 + 16 anchors": (p33, _style_like(p33, eyes33, size)), "68 + 16 anchors": (p68, _style_like(p68, eyes68, size))}
    anchors = border_anchors(5)
    image = torch.rand(1, 3, size, size)
    rows = []
    for name, (p, t) in sets.items():
        p_n = pixels_to_normalized(torch.from_numpy(p).float()[None], size, size)
        t_n = pixels_to_normalized(torch.from_numpy(t).float()[None], size, size)
        centres, values, mask = append_anchors(t_n, p_n, None, anchors)  # backward map t -> p
        spline = ThinPlateSpline.fit(centres, values, mask=mask)
        solver = TemplateSolver(centres[0])
        row = {
            "points": name,
            "control_points": int(centres.shape[1]),
            "fit_ms": _median_ms(lambda c=centres, v=values, m=mask: ThinPlateSpline.fit(c, v, mask=m), repeats),
            "template_fit_ms": _median_ms(lambda s=solver, v=values: s.fit(v), repeats),
            "field_dense_ms": _median_ms(lambda s=spline: tps_grid(s, size, size), repeats),
        }
        dense = tps_grid(spline, size, size)
        for lr in LOWRES:
            row[f"field_lowres{lr}_ms"] = _median_ms(lambda s=spline, lr=lr: tps_grid_fast(s, size, size, lr), repeats)
            err = (tps_grid_fast(spline, size, size, lr) - dense).abs() * size / 2
            row[f"lowres{lr}_max_px"] = float(err.max())
            row[f"lowres{lr}_mean_px"] = float(err.mean())
        row["warp_ms"] = _median_ms(lambda g=dense: warp_image(image, g), repeats)
        row["max_displacement_px"] = float(((dense - identity_grid(1, size, size)).abs() * size / 2).max())
        if onnx:
            row["onnx_lowres128_ms"] = _onnx_ms(size, centres, spline.coefficients, image, 128, repeats, threads)
        rows.append(row)
    return {
        "size": size,
        "threads": threads,
        "repeats": repeats,
        "torch": torch.__version__,
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "rows": rows,
    }


def table(result: dict) -> str:
    head = (
        "| points | fit | template fit | dense field | low-res 64 field | low-res 128 field | warp (grid_sample) "
        "| 64: max / mean err | 128: max / mean err | ONNX RT, 128 field + warp |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in result["rows"]:
        onnx_ms = r.get("onnx_lowres128_ms")
        lines.append(
            f"| {r['points']} | {r['fit_ms']:.2f} ms | {r['template_fit_ms']:.3f} ms | {r['field_dense_ms']:.1f} ms "
            f"| {r['field_lowres64_ms']:.2f} ms | {r['field_lowres128_ms']:.2f} ms | {r['warp_ms']:.1f} ms "
            f"| {r['lowres64_max_px']:.2f} / {r['lowres64_mean_px']:.3f} px "
            f"| {r['lowres128_max_px']:.2f} / {r['lowres128_mean_px']:.3f} px "
            f"| {'-' if onnx_ms is None else f'{onnx_ms:.1f} ms'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-onnx", action="store_true")
    args = parser.parse_args()
    result = run(args.size, args.repeats, args.threads, not args.no_onnx)
    print(f"{args.size}x{args.size}, torch threads {args.threads}, median of {args.repeats}")
    print(table(result))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "tps_speed.json").write_text(json.dumps(result, indent=1))
    print(f"wrote {RESULTS / 'tps_speed.json'}")


if __name__ == "__main__":
    main()
