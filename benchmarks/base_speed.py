"""Cost of the generators' in-graph bases in ONNX Runtime: the cartoon base (anime) and the pencil
base (sketch) alone, exported at several frame sizes.

    python benchmarks/base_speed.py [--threads 1] [--repeats 30]

The cartoon base (``cartoon``) is exact below 384 px and from 384 px up is drawn on a copy reduced to
about 256 px and upsampled once (``geostyle.nets.blocks.cartoon_base``); ``cartoon_1pass`` is the
same with one edge-preserving smoothing pass instead of two (``base_passes: 1``). This prints the
median ms per size and how far each is from the exact filter at full size (``cartoon_exact``; for
``cartoon_1pass`` its own exact one-pass filter): mean absolute difference in the ``[-1, 1]`` range,
and the share of pixels off by more than 0.25, on the bundled portrait. Writes
``benchmarks/results/base_speed.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch

from geostyle.data.images import load_image
from geostyle.infer.demo import EXAMPLE
from geostyle.infer.runtime import ort_session
from geostyle.nets import blocks

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = (256, 384, 480, 512, 720)


def _passes(kind: str) -> int:
    """Smoothing passes of a cartoon row: one for ``cartoon_1pass``, the filter's default otherwise."""
    return 1 if kind == "cartoon_1pass" else blocks.CARTOON_PASSES


class _Base(torch.nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind.startswith("cartoon"):
            return blocks.cartoon_base(x, exact=self.kind == "cartoon_exact", passes=_passes(self.kind))
        return blocks.pencil_dodge(blocks.luma(x), 0.02)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    photo = load_image(EXAMPLE)
    rows = []
    for kind in ("cartoon", "cartoon_exact", "cartoon_1pass", "pencil"):
        for size in SIZES:
            image = cv2.resize(photo, (size, size), interpolation=cv2.INTER_AREA)
            x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1
            buf = io.BytesIO()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(_Base(kind), (x,), buf, opset_version=17, input_names=["image"], dynamo=False)
            session = ort_session(buf.getvalue(), args.threads)
            feed = {"image": x.numpy()}
            for _ in range(3):
                out = session.run(None, feed)[0]
            times = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                session.run(None, feed)
                times.append(time.perf_counter() - t)
            row = {"base": kind, "size": size, "median_ms": round(1000 * statistics.median(times), 2)}
            if kind in ("cartoon", "cartoon_1pass"):
                with torch.no_grad():
                    exact = blocks.cartoon_base(x, exact=True, passes=_passes(kind)).numpy()
                d = np.abs(out - exact).max(axis=1)
                row["mean_abs_diff_to_exact"] = round(float(d.mean()), 4)
                row["share_off_by_0.25"] = round(float(np.mean(d > 0.25)), 4)
            rows.append(row)
            print(json.dumps(row), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out_path = RESULTS / "base_speed.json"
    out_path.write_text(json.dumps({"threads": args.threads, "rows": rows}, indent=1) + "\n")
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
