"""The frame loop shared by video files, the webcam and the browser: per-stream state
(:class:`LiveSession`), the loop itself (:func:`run_loop`) and whole files (:func:`stylize_video`).

A stream differs from a list of photos in one way: consecutive frames show the same faces. The
session tracks them (:class:`geostyle.infer.tracking.FaceTracker`) and smooths their landmarks, so
the face crops and their TPS warps stay still when the head does, and filters the output where the
input did not change (:class:`geostyle.video.temporal.TemporalFilter`), so the generator's response
to camera and codec noise does not flicker; a frame without a face is stylized without a warp.
With smoothing, the exposure gain an underexposed stream gets (the stylizer's ``exposure``) follows
the frames' over half a second (:class:`geostyle.infer.tone.ExposureFollower`) instead of jumping
with each frame's white point.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from geostyle.errors import GeostyleError
from geostyle.infer.stylize import Stylizer
from geostyle.infer.tone import ExposureFollower
from geostyle.infer.tracking import (
    DEFAULT_BETA,
    DEFAULT_D_CUTOFF,
    DEFAULT_MIN_CUTOFF,
    FaceTracker,
    VideoFaceMesh,
)
from geostyle.video.io import SourceFrame, VideoReader, VideoWriter
from geostyle.video.temporal import TemporalFilter


def stream_detector(stylizer: Stylizer):
    """The detector for consecutive frames: mediapipe FaceMesh in video mode when the stylizer's
    backend list starts with mediapipe (tracks between detections), else the still-image backend
    on every frame."""
    from geostyle.faces.backends.chain import parse_spec

    if parse_spec(stylizer.backend_name)[0] == "mediapipe":
        return VideoFaceMesh(max_faces=stylizer.max_faces)
    return stylizer.backend


class LiveSession:
    """Stylizes the frames of one stream, holding its face tracks between calls.

    ``process(frame_rgb, t=None) -> frame_rgb``: ``(H, W, 3)`` uint8 RGB in, same shape out; ``t``
    is the frame's time in seconds (default: the wall clock, right for a camera or a browser).
    Change :attr:`stylizer` (another model) or ``stylizer.strength`` between frames at will; the
    tracks survive. One session per stream; not safe to share between threads.
    """

    def __init__(
        self,
        stylizer: Stylizer,
        smoothing: bool = True,
        min_cutoff: float = DEFAULT_MIN_CUTOFF,
        beta: float = DEFAULT_BETA,
        detector=None,
        temporal: bool | None = None,
        d_cutoff: float = DEFAULT_D_CUTOFF,
    ) -> None:
        self.stylizer = stylizer
        # Output filtering follows landmark smoothing unless asked for separately.
        self.temporal = TemporalFilter() if (smoothing if temporal is None else temporal) else None
        self.exposure = ExposureFollower() if smoothing else None
        self._own_detector = detector is None
        self.tracker = FaceTracker(
            detector if detector is not None else stream_detector(stylizer),
            smoothing=smoothing,
            min_cutoff=min_cutoff,
            beta=beta,
            d_cutoff=d_cutoff,
            detect_size=stylizer.detect_size,
        )
        self.faces = 0  # faces rendered in the last frame
        self.frames = 0
        self._clock0: float | None = None

    @property
    def smoothing(self) -> bool:
        return self.tracker.smoothing

    @smoothing.setter
    def smoothing(self, value: bool) -> None:
        """Landmark smoothing, the temporal output filter and the followed exposure together (the live
        ``s`` key)."""
        self.tracker.smoothing = bool(value)
        self.temporal = TemporalFilter() if value else None
        self.exposure = ExposureFollower() if value else None

    def process(self, frame: np.ndarray, t: float | None = None) -> np.ndarray:
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise GeostyleError(f"expected an (H, W, 3) uint8 RGB frame, got {frame.shape} {frame.dtype}")
        if t is None:
            now = time.monotonic()
            self._clock0 = now if self._clock0 is None else self._clock0
            t = now - self._clock0
        timer = self.stylizer.timer
        cast = self.stylizer.cast(frame)
        if self.exposure is not None:
            cast = replace(cast, gain=self.exposure(cast.gain, t))
        # The whole-frame pass needs no landmarks: started first, it runs beside detection too.
        background = self.stylizer.start_background(frame, cast)
        with timer("detect+landmarks"):
            faces = self.tracker.detect(frame)
        with timer("track+smooth"):
            tracks = self.tracker.update_with(faces, t)
        self.faces = len(tracks)
        out = self.stylizer.render(frame, [track.warp_landmarks() for track in tracks], background=background, cast=cast)
        if self.temporal is not None:
            with timer("temporal filter"):
                out = self.temporal(
                    frame, out, moving=[_grown(tr.box) for tr in tracks if tr.motion > MOVING_FACE]
                )
        self.frames += 1
        timer.frame_done()
        return out

    def reset(self) -> None:
        """Forget the tracks and the previous output (e.g. after a cut or a camera switch)."""
        self.tracker.reset()
        if self.temporal is not None:
            self.temporal.reset()
        if self.exposure is not None:
            self.exposure.reset()

    def close(self) -> None:
        if self._own_detector:
            close = getattr(self.tracker.detector, "close", None)
            if close is not None:
                close()


# A face whose smoothed landmarks moved more than this (eye distances per frame) is moving: its
# region is not blended with the previous output (the smoothed landmarks of the still talking heads
# d0 and d18 move 0.0035 per frame (median), 0.012 (99th percentile); the moving d12 0.1).
MOVING_FACE = 0.015


def _grown(box: tuple[float, float, float, float], factor: float = 1.6) -> tuple[float, float, float, float]:
    """A face box widened around its centre to cover hair and the warp's reach."""
    x0, y0, x1, y1 = box
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, factor * max(x1 - x0, y1 - y0) / 2
    return cx - half, cy - half, cx + half, cy + half


