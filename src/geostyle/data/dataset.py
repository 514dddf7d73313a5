"""In-memory training sets built from prepared datasets, and stateless batch sampling.

A few hundred 256x256 crops fit easily in memory, so the whole set is decoded once into a uint8
tensor: no loader workers, no per-step file I/O, and batch ``k`` of a run is a pure function of
``(seed, step, rank)`` — which is what makes resumed runs bit-identical to uninterrupted ones.
"""

from __future__ import annotations

import copy
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from geostyle.errors import GeostyleError
from geostyle.faces.landmarks import mirror_permutation, pixels_to_normalized, with_missing_as_nan


@dataclass
class Batch:
    """``images (B, 3, R, R)`` float in [-1, 1]; ``points (B, K, 2)`` normalised frame (missing = 0);
    ``mask (B, K)`` bool, True = landmark present."""

    images: torch.Tensor
    points: torch.Tensor
    mask: torch.Tensor


class FaceSet:
    """All aligned crops of a prepared dataset, decoded at ``resolution``.

    Convention: ``points`` are in the normalised ``[-1, 1]`` frame (``grid_sample``,
    ``align_corners=False``), so they do not depend on ``resolution``.
    """

    def __init__(self, root: str | Path, resolution: int, limit: int = 0, exclude: list[str] | None = None):
        from geostyle.data.images import load_image
        from geostyle.data.manifest import load_manifest

        manifest = load_manifest(root)
        excluded = set(exclude or [])
        items = [it for it in manifest.items if it.id not in excluded and _stem(it.source) not in excluded]
        if limit > 0:
            items = items[:limit]
        if not items:
            raise GeostyleError(f"{root}: the dataset has no usable items")
        self.root = Path(root)
        self.zoom = float(manifest.zoom)  # inference must crop photos the same way
        self.ids = [it.id for it in items]
        self.stems = [_stem(it.source) for it in items]  # source file stems: what a model was trained on
        # Every source the dataset prepared (trained on or not): the ones an evaluation can judge.
        self.prepared_stems = [_stem(it.source) for it in manifest.items]
        # The folder the sources came from (None if they span several): where held-out images live.
        parents = {str(Path(it.source).parent) for it in manifest.items}
        self.source_dir: Path | None = Path(parents.pop()) if len(parents) == 1 else None
        self.resolution = resolution
        images = np.stack([_resize(load_image(it.crop_path), resolution) for it in items])
        self.images = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # uint8 (N, 3, R, R)
        # hidden far-side outline points (low confidence) are missing: the warps drop them
        pts = np.stack([it.usable_landmarks() for it in items]).astype(np.float64)
        norm = pixels_to_normalized(pts, manifest.size, manifest.size)
        mask = np.isfinite(norm).all(axis=-1)
        self.points = torch.from_numpy(np.nan_to_num(norm, nan=0.0)).float()
        self.mask = torch.from_numpy(mask)

    def __len__(self) -> int:
        return self.images.shape[0]

    def resized(self, resolution: int) -> FaceSet:
        """The same set with its images resampled once to ``resolution`` (antialiased bilinear,
        rounded to uint8), landmarks shared: a low-resolution training phase reads this copy instead
        of resizing every batch (a few percent of a 128 px step)."""
        if resolution == self.resolution:
            return self
        other = copy.copy(self)
        other.resolution = resolution
        other.images = resize_uint8(self.images, resolution)
        return other

    def batch(self, indices: torch.Tensor, flips: torch.Tensor | None = None) -> Batch:
        images = self.images[indices].float().div(127.5).sub(1.0)
        points = self.points[indices].clone()
        mask = self.mask[indices].clone()
        if flips is not None and bool(flips.any()):
            perm = torch.from_numpy(mirror_permutation())
            f = flips.bool()
            images[f] = images[f].flip(-1)
            flipped = points[f][:, perm]
            flipped[..., 0] = -flipped[..., 0]
            points[f] = flipped
            mask[f] = mask[f][:, perm]
        points = points * mask[..., None]
        return Batch(images, points, mask)

    def landmarks_nan(self) -> np.ndarray:
        """``(N, K, 2)`` float64 landmarks, normalised frame, NaN where missing."""
        return with_missing_as_nan(self.points, self.mask)


