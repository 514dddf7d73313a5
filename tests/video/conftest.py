"""Short real clips (cut from shared/data/video with their sound) and synthetic ones, made with PyAV."""

from __future__ import annotations

import importlib.util
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

_HELPER = Path(__file__).resolve().parents[1] / "infer" / "conftest.py"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, shared_data):
    spec = importlib.util.spec_from_file_location("infer_fixtures", _HELPER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors", shared_data)


def cut_clip(src: Path, dst: Path, frames: int, size: int | None = None) -> Path:
    """The first ``frames`` frames of ``src`` (resized to ``size`` if given) with its audio packets
    of the same span, re-encoded (video) / copied (audio) by PyAV."""
    with av.open(str(src)) as inp:
        vin = inp.streams.video[0]
        ain = inp.streams.audio[0] if inp.streams.audio else None
        with av.open(str(dst), "w") as out:
            vout = out.add_stream("libx264", rate=vin.average_rate)
            vout.width = size or vin.codec_context.width
            vout.height = size or vin.codec_context.height
            vout.pix_fmt = "yuv420p"
            vout.time_base = vin.time_base
            vout.codec_context.time_base = vin.time_base
            aout = out.add_stream_from_template(ain) if ain is not None else None
            end, n = None, 0
            streams = [vin] + ([ain] if ain is not None else [])
            for packet in inp.demux(*streams):
                if packet.stream.type == "audio":
                    if packet.dts is None or aout is None:
                        continue
                    if end is not None and packet.pts * packet.time_base > end:
                        continue
                    packet.stream = aout
                    out.mux(packet)
                    continue
                for frame in packet.decode():
                    if n >= frames:
                        end = end if end is not None else frame.pts * vin.time_base
                        continue
                    image = frame.to_ndarray(format="rgb24")
                    if size:
                        import cv2

                        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
                    new = av.VideoFrame.from_ndarray(image, format="rgb24")
                    new.pts, new.time_base = frame.pts, vin.time_base
                    for p in vout.encode(new):
                        out.mux(p)
                    n += 1
            for p in vout.encode():
                out.mux(p)
    return dst


@pytest.fixture(scope="session")
def talking_clip(tmp_path_factory, shared_data) -> Path:
    """12 frames (0.48 s at 25 fps) of a real talking head at 256x256, with its AAC sound."""
    return cut_clip(shared_data / "video" / "d12.mp4", tmp_path_factory.mktemp("clips") / "talk.mp4", 12, 256)


def write_synthetic(path: Path, pts_ms: list[int], size=(96, 128), audio: bool = False, video: bool = True) -> Path:
    """A synthetic clip: a moving colour gradient (no face) at the given timestamps (ms), optionally
    with a 440 Hz AAC tone; ``video=False`` writes the tone only (an audio-only file)."""
    h, w = size
    with av.open(str(path), "w") as out:
        if video:
            v = out.add_stream("libx264", rate=25)
            v.width, v.height, v.pix_fmt = w, h, "yuv420p"
            v.time_base = v.codec_context.time_base = Fraction(1, 1000)
        if audio:
            a = out.add_stream("aac", rate=44100)
            a.layout = "mono"
        if video:
            x = np.linspace(0, 1, w)
            for i, t in enumerate(pts_ms):
                row = np.stack([(x + 0.02 * i) % 1.0, 0.5 + 0 * x, 1 - x], -1) * 200 + 20
                img = np.repeat(row[None].astype(np.uint8), h, axis=0)
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts, frame.time_base = t, Fraction(1, 1000)
                for p in v.encode(frame):
                    out.mux(p)
            for p in v.encode():
                out.mux(p)
        if audio:
            samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(44100) / 44100)).astype(np.float32)
            for start in range(0, len(samples), 1024):
                chunk = samples[start : start + 1024][None]
                frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                frame.sample_rate, frame.pts = 44100, start
                for p in a.encode(frame):
                    out.mux(p)
            for p in a.encode():
                out.mux(p)
    return path
