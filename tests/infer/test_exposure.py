"""An underexposed frame brightened before the generator (geostyle.infer.tone) and the stylizer's use of it."""

from __future__ import annotations

import numpy as np
import pytest

from geostyle.data.images import load_image
from geostyle.errors import GeostyleError
from geostyle.infer.stylize import Stylizer
from geostyle.infer.tone import EXPOSURE_DARK_RAMP, MAX_EXPOSURE_GAIN, expose, measure_exposure
from geostyle.nets.release import update_release_extra


def _darkened(image: np.ndarray, factor: float) -> np.ndarray:
    """``image`` with ``factor`` of its light, in linear light (what a shorter exposure records)."""
    x = image.astype(np.float64) / 255.0
    linear = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4) * factor
    srgb = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.round(srgb * 255.0).astype(np.uint8)


def test_a_well_exposed_photo_is_left_and_a_darkened_one_given_its_light_back(astronaut_path):
    photo = load_image(astronaut_path)
    assert measure_exposure(photo) == 1.0
    assert expose(photo, 1.0) is photo
    dark = _darkened(photo, 0.4)
    gain = measure_exposure(dark)
    # The photo's white point is 246 and the gain takes it to 235: a little under the 2.5 it lost.
    assert 2.1 < gain < 2.5, gain
    restored = expose(dark, gain).astype(np.float64)
    assert restored.mean() > dark.mean() + 30.0
    # What a gain in linear light gives back: the photo at 0.4 x gain of its light, to rounding.
    expected = _darkened(photo, 0.4 * gain).astype(np.float64)
    assert np.abs(restored - expected).mean() < 1.0, np.abs(restored - expected).mean()
    assert np.abs(restored - photo).mean() < 0.25 * np.abs(dark.astype(np.float64) - photo).mean()


def test_the_gain_is_capped_and_fades_out_on_a_dark_frame(astronaut_path):
    photo = load_image(astronaut_path)
    assert measure_exposure(_darkened(photo, 0.1)) == pytest.approx(MAX_EXPOSURE_GAIN)
    assert measure_exposure(np.zeros((64, 64, 3), np.uint8)) == 1.0  # a covered lens stays black
    assert measure_exposure(np.zeros((0, 0, 3), np.uint8)) == 1.0
    # Frames whose white point sweeps through the dark ramp: the gain rises from 1 without a jump.
    low, high = EXPOSURE_DARK_RAMP
    whites = np.arange(low - 8, high + 9, 2.0)
    gains = [measure_exposure(np.full((64, 64, 3), w, np.uint8)) for w in whites]
    assert gains[0] == 1.0 and gains[-1] == pytest.approx(MAX_EXPOSURE_GAIN)
    assert max(abs(b / a - 1.0) for a, b in zip(gains, gains[1:])) < 0.15, gains
    brighter = expose(photo, 2.0)
    assert (brighter >= photo).all() and brighter[photo == 0].max(initial=0) == 0


def test_the_stylizer_draws_an_underexposed_photo_as_the_photo_it_was(astronaut_path, tmp_path):
    """With ``exposure`` the bundled ``anime`` draws the portrait taken at 0.35 of its light nearly as it
    draws the portrait; without, much darker. A well-exposed photo is drawn bit for bit as before."""
    photo = load_image(astronaut_path)
    dark = _darkened(photo, 0.35)
    plain, exposed = Stylizer("anime", exposure=0.0), Stylizer("anime", exposure=1.0)
    assert plain.exposure == 0.0 and exposed.exposure == 1.0
    np.testing.assert_array_equal(exposed.stylize_frame(photo), plain.stylize_frame(photo))
    reference = plain.stylize_frame(photo).astype(np.float64)
    before = np.abs(plain.stylize_frame(dark) - reference).mean()
    after = np.abs(exposed.stylize_frame(dark) - reference).mean()
    assert before > 25.0 and after < 0.4 * before, (before, after)
    # The crop path takes the same gain, measured on the picture it is given.
    crop_before = np.abs(plain.stylize(dark).crop - plain.stylize(photo).crop.astype(np.float64)).mean()
    crop_after = np.abs(exposed.stylize(dark).crop - plain.stylize(photo).crop.astype(np.float64)).mean()
    assert crop_after < 0.4 * crop_before, (crop_before, crop_after)
    # A model can carry its own share; an explicit argument replaces it; bad values are refused.
    carrying = tmp_path / "exposed.safetensors"
    update_release_extra(plain.path, carrying, exposure=0.5)
    assert Stylizer(carrying).exposure == 0.5 and Stylizer(carrying, exposure=0.0).exposure == 0.0
    # An export names the exposure its caller applies (the graph does not).
    from geostyle.export.metadata import build_metadata

    card = build_metadata(Stylizer(carrying), "face", 256, 17, "onnx")["model_card"]
    assert card["exposure"]["share"] == 0.5 and card["exposure"]["max_gain"] == MAX_EXPOSURE_GAIN
    with pytest.raises(GeostyleError, match="exposure"):
        Stylizer("anime", exposure=1.5)


