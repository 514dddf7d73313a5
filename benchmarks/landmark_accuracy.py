"""Accuracy of the photo landmark backends on HELEN (300 photos with iBUG-68 ground truth).

    python benchmarks/landmark_accuracy.py                    # mediapipe and dlib, all 300 images
    python benchmarks/landmark_accuracy.py --tune-mediapipe   # re-derive the mediapipe mesh indices
    python benchmarks/landmark_accuracy.py --fit-outline      # re-fit the pose-dependent outline

Metric
------
* Ground truth: the canonical points computed from the ``.pts`` files with ``from_ibug68``.
* NME of an image: mean over the canonical points of ``|predicted - truth|``, divided by the
  inter-ocular distance = distance between the *outer eye corners* (iBUG points 37 and 46, the
  300-W convention). "inner" NME uses only the eye, nose and mouth points (``PARTS``), leaving out
  brows and jaw, whose definitions differ most between detectors; "outline" NME only the chin, jaw
  and cheek points (``OUTLINE_NAMES``).
* If a backend returns several faces, the one with the lowest NME is scored.
* Failure: no face returned, or NME > 0.10. Mean / median NME are over non-failed images;
  per-point NME is over non-failed images too.
* Time: wall time of ``backend.detect`` per image (images already decoded; graphs built and warmed up
  on one image before timing) on this machine.
* Images 0-149 (sorted by name) were used to choose the mediapipe mesh indices and to fit the
  outline regression (with their mirror images); 150-299 are held out.
* ``mediapipe-fixed`` is the same detections mapped with the fixed vertices only
  (``MESH_INDICES``, the mapping before the outline regression): before/after on the same meshes.
* Yaw bins: the head yaw measured from the mesh (``geostyle.faces.outline.head_yaw``); per-point
  NME in each bin on the held-out half, and the jaw, cheek and lower-jaw points of the side turned
  away from the camera (far, hidden) and of the side facing it (near).

Writes ``benchmarks/results/landmark_accuracy.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from geostyle.data.images import load_image
from geostyle.faces.backends.base import get_backend
from geostyle.faces.backends.files import read_pts
from geostyle.faces.landmarks import CANONICAL_NAMES, INDEX, PARTS, from_ibug68, mirror_permutation
from geostyle.faces.outline import ASSET, OUTLINE_NAMES, fit_outline

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = (
    Path(os.environ.get("GEOSTYLE_SHARED_DATA", ROOT.parent / "shared" / "data")) / "landmarks" / "helen"
)
RESULTS = ROOT / "benchmarks" / "results"
FAIL_NME = 0.10
TUNE = slice(0, 150)
HELD_OUT = slice(150, 300)
INNER = [INDEX[n] for part in PARTS.values() for n in part]
OUTLINE = [INDEX[n] for n in OUTLINE_NAMES]


def load_helen(folder: Path, limit: int | None = None):
    images = sorted(p for p in folder.glob("*.jpg") if p.with_suffix(".pts").is_file())
    if limit:
        images = images[:limit]
    if not images:
        sys.exit(f"no .jpg/.pts pairs in {folder}")
    pts68 = np.stack([read_pts(p.with_suffix(".pts")) for p in images])
    truth = np.stack([from_ibug68(p) for p in pts68])
    iod = np.linalg.norm(pts68[:, 36] - pts68[:, 45], axis=1)
    return images, truth, iod


def point_errors(pred: np.ndarray, truth: np.ndarray, iod: float) -> np.ndarray:
    return np.linalg.norm(pred - truth, axis=-1) / iod


def run_backend(name: str, images: list[Path], truth: np.ndarray, iod: np.ndarray):
    backend = get_backend(name)
    decoded = [load_image(p) for p in images]
    backend.detect(decoded[0], images[0])  # build and warm up
    per_point = np.full((len(images), len(CANONICAL_NAMES)), np.nan)
    times = []
    found = np.zeros(len(images), dtype=bool)
    meshes = []
    yaws = np.full(len(images), np.nan)
    for i, (path, image) in enumerate(zip(images, decoded, strict=True)):
        t0 = time.perf_counter()
        faces = backend.detect(image, path)
        times.append(time.perf_counter() - t0)
        meshes.append(None)
        if not faces:
            continue
        found[i] = True
        errs = [point_errors(f.landmarks, truth[i], iod[i]) for f in faces]
        best = int(np.argmin([np.nanmean(e) for e in errs]))
        per_point[i] = errs[best]
        extra = faces[best].extra
        if "mesh" in extra:
            meshes[i] = np.column_stack([extra["mesh"], extra["mesh_z"]]) if "mesh_z" in extra else extra["mesh"]
        yaws[i] = extra.get("yaw", np.nan)
    close = getattr(backend, "close", None)
    if close:
        close()
    return per_point, found, np.array(times), meshes, yaws


def summarise(per_point: np.ndarray, found: np.ndarray, times: np.ndarray, rows: slice | np.ndarray) -> dict:
    pp, fd = per_point[rows], found[rows]
    with warnings.catch_warnings():  # rows of images without a face are all NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        nme = np.nanmean(pp, axis=1)
        nme_inner = np.nanmean(pp[:, INNER], axis=1)
        nme_outline = np.nanmean(pp[:, OUTLINE], axis=1)
    ok = fd & (nme <= FAIL_NME)
    return {
        "images": int(len(pp)),
        "no_face": int((~fd).sum()),
        "nme_over_0.10": int((fd & (nme > FAIL_NME)).sum()),
        "failure_rate": round(float(1 - ok.mean()), 4),
        "nme_mean": round(float(nme[ok].mean()), 4),
        "nme_median": round(float(np.median(nme[ok])), 4),
        "nme_inner_mean": round(float(nme_inner[ok].mean()), 4),
        "nme_outline_mean": round(float(nme_outline[ok].mean()), 4),
        "nme_all_found_mean": round(float(nme[fd].mean()), 4),
        "per_point": {n: round(float(pp[ok, k].mean()), 4) for k, n in enumerate(CANONICAL_NAMES)},
        "ms_per_image": round(float(times[rows].mean() * 1000), 1),
    }


def markdown(results: dict) -> str:
    lines = [
        "# Landmark accuracy on HELEN (300-W train subset)",
        "",
        f"Data: `{results['data']}`, {results['images']} images. NME normalised by the outer-eye-corner "
        f"distance; failure = no face or NME > {FAIL_NME}; mean/median over non-failed images. "
        f"Machine: {results['machine']}.",
        "",
        "| backend | split | images | no face | NME>0.10 | failure rate | NME mean | NME median | NME inner (eyes, nose, mouth) | NME outline (chin, jaw, cheeks) | ms / image |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, splits in results["backends"].items():
        for split, s in splits.items():
            lines.append(
                f"| {name} | {split} | {s['images']} | {s['no_face']} | {s['nme_over_0.10']} | "
                f"{100 * s['failure_rate']:.1f} % | {s['nme_mean']:.4f} | {s['nme_median']:.4f} | "
                f"{s['nme_inner_mean']:.4f} | {s['nme_outline_mean']:.4f} | {s['ms_per_image']:.1f} |"
            )
    names = list(results["backends"])
    split = "150-299" if all("150-299" in results["backends"][n] for n in names) else "all"
    lines += ["", f"Per-point NME (images {split}):", "", "| point | " + " | ".join(names) + " |"]
    lines.append("|---|" + "---|" * len(names))
    for point in CANONICAL_NAMES:
        vals = " | ".join(f"{results['backends'][n][split]['per_point'][point]:.4f}" for n in names)
        lines.append(f"| {point} | {vals} |")
    for name, bins in results.get("yaw_bins", {}).items():
        lines += ["", f"{name}: NME by head yaw (images {split}; yaw from the mesh, degrees; negative turns "
                  "the subject's right side away; far / near side: jaw, cheek and lower jaw of the side turned away / "
                  "facing the camera):", ""]  # fmt: skip
        labels = list(bins)
        lines.append("| point | " + " | ".join(f"{b} (n={bins[b]['images']})" for b in labels) + " |")
        lines.append("|---|" + "---|" * len(labels))
        for point in ["all points", "outline", "far side", "near side", *OUTLINE_NAMES]:
            lines.append(f"| {point} | " + " | ".join(_cell(bins[b].get(point)) for b in labels) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


YAW_EDGES = (-90.0, -30.0, -15.0, 15.0, 30.0, 90.0)
SIDE_NAMES = ("jaw_{}", "cheek_{}", "jaw_{}_lower")  # the outline points of one side (not the chin)


def yaw_bins(per_point: np.ndarray, found: np.ndarray, yaws: np.ndarray, rows: np.ndarray) -> dict:
    """Per-point NME of the found images in each yaw bin (``rows``: the images that count)."""
    outline = [INDEX[n] for n in OUTLINE_NAMES]
    out = {}
    for lo, hi in itertools.pairwise(YAW_EDGES):
        sel = rows[found[rows] & (yaws[rows] >= lo) & (yaws[rows] < hi)]
        cell: dict[str, float | int | None] = {"images": int(len(sel))}
        if len(sel):
            pp = per_point[sel]
            cell["all points"] = round(float(np.nanmean(pp)), 4)
            cell["outline"] = round(float(np.nanmean(pp[:, outline])), 4)
            # jaw, cheek and lower jaw of the side turned away (hidden) and of the side facing the camera
            for label, away in (("far side", True), ("near side", False)):
                sides = np.where((yaws[sel] < 0) == away, "right", "left")
                cols = np.array([[INDEX[n.format(side)] for n in SIDE_NAMES] for side in sides])
                cell[label] = round(float(np.nanmean(np.take_along_axis(pp, cols, axis=1))), 4)
            for n in OUTLINE_NAMES:
                cell[n] = round(float(np.nanmean(pp[:, INDEX[n]])), 4)
        out[f"{lo:+.0f}..{hi:+.0f}"] = cell
    return out


# ------------------------------------------------------------------------------------ tuning mode
def mesh_mirror_map(backend, images: list[Path]) -> np.ndarray:
    """Mirror of every FaceMesh vertex, measured: mesh of the flipped image, flipped back."""
    cost = np.zeros((478, 478))
    used = 0
    for path in images:
        image = load_image(path)
        faces = backend.detect(image)
        flipped = backend.detect(np.ascontiguousarray(image[:, ::-1]))
        if len(faces) != 1 or len(flipped) != 1:
            continue
        a = faces[0].extra["mesh"]
        b = flipped[0].extra["mesh"].copy()
        b[:, 0] = (image.shape[1] - 1) - b[:, 0]
        scale = np.linalg.norm(a[33] - a[263])
        cost += np.linalg.norm(a[:, None] - b[None], axis=2) / scale
        used += 1
    mirror = cost.argmin(axis=1)
    odd = int((mirror[mirror] != np.arange(len(mirror))).sum())
    if odd:
        print(f"note: {odd} vertices have a non-symmetric measured mirror", file=sys.stderr)
    print(f"mirror map measured on {used} single-face images")
    return mirror


def tune_mediapipe(folder: Path) -> None:
    from geostyle.faces.backends import mediapipe_mesh as mm

    images, truth, iod = load_helen(folder)
    per_point, found, _, meshes, _ = run_backend("mediapipe", images, truth, iod)
    if not found.all():
        print(f"{(~found).sum()} images without a face are left out of tuning")
    mesh = np.stack([m[:, :2] if m is not None else np.full((478, 2), np.nan) for m in meshes])
    backend = get_backend("mediapipe")
    mirror = mesh_mirror_map(backend, images[TUNE])
    backend.close()
    perm = mirror_permutation()
    tune_rows = np.arange(len(images))[TUNE]
    tune_rows = tune_rows[found[tune_rows]]
    test_rows = np.arange(len(images))[HELD_OUT]
    test_rows = test_rows[found[test_rows]]

    def err(idx, k, rows):
        pred = mesh[rows][:, list(idx)].mean(axis=1)
        return float(np.mean(np.linalg.norm(pred - truth[rows, k], axis=1) / iod[rows]))

    groups = {"right_eye_center": [mm.RIGHT_EYE_CONTOUR]}
    chosen: dict[str, tuple[int, ...]] = {}
    print(f"{'name':18s} {'chosen':24s} tune   held-out   (current: indices, held-out)")
    for name in CANONICAL_NAMES:
        if name in chosen:
            continue
        k = INDEX[name]
        km = int(perm[k])
        paired = km != k
        if paired:  # score a right/left pair jointly with mirrored vertices

            def score(idx, rows, k=k, km=km):
                return (err(idx, k, rows) + err(tuple(int(mirror[i]) for i in idx), km, rows)) / 2

            singles = [(i,) for i in range(478)]
        else:  # midline: midline vertices or symmetric pairs only

            def score(idx, rows, k=k):
                return err(idx, k, rows)

            singles = [(i,) for i in range(478) if mirror[i] == i]
            singles += [(i, int(mirror[i])) for i in range(478) if mirror[i] > i]
        ranked = sorted(singles, key=lambda idx: score(idx, tune_rows))
        best, best_v = ranked[0], score(ranked[0], tune_rows)
        for a, b in itertools.combinations(ranked[:25], 2):
            idx = tuple(sorted(set(a) | set(b)))
            v = score(idx, tune_rows)
            if v < best_v - 0.003:
                best, best_v = idx, v
        for idx in groups.get(name, []):
            v = score(idx, tune_rows)
            if v <= best_v + 0.001:  # prefer the anatomical group when as good
                best, best_v = idx, v
        chosen[name] = best
        if paired:
            chosen[CANONICAL_NAMES[km]] = tuple(int(mirror[i]) for i in best)
        for n in (name, CANONICAL_NAMES[km]) if paired else (name,):
            kk = INDEX[n]
            cur = mm.MESH_INDICES[n]
            print(
                f"{n:18s} {str(chosen[n]):24.24s} {err(chosen[n], kk, tune_rows):.4f} "
                f"{err(chosen[n], kk, test_rows):.4f}   ({cur if len(cur) < 5 else 'eye contour'}, "
                f"{err(cur, kk, test_rows):.4f})"
            )
    same = all(tuple(chosen[n]) == tuple(mm.MESH_INDICES[n]) for n in CANONICAL_NAMES)
    print("selection matches MESH_INDICES" if same else "selection differs from MESH_INDICES:")
    if not same:
        print(json.dumps({n: list(v) for n, v in chosen.items()}))


def helen_meshes(images: list[Path], truth: np.ndarray, iod: np.ndarray, cache: Path | None = None):
    """``[(image index, flipped, mesh (N, 3), truth (K, 2))]``: each HELEN image and its mirror image.

    The mirror's truth is flipped with left/right names swapped. ``cache``: an ``.npz`` to reuse.
    """
    from geostyle.faces.backends import mediapipe_mesh as mm

    if cache is not None and cache.is_file():
        z = np.load(cache)
        return [(int(i), bool(f), m, t) for i, f, m, t in zip(z["index"], z["flipped"], z["mesh"], z["truth"], strict=True)]
    backend = get_backend("mediapipe")
    perm = mirror_permutation()
    samples: list[tuple[int, bool, np.ndarray, np.ndarray]] = []
    for i, path in enumerate(images):
        image = load_image(path)
        for flipped in (False, True):
            faces = backend.detect(np.ascontiguousarray(image[:, ::-1]) if flipped else image)
            if not faces:
                continue
            t = truth[i].copy()
            if flipped:
                t[:, 0] = (image.shape[1] - 1) - t[:, 0]
                t = t[perm]
            errs = [np.nanmean(point_errors(mm.mesh_to_canonical(self_mesh(f), outline=False), t, iod[i]))
                    for f in faces]  # fmt: skip
            samples.append((i, flipped, self_mesh(faces[int(np.argmin(errs))]), t))
        print(f"\rmeshes {i + 1}/{len(images)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    backend.close()
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, index=[s[0] for s in samples], flipped=[s[1] for s in samples],
                 mesh=np.stack([s[2] for s in samples]), truth=np.stack([s[3] for s in samples]))  # fmt: skip
    return samples


def fit_outline_asset(folder: Path, cache: Path | None = None) -> None:
    """Fit the outline regression on HELEN 0-149 and their mirror images; write the asset; report."""
    from geostyle.faces.backends import mediapipe_mesh as mm
    from geostyle.faces.outline import OutlineModel, head_yaw

    images, truth, iod = load_helen(folder)
    samples = helen_meshes(images, truth, iod, cache)

    def arrays(rows: range, flips: tuple[bool, ...]):
        chosen = [(i, m, t) for i, f, m, t in samples if i in rows and f in flips]
        return np.stack([m for _, m, _ in chosen]), np.stack([t for _, _, t in chosen]), np.array([iod[i] for i, _, _ in chosen])

    tune, held = range(0, 150), range(150, 300)
    meshes, t_truth, t_iod = arrays(tune, (False, True))
    groups = np.array([i for i, f, _, _ in samples if i in tune])  # an image and its mirror: one CV fold
    # Every point is re-fitted (the inner ones gain a little too); the outline is where it matters.
    model = fit_outline(meshes, t_truth, t_iod, dict(mm.MESH_INDICES), names=CANONICAL_NAMES, groups=groups,
                        mirror=mesh_mirror_from_samples(samples, tune))  # fmt: skip
    model.meta.update(data="HELEN images 0-149 and their mirror images", held_out="HELEN images 150-299")
    test_meshes, test_truth, test_iod = arrays(held, (False,))
    before = np.stack([mm.mesh_to_canonical(m, outline=False) for m in test_meshes])
    after = before.copy()
    fitted = OutlineModel.from_json(json.loads(json.dumps(model.to_json())))  # as the asset will read it
    for j, m in enumerate(test_meshes):
        for name, p in fitted.points(m).items():
            after[j, INDEX[name]] = p
    e_before = np.linalg.norm(before - test_truth, axis=-1) / test_iod[:, None]
    e_after = np.linalg.norm(after - test_truth, axis=-1) / test_iod[:, None]
    yaws = np.array([head_yaw(m) for m in test_meshes])
    print(f"held-out HELEN 150-299 ({len(test_meshes)} faces, yaw {yaws.min():.0f}..{yaws.max():.0f} deg)")
    print(f"  NME all points: before {e_before.mean():.4f} after {e_after.mean():.4f}")
    for name in OUTLINE_NAMES:
        k = INDEX[name]
        print(f"  {name:16s} before {e_before[:, k].mean():.4f} after {e_after[:, k].mean():.4f}")
    model.meta["held_out_nme"] = {"before": round(float(e_before.mean()), 4), "after": round(float(e_after.mean()), 4)}
    data = model.to_json()
    # one line a point: the weights of a point are one array, no use in a line per number
    points = [f"  {json.dumps(n)}: {json.dumps(p, separators=(',', ':'))}" for n, p in data["points"].items()]
    ASSET.write_text("{\n" + f' "meta": {json.dumps(data["meta"])},\n "points": {{\n' + ",\n".join(points) + "\n }\n}\n")
    print(f"wrote {ASSET}")


def mesh_mirror_from_samples(samples, rows: range) -> np.ndarray:
    """Mirror of every FaceMesh vertex, measured on images that have both meshes: the mesh of the
    flipped image, flipped back, lies on the mesh of the image with each vertex on its mirror."""
    from geostyle.faces.landmarks import INDEX

    by_image: dict[int, dict[bool, tuple[np.ndarray, np.ndarray]]] = {}
    for i, f, m, t in samples:
        if i in rows:
            by_image.setdefault(i, {})[f] = (m, t)
    midline = INDEX["nose_bridge"]  # a midline truth point: x + flipped x = image width - 1
    cost = np.zeros((478, 478))
    for pair in by_image.values():
        if len(pair) != 2:
            continue
        (a, ta), (b, tb) = pair[False], pair[True]
        back = b[:, :2].copy()
        back[:, 0] = ta[midline, 0] + tb[midline, 0] - back[:, 0]
        cost += np.linalg.norm(a[:, None, :2] - back[None], axis=2) / np.linalg.norm(a[33, :2] - a[263, :2])
    mirror = cost.argmin(axis=1)
    mirror[468:] = np.arange(468, len(mirror))  # irises: not used by the regression
    return mirror


def self_mesh(face) -> np.ndarray:
    """``(N, 3)`` mesh of a mediapipe face (x, y, depth)."""
    return np.column_stack([face.extra["mesh"], face.extra["mesh_z"]])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of .jpg + .pts pairs")
    parser.add_argument("--backends", default="mediapipe,dlib")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    parser.add_argument("--tune-mediapipe", action="store_true", help="re-derive the mediapipe mesh indices")
    parser.add_argument("--fit-outline", action="store_true", help="re-fit the outline regression (asset)")
    parser.add_argument("--mesh-cache", type=Path, help="with --fit-outline: .npz of the HELEN meshes to reuse")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.tune_mediapipe:
        tune_mediapipe(args.data)
        return 0
    if args.fit_outline:
        fit_outline_asset(args.data, args.mesh_cache)
        return 0

    images, truth, iod = load_helen(args.data, args.limit)
    results = {
        "data": str(args.data.relative_to(ROOT.parent))
        if args.data.is_relative_to(ROOT.parent)
        else str(args.data),
        "images": len(images),
        "normalisation": "outer eye corners (iBUG 37-46)",
        "failure": f"no face or NME > {FAIL_NME}",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores",
        "backends": {},
    }
    arms = []
    for name in args.backends.split(","):
        per_point, found, times, meshes, yaws = run_backend(name, images, truth, iod)
        arms.append((name, per_point, found, times, yaws))
        if name == "mediapipe":  # before: the same meshes through the fixed vertices
            from geostyle.faces.backends.mediapipe_mesh import mesh_to_canonical

            fixed = np.full_like(per_point, np.nan)
            for i, m in enumerate(meshes):
                if m is not None:
                    fixed[i] = point_errors(mesh_to_canonical(m, outline=False), truth[i], iod[i])
            arms.append(("mediapipe-fixed", fixed, found, times, yaws))
    results["yaw_bins"] = {}
    for name, per_point, found, times, yaws in arms:
        splits = {"all": summarise(per_point, found, times, slice(None))}
        rows = np.arange(len(images))
        if len(images) >= 300:
            splits["0-149"] = summarise(per_point, found, times, TUNE)
            splits["150-299"] = summarise(per_point, found, times, HELD_OUT)
            rows = rows[HELD_OUT]
        if np.isfinite(yaws).any():
            results["yaw_bins"][name] = yaw_bins(per_point, found, yaws, rows)
        results["backends"][name] = splits
        s = splits["all"]
        print(
            f"{name:10s} NME mean {s['nme_mean']:.4f} median {s['nme_median']:.4f} inner {s['nme_inner_mean']:.4f} "
            f"outline {s['nme_outline_mean']:.4f} "
            f"failure {100 * s['failure_rate']:.1f}% (no face {s['no_face']}, NME>0.1 {s['nme_over_0.10']}) "
            f"{s['ms_per_image']:.1f} ms/image"
        )
    if args.limit is None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "landmark_accuracy.json").write_text(json.dumps(results, indent=1) + "\n")
        (args.out / "landmark_accuracy.md").write_text(markdown(results))
        print(f"wrote {args.out / 'landmark_accuracy.json'} and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
