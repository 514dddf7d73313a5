"""Video in -> video out: same frames, timestamps (also variable), size, duration and sound; every bad
file a clear VideoError, never a partial output."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from geostyle.errors import VideoError
from geostyle.infer.stylize import Stylizer
from geostyle.video import VideoReader, probe_video, stylize_video

from .conftest import write_synthetic


def _frames(path: Path) -> tuple[list[float], list[np.ndarray]]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames = [(float(f.pts * s.time_base), f.to_ndarray(format="rgb24")) for f in c.decode(s)]
    return [t for t, _ in frames], [f for _, f in frames]


def _audio_packets(path: Path) -> list[tuple[int, int]]:
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return []
        return [(p.pts, p.size) for p in c.demux(c.streams.audio[0]) if p.dts is not None]


def test_shared_videos_are_what_the_data_readme_says(shared_data):
    infos = {p.stem: probe_video(p) for p in sorted((shared_data / "video").glob("*.mp4"))}
    assert infos["d12"].has_audio and infos["d12"].width == 512 and infos["d12"].fps == 25
    assert not infos["d0"].has_audio
    assert not any(i.variable_frame_rate for i in infos.values())


def test_video_keeps_timing_size_and_sound(tiny_model, talking_clip, tmp_path):
    stylizer = Stylizer(tiny_model, runtime="onnx", threads=1)
    seen = []
    out = tmp_path / "talk_out.mp4"
    result = stylize_video(talking_clip, out, stylizer, progress=lambda done, total: seen.append((done, total)))
    src, dst = probe_video(talking_clip), probe_video(out)
    assert (dst.width, dst.height, dst.fps) == (src.width, src.height, src.fps)
    assert result.frames == src.frames == dst.frames == 12 and result.face_frames == 12
    assert abs(dst.duration - src.duration) < 1 / src.fps
    t_in, f_in = _frames(talking_clip)
    t_out, f_out = _frames(out)
    assert t_out == t_in
    assert np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(f_in, f_out)]) > 2  # stylized
    assert result.audio and dst.has_audio
    assert _audio_packets(out) == _audio_packets(talking_clip)  # copied packet for packet
    assert seen[-1] == (12, 12) and [d for d, _ in seen] == list(range(1, 13))


def test_variable_frame_rate_is_kept(tiny_model, tmp_path):
    pts = [0, 40, 100, 120, 200, 330, 340, 400, 520, 560]
    src = write_synthetic(tmp_path / "vfr.mp4", pts)
    assert probe_video(src).variable_frame_rate
    out = stylize_video(src, tmp_path / "vfr_out.mp4", Stylizer(tiny_model))
    assert out.face_frames == 0 and out.frames == len(pts)  # no face: stylized without a warp
    t_out, f_out = _frames(tmp_path / "vfr_out.mp4")
    assert np.allclose(t_out, np.array(pts) / 1000, atol=1e-9)
    t_in, f_in = _frames(src)
    assert np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(f_in, f_out)]) > 1


def test_bad_video_files_raise_clear_errors(tiny_model, tmp_path, shared_data):
    stylizer = Stylizer(tiny_model)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 20)
    audio_only = write_synthetic(tmp_path / "tone.m4a", [], audio=True, video=False)
    cut = tmp_path / "cut.mp4"  # the index is at the end of this file: the cut loses it
    cut.write_bytes((shared_data / "video" / "d18.mp4").read_bytes()[:100_000])
    cases = {empty: "empty file", text: "not a readable video", audio_only: "no video stream", cut: "not a readable"}
    for path, message in cases.items():
        out = tmp_path / f"{path.stem}_out.mp4"
        with pytest.raises(VideoError, match=message):
            stylize_video(path, out, stylizer)
        assert not out.exists() and not list(tmp_path.glob(f".{out.stem}*"))
    with pytest.raises(VideoError, match="no such file"):
        probe_video(tmp_path / "absent.mp4")


def test_truncated_video_with_index_first_is_an_error_not_a_short_output(tiny_model, tmp_path):
    whole = tmp_path / "whole.mp4"
    stylize_video(write_synthetic(tmp_path / "src.mp4", list(range(0, 2000, 40))), whole, Stylizer(tiny_model))
    data = whole.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # our outputs are 'faststart'
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    out = tmp_path / "cut_out.mp4"
    with pytest.raises(VideoError, match="truncated|corrupt"):
        stylize_video(cut, out, Stylizer(tiny_model))
    assert not out.exists()


def test_reader_keeps_audio_for_the_writer(talking_clip):
    with VideoReader(talking_clip) as reader:
        frames = list(reader)
        audio = reader.pop_audio()
    assert len(frames) == 12 and frames[0].image.shape == (256, 256, 3)
    assert len(audio) == len(_audio_packets(talking_clip)) > 10
