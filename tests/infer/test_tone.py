"""A greyscale or nearly grey photo given the photo set's average colour (geostyle.infer.tone) and the stylizer's use of it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from geostyle.data.images import load_image
from geostyle.errors import CheckpointError
from geostyle.infer.stylize import Stylizer
from geostyle.infer.tone import CHROMA_RAMP, NO_CAST, TINT_RAMP, Cast, measure_cast, tint
from geostyle.nets.release import update_release_extra


def _grey(image: np.ndarray) -> np.ndarray:
    return np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)


def _lab(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float64)


def _toned(grey: np.ndarray, a: float, b: float) -> np.ndarray:
    lab = cv2.cvtColor(grey, cv2.COLOR_RGB2LAB)
    lab[..., 1], lab[..., 2] = a, b
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def test_cast_weighs_greyscale_fully_nearly_grey_partly_and_colour_not(astronaut_path):
    photo = load_image(astronaut_path)
    grey = _grey(photo)
    assert measure_cast(grey).weight == 1.0 and measure_cast(grey).chroma < 1.0
    noisy = np.clip(grey.astype(int) + np.random.default_rng(0).integers(-2, 3, grey.shape), 0, 255).astype(np.uint8)
    assert measure_cast(noisy).weight == 1.0  # JPEG-like noise in a greyscale picture saved as RGB
    assert measure_cast(photo).weight == 0.0 and measure_cast(photo).chroma > 15.0
    assert measure_cast(_toned(grey, 134, 145)).weight == 0.0  # sepia: a colour of its own
    faint = measure_cast(_toned(grey, 128, 131))  # a filter's faint warm cast: still a greyscale photo
    assert faint.weight == 1.0 and faint.mean[1] > 130.0
    # Between the ends of the ramp the weight falls with the colour: a video whose colour drifts
    # through it changes gradually, not from one rendering to another.
    low, high = CHROMA_RAMP
    middle = measure_cast(_toned(grey, 128, 128 + (low + high) / 2))
    assert 0.3 < middle.weight < 0.7, middle
    assert measure_cast(np.zeros((64, 64, 3), np.uint8)) == NO_CAST  # nothing lit to measure


def test_tint_keeps_the_lightness_and_colours_the_lit(astronaut_path):
    grey = _grey(load_image(astronaut_path))
    tinted = _lab(tint(grey, (140.0, 136.0), measure_cast(grey)))
    before = _lab(grey)
    assert np.abs(tinted[..., 0] - before[..., 0]).mean() < 1.0
    lit = before[..., 0] > TINT_RAMP[1] + 5
    dark = before[..., 0] < TINT_RAMP[0] - 5
    assert lit.sum() > 1000 and dark.sum() > 1000
    np.testing.assert_allclose(np.median(tinted[lit][:, 1:], axis=0), [140.0, 136.0], atol=2.0)
    assert np.abs(tinted[dark][:, 1:] - 128.0).max() <= 2.0  # the darks stay grey
    assert tint(grey, (140.0, 136.0), NO_CAST) is grey


def test_tint_shifts_a_nearly_grey_photo_and_keeps_its_colours(astronaut_path):
    """A grey photo with one coloured object (a red necklace): the object keeps its colour, shifted by
    the same amount as the rest; replacing the chroma would have greyed it."""
    grey = _grey(load_image(astronaut_path))
    spotted = grey.copy()
    spotted[200:230, 200:260] = (210, 60, 60)
    cast = measure_cast(spotted)
    assert cast.weight == 1.0, cast
    before, after = _lab(spotted), _lab(tint(spotted, (140.0, 136.0), cast))
    shift = after[..., 1:] - before[..., 1:]
    lit = before[..., 0] > TINT_RAMP[1] + 5
    spot = np.zeros(lit.shape, bool)
    spot[205:225, 205:255] = True
    expected = np.array([140.0, 136.0]) - np.array(cast.mean)
    np.testing.assert_allclose(np.median(shift[lit & ~spot], axis=0), expected, atol=1.5)
    np.testing.assert_allclose(np.median(shift[spot & lit], axis=0), expected, atol=3.0)
    assert after[spot][:, 1].mean() > 160.0  # still red
    half = tint(spotted, (140.0, 136.0), Cast(cast.chroma, cast.mean, 0.5))
    np.testing.assert_allclose(np.median(_lab(half)[lit & ~spot][:, 1:] - before[lit & ~spot][:, 1:], axis=0), expected / 2, atol=1.5)


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
    s.colourless_tint = card["colourless_tint"]["lab_chroma"]
    # Frames whose face crop measures greyer than the frame (a blue strip along the bottom): face and
    # background take the frame's one weight. Tinting the face alone would leave a seam.
    face = s.detect_faces(grey)[0].warp_landmarks()
    x0, y0 = np.nanmin(face, axis=0).astype(int)
    x1, y1 = np.nanmax(face, axis=0).astype(int)
    for rows, weight in ((40, 0.0), (24, 0.7)):
        striped = grey.copy()
        striped[-rows:] = (40, 60, 200)
        frame_cast, crop_cast = s.cast(striped), s.cast(s.align(striped).crop)
        assert crop_cast.weight == 1.0 and frame_cast.weight == pytest.approx(weight, abs=0.05), (frame_cast, crop_cast)
        tinted = s.stylize_frame(striped)
        s.colourless_tint = None
        untinted = s.stylize_frame(striped)
        s.colourless_tint = card["colourless_tint"]["lab_chroma"]
        if weight == 0.0:
            np.testing.assert_array_equal(tinted, untinted)  # the frame has colour: nothing is tinted
            continue
        warming = _lab(tinted)[..., 2] - _lab(untinted)[..., 2]  # b*: the set's colour is warmer than the frame's
        inside = warming[y0:y1, x0:x1].mean()
        outside = np.concatenate([warming[:40, :].ravel(), warming[:-rows, :40].ravel()]).mean()
        assert inside > 2.0 and outside > 2.0 and abs(inside - outside) < 0.4 * max(inside, outside), (inside, outside)
    bad = tmp_path / "bad_palette.safetensors"
    update_release_extra(s.path, bad, photo_palette={"mean": [1.0]})
    with pytest.raises(CheckpointError, match="photo_palette"):
        Stylizer(bad)
