"""The live loop: a camera (or a video file standing in for one) through a :class:`LiveSession` into
an OpenCV window with an fps overlay and keys, and/or into a video file.

The window uses OpenCV's own GUI (``cv2.imshow``): the OpenCV distribution geostyle installs
(``opencv-contrib-python``, the one mediapipe requires) ships a Qt GUI module. Without a display
(a server, CI) the loop runs ``headless``: the same frames go to a video file instead, which is how
it is tested. Keys (window only):

====  =========================================
q     quit (also Esc, or closing the window)
m     next model
[ ]   geometry strength -0.1 / +0.1
s     smoothing on / off (landmarks, the temporal filter, the followed exposure)
o     overlay on / off
====  =========================================
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from geostyle.errors import LiveError
from geostyle.infer.stylize import Stylizer
from geostyle.video.io import SourceFrame, VideoReader, VideoWriter
from geostyle.video.loop import LiveSession, LoopStats, run_loop

WINDOW_TITLE = "geostyle live"
STRENGTH_STEP = 0.1


class CameraSource:
    """Frames of an OpenCV camera. A reader thread keeps only the newest frame, so a slow stylizer
    shows the present instead of falling further and further behind the camera."""

    def __init__(self, index: int = 0, width: int | None = None, height: int | None = None) -> None:
        self.capture = cv2.VideoCapture(index)
        if not self.capture.isOpened():
            raise LiveError(f"camera {index} cannot be opened (is one connected? try --camera 1, or --video FILE)")
        if width:
            self.capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            self.capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self._frame: np.ndarray | None = None
        self._fresh = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            ok, bgr = self.capture.read()
            if not ok:
                self._stop.set()
                self._fresh.set()
                return
            self._frame = bgr
            self._fresh.set()

    def __iter__(self) -> Iterator[SourceFrame]:
        start = time.monotonic()
        index = 0
        while not self._stop.is_set():
            if not self._fresh.wait(timeout=5.0):
                raise LiveError("the camera stopped sending frames")
            self._fresh.clear()
            bgr = self._frame
            if bgr is None:
                break
            yield SourceFrame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), index, time.monotonic() - start)
            index += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
        self.capture.release()


def has_display() -> bool:
    """Whether a window can be opened: a display server on Linux; assumed elsewhere."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class Window:
    """An OpenCV window. ``show(rgb) -> key`` (the key pressed, -1 for none); :attr:`closed` turns
    True when the user closes it."""

    def __init__(self, title: str = WINDOW_TITLE) -> None:
        if not has_display():
            raise LiveError(
                "no display to open a window on; run headless instead: "
                "geostyle live --headless --video FILE --out OUT.mp4"
            )
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE)
        except cv2.error as exc:
            raise LiveError(
                "this OpenCV has no window support (a headless build replaced opencv-contrib-python?): "
                "pip install --force-reinstall 'opencv-contrib-python<4.12', or use --headless"
            ) from exc
        self.closed = False

    def show(self, rgb: np.ndarray) -> int:
        cv2.imshow(self.title, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        key = cv2.waitKey(1)
        try:
            if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
                self.closed = True
        except cv2.error:
            self.closed = True
        return key

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
        except cv2.error:
            pass


def draw_overlay(frame: np.ndarray, lines: list[str]) -> np.ndarray:
    """``frame`` with ``lines`` of text in its top-left corner (white on a dark band)."""
    out = frame.copy()
    scale = max(0.4, min(out.shape[:2]) / 900)
    thickness = max(1, round(scale * 2))
    line_h = int(26 * scale) + 6
    width = max(cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)[0][0] for t in lines) + 16
    band = out[: line_h * len(lines) + 6, :width]
    band[...] = (band.astype(np.float32) * 0.45).astype(np.uint8)
    for i, text in enumerate(lines):
        y = (i + 1) * line_h
        cv2.putText(out, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out


@dataclass
class LiveControls:
    """What the keys change: the model (one of ``models``, loaded on first use), the strength,
    smoothing and the overlay. ``make(name) -> Stylizer`` builds a model's stylizer."""

    models: list[str]
    make: Callable[[str], Stylizer]
    overlay: bool = True
    index: int = 0
    frame_size: tuple[int, int] | None = None  # (height, width): new models are warmed up for it
    stylizers: dict[str, Stylizer] = field(default_factory=dict)

    def stylizer(self) -> Stylizer:
        name = self.models[self.index]
        if name not in self.stylizers:
            self.stylizers[name] = self.make(name)
            if self.frame_size is not None:
                self.stylizers[name].warm_up(*self.frame_size)
        return self.stylizers[name]

    def handle_key(self, key: int, session: LiveSession) -> bool:
        """Apply one key press; False means quit."""
        if key < 0:
            return True
        char = chr(key & 0xFF)
        if char in ("q", "\x1b"):
            return False
        if char == "m" and len(self.models) > 1:
            strength = session.stylizer.strength
            self.index = (self.index + 1) % len(self.models)
            session.stylizer = self.stylizer()
            session.stylizer.strength = strength
        elif char in ("[", "]"):
            step = STRENGTH_STEP if char == "]" else -STRENGTH_STEP
            session.stylizer.strength = round(min(1.0, max(0.0, session.stylizer.strength + step)), 2)
        elif char == "s":
            session.smoothing = not session.smoothing
        elif char == "o":
            self.overlay = not self.overlay
        return True


class FpsMeter:
    """Frames per second over the last ``window`` frames."""

    def __init__(self, window: int = 30) -> None:
        self.window = window
        self.stamps: list[float] = []

    def tick(self) -> float:
        self.stamps.append(time.perf_counter())
        self.stamps = self.stamps[-self.window :]
        if len(self.stamps) < 2:
            return 0.0
        return (len(self.stamps) - 1) / (self.stamps[-1] - self.stamps[0])


def run_live(
    frames,
    session: LiveSession,
    controls: LiveControls,
    window: Window | None = None,
    writer: VideoWriter | None = None,
    reader: VideoReader | None = None,
) -> LoopStats:
    """The live loop: every frame stylized, the overlay drawn (model, strength, smoothing, fps),
    shown in ``window`` (keys handled) and/or written to ``writer`` (with ``reader``'s audio).
    Stops at the end of the source, on the quit key or when the window is closed."""
    meter = FpsMeter()

    def sink(out: np.ndarray, frame: SourceFrame) -> bool:
        fps = meter.tick()
        if controls.overlay:
            stylizer = session.stylizer
            out = draw_overlay(
                out,
                [
                    f"{fps:4.1f} fps  {out.shape[1]}x{out.shape[0]}",
                    f"{stylizer.name}  strength {stylizer.strength:.1f}",
                    f"smoothing {'on' if session.smoothing else 'off'}  faces {session.faces}",
                ],
            )
        if writer is not None:
            writer.write(out, frame.pts)
            if reader is not None:
                writer.write_audio(reader.pop_audio())
        if window is not None:
            key = window.show(out)
            if window.closed or not controls.handle_key(key, session):
                return False
        return True

    return run_loop(frames, session, sink)


def live(
    controls: LiveControls,
    camera: int | None = 0,
    video: str | Path | None = None,
    out: str | Path | None = None,
    headless: bool = False,
    smoothing: bool = True,
) -> LoopStats:
    """Open the source (``video`` file, else ``camera``), the window (unless ``headless``) and the
    output file (``out``), and run :func:`run_live`. Headless needs an output."""
    if headless and out is None:
        raise LiveError("--headless needs --out OUT.mp4 (there is no window to show the frames in)")
    window = None if headless else Window()
    reader = VideoReader(video) if video is not None else None
    source = reader if reader is not None else CameraSource(camera or 0)
    writer = None
    session = LiveSession(controls.stylizer(), smoothing=smoothing)
    try:
        if reader is not None:
            controls.frame_size = (reader.info.height, reader.info.width)
            session.stylizer.warm_up(*controls.frame_size)
        if out is not None:
            if reader is not None:
                info = reader.info
                writer = VideoWriter(
                    out, info.width, info.height, info.fps, reader.stream.time_base, reader.audio_stream
                )
            else:
                assert isinstance(source, CameraSource)
                w = int(source.capture.get(cv2.CAP_PROP_FRAME_WIDTH))
                h = int(source.capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
                fps = source.capture.get(cv2.CAP_PROP_FPS) or 30.0
                writer = _CameraWriter(out, w, h, fps)
        stats = run_live(source, session, controls, window, writer, reader)
        if writer is not None:
            if reader is not None:
                writer.write_audio(reader.pop_audio())
            writer.close()
        return stats
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        session.close()
        if window is not None:
            window.close()
        if reader is not None:
            reader.close()
        elif isinstance(source, CameraSource):
            source.close()


class _CameraWriter(VideoWriter):
    """A recording of a camera: frames have no timestamps of their own, so they are stamped with
    the wall clock (the file plays back at the speed it was recorded)."""

    def __init__(self, path, width: int, height: int, fps: float) -> None:
        from fractions import Fraction

        super().__init__(path, width, height, fps, time_base=Fraction(1, 1000))
        self._start: float | None = None

    def write(self, image: np.ndarray, pts: int | None = None) -> None:
        now = time.monotonic()
        self._start = now if self._start is None else self._start
        super().write(image, int((now - self._start) * 1000))
