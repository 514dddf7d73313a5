"""Video files in and out with PyAV: RGB frames with their timestamps, H.264 out, audio copied.

Convention
----------
* Frames are ``(H, W, 3)`` uint8 RGB. Each carries its presentation time ``pts`` in the video
  stream's ``time_base`` and in seconds (``t``).
* The output keeps the input's frame timestamps (the encoder runs in the input's time base), so
  frame rate, duration and variable frame timing are kept exactly; the audio stream is copied
  packet for packet (no re-encoding, so no quality loss and no drift).
* Everything a user can get wrong — a missing, empty, truncated or corrupt file, a file with no video
  stream (audio only), an unwritable output — raises :class:`~geostyle.errors.VideoError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from geostyle.errors import VideoError

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".wmv", ".flv", ".gif"}
# H.264 first (plays everywhere), then MPEG-4 part 2 for PyAV builds without libx264.
ENCODERS = ("libx264", "h264", "mpeg4")
DEFAULT_CRF = 18
# Measured at 512x512 here: veryfast 6.0 ms/frame, superfast 5.0, ultrafast 3.7 (at crf 18, ~2x the
# file size of veryfast). The pipeline spends its budget on the generator, so the default is the fastest.
DEFAULT_PRESET = "ultrafast"


def _av():
    import av

    return av


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds. ``frames`` is the container's count (0 when unknown);
    ``variable_frame_rate`` is True when frame intervals in the first second differ by more than
    10 % (the output keeps them either way)."""

    path: Path
    width: int
    height: int
    fps: float
    frames: int
    duration: float  # seconds
    time_base: Fraction
    codec: str
    has_audio: bool
    audio_codec: str | None
    variable_frame_rate: bool


def _open(path: Path):
    av = _av()
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file")
    try:
        return av.open(str(path), "r")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise VideoError(f"{path}: not a readable video ({exc})") from exc


def _video_stream(container, path: Path):
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["no streams"]
        container.close()
        raise VideoError(f"{path}: no video stream (holds {', '.join(kinds)})")
    return container.streams.video[0]


def probe_video(path: str | Path, check_timing: bool = True) -> VideoInfo:
    """Read a video's header (and, with ``check_timing``, the timestamps of its first second of
    packets). Raises :class:`VideoError`."""
    av = _av()
    path = Path(path)
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1e6
        else:
            duration = 0.0
        if not ctx.width or not ctx.height:
            raise VideoError(f"{path}: video stream has no frame size")
        vfr = False
        if check_timing:
            stamps = []
            try:
                for packet in container.demux(stream):
                    if packet.pts is not None:
                        stamps.append(packet.pts)
                    if len(stamps) > max(12, int(float(rate)) + 5):
                        break
            except av.error.FFmpegError:
                pass
            # Packets come in decode order: the last few presentation times of the window may
            # belong to frames whose packets are still to come (B-frames), so they are left out.
            steps = np.diff(np.sort(np.asarray(stamps, dtype=np.float64))[:-4])
            steps = steps[steps > 0]
            if len(steps) > 2:
                vfr = bool(steps.max() > 1.1 * steps.min())
        audio = container.streams.audio[0] if container.streams.audio else None
        return VideoInfo(
            path=path,
            width=int(ctx.width),
            height=int(ctx.height),
            fps=float(rate),
            frames=int(stream.frames or 0),
            duration=duration,
            time_base=stream.time_base or Fraction(1, 90000),
            codec=ctx.name,
            has_audio=audio is not None,
            audio_codec=audio.codec_context.name if audio is not None else None,
            variable_frame_rate=vfr,
        )
    finally:
        container.close()


def is_video(path: str | Path) -> bool:
    """True when ``path`` opens as a container with a video stream (by content, not extension).
    Still images that FFmpeg can read (PNG, JPEG) are not videos: they hold a single frame."""
    av = _av()
    path = Path(path)
    try:
        if not path.is_file() or path.stat().st_size == 0:
            return False
        with av.open(str(path), "r") as container:
            if not container.streams.video:
                return False
            stream = container.streams.video[0]
            fmt = container.format.name
            return not (
                any(name in fmt for name in ("image2", "_pipe", "png", "jpeg", "webp", "bmp", "tiff"))
                and (stream.frames or 0) <= 1
            )
    except (av.error.FFmpegError, OSError, ValueError):
        return False


@dataclass
class SourceFrame:
    """One decoded frame: ``image (H, W, 3)`` uint8 RGB, index in the stream, time in seconds and
    ``pts`` in ``time_base`` (None for live sources)."""

    image: np.ndarray
    index: int
    t: float
    pts: int | None = None
    time_base: Fraction | None = None