def read_pairs_csv(path: str | Path) -> list[tuple[str, str]]:
    """Raw ``(photo, truth)`` rows of a pairs CSV (header and ``#`` comment lines skipped)."""
    path = Path(path)
    if not path.is_file():
        raise GeostyleError(f"{path}: no such pairs file")
    rows = []
    with open(path, newline="") as fh:
        for n, row in enumerate(csv.reader(fh), start=1):
            cells = [c.strip() for c in row]
            if not cells or not cells[0] or cells[0].startswith("#"):
                continue
            if [c.lower() for c in cells[:2]] == ["photo", "truth"]:
                continue
            if len(cells) < 2 or not cells[1]:
                raise GeostyleError(f"{path}:{n}: expected 'photo,truth', got {row!r}")
            rows.append((cells[0], cells[1]))
    return rows


def read_pairs(path: str | Path) -> list[tuple[str, str]]:
    """``(photo, artwork)`` file stems of a pairs CSV (:func:`read_pairs_csv` rows, names or stems)."""
    return [(Path(p).stem, Path(t).stem) for p, t in read_pairs_csv(path)]


def partner_indices(photos: FaceSet, styles: FaceSet, pairs: list[tuple[str, str]]) -> torch.Tensor:
    """For each photo, the index of its paired style image in ``styles`` (-1 where it has none)."""
    style_index = {stem: i for i, stem in enumerate(styles.stems)}
    partner = {p: style_index[s] for p, s in pairs if s in style_index}
    return torch.tensor([partner.get(stem, -1) for stem in photos.stems], dtype=torch.long)


def _stem(source: str) -> str:
    return Path(source).stem


def resize_uint8(images: torch.Tensor, size: int, chunk: int = 64) -> torch.Tensor:
    """``(N, C, H, W)`` uint8 -> ``(N, C, size, size)`` uint8 (antialiased bilinear, rounded), in
    chunks so that a thousand 256 px crops never need their float copy at once."""
    if images.shape[-2:] == (size, size):
        return images
    out = [
        F.interpolate(part.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        .round()
        .clamp(0, 255)
        .byte()
        for part in images.split(chunk)
    ]
    return torch.cat(out).contiguous()


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    """One ``(H, W, 3)`` uint8 image through :func:`resize_uint8`."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    t = torch.from_numpy(np.ascontiguousarray(image).copy()).permute(2, 0, 1)[None]
    return resize_uint8(t, size)[0].permute(1, 2, 0).numpy()


def step_generator(seed: int, step: int, rank: int = 0, stream: int = 0) -> torch.Generator:
    """A generator whose state depends only on its arguments: per-step randomness that survives resume."""
    g = torch.Generator()
    g.manual_seed((seed * 1_000_003 + step * 7_919 + rank * 104_729 + stream * 15_485_863) % (2**63 - 1))
    return g


class EpochSampler:
    """Index stream of a dataset: one seeded permutation per epoch, consumed ``batch`` at a time.

    Rank ``r`` of ``world`` takes every ``world``-th batch, so DDP ranks see disjoint samples.
    ``indices(step)`` is stateless: it needs no saved state to resume.
    """

    def __init__(self, size: int, batch: int, seed: int, rank: int = 0, world: int = 1):
        self.size, self.batch, self.seed, self.rank, self.world = size, batch, seed, rank, world
        self._perms: dict[int, torch.Tensor] = {}

    def _perm(self, epoch: int) -> torch.Tensor:
        if epoch not in self._perms:
            if len(self._perms) > 4:
                self._perms.pop(min(self._perms))
            g = torch.Generator().manual_seed(self.seed * 65_537 + epoch)
            self._perms[epoch] = torch.randperm(self.size, generator=g)
        return self._perms[epoch]

    def indices(self, step: int) -> torch.Tensor:
        start = (step * self.world + self.rank) * self.batch
        flat = torch.arange(start, start + self.batch)
        epochs, offsets = flat // self.size, flat % self.size
        return torch.stack([self._perm(int(e))[int(o)] for e, o in zip(epochs, offsets)])
