"""Anime-ness: the share of images in which the ``animeface`` detector finds an anime face.

An independent judge: the detector was trained on anime drawings, not on our models' outputs. It runs
as :class:`geostyle.faces.backends.anime.AnimeFaceBackend` does (the image as given and, while nothing
with likelihood >= 0.5 is found, copies shrunk step by step: it misses faces that are large in
pixels); an image counts as anime when the best face found has likelihood >= ``THRESHOLD``.

Why 0.99 and not the backend's 0.5: at 0.5 the detector also "finds" anime faces in 48 % of the
CelebA-HQ photos (56 studio portraits at 512 px) and 17 % of 60 selfies; at 0.99 it finds them in
94 % of 80 anime images of ``shared/data/styles/anime``, 11 % of the CelebA-HQ photos and none of the
selfies (measured here; 0.999: 85 %, 4 %, 0 %).

The detector runs in a worker process with a time limit: on some images its native code never
returns (a cartoon-filtered 512 px CelebA-HQ portrait, for one; whether it hangs depends on what the
process detected before, so it looks like uninitialised state inside the detector). Such an image
counts as *no anime face*, its likelihood is NaN, :attr:`AnimeFaceJudge.timeouts` counts it and the
report names it; the worker is restarted.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterable

import numpy as np

THRESHOLD = 0.99
TIMEOUT_S = 15.0  # normal images take 0.03-1 s over the whole pyramid (a few s on a busy machine)


class AnimeFaceJudge:
    """``judge(image) -> bool``: does animeface find a face with likelihood >= ``threshold`` in the
    ``(H, W, 3)`` uint8 RGB image? Detection runs in a worker process limited to ``timeout`` s per image."""

    def __init__(self, threshold: float = THRESHOLD, timeout: float = TIMEOUT_S) -> None:
        from geostyle.faces.backends.anime import AnimeFaceBackend

        AnimeFaceBackend()  # fails here, readably, where animeface cannot run (e.g. Pillow 12)
        self.threshold = float(threshold)
        self.timeout = float(timeout)
        self.timeouts = 0
        self._proc: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "geostyle.eval.animeface_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
            )
        return self._proc

    def _stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(5)
        self._proc = None

    def likelihood(self, image: np.ndarray) -> float:
        """Best animeface likelihood in ``image`` (0 when nothing is found, NaN when it timed out)."""
        image = np.ascontiguousarray(image, dtype=np.uint8)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(f"{image.shape[0]} {image.shape[1]}\n".encode() + image.tobytes())
            proc.stdin.flush()
        except BrokenPipeError as exc:
            self._stop()
            raise RuntimeError("the animeface worker died") from exc
        ready, _, _ = select.select([proc.stdout], [], [], self.timeout)
        if not ready:
            self.timeouts += 1
            self._stop()
            return float("nan")
        answer = proc.stdout.readline().decode().strip()
        if not answer or answer.startswith("error"):
            self._stop()
            raise RuntimeError(f"animeface failed: {answer or 'worker exited'}")
        return float(answer)

    def __call__(self, image: np.ndarray) -> bool:
        return bool(self.likelihood(image) >= self.threshold)

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None and self._proc.stdin is not None:
            try:
                self._proc.stdin.write(b"\n")
                self._proc.stdin.close()
                self._proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._stop()

    def __del__(self) -> None:
        try:
            self._stop()
        except Exception:
            pass


def anime_rate(images: Iterable[np.ndarray], judge: AnimeFaceJudge | None = None) -> float | None:
    """Share of ``images`` with an anime face (None for no images)."""
    judge = judge or AnimeFaceJudge()
    hits = [judge(image) for image in images]
    return float(np.mean(hits)) if hits else None
