"""The temporal output filter and the flicker measure."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from geostyle.video.stability import FlickerMeter
from geostyle.video.temporal import TemporalFilter


def _scene(shift: int = 0) -> np.ndarray:
    img = np.zeros((64, 96, 3), np.uint8)
    img[:, :] = (90, 120, 150)
    img[16:48, 20 + shift : 44 + shift] = (230, 60, 40)  # a block that can move
    return img


def test_still_scene_flicker_is_cut_and_moving_content_is_not_ghosted():
    rng = np.random.default_rng(0)
    filt = TemporalFilter()
    meter_raw, meter_out = FlickerMeter(), FlickerMeter()
    for _ in range(30):
        source = _scene()
        stylized = np.clip(source.astype(int) + rng.integers(-6, 7, source.shape), 0, 255).astype(np.uint8)
        meter_raw.update(source, stylized)
        meter_out.update(source, filt(source, stylized))
    assert meter_out.result()["output_change"] < 0.5 * meter_raw.result()["output_change"]
    assert meter_raw.result()["input_change"] == 0.0
    # The block jumps 20 px: where it was and where it is, the output is the new frame, not a blend.
    source = _scene(shift=20)
    out = filt(source, source)
    assert np.array_equal(out[16:48, 20:64], source[16:48, 20:64])


def test_moving_boxes_pass_through_and_size_changes_restart():
    filt = TemporalFilter()
    base = _scene()
    filt(base, base)
    brighter = np.clip(base.astype(int) + 10, 0, 255).astype(np.uint8)  # output moved, input did not
    out = filt(base, brighter, moving=[(0, 0, 48, 64)])
    assert np.array_equal(out[:, :40], brighter[:, :40])
    assert np.abs(out[:, 60:].astype(int) - brighter[:, 60:]).mean() > 2  # blended elsewhere
    other = np.zeros((32, 32, 3), np.uint8)
    assert np.array_equal(filt(other, other), other)
    with pytest.raises(ValueError):
        TemporalFilter(strength=1.0)


def test_flicker_meter_reports_excess_change():
    meter = FlickerMeter(region=(0, 0, 10, 10))
    a, b = np.zeros((20, 20, 3), np.uint8), np.full((20, 20, 3), 4, np.uint8)
    for i in range(5):
        meter.update(a, b if i % 2 else a)
    r = meter.result()
    assert r["input_change"] == 0 and r["output_change"] == pytest.approx(4.0) and r["flicker"] == pytest.approx(4.0)
    assert r["region_flicker"] == pytest.approx(4.0) and r["pairs"] == 4


def _texture(shift: int) -> np.ndarray:
    """A smooth random texture, moved ``shift`` px to the right (what a panning camera sees)."""
    rng = np.random.default_rng(3)
    big = cv2.GaussianBlur(rng.integers(0, 256, (96, 160, 3)).astype(np.float32), (0, 0), 3)
    big = (big - big.min()) / (big.max() - big.min()) * 200 + 25
    return np.ascontiguousarray(big[16:80, 32 - shift : 128 - shift]).astype(np.uint8)


def test_warp_error_takes_the_motion_out():
    """A texture panning 2 px a frame: an output that pans with it has almost no warping error though
    its frame-to-frame change is large; one that also jitters has the jitter's size."""
    from geostyle.video.stability import WarpErrorMeter

    rng = np.random.default_rng(0)
    steady, jittery, flicker = WarpErrorMeter(region=(16, 16, 80, 48)), WarpErrorMeter(), FlickerMeter()
    for i in range(8):
        frame = _texture(2 * i)
        steady.update(frame, frame)
        flicker.update(frame, frame)
        noisy = np.clip(frame.astype(int) + rng.integers(-8, 9, frame.shape), 0, 255).astype(np.uint8)
        jittery.update(frame, noisy)
    s, j = steady.result(), jittery.result()
    assert flicker.result()["output_change"] > 3.0  # the motion itself: large
    assert s["explained"] > 0.8 and s["region_explained"] > 0.9
    assert s["warp_error"] < 1.0 and s["region_warp_error"] < 1.0
    assert j["warp_error"] > s["warp_error"] + 3.0  # uniform noise of +-8: a mean difference near 5.3
    assert s["pairs"] == 7
