"""``geostyle landmarks IMAGE... [--backend SPEC] [--json] [--draw DIR]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from geostyle.errors import GeostyleError


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "images", nargs="+", metavar="IMAGE", help="image files or folders (searched recursively)"
    )
    parser.add_argument(
        "--backend",
        default="mediapipe,dlib,animeface",
        help="a backend (mediapipe, dlib, animeface, file), a comma-separated list tried in order, or "
        "'auto' (= file,mediapipe,dlib,animeface); default: %(default)s",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per image and line")
    parser.add_argument(
        "--draw", metavar="DIR", type=Path, help="also save each image with its landmarks drawn"
    )
    parser.add_argument("--labels", action="store_true", help="with --draw: number the points")


def _expand(items: list[str]) -> list[Path]:
    from geostyle.data.images import list_images

    out: list[Path] = []
    for item in items:
        path = Path(item)
        out.extend(list_images(path) if path.is_dir() else [path])
    return out


def run(args: argparse.Namespace) -> int:
    from geostyle.data.images import save_image
    from geostyle.faces.backends.chain import build_backend, detect_path
    from geostyle.faces.draw import draw_faces

    backend = build_backend(args.backend)
    failed = 0
    drawn: set[str] = set()
    try:
        for path in _expand(args.images):
            try:
                image, faces = detect_path(backend, path)
            except GeostyleError as exc:
                failed += 1
                if args.json:
                    print(json.dumps({"path": str(path), "error": str(exc)}), flush=True)
                else:
                    print(f"{path}: error: {exc}", flush=True)
                continue
            if args.json:
                print(json.dumps({"path": str(path), "faces": [f.to_json() for f in faces]}), flush=True)
            else:
                print(f"{path}: {len(faces)} face{'s' if len(faces) != 1 else ''}", flush=True)
                for i, face in enumerate(faces):
                    box = ", ".join(f"{v:.0f}" for v in face.box)
                    print(
                        f"  #{i + 1} {face.backend} score {face.score:.2f} box [{box}] "
                        f"{int(face.mask.sum())}/{len(face.mask)} points"
                    )
            if args.draw is not None:
                name = f"{path.stem}.png"
                k = 1
                while name in drawn:
                    k += 1
                    name = f"{path.stem}_{k}.png"
                drawn.add(name)
                save_image(args.draw / name, draw_faces(image, faces, labels=args.labels))
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()
    if failed:
        print(f"geostyle landmarks: {failed} image(s) could not be processed", file=sys.stderr)
        return 1
    return 0
