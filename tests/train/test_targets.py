"""Dense targets and edge-promoting fakes on real images: the properties that make them cartoons."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from geostyle.data.images import load_image
from geostyle.train.targets import Palette, cartoon_image, cartoon_target, edge_smoothed, transfer_palette


@pytest.fixture(scope="module")
def photo(shared_data):
    return cv2.resize(load_image(shared_data / "photos/selfie/female_13582.jpg"), (128, 128), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def anime(shared_data):
    paths = sorted((shared_data / "styles/anime").glob("*.jpg"))[:6]
    return np.stack([cv2.resize(load_image(p), (128, 128), interpolation=cv2.INTER_AREA) for p in paths])


def test_palette_statistics_match_opencv_lab(anime):
    pal = Palette.of(anime)
    lab = np.concatenate([cv2.cvtColor(im, cv2.COLOR_RGB2LAB).reshape(-1, 3) for im in anime]).astype(float)
    np.testing.assert_allclose(pal.mean, lab.mean(0), atol=1e-6)
    np.testing.assert_allclose(pal.std, lab.std(0), atol=1e-6)


def test_palette_transfer_moves_the_statistics_to_the_palette(photo, anime):
    pal = Palette.of(anime)
    moved = cv2.cvtColor(transfer_palette(photo, pal), cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(float)
    # Within uint8 rounding and clipping of the Lab round trip.
    np.testing.assert_allclose(moved.mean(0), pal.mean, atol=4.0)
    np.testing.assert_allclose(moved.std(0), pal.std, rtol=0.15)
    np.testing.assert_array_equal(transfer_palette(photo, pal, amount=0.0), _lab_round_trip(photo))


def _lab_round_trip(image):
    return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2LAB), cv2.COLOR_LAB2RGB)


def test_cartoon_is_flat_with_dark_lines(photo):
    out = cartoon_image(photo)
    assert out.shape == photo.shape and out.dtype == np.uint8
    # Flat colour: far fewer distinct lightness values and weaker fine texture than the photo.
    lum_in = cv2.cvtColor(photo, cv2.COLOR_RGB2LAB)[..., 0]
    lum_out = cv2.cvtColor(out, cv2.COLOR_RGB2LAB)[..., 0]
    line = np.abs(out.astype(int) - cartoon_image(photo, line_strength=0.0).astype(int)).sum(-1) > 0
    assert len(np.unique(lum_out[~line])) < 0.5 * len(np.unique(lum_in))
    # Line art: dark pixels sit where the photo has local contrast (edges), not in flat regions.
    gray = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY).astype(np.float64)
    local_std = np.sqrt(np.maximum(cv2.blur(gray**2, (5, 5)) - cv2.blur(gray, (5, 5)) ** 2, 0))
    assert 0.01 < line.mean() < 0.4
    assert np.median(local_std[line]) > 2 * np.median(local_std[~line])
    assert lum_out[line].mean() < 0.5 * lum_out[~line].mean()


def test_cartoon_target_batch_matches_the_image_function(photo, anime):
    pal = Palette.of(anime)
    batch = torch.from_numpy(np.stack([photo, photo[:, ::-1].copy()])).permute(0, 3, 1, 2).float() / 127.5 - 1
    out = cartoon_target(batch, pal)
    assert out.shape == batch.shape and out.min() >= -1 and out.max() <= 1
    first = ((out[0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
    np.testing.assert_allclose(first.astype(int), cartoon_image(photo, pal).astype(int), atol=1)


def test_edge_smoothing_blurs_only_the_lines(anime):
    soft = edge_smoothed(anime)
    assert soft.shape == anime.shape
    diff = np.abs(soft.astype(int) - anime.astype(int)).sum(-1) > 0
    for im, changed in zip(anime, diff):
        edges = cv2.dilate(cv2.Canny(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), 100, 200), np.ones((3, 3))) > 0
        assert changed.any()
        assert not changed[~edges].any()  # nothing away from the lines moves
    # Blurred lines are weaker: less high-frequency energy than the originals.
    lap = [np.abs(cv2.Laplacian(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), cv2.CV_64F)).mean() for x in (anime[0], soft[0])]
    assert lap[1] < 0.9 * lap[0]
