"""What the benchmarks that read ``geostyle evaluate`` outputs share: ``LABEL=DIR`` arguments (and
the command line of those that compare runs on a photo folder), the photo behind an output's stem,
the photos of a report and their aligned or detected faces, the evaluation reports beside runs,
a contact sheet of rows of pictures, the results files, and camera-like noise to add to a photo."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
SHEET_ROW_HEIGHT = 256


def labelled_folders(ap: argparse.ArgumentParser, specs: list[str]) -> list[tuple[str, Path]]:
    """``LABEL=DIR`` arguments as ``(label, folder)``: labels of letters, digits and -, all different
    (they name the results file), folders that exist; anything else is ``ap``'s error."""
    labelled = []
    for spec in specs:
        label, sep, folder = spec.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z0-9-]+", label) or not Path(folder).is_dir():
            ap.error(f"expected LABEL=DIR (letters, digits and -; an existing folder), got {spec!r}")
        labelled.append((label, Path(folder)))
    if len({label for label, _ in labelled}) != len(labelled):
        ap.error("the labels must differ")
    return labelled


def runs_parser(description: str, sheet_help: str) -> argparse.ArgumentParser:
    """The command line of a benchmark comparing evaluation runs on one photo folder: ``--photos``,
    ``LABEL=OUTPUTS_FULL_DIR`` runs, and an optional ``--sheet`` (``sheet_help``) of ``--sheet-rows``
    rows; the benchmark adds its own arguments."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--photos", type=Path, required=True, help="the photo folder the runs evaluated")
    ap.add_argument("runs", nargs="+", help="LABEL=OUTPUTS_FULL_DIR, one or more")
    ap.add_argument("--sheet", type=Path, help=sheet_help)
    ap.add_argument("--sheet-rows", type=int, default=6)
    return ap


def parse_runs(ap: argparse.ArgumentParser, argv: list[str] | None) -> tuple[argparse.Namespace, list[tuple[str, Path]], list[str]]:
    """``ap`` (from :func:`runs_parser`) applied to ``argv``: the arguments, the labelled folders and
    the stems of the outputs every folder has (sorted); a bad argument or no shared output is
    ``ap``'s error."""
    args = ap.parse_args(argv)
    if args.sheet is not None and args.sheet_rows < 1:
        ap.error("--sheet-rows must be at least 1")
    labelled = labelled_folders(ap, args.runs)
    stems = sorted(set.intersection(*({p.stem for p in folder.glob("*.png")} for _, folder in labelled)))
    if not stems:
        ap.error("the folders share no outputs")
    return args, labelled, stems