class VideoReader:
    """Iterates the frames of a video file; audio packets met on the way are kept for the writer
    (:meth:`pop_audio`), so one pass over the file both decodes the picture and copies the sound.

    Use as a context manager or call :meth:`close`.
    """

    def __init__(self, path: str | Path, keep_audio: bool = True) -> None:
        self.path = Path(path)
        self.info = probe_video(self.path)
        self._container = _open(self.path)
        self.stream = _video_stream(self._container, self.path)
        self.stream.thread_type = "AUTO"
        self.audio_stream = (
            self._container.streams.audio[0] if keep_audio and self._container.streams.audio else None
        )
        self._audio: list = []

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def pop_audio(self) -> list:
        """Audio packets demuxed since the last call (in file order)."""
        packets, self._audio = self._audio, []
        return packets

    def __iter__(self) -> Iterator[SourceFrame]:
        av = _av()
        streams = [self.stream] + ([self.audio_stream] if self.audio_stream is not None else [])
        index = 0
        time_base = self.stream.time_base
        last_pts = None
        try:
            for packet in self._container.demux(*streams):
                if packet.stream.type == "audio":
                    if packet.dts is not None:  # the flush packet at the end has no timestamps
                        self._audio.append(packet)
                    continue
                for frame in packet.decode():
                    pts = frame.pts if frame.pts is not None else (0 if last_pts is None else last_pts + 1)
                    last_pts = pts
                    yield SourceFrame(
                        frame.to_ndarray(format="rgb24"), index, float(pts * time_base), pts, time_base
                    )
                    index += 1
        except av.error.FFmpegError as exc:
            raise VideoError(f"{self.path}: corrupt or truncated video after {index} frames ({exc})") from exc
        if index == 0:
            raise VideoError(f"{self.path}: no decodable video frames (truncated or corrupt)")
        if self.info.frames and index < self.info.frames - 1:
            # The header promised more: the file was cut short. Better a clear error than a
            # silently shorter output.
            raise VideoError(f"{self.path}: truncated: decoded {index} of {self.info.frames} frames")


class VideoWriter:
    """Writes RGB frames as H.264 (yuv420p; yuv444p for odd sizes) keeping each frame's timestamp,
    plus a copy of an audio stream. Writes to a temporary file beside ``path`` and renames it when
    :meth:`close` succeeds, so a failed run never leaves a half-written video under ``path``.
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: float | Fraction,
        time_base: Fraction | None = None,
        audio_template=None,
        crf: int = DEFAULT_CRF,
        preset: str = DEFAULT_PRESET,
    ) -> None:
        av = _av()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix or '.mp4'}")
        self.width, self.height = int(width), int(height)
        rate = Fraction(fps).limit_denominator(100000) if fps else Fraction(25)
        self.rate = rate
        self.time_base = time_base or Fraction(1, int(round(float(rate) * 1000)) or 1)
        try:
            mp4 = self._tmp.suffix.lower() in (".mp4", ".m4v", ".mov")
            # faststart: the index goes first, so browsers can play the file while it downloads.
            self._container = av.open(
                str(self._tmp),
                "w",
                format="mp4" if self._tmp.suffix.lower() == ".mp4" else None,
                options={"movflags": "faststart"} if mp4 else {},
            )
        except (av.error.FFmpegError, OSError) as exc:
            raise VideoError(f"{self.path}: cannot write ({exc})") from exc
        stream = None
        for name in ENCODERS:
            if name not in av.codecs_available:
                continue
            try:
                options = {"crf": str(crf), "preset": preset} if name == "libx264" else {}
                stream = self._container.add_stream(name, rate=rate, options=options)
            except (av.error.FFmpegError, ValueError):
                continue
            break
        if stream is None:
            self._container.close()
            self._tmp.unlink(missing_ok=True)
            raise VideoError(f"no video encoder available (tried {', '.join(ENCODERS)})")
        self.stream = stream
        odd = self.width % 2 or self.height % 2
        self.stream.width, self.stream.height = self.width, self.height
        self.stream.pix_fmt = "yuv444p" if odd and self.stream.codec_context.name == "libx264" else "yuv420p"
        self.stream.time_base = self.time_base
        self.stream.codec_context.time_base = self.time_base
        self.audio = self._container.add_stream_from_template(audio_template) if audio_template is not None else None
        self._last_pts: int | None = None
        self.frames = 0
        self._closed = False

    def write(self, image: np.ndarray, pts: int | None = None) -> None:
        """Encode one ``(H, W, 3)`` uint8 RGB frame at ``pts`` (in :attr:`time_base`; default: the
        next frame at the nominal rate). Timestamps must increase."""
        av = _av()
        if image.shape != (self.height, self.width, 3):
            raise VideoError(f"frame is {image.shape}, the video is {self.height}x{self.width}x3")
        if pts is None:
            step = max(1, round(1 / (float(self.rate) * float(self.time_base))))
            pts = 0 if self._last_pts is None else self._last_pts + step
        if self._last_pts is not None and pts <= self._last_pts:
            return  # a repeated timestamp (broken input): drop the frame rather than fail the encoder
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image, dtype=np.uint8), format="rgb24")
        frame.pts, frame.time_base = int(pts), self.time_base
        try:
            for packet in self.stream.encode(frame):
                self._container.mux(packet)
        except av.error.FFmpegError as exc:
            raise VideoError(f"{self.path}: encoding failed ({exc})") from exc
        self._last_pts = int(pts)
        self.frames += 1

    def write_audio(self, packets) -> None:
        """Mux audio packets demuxed from the template stream (copied, not re-encoded)."""
        if self.audio is None:
            return
        for packet in packets:
            packet.stream = self.audio
            self._container.mux(packet)

    def close(self) -> Path:
        """Flush the encoder, finish the file and move it to :attr:`path`."""
        av = _av()
        if self._closed:
            return self.path
        self._closed = True
        try:
            for packet in self.stream.encode():
                self._container.mux(packet)
            self._container.close()
        except av.error.FFmpegError as exc:
            self.abort()
            raise VideoError(f"{self.path}: finishing the video failed ({exc})") from exc
        if self.frames == 0:
            self.abort()
            raise VideoError(f"{self.path}: no frames were written")
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the partial output."""
        self._closed = True
        try:
            self._container.close()
        except Exception:  # already closed or broken: the file is removed either way
            pass
        self._tmp.unlink(missing_ok=True)