# Backwards-friendly alias for callers that think in frames rather than sessions.
FrameStylizer = LiveSession


@dataclass
class LoopStats:
    frames: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def run_loop(
    frames: Iterable[SourceFrame],
    session: LiveSession,
    sink: Callable[[np.ndarray, SourceFrame], bool | None],
    progress: Callable[[int], None] | None = None,
) -> LoopStats:
    """Stylize every frame of ``frames`` and hand it to ``sink(output, source_frame)``; a sink that
    returns ``False`` stops the loop (a closed window, the quit key). Decode time is the time spent
    waiting for the next frame."""
    timer = session.stylizer.timer
    start = time.perf_counter()
    count = 0
    iterator: Iterator[SourceFrame] = iter(frames)
    while True:
        with timer("decode"):
            frame = next(iterator, None)
        if frame is None:
            break
        out = session.process(frame.image, frame.t)
        count += 1
        keep_going = sink(out, frame)
        if progress is not None:
            progress(count)
        if keep_going is False:
            break
    return LoopStats(count, time.perf_counter() - start)


@dataclass
class VideoResult:
    """``frames`` written; ``fps``: the output's nominal frame rate (= the input's); ``seconds``: wall
    time of the processing (``processing_fps`` = frames / seconds); ``face_frames``: frames in
    which at least one face got the geometry treatment; ``audio``: whether a sound track was copied."""

    path: Path
    frames: int
    fps: float
    seconds: float
    face_frames: int
    audio: bool
    width: int
    height: int

    @property
    def processing_fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def stylize_video(
    src_path: str | Path,
    dst_path: str | Path,
    stylizer: Stylizer,
    *,
    progress: Callable[[int, int], None] | None = None,
    smoothing: bool = True,
) -> VideoResult:
    """Stylize a video file into ``dst_path`` (MP4, H.264): same size, frame timestamps (rate,
    duration, variable timing) and audio track as ``src_path``. ``progress(done, total)`` is called
    after every frame (``total`` from the container; an estimate when it does not say).
    Raises :class:`~geostyle.errors.VideoError` for unreadable input or unwritable output; a
    partial output is never left at ``dst_path``."""
    timer = stylizer.timer
    with VideoReader(src_path) as reader:
        info = reader.info
        total = info.frames or max(1, round(info.duration * info.fps))
        writer = VideoWriter(
            dst_path,
            info.width,
            info.height,
            info.fps,
            time_base=reader.stream.time_base,
            audio_template=reader.audio_stream,
        )
        session = LiveSession(stylizer, smoothing=smoothing)
        face_frames = [0]

        def sink(out: np.ndarray, frame: SourceFrame) -> None:
            face_frames[0] += session.faces > 0
            with timer("encode"):
                writer.write(out, frame.pts)
                writer.write_audio(reader.pop_audio())

        try:
            stats = run_loop(
                reader, session, sink, progress=None if progress is None else (lambda n: progress(n, total))
            )
            writer.write_audio(reader.pop_audio())
            writer.close()
        except BaseException:
            writer.abort()
            raise
        finally:
            session.close()
    return VideoResult(
        Path(dst_path),
        stats.frames,
        info.fps,
        stats.seconds,
        face_frames[0],
        writer.audio is not None,
        info.width,
        info.height,
    )