def photo_for(photos: Path, stem: str) -> Path | None:
    """The photo in ``photos`` an output named ``stem`` was made from (None: not there)."""
    for suffix in PHOTO_SUFFIXES:
        for candidate in (photos / f"{stem}{suffix}", photos / f"{stem}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    return None


def report_stems(report: Path, n: int = 0) -> list[str]:
    """The photos an evaluation's ``metrics.json`` measured (its model row's stems, in its order),
    the first ``n`` of them (0: all)."""
    stems = [row["photo"] for row in json.loads(report.read_text())["per_image"]["model"]]
    return stems[:n] if n > 0 else stems


def photo_images(photos: Path, stems: list[str]):
    """``(stem, photo file, image)`` for each of ``stems`` whose photo is in ``photos``; the others
    are skipped."""
    from geostyle.data.images import load_image

    for stem in stems:
        source = photo_for(photos, stem)
        if source is not None:
            yield stem, source, load_image(source)


def aligned_photos(stylizer, photos: Path, stems: list[str]):
    """``(stem, photo file, image, aligned face)`` for each of ``stems`` whose photo is in ``photos``
    and has a face (``stylizer.align``); the others are skipped."""
    from geostyle.errors import NoFaceError

    for stem, source, image in photo_images(photos, stems):
        try:
            aligned = stylizer.align(image, source)
        except NoFaceError:
            continue
        yield stem, source, image, aligned


def photo_faces(photos: Path, stems: list[str], detector):
    """``(stem, image, landmarks)`` for each of ``stems`` whose photo is in ``photos`` and in which
    ``detector`` (a backend, e.g. ``build_backend("mediapipe")``) finds a face with every landmark:
    the first face's points. The others are skipped."""
    from geostyle.errors import NoFaceError

    for stem, source, image in photo_images(photos, stems):
        try:
            faces = detector.detect(image, source)
        except NoFaceError:
            continue
        if faces and np.isfinite(faces[0].landmarks).all():  # a backend may leave points out
            yield stem, image, faces[0].landmarks


def cheeks_with_outputs(ap: argparse.ArgumentParser, photos: Path, stems: list[str], labelled: list[tuple[str, Path]]):
    """``(stem, photo, cheek mask, {label: output})`` for each of ``stems`` whose photo has a face
    with every landmark (the product's detector) and cheeks of at least 50 pixels
    (:func:`geostyle.eval.skin.cheek_mask`), with each run's whole-frame output of it; an output of
    another size than its photo is ``ap``'s error."""
    from geostyle.data.images import load_image
    from geostyle.eval.skin import cheek_mask
    from geostyle.faces.backends.chain import build_backend

    for stem, photo, landmarks in photo_faces(photos, stems, build_backend("mediapipe")):
        mask = cheek_mask(photo.shape[:2], landmarks)
        if mask.sum() < 50:
            continue
        outputs = {}
        for label, folder in labelled:
            out = load_image(folder / f"{stem}.png")
            if out.shape != photo.shape:
                ap.error(f"{folder / stem}.png has another size than its photo")
            outputs[label] = out
        yield stem, photo, mask, outputs


def evaluation_reports(labelled: list[tuple[str, Path]]) -> tuple[list[tuple[str, list[dict]]], list[Path]]:
    """The per-photo rows of the evaluation report beside each run's ``outputs/full`` folder
    (``RUN/metrics.json``): ``(label, rows)`` for each run whose report has model rows, led by the
    cartoon filter's rows of the first report that has them; and the reports that are missing."""
    reports: list[tuple[str, list[dict]]] = []
    missing = []
    for label, folder in labelled:
        metrics = folder.parent.parent / "metrics.json"
        if not metrics.is_file():
            missing.append(metrics)
            continue
        per_image = json.loads(metrics.read_text()).get("per_image", {})
        if not reports and "cartoon" in per_image:
            reports.append(("cartoon filter", per_image["cartoon"]))
        if "model" in per_image:
            reports.append((label, per_image["model"]))
    return reports, missing


def face_region(box: tuple[float, float, float, float], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The region the video benchmarks measure a face in: a detector's face ``box`` ``(x0, y0, x1, y1)``
    grown to a square 1.6 box-widths across about its centre (hair, the warp's reach), clipped to a
    frame of ``shape`` ``(H, W, ...)``; integer pixels."""
    x0, y0, x1, y1 = box
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, 0.8 * (x1 - x0)
    h, w = shape[:2]
    return max(0, int(cx - half)), max(0, int(cy - half)), min(w, int(cx + half)), min(h, int(cy + half))


def stack_rows(rows: list[list[np.ndarray]]) -> np.ndarray:
    """One picture of ``rows`` of pictures (any channel order; ``(H, W, 3)`` uint8), each reduced to
    :data:`SHEET_ROW_HEIGHT` px high at its own aspect, rows padded white on the right."""
    strips = []
    for row in rows:
        sizes = [(max(1, round(t.shape[1] * SHEET_ROW_HEIGHT / t.shape[0])), SHEET_ROW_HEIGHT) for t in row]
        strips.append(np.hstack([cv2.resize(t, size, interpolation=cv2.INTER_AREA) for t, size in zip(row, sizes)]))
    width = max(s.shape[1] for s in strips)
    return np.vstack([np.pad(s, ((0, 0), (0, width - s.shape[1]), (0, 0)), constant_values=255) for s in strips])


def write_sheet(path: Path, rows: list[list[np.ndarray]]) -> None:
    """:func:`stack_rows` of RGB ``rows`` written to ``path`` as a JPEG (quality 88), its folder made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(stack_rows(rows), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])


def benchmark_command(script: str, argv: list[str] | None) -> str:
    """The command line that ran ``benchmarks/<script>`` with ``argv`` (None: this process's), quoted
    so that it can be pasted into a shell (an argument with a space keeps its quotes)."""
    return f"python benchmarks/{script} " + shlex.join(sys.argv[1:] if argv is None else argv)


def write_results(name: str, results: dict, lines: list[str]) -> None:
    """``benchmarks/results/<name>.json`` (``results``) and ``.md`` (``lines``), and ``lines`` printed."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=1))
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def camera_noise(image: np.ndarray, levels: float, rng: np.random.Generator) -> np.ndarray:
    """``image (H, W, 3)`` uint8 with Gaussian noise of ``levels`` (of 255) drawn at half size and
    enlarged, so it comes in blotches about two pixels across as a compressed phone or webcam
    picture's does in a dim room; the same in all three channels (luma noise)."""
    h, w = image.shape[:2]
    small = rng.normal(0.0, levels, ((h + 1) // 2, (w + 1) // 2)).astype(np.float32)
    grain = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(image.astype(np.float32) + grain[..., None], 0, 255).astype(np.uint8)



def median_ms(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` in ms over ``repeats`` calls, after one call that warms it up."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)
