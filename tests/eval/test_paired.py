"""Paired metrics: identical images score perfectly; SSIM equals an independent OpenCV computation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from geostyle.data.images import load_image
from geostyle.eval.paired import cosine_distance, lpips, match_size, ssim


@pytest.fixture(scope="module")
def pair(shared_data):
    root = shared_data / "styles/sketch_cuhk"
    return load_image(root / "photo/f-005-01.jpg"), load_image(root / "sketch/F2-005-01-sz1.jpg")


def _ssim_reference(a: np.ndarray, b: np.ndarray) -> float:
    x = a.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    y = b.astype(np.float64) @ np.array([0.299, 0.587, 0.114])

    def blur(v):
        return cv2.GaussianBlur(v, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    return float((((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))).mean())


def test_identical_images(pair):
    photo, _ = pair
    assert ssim(photo, photo) == pytest.approx(1.0, abs=1e-12)
    assert lpips(photo, photo) == pytest.approx(0.0, abs=1e-6)
    f = np.random.default_rng(0).random(2048)
    assert cosine_distance(f, f) == pytest.approx(0.0, abs=1e-12)
    assert cosine_distance(f, -f) == pytest.approx(2.0)


def test_ssim_against_opencv_reference(pair):
    photo, sketch = pair
    value = ssim(photo, sketch)
    assert value == pytest.approx(_ssim_reference(photo, sketch), abs=1e-6)
    assert 0.2 < value < 0.9
    assert lpips(photo, sketch) > 0.1


def test_match_size(pair):
    photo, _ = pair
    assert match_size(photo, (100, 80, 3)).shape == (100, 80, 3)
    assert match_size(photo, photo.shape) is photo