def test_a_stream_follows_its_exposure_over_half_a_second():
    from geostyle.infer.tone import EXPOSURE_SETTLE_S, ExposureFollower

    follow = ExposureFollower()
    fps = 30.0
    # A white point that jitters from frame to frame (gains 2 and 3 in turn) gives a steady gain.
    gains = [follow(2.0 if i % 2 else 3.0, i / fps) for i in range(90)]
    assert gains[0] == 3.0  # the first frame takes its own gain
    late = np.array(gains[45:])
    assert late.max() / late.min() < 1.05 and 2.3 < late.mean() < 2.6, (late.min(), late.max())
    # A step from 1 to 4 (two stops): 1 - 1/e of the way after one settling time, nearly all after three.
    follow.reset()
    assert follow(1.0, 0.0) == 1.0
    frames = int(round(3 * EXPOSURE_SETTLE_S * fps))
    stops = [float(np.log2(follow(4.0, i / fps))) for i in range(1, frames + 1)]
    one = stops[int(round(EXPOSURE_SETTLE_S * fps)) - 1]
    assert 2.0 * (1 - np.exp(-1)) - 0.02 < one < 2.0 * (1 - np.exp(-1)) + 0.02, one
    assert 1.88 < stops[-1] < 2.0 and all(b > a for a, b in zip(stops, stops[1:]))
    # A repeated timestamp leaves it where it is; a reset takes the next frame's own gain.
    assert follow(1.0, frames / fps) == 2.0 ** stops[-1]
    follow.reset()
    assert follow(1.5, 5.0) == 1.5


def test_a_live_session_keeps_a_dim_stream_steady_when_its_highlights_come_and_go(astronaut_path):
    """A dim stream (0.35 of the portrait's light) where a small white light (2 % of the frame, in a
    corner) shows on every other frame: the white point, and so each frame's own gain, jumps between
    about 2.4 and 1. With smoothing the session's gain follows the frames' over half a second, so the
    face's brightness swings far less than frame by frame."""
    import cv2

    from geostyle.video import LiveSession

    photo = cv2.resize(load_image(astronaut_path), (256, 256), interpolation=cv2.INTER_AREA)
    dim = _darkened(photo, 0.35)
    lit = dim.copy()
    lit[:36, :36] = 255
    assert measure_exposure(dim) > 2.0 and measure_exposure(lit) == 1.0
    frames = [lit if i % 2 else dim for i in range(12)]
    swings = {}
    for smoothing in (False, True):
        session = LiveSession(Stylizer("anime", exposure=1.0, threads=1), smoothing=smoothing, temporal=False)
        faces = [session.process(f, t=i / 30.0)[64:200, 64:200].mean() for i, f in enumerate(frames)]
        session.close()
        swings[smoothing] = float(np.abs(np.diff(faces[6:])).mean())
    assert swings[False] > 10.0 and swings[True] < 0.3 * swings[False], swings


def test_stylize_cli_takes_exposure(astronaut_path, tmp_path):
    """``geostyle stylize --exposure X`` reaches the stylizer: the portrait at 0.35 of its light comes
    out much brighter at 1 than at 0, and a value outside [0, 1] fails."""
    from geostyle.cli.main import main
    from geostyle.data.images import save_image

    source = tmp_path / "dim.png"
    save_image(source, _darkened(load_image(astronaut_path), 0.35))
    means = {}
    for value in ("0", "1"):
        out = tmp_path / f"exposure{value}"
        assert main(["stylize", str(source), "--model", "anime", "--out", str(out), "--exposure", value]) == 0
        means[value] = load_image(out / source.name).astype(np.float64).mean()
    assert means["1"] > means["0"] + 25.0, means
    assert main(["stylize", str(source), "--model", "anime", "--out", str(tmp_path / "x"), "--exposure", "2"]) != 0
