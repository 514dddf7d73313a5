"""The web app under test: a real ``geostyle serve`` process on 127.0.0.1 and Debian's Chromium driven
by Playwright. Nothing is mocked: uploads go through HTTP, landmarks are detected by the real
detectors, training runs the real CLI, the webcam is Chromium's fake capture device fed with a real
face photo."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = os.environ.get("GEOSTYLE_CHROMIUM", "/usr/bin/chromium")
# No network here: without these Chromium keeps dialling out (updates, sync, QUIC probes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
REPO = Path(__file__).resolve().parents[2]
DOC_IMAGES = REPO / "docs" / "img"
WAIT_MS = 30_000  # how long page actions and assertions wait (ms)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One ``geostyle serve`` process; jobs it starts are detached and killed by :meth:`kill_jobs`."""

    def __init__(self, data: Path, photos: Path, log: Path) -> None:
        self.data, self.photos, self.log_path = data, photos, log
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 90.0) -> Server:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        command = [
            sys.executable,
            "-m",
            "geostyle.cli.main",
            "serve",
            "--port",
            str(port),
            "--data",
            str(self.data),
            "--photos",
            f"tiny={self.photos}",
            # Every step logged and checkpointed: a 6-step job shows progress and can be resumed.
            "--train-set",
            "train.log_every=1",
            "--train-set",
            "train.checkpoint_every=1",
            # The preset's first phase trains batches of 8 at 128 px; 2 keep a 10-step test job short.
            "--train-set",
            "train.low_resolution_batch=2",
            "--max-upload-mb",
            "2",
            "--eval-photos",
            "2",
        ]
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"geostyle serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/api/models", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        pytest.fail(f"geostyle serve did not answer within {timeout} s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill_jobs(self) -> None:
        jobs = self.data / "jobs"
        for runner in jobs.glob("*/runner.json") if jobs.is_dir() else []:
            pid = json.loads(runner.read_text()).get("pid")
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError, TypeError):
                pass

    def api(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())


@pytest.fixture(scope="session")
def photo_files(shared_data) -> list[Path]:
    return sorted((shared_data / "photos" / "celebahq").glob("*.jpg"))


@pytest.fixture(scope="session")
def anime_files(shared_data) -> list[Path]:
    return sorted((shared_data / "styles" / "anime").glob("*.jpg"))[:4]


@pytest.fixture(scope="session")
def tiny_photos(tmp_path_factory, shared_data) -> Path:
    """Four selfies: the server-side photo set of the training tests."""
    folder = tmp_path_factory.mktemp("tiny_photos")
    for path in sorted((shared_data / "photos" / "selfie").glob("*.jpg"))[:4]:
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="session")
def server(tmp_path_factory, tiny_photos):
    root = tmp_path_factory.mktemp("serve")
    srv = Server(root / "data", tiny_photos, root / "server.log").start()
    yield srv
    srv.stop()
    srv.kill_jobs()


@pytest.fixture()
def fresh_server(tmp_path, tiny_photos):
    """A server of its own (own data folder) that a test may stop and start again."""
    srv = Server(tmp_path / "data", tiny_photos, tmp_path / "server.log")
    yield srv
    srv.stop()
    srv.kill_jobs()


def write_y4m(path: Path, image: np.ndarray, frames: int = 4) -> None:
    """A still video (YUV 4:2:0, JPEG range) for Chromium's fake camera; it loops the file."""
    rgb = image.astype(np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
    v = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
    h, w = y.shape

    def sub(c: np.ndarray) -> np.ndarray:
        return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    planes = [np.clip(np.rint(p), 0, 255).astype(np.uint8).tobytes() for p in (y, sub(u), sub(v))]
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F25:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            fh.write(b"FRAME\n")
            for plane in planes:
                fh.write(plane)


@pytest.fixture(scope="session")
def fake_camera(tmp_path_factory, photo_files) -> Path:
    from PIL import Image

    face = Image.open(photo_files[1]).convert("RGB").resize((440, 440), Image.Resampling.LANCZOS)
    frame = Image.new("RGB", (640, 480), (128, 128, 128))
    frame.paste(face, (100, 20))
    path = tmp_path_factory.mktemp("camera") / "face.y4m"
    write_y4m(path, np.asarray(frame))
    return path


@pytest.fixture(scope="session")
def browser(fake_camera):
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"{CHROMIUM} not found: install Debian's chromium (`make test` does: apt-get install chromium)"
        )
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait on the server's work (stylizing, detecting); 5 s, Playwright's default, was
    # missed on a loaded 2-core machine (a training run beside the suite). The setting is global
    # to the process, so it is made once here, beside the page actions' own wait (`page`).
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as pw:
        # Playwright gives every launch a fresh temporary profile (its own --user-data-dir).
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={fake_camera}"],
        )
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["camera"], origin=server.url)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


@pytest.fixture(scope="session")
def screenshot():
    """Documentation screenshots: written only when asked (GEOSTYLE_SCREENSHOTS=1), then looked at."""

    def take(page, name: str) -> None:
        if os.environ.get("GEOSTYLE_SCREENSHOTS") == "1":
            DOC_IMAGES.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(DOC_IMAGES / name), full_page=True)

    return take
