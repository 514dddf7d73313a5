"""Which ground-truth image belongs to which photo.

Two ways, both by file *stem* (name without folder and suffix):

* **Folder rule** (:func:`pair_by_stem`): a truth file belongs to the photo whose stem equals its
  stem, or is its stem's prefix followed by ``-`` or ``_`` (``f-039-01`` <-> ``f-039-01-sz1``). When
  several photo stems fit, the longest wins (``f-039-01`` over ``f-039``); when a photo gets several
  truths, the exact match, else the shortest name, else the first in sorted order wins.
* **CSV** (:func:`pairs_from_csv`): rows ``photo,truth``; a header row ``photo,truth`` and lines
  starting with ``#`` are skipped. ``photo`` is a stem or file name of a photo; ``truth`` is a path
  (absolute, or relative to the CSV's folder) or a stem / file name looked up in ``truth_dir``.

The CUHK student set of ``shared/data`` follows neither rule: its photo ``f-005-01`` was drawn as
``F2-005-01-sz1`` (``m-034-01`` as ``M2-034-01-sz1``). :func:`cuhk_truth_stem` states that rule once and
:func:`write_cuhk_pairs` writes it out as a CSV (``docs/eval/cuhk_pairs.csv`` was made with it)::

    python -m geostyle.eval.pairing ../shared/data/styles/sketch_cuhk docs/eval/cuhk_pairs.csv

A photo without a partner is counted in :attr:`Pairing.missing`, never an error.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from geostyle.data.dataset import read_pairs_csv
from geostyle.data.images import list_images
from geostyle.errors import GeostyleError

SEPARATORS = ("-", "_")


@dataclass
class Pairing:
    """``truth[photo_stem] = truth path``; ``missing`` lists photo stems without a partner."""

    truth: dict[str, Path] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    source: str = ""

    def to_json(self) -> dict:
        return {"source": self.source, "pairs": len(self.truth), "missing": list(self.missing)}


def _matches(photo_stem: str, truth_stem: str) -> bool:
    if truth_stem == photo_stem:
        return True
    return any(truth_stem.startswith(photo_stem + sep) for sep in SEPARATORS)


def pair_by_stem(photos: Sequence[Path], truth_dir: str | Path) -> Pairing:
    """Pair ``photos`` with the images of ``truth_dir`` by the folder rule (see module docstring)."""
    truth_dir = Path(truth_dir)
    if not truth_dir.is_dir():
        raise GeostyleError(f"{truth_dir}: no such folder of ground-truth images")
    stems = [Path(p).stem for p in photos]
    by_length = sorted(set(stems), key=len, reverse=True)
    candidates: dict[str, list[Path]] = {s: [] for s in stems}
    for path in list_images(truth_dir):
        owner = next((s for s in by_length if _matches(s, path.stem)), None)
        if owner is not None:
            candidates[owner].append(path)
    pairing = Pairing(source=f"stems in {truth_dir}")
    for stem in stems:
        found = candidates[stem]
        if not found:
            pairing.missing.append(stem)
            continue
        found.sort(key=lambda p: (p.stem != stem, len(p.stem), str(p)))
        pairing.truth[stem] = found[0]
    return pairing


def pairs_from_csv(
    csv_path: str | Path, photos: Sequence[Path], truth_dir: str | Path | None = None
) -> Pairing:
    """Pair ``photos`` by a ``photo,truth`` CSV (see module docstring)."""
    csv_path = Path(csv_path)
    index: dict[str, Path] = {}
    if truth_dir is not None and Path(truth_dir).is_dir():
        for p in list_images(truth_dir):
            index.setdefault(p.stem, p)
            index.setdefault(p.name, p)
    wanted: dict[str, str] = {}
    for photo_name, truth_name in read_pairs_csv(csv_path):
        wanted.setdefault(Path(photo_name).stem, truth_name)
    pairing = Pairing(source=str(csv_path))
    for photo in photos:
        stem = Path(photo).stem
        truth = wanted.get(stem)
        resolved: Path | None = None
        if truth is not None:
            as_path = Path(truth) if Path(truth).is_absolute() else csv_path.parent / truth
            if as_path.is_file():
                resolved = as_path
            else:
                resolved = index.get(truth) or index.get(Path(truth).stem)
        if resolved is None:
            pairing.missing.append(stem)
        else:
            pairing.truth[stem] = resolved
    return pairing


def load_pairing(spec: str | Path, photos: Sequence[Path], truth_dir: str | Path | None = None) -> Pairing:
    """``spec`` is a folder (folder rule) or a ``.csv`` file."""
    spec = Path(spec)
    if spec.is_dir():
        return pair_by_stem(photos, spec)
    if spec.is_file():
        return pairs_from_csv(spec, photos, truth_dir)
    raise GeostyleError(f"{spec}: --pairs must be a folder of truth images or a photo,truth CSV file")


def cuhk_truth_stem(photo_stem: str) -> str:
    """CUHK student set: photo ``f-005-01`` -> sketch ``F2-005-01-sz1``; ``m-...`` -> ``M2-...``."""
    head, rest = photo_stem[:1], photo_stem[1:]
    if head not in ("f", "m") or not rest.startswith("-"):
        raise GeostyleError(f"{photo_stem!r} is not a CUHK student photo name (f-NNN-KK or m-NNN-KK)")
    return f"{head.upper()}2{rest}-sz1"


def write_cuhk_pairs(root: str | Path, out: str | Path) -> int:
    """Write ``photo,truth`` stems for every photo of ``root/photo`` whose sketch exists in
    ``root/sketch``; returns the number of rows."""
    root, out = Path(root), Path(out)
    sketches = {p.stem for p in list_images(root / "sketch")}
    rows = []
    for photo in list_images(root / "photo"):
        truth = cuhk_truth_stem(photo.stem)
        if truth in sketches:
            rows.append((photo.stem, truth))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        fh.write(
            "# CUHK student set: photo x-NNN-KK was drawn as X2-NNN-KK-sz1 (geostyle.eval.pairing.cuhk_truth_stem)\n"
        )
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["photo", "truth"])
        writer.writerows(rows)
    return len(rows)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: python -m geostyle.eval.pairing CUHK_ROOT OUT.csv", file=sys.stderr)
        sys.exit(2)
    print(f"{write_cuhk_pairs(sys.argv[1], sys.argv[2])} pairs written to {sys.argv[2]}")
