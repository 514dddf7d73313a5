"""Does an anime face's frontal layout, given to a turned head's target geometry, read as anime more often?

Anime faces are drawn frontal and the anime judge reads a head turned past about 20 degrees half
as often as a frontal one (``anime_pose.py``). The target geometry keeps each part of the person
where the photo has it (the per-part formula keeps the part's own centroid), so a turned head's
nose and mouth stay beside the eyes' middle and its near cheek stays wider than its far one. Here
the photo's landmarks are first made left-right symmetric by ``B`` (0: as they are; 1: the mean of
the face and its mirror image about the face's mean x, so the nose, mouth and chin sit on one
vertical line and both halves of the face are the same width) and the target geometry is then
computed from those; the warp still reads the photo at its own landmarks, so the image is moved
toward a frontal layout.

    python benchmarks/frontal_pose.py evaluate 1 -- --model anime --photos ... --out runs/eval/frontal1

Measured on 198 held-out selfies and not taken (``docs/training.md``, "A frontal layout for turned
heads does not move it").

``evaluate B -- ARGS``: ``geostyle evaluate ARGS`` with every face's target geometry computed from
its landmarks made symmetric by ``B`` (every stylizer in the process).
"""

from __future__ import annotations

import sys

import numpy as np

from geostyle.faces.landmarks import mirror_permutation
from geostyle.infer.fields import FaceFieldSolver

ORIGINAL = FaceFieldSolver.target


def symmetric(points: np.ndarray, share: float) -> np.ndarray:
    """``points (K, 2)`` (normalised, NaN missing) moved ``share`` of the way to their left-right
    symmetric version: the mean of the points and their mirror image about the vertical line through
    their mean x (a point without a visible mirror partner stays)."""
    p = np.asarray(points, np.float64)
    perm = mirror_permutation()
    partner = p[perm]
    both = np.isfinite(p).all(-1) & np.isfinite(partner).all(-1)
    if both.sum() < 6:
        return p
    m = p[both, 0].mean()
    mirrored = np.stack([2.0 * m - partner[:, 0], partner[:, 1]], -1)
    out = p.copy()
    out[both] = p[both] + share * (0.5 * (p[both] + mirrored[both]) - p[both])
    return out


def use_frontal(share: float) -> None:
    def target(self: FaceFieldSolver, landmarks: np.ndarray, strength: float) -> np.ndarray:
        pixels = np.asarray(landmarks, np.float64)
        scale = self.size / 2.0
        # pixels -> normalised (align_corners=False) -> symmetric -> pixels, then the product's target.
        p = (pixels + 0.5) / scale - 1.0
        q = symmetric(p, share)
        return ORIGINAL(self, (q + 1.0) * scale - 0.5, strength)

    FaceFieldSolver.target = target  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 3 or argv[0] != "evaluate" or argv[2] != "--":
        print("usage: frontal_pose.py evaluate B -- EVALUATE-ARGS", file=sys.stderr)
        return 2
    from geostyle.cli.main import main as cli

    use_frontal(float(argv[1]))
    return cli(["evaluate", *argv[3:]])


if __name__ == "__main__":
    sys.exit(main())
