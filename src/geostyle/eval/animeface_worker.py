"""Worker process of :class:`geostyle.eval.anime.AnimeFaceJudge` (``python -m geostyle.eval.animeface_worker``).

Protocol on stdin/stdout, one image at a time: the parent writes a line ``H W`` followed by
``H * W * 3`` bytes of uint8 RGB; the worker answers one line, the best animeface likelihood as a float
(0.0 when nothing is found) or ``error <message>``. A separate process, because animeface's native
detector can spin forever on some images: the parent then kills the worker and starts a new one.
"""

from __future__ import annotations

import os
import sys

import numpy as np


def main() -> int:
    # Answers go to the original stdout; anything native code prints goes to stderr instead.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    from geostyle.faces.backends.anime import AnimeFaceBackend

    backend = AnimeFaceBackend(pyramid=True)
    inp = sys.stdin.buffer
    while True:
        header = inp.readline()
        if not header.strip():
            return 0
        h, w = (int(v) for v in header.split())
        data = inp.read(h * w * 3)
        if len(data) != h * w * 3:
            return 1
        image = np.frombuffer(data, np.uint8).reshape(h, w, 3)
        try:
            answer = repr(max((f.score for f in backend.detect(image)), default=0.0))
        except Exception as exc:  # reported to the parent; the worker lives on
            answer = "error " + f"{type(exc).__name__}: {exc}".replace("\n", " ")
        out.write(answer.encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    sys.exit(main())
