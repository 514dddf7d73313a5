"""Classical filters against references computed here independently (numpy / scipy, known images)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from geostyle.eval import baselines


@pytest.fixture(scope="module")
def photo(shared_data):
    from geostyle.data.images import load_image

    return load_image(shared_data / "styles/sketch_cuhk/photo/f-005-01.jpg")[::2, ::2].copy()  # 125x100


def test_grayscale_is_bt601_luma(photo):
    out = baselines.grayscale(photo)
    rgb = photo.astype(np.float64)
    ref = np.round(0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2])
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert (out[..., 0] == out[..., 2]).all()
    assert np.abs(out[..., 0].astype(int) - ref.astype(int)).max() <= 1


def test_pencil_is_the_colour_dodge_of_the_blurred_inverse(photo):
    out = baselines.pencil(photo, sigma=3.0)
    y = photo.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    # scipy's Gaussian with the 3-sigma support OpenCV uses for 8-bit images, reflected borders
    blurred = gaussian_filter(255.0 - y, 3.0, truncate=3.0, mode="reflect")
    ref = np.minimum(255.0, 255.0 * y / np.maximum(255.0 - blurred, 1e-6))
    diff = np.abs(out[..., 0].astype(float) - ref)
    assert diff.mean() < 0.6 and np.percentile(diff, 99) < 4
    # A flat image has no strokes: the dodge of a flat grey is paper white.
    flat = baselines.pencil(np.full((40, 40, 3), 120, np.uint8))
    assert (flat == 255).all()


def test_cartoon_on_two_flat_regions():
    """Bilateral smoothing keeps flat regions, quantisation moves each colour to its bin centre, and the
    adaptive threshold draws a black line on the dark side of the edge, as wide as half the window."""
    h, w, edge = 80, 80, 40
    light, dark = np.array([200, 170, 90]), np.array([60, 90, 30])
    image = np.zeros((h, w, 3), np.uint8)
    image[:, :edge] = light
    image[:, edge:] = dark
    out = baselines.cartoon(image)
    step = 256 / baselines.CARTOON_LEVELS
    q_light = ((light // step) + 0.5) * step
    q_dark = ((dark // step) + 0.5) * step
    block = 3  # _odd(80 / 40) -> 3: half window r = 1 column of line
    r = block // 2
    expected = np.zeros_like(image)
    expected[:, :edge] = q_light
    expected[:, edge:] = q_dark
    expected[:, edge : edge + r] = 0
    assert np.array_equal(out, expected)


@pytest.mark.parametrize("name", list(baselines.FILTERS))
def test_filters_keep_size(name, photo):
    out = baselines.FILTERS[name](photo)
    assert out.shape == photo.shape and out.dtype == np.uint8


def test_quantize_bins():
    values = np.array([[[0, 31, 32]], [[255, 128, 100]]], np.uint8)
    assert baselines.quantize(values, 8).tolist() == [[[16, 16, 48]], [[240, 144, 112]]]
