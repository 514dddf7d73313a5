"""What the benchmarks that read ``geostyle evaluate`` outputs share: ``LABEL=DIR`` arguments, the
photo behind an output's stem, and a contact sheet of rows of pictures."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import cv2
import numpy as np

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


def photo_for(photos: Path, stem: str) -> Path | None:
    """The photo in ``photos`` an output named ``stem`` was made from (None: not there)."""
    for suffix in PHOTO_SUFFIXES:
        for candidate in (photos / f"{stem}{suffix}", photos / f"{stem}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    return None


def stack_rows(rows: list[list[np.ndarray]]) -> np.ndarray:
    """One picture of ``rows`` of pictures (any channel order; ``(H, W, 3)`` uint8), each reduced to
    :data:`SHEET_ROW_HEIGHT` px high at its own aspect, rows padded white on the right."""
    strips = []
    for row in rows:
        sizes = [(max(1, round(t.shape[1] * SHEET_ROW_HEIGHT / t.shape[0])), SHEET_ROW_HEIGHT) for t in row]
        strips.append(np.hstack([cv2.resize(t, size, interpolation=cv2.INTER_AREA) for t, size in zip(row, sizes)]))
    width = max(s.shape[1] for s in strips)
    return np.vstack([np.pad(s, ((0, 0), (0, width - s.shape[1]), (0, 0)), constant_values=255) for s in strips])
