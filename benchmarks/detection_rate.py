"""Detection rate of the landmark backends on stylised faces (anime, pencil sketches, paintings).

    python benchmarks/detection_rate.py

A detection = the backend returns at least one face. There is no ground truth here, so this measures
only whether a backend finds a face at all (every image shows one face). As a rough check of *where*
the photo detectors put points on anime faces, "agreement" compares their eye centres with
animeface's on the images both detect: distance / animeface's eye-centre distance, median over
images and eyes. Time is the wall time of
``backend.detect`` per image on this machine, images already decoded, backend warmed up.

Writes ``benchmarks/results/detection_rate.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from geostyle.data.images import list_images, load_image
from geostyle.errors import BackendUnavailableError
from geostyle.faces.backends.base import get_backend
from geostyle.faces.landmarks import INDEX

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GEOSTYLE_SHARED_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results"
SETS = {
    "anime": "styles/anime",
    "sketch_cuhk": "styles/sketch_cuhk/sketch",
    "artwork": "styles/artwork",
}
BACKENDS = ("animeface", "mediapipe", "dlib")
EYES = [INDEX["right_eye_center"], INDEX["left_eye_center"]]


def eye_agreement(reference: list, other: list) -> tuple[float, int]:
    """Median eye-centre distance of ``other`` to ``reference`` faces / reference eye distance."""
    ratios = []
    for ref, oth in zip(reference, other, strict=True):
        if ref is None or oth is None:
            continue
        scale = np.linalg.norm(ref[EYES[0]] - ref[EYES[1]])
        ratios.extend(np.linalg.norm(ref[EYES] - oth[EYES], axis=1) / scale)
    return (float(np.median(ratios)) if ratios else float("nan")), len(ratios) // 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--limit", type=int, default=None, help="only the first N images of each set")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    sets = {}
    for name, sub in SETS.items():
        paths = list_images(args.data / sub)[: args.limit]
        sets[name] = (sub, paths, [load_image(p) for p in paths])
    results: dict = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores",
        "sets": {name: {"folder": sub, "images": len(paths)} for name, (sub, paths, _) in sets.items()},
        "rates": {},
    }
    first_faces: dict[tuple[str, str], list] = {}
    for backend_name in args.backends.split(","):
        try:
            backend = get_backend(backend_name)
        except BackendUnavailableError as exc:
            print(f"{backend_name}: unavailable: {exc}")
            continue
        results["rates"][backend_name] = {}
        for set_name, (_, paths, images) in sets.items():
            backend.detect(images[0], paths[0])  # warm up
            found = multi = 0
            firsts = first_faces[backend_name, set_name] = []
            t0 = time.perf_counter()
            for path, image in zip(paths, images, strict=True):
                faces = backend.detect(image, path)
                found += bool(faces)
                multi += len(faces) > 1
                firsts.append(faces[0].landmarks if faces else None)
            elapsed = time.perf_counter() - t0
            entry = {
                "detected": found,
                "images": len(paths),
                "rate": round(found / len(paths), 4),
                "several_faces": multi,
                "ms_per_image": round(1000 * elapsed / len(paths), 1),
            }
            results["rates"][backend_name][set_name] = entry
            print(
                f"{backend_name:10s} {set_name:12s} {found:4d}/{len(paths):<4d} = {100 * entry['rate']:5.1f} %  "
                f"({multi} with several faces)  {entry['ms_per_image']:.1f} ms/image"
            )
        close = getattr(backend, "close", None)
        if close:
            close()

    results["anime_eye_agreement_with_animeface"] = {}
    if ("animeface", "anime") in first_faces:
        for backend_name in results["rates"]:
            if backend_name == "animeface":
                continue
            median, n = eye_agreement(first_faces["animeface", "anime"], first_faces[backend_name, "anime"])
            results["anime_eye_agreement_with_animeface"][backend_name] = {
                "median": round(median, 3),
                "images": n,
            }
            print(
                f"{backend_name:10s} anime eye centres vs animeface: median {median:.3f} eye distances ({n} images)"
            )

    if args.limit is None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "detection_rate.json").write_text(json.dumps(results, indent=1) + "\n")
        names = list(sets)
        lines = [
            "# Detection rate on stylised faces",
            "",
            f"A detection = at least one face returned; every image shows one face. Machine: {results['machine']}.",
            "",
            "| backend | " + " | ".join(f"{n} ({results['sets'][n]['images']})" for n in names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for backend_name, per_set in results["rates"].items():
            cells = [
                f"{100 * per_set[n]['rate']:.1f} % ({per_set[n]['detected']}), {per_set[n]['ms_per_image']:.0f} ms"
                for n in names
            ]
            lines.append(f"| {backend_name} | " + " | ".join(cells) + " |")
        agreement = results["anime_eye_agreement_with_animeface"]
        if agreement:
            lines += [
                "",
                "Eye centres on `styles/anime` compared with animeface's (median distance / animeface eye distance):",
                "",
            ]
            lines += [
                f"- {name}: {a['median']:.3f} on {a['images']} images found by both"
                for name, a in agreement.items()
            ]
        (args.out / "detection_rate.md").write_text("\n".join(lines) + "\n")
        print(f"wrote {args.out / 'detection_rate.json'} and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
