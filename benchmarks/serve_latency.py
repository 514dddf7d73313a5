"""Latency of the web app against the library it calls, measured in the same run.

    python benchmarks/serve_latency.py [--frames 40] [--images 6] [--threads 2] [--runtimes torch,onnx]

For each generator runtime in turn (``geostyle serve --runtime``; the pages' default is onnx), starts
``geostyle serve`` on 127.0.0.1 (a fresh data folder), then times over HTTP:

* ``/api/frame`` (the webcam page's round trip): one 480x360 JPEG of a real face per request, one
  stream, the next request sent when the previous answer is back, as the page does; beside it the
  library alone (``LiveSession.process`` on the same decoded frame, in this process, same threads);
* ``/api/stylize`` on an uploaded 512x512 photo, a new strength each request (as the page's slider
  sends); beside it ``Stylizer.stylize_frame`` on the same photo at the same strengths.

Medians after a warm-up, wall clock. The difference between a row and its library row is what the
web layer costs (HTTP, JPEG/PNG coding, the model lock). Writes ``benchmarks/results/serve_latency.json``
with the load average (on a shared machine the other jobs' load shows in every number), one block of
rows per runtime.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GEOSTYLE_SHARED_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results"


def _post(url: str, body: bytes, content_type: str) -> tuple[bytes, dict]:
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"X-Geostyle": "1", "Content-Type": content_type}
    )
    with urllib.request.urlopen(req, timeout=120) as response:
        return response.read(), dict(response.headers)


def _multipart(path: Path) -> tuple[bytes, str]:
    boundary = "benchboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return (
        head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode(),
        f"multipart/form-data; boundary={boundary}",
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _median_ms(times: list[float]) -> float:
    return round(1000 * statistics.median(times), 1)


STRENGTHS = [0.5 + 0.05 * k for k in range(0, 20)]  # the photo rows: a new strength each request


def _frame_jpeg(photo: Path) -> bytes:
    face = Image.open(photo).convert("RGB").resize((330, 330), Image.Resampling.LANCZOS)
    frame_img = Image.new("RGB", (480, 360), (128, 128, 128))
    frame_img.paste(face, (75, 15))
    buf = io.BytesIO()
    frame_img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _over_http(runtime: str, args: argparse.Namespace, photo: Path, frame_jpeg: bytes) -> dict[str, list[float]]:
    """The web app's two routes, timed from this process against a server on ``runtime``."""
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    data = Path(tempfile.mkdtemp(prefix="geostyle-bench-"))
    command = [sys.executable, "-m", "geostyle.cli.main", "serve", "--port", str(port), "--data", str(data)]
    command += ["--runtime", runtime, "--threads", str(args.threads)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(url + "/api/models", timeout=2).read()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit(f"server on {runtime} did not start") from None
                time.sleep(0.3)

        stream = "00112233445566ff"
        frame_times = []
        for i in range(args.frames + 3):
            t = time.perf_counter()
            _post(f"{url}/api/frame?stream={stream}&model=anime&strength=0.5", frame_jpeg, "image/jpeg")
            if i >= 3:
                frame_times.append(time.perf_counter() - t)

        body, ctype = _multipart(photo)
        upload = json.loads(_post(url + "/api/uploads", body, ctype)[0])["id"]
        image_times = []
        for i, strength in enumerate(STRENGTHS[: args.images + 1]):
            t = time.perf_counter()
            request = json.dumps({"upload": upload, "model": "anime", "strength": round(strength, 2)}).encode()
            _post(url + "/api/stylize", request, "application/json")
            if i >= 1:
                image_times.append(time.perf_counter() - t)
    finally:
        server.terminate()
        server.wait(30)
    return {"frame": frame_times, "image": image_times}


def _in_library(runtime: str, args: argparse.Namespace, photo: Path, frame_jpeg: bytes) -> dict[str, list[float]]:
    """The same two calls on the library alone, same runtime and threads, in this process."""
    from geostyle.data.images import load_image
    from geostyle.infer.stylize import Stylizer
    from geostyle.video import LiveSession

    stylizer = Stylizer("anime", strength=0.5, runtime=runtime, threads=args.threads)
    session = LiveSession(stylizer)
    frame = np.asarray(Image.open(io.BytesIO(frame_jpeg)).convert("RGB"))
    frame_times = []
    for i in range(args.frames + 3):
        t = time.perf_counter()
        session.process(frame)
        if i >= 3:
            frame_times.append(time.perf_counter() - t)
    session.close()
    image = load_image(photo)
    image_times = []
    for i, strength in enumerate(STRENGTHS[: args.images + 1]):
        stylizer.strength = round(strength, 2)
        t = time.perf_counter()
        stylizer.stylize_frame(image)
        if i >= 1:
            image_times.append(time.perf_counter() - t)
    return {"frame": frame_times, "image": image_times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runtimes", default="torch,onnx", help="comma-separated generator runtimes, each timed in turn")
    args = parser.parse_args()
    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    if not runtimes or not 1 <= args.images < len(STRENGTHS):
        raise SystemExit(f"name at least one runtime and 1-{len(STRENGTHS) - 1} images")

    import torch

    torch.set_num_threads(args.threads)
    photo = sorted((SHARED / "photos" / "celebahq").glob("*.jpg"))[1]
    frame_jpeg = _frame_jpeg(photo)
    rows: dict[str, dict[str, float]] = {}
    for runtime in runtimes:
        http = _over_http(runtime, args, photo, frame_jpeg)
        library = _in_library(runtime, args, photo, frame_jpeg)
        rows[runtime] = {
            "webcam frame 480x360, HTTP round trip (/api/frame)": _median_ms(http["frame"]),
            "webcam frame 480x360, library LiveSession.process": _median_ms(library["frame"]),
            "photo 512x512, HTTP (/api/stylize)": _median_ms(http["image"]),
            "photo 512x512, library Stylizer.stylize_frame": _median_ms(library["image"]),
        }
    result = {
        "threads": args.threads,
        "frames": args.frames,
        "images": args.images,
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "median_ms": rows,
        "webcam_fps_http": {
            runtime: round(1000 / r["webcam frame 480x360, HTTP round trip (/api/frame)"], 1)
            for runtime, r in rows.items()
        },
    }
    for runtime, block in rows.items():
        for name, ms in block.items():
            print(f"{runtime:8s} {name:58s} {ms:8.1f} ms")
        print(f"{runtime:8s} webcam rate over HTTP: {result['webcam_fps_http'][runtime]} frames/s")
    print(f"load average {result['load_average']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "serve_latency.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
