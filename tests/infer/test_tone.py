"""A colourless photo given the photo set's average colour (geostyle.infer.tone) and the stylizer's use of it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from geostyle.data.images import load_image
from geostyle.errors import CheckpointError
from geostyle.infer.stylize import Stylizer
from geostyle.infer.tone import TINT_RAMP, is_colourless, tint
from geostyle.nets.release import update_release_extra


def _grey(image: np.ndarray) -> np.ndarray:
    return np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)


def _lab(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float64)


def test_colourless_is_told_from_colour_and_sepia(astronaut_path):
    photo = load_image(astronaut_path)
    grey = _grey(photo)
    assert not is_colourless(photo) and is_colourless(grey)
    noisy = np.clip(grey.astype(int) + np.random.default_rng(0).integers(-2, 3, grey.shape), 0, 255).astype(np.uint8)
    assert is_colourless(noisy)  # JPEG-like noise in a greyscale picture saved as RGB
    lab = cv2.cvtColor(grey, cv2.COLOR_RGB2LAB)
    lab[..., 1], lab[..., 2] = 134, 145  # sepia
    assert not is_colourless(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB))


def test_tint_keeps_the_lightness_and_colours_the_lit(astronaut_path):
    grey = _grey(load_image(astronaut_path))
    tinted = _lab(tint(grey, (140.0, 136.0)))
    before = _lab(grey)
    assert np.abs(tinted[..., 0] - before[..., 0]).mean() < 1.0
    lit = before[..., 0] > TINT_RAMP[1] + 5
    dark = before[..., 0] < TINT_RAMP[0] - 5
    assert lit.sum() > 1000 and dark.sum() > 1000
    np.testing.assert_allclose(np.median(tinted[lit][:, 1:], axis=0), [140.0, 136.0], atol=2.0)
    assert np.abs(tinted[dark][:, 1:] - 128.0).max() <= 2.0  # the darks stay grey


def test_bundled_anime_large_draws_a_greyscale_photo_warm_and_colour_photos_as_before(astronaut_path, tmp_path):
    """``anime_large`` was trained on the photo set's palette: untinted, a greyscale photo comes out
    grey-cyan (a* under grey's 128); with the set's average colour first, warm (a* and b* over it); a colour photo is
    drawn bit for bit as without the tint."""
    from geostyle.export.metadata import build_metadata

    s = Stylizer("anime_large")
    assert s.colourless_tint is not None and s.colourless_tint[0] > 130.0
    # An export names the tint its caller applies (the graph does not).
    card = build_metadata(s, "face", 256, 17, "onnx")["model_card"]
    assert card["colourless_tint"]["lab_chroma"] == list(s.colourless_tint)
    photo = load_image(astronaut_path)
    grey = _grey(photo)
    warm = _lab(s.stylize_frame(grey)).reshape(-1, 3).mean(0)
    colour = s.stylize_frame(photo)
    s.colourless_tint = None
    cool = _lab(s.stylize_frame(grey)).reshape(-1, 3).mean(0)
    np.testing.assert_array_equal(s.stylize_frame(photo), colour)
    assert cool[1] < 126.0 and warm[1] > 128.5 and warm[2] > cool[2] + 2.0, (cool, warm)
    # A nearly grey frame (a colourful strip along its bottom) is not tinted anywhere, though its
    # face crop alone has no colour: a tinted face on an untinted background would leave a seam.
    striped = grey.copy()
    striped[-40:] = (200, 40, 40)
    assert not is_colourless(striped) and is_colourless(s.align(striped).crop)
    plain = s.stylize_frame(striped)
    s.colourless_tint = card["colourless_tint"]["lab_chroma"]
    np.testing.assert_array_equal(s.stylize_frame(striped), plain)
    bad = tmp_path / "bad_palette.safetensors"
    update_release_extra(s.path, bad, photo_palette={"mean": [1.0]})
    with pytest.raises(CheckpointError, match="photo_palette"):
        Stylizer(bad)
