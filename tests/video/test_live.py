"""The live loop, headless: a video file stands in for the camera, the frames go to a file."""

from __future__ import annotations

import numpy as np
import pytest

from geostyle.cli.main import main
from geostyle.errors import LiveError
from geostyle.infer.stylize import Stylizer
from geostyle.video import LiveSession, probe_video
from geostyle.video.live import LiveControls, Window, draw_overlay


def test_headless_live_writes_every_frame_with_the_overlay(tiny_model, talking_clip, tmp_path, capsys):
    out = tmp_path / "live.mp4"
    code = main(
        ["live", "--video", str(talking_clip), "--headless", "--out", str(out), "--model", str(tiny_model), "--threads", "1"]
    )
    assert code == 0
    assert "12 frames in" in capsys.readouterr().err
    src, dst = probe_video(talking_clip), probe_video(out)
    assert (dst.frames, dst.width, dst.height, dst.has_audio) == (src.frames, src.width, src.height, True)
    plain = tmp_path / "plain.mp4"
    main(["live", "--video", str(talking_clip), "--headless", "--out", str(plain), "--model", str(tiny_model), "--no-overlay"])
    import av

    def first(path):
        with av.open(str(path)) as c:
            return next(c.decode(video=0)).to_ndarray(format="rgb24")

    # The overlay darkens a band in the top-left corner and writes text into it.
    band_with, band_without = first(out)[:30, :120].astype(int), first(plain)[:30, :120].astype(int)
    assert band_with.mean() < band_without.mean() - 20
    assert np.abs(first(out)[100:].astype(int) - first(plain)[100:]).mean() < 1.0


def test_headless_needs_an_output_and_a_window_needs_a_display(tiny_model, talking_clip, monkeypatch, capsys):
    assert main(["live", "--video", str(talking_clip), "--headless", "--model", str(tiny_model)]) == 1
    assert "--headless needs --out" in capsys.readouterr().err
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(LiveError, match="no display"):
        Window()
    assert main(["live", "--video", str(talking_clip), "--model", str(tiny_model)]) == 1
    assert "no display" in capsys.readouterr().err


def test_keys_switch_model_strength_and_smoothing(tiny_model, shared_data, tmp_path):
    made = []

    def make(name):
        made.append(name)
        return Stylizer(tiny_model if name == "a" else "sketch", strength=0.5)

    controls = LiveControls(["a", "b"], make)
    session = LiveSession(controls.stylizer(), detector=_NoFaces())
    assert controls.handle_key(ord("]"), session) and session.stylizer.strength == 0.6
    controls.handle_key(ord("["), session)
    controls.handle_key(ord("["), session)
    assert session.stylizer.strength == 0.4
    controls.handle_key(ord("m"), session)
    assert made == ["a", "b"] and session.stylizer.name == "sketch" and session.stylizer.strength == 0.4
    controls.handle_key(ord("s"), session)
    assert not session.smoothing
    controls.handle_key(ord("o"), session)
    assert not controls.overlay
    assert controls.handle_key(-1, session)
    assert not controls.handle_key(ord("q"), session) and not controls.handle_key(27, session)
    frame = np.full((64, 80, 3), 120, np.uint8)
    assert session.process(frame, 0.0).shape == frame.shape and session.faces == 0
    assert draw_overlay(frame, ["12.0 fps"]).shape == frame.shape


class _NoFaces:
    def detect(self, image, path=None):
        return []
