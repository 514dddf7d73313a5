"""A release with one model's generator and another model's target geometry, to tell what a model's
drawing does from what its geometry does (docs/training.md, "One exemplar's drawing on fifty
exemplars' geometry").

    python benchmarks/swap_geometry.py runs/anime_n1skin/model.safetensors \
        runs/anime_n50skin/model.safetensors runs/geoswap/n1skin_geo50.safetensors

The output is DRAWING's release (weights, settings, palette, drawings) with GEOMETRY's ``geometry``
metadata (the photo and style landmark statistics the stylizer's warp is solved from). Its
``extra.trained_on`` is the union of both models' training files, so ``geostyle evaluate`` leaves
out every exemplar either model learnt from (the geometry is a mean over its exemplars).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from geostyle.nets.release import copy_release, read_release_metadata


def swap_geometry(drawing: Path, geometry: Path, out: Path) -> dict[str, int]:
    """Write ``out`` (see the module docstring); returns how many photos and style images it lists as
    trained on. Raises :class:`geostyle.errors.CheckpointError` for a file that is not a release."""
    meta, other = read_release_metadata(drawing), read_release_metadata(geometry)
    extra = meta["extra"]
    trained = extra.get("trained_on", {})
    for key, files in other["extra"].get("trained_on", {}).items():
        trained[key] = sorted(set(trained.get(key, [])) | set(files))
    extra["trained_on"] = trained
    geometry_json, extra_json = json.dumps(other["geometry"]), json.dumps(extra, sort_keys=True)
    copy_release(drawing, out, geometry=geometry_json, extra=extra_json)
    return {key: len(files) for key, files in trained.items()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("drawing", type=Path, help="the release whose generator draws")
    ap.add_argument("geometry", type=Path, help="the release whose target geometry the warp takes")
    ap.add_argument("out", type=Path)
    args = ap.parse_args(argv)
    counts = swap_geometry(args.drawing, args.geometry, args.out)
    print(f"wrote {args.out}: trained on {counts}")


if __name__ == "__main__":
    main()
