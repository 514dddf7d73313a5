"""Alignment, its inverse, and paste-back, on real selfies with landmarks from a real detector."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from geostyle.data.images import load_image
from geostyle.faces.align import (
    SURROUND_FADE,
    SURROUND_MEAN_SHARE,
    Alignment,
    apply_affine,
    compose_affine,
    estimate_alignment,
    feather_mask,
    invert_affine,
    paste_back,
    surround,
    warp_to_crop,
)
from geostyle.faces.backends.base import get_backend
from geostyle.faces.landmarks import INDEX, empty_landmarks

FRONTAL = ("female_13582.jpg", "female_10911.jpg")  # looked at: frontal, eyes open, neutral
OTHERS = ("female_10057.jpg", "female_10150.jpg", "female_10633.jpg")


@pytest.fixture(scope="module")
def detector():
    return get_backend("mediapipe")


@pytest.fixture(scope="module")
def faces(shared_data, detector):
    """name -> (image, landmarks) for a few real selfies."""
    out = {}
    for name in FRONTAL + OTHERS:
        image = load_image(shared_data / "photos" / "selfie" / name)
        found = detector.detect(image)
        assert found, f"the detector found no face in {name}"
        out[name] = (image, found[0].landmarks)
    return out


def _random_similarity(rng: np.random.Generator) -> np.ndarray:
    angle = rng.uniform(-np.pi / 4, np.pi / 4)
    scale = rng.uniform(0.4, 2.5)
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return np.array([[c, -s, rng.uniform(-300, 300)], [s, c, rng.uniform(-300, 300)]])


def _blob_centroid(image: np.ndarray, x: float, y: float, radius: int) -> np.ndarray:
    x0, y0 = int(round(x)) - radius, int(round(y)) - radius
    win = image[y0 : y0 + 2 * radius + 1, x0 : x0 + 2 * radius + 1].astype(np.float64)
    yy, xx = np.mgrid[y0 : y0 + win.shape[0], x0 : x0 + win.shape[1]]
    return np.array([(win * xx).sum() / win.sum(), (win * yy).sum() / win.sum()])


# --- geometry ---------------------------------------------------------------------------------------


def test_round_trip_real_landmarks(faces):
    for image, landmarks in faces.values():
        al = estimate_alignment(landmarks, size=256)
        crop_pts = apply_affine(al.matrix, landmarks)
        back = apply_affine(al.inverse, crop_pts)
        assert np.abs(back - landmarks).max() < 0.5
        assert np.abs(back - landmarks).max() < 1e-6  # in fact exact to rounding
        # the crop really contains the face: every landmark lies inside it at zoom 1
        assert crop_pts.min() > 0 and crop_pts.max() < 255, image.shape


def test_alignment_is_invariant_to_similarities(faces):
    """Moving, rotating and scaling the face does not move it in the crop, and inverse(M) round-trips."""
    rng = np.random.default_rng(0)
    for _, landmarks in faces.values():
        reference = apply_affine(estimate_alignment(landmarks, 256).matrix, landmarks)
        for _ in range(20):
            sim = _random_similarity(rng)
            moved = apply_affine(sim, landmarks)
            al = estimate_alignment(moved, 256, zoom=1.0)
            crop_pts = apply_affine(al.matrix, moved)
            assert np.abs(crop_pts - reference).max() < 1e-6
            assert np.abs(apply_affine(al.inverse, crop_pts) - moved).max() < 0.5
            # source -> crop scale follows the similarity's
            assert al.scale == pytest.approx(
                estimate_alignment(landmarks, 256).scale / np.sqrt(np.linalg.det(sim[:, :2]))
            )


def test_missing_points_stay_missing_and_alignment_needs_eyes_and_mouth(faces):
    _, landmarks = faces[FRONTAL[0]]
    pts = landmarks.copy()
    pts[INDEX["chin"]] = np.nan
    out = apply_affine(estimate_alignment(pts, 128).matrix, pts)
    assert np.isnan(out[INDEX["chin"]]).all() and np.isfinite(np.delete(out, INDEX["chin"], 0)).all()
    # the mouth corners replace a missing mouth centre
    no_center = landmarks.copy()
    no_center[INDEX["mouth_center"]] = np.nan
    estimate_alignment(no_center, 128)
    for name in ("right_eye_center", "left_eye_center"):
        broken = landmarks.copy()
        broken[INDEX[name]] = np.nan
        with pytest.raises(ValueError, match="eye"):
            estimate_alignment(broken, 128)
    broken = landmarks.copy()
    broken[[INDEX["mouth_center"], INDEX["mouth_left"]]] = np.nan
    with pytest.raises(ValueError):
        estimate_alignment(broken, 128)
    with pytest.raises(ValueError):
        estimate_alignment(empty_landmarks(), 128)


def test_symmetric_face_lands_on_canonical_eye_positions():
    """For a mirror-symmetric face the eyes land level, symmetric about the crop's vertical centre
    line, ``size / 4 / ... `` apart exactly as the FFHQ framing prescribes, whatever the similarity."""
    size, d, m = 256, 30.0, 36.0  # half eye distance, eye-line to mouth distance (eye-dominated framing)
    pts = empty_landmarks()
    pts[INDEX["right_eye_center"]] = [-d, 0]
    pts[INDEX["left_eye_center"]] = [d, 0]
    pts[INDEX["mouth_center"]] = [0, m]
    rng = np.random.default_rng(1)
    for zoom in (1.0, 1.5):
        for _ in range(10):
            moved = apply_affine(_random_similarity(rng), pts)
            out = apply_affine(estimate_alignment(moved, size, zoom).matrix, moved)
            k = size * zoom / (2 * max(4 * d, 1.8 * m))
            centre = size / 2 - 0.5
            np.testing.assert_allclose(
                out[INDEX["right_eye_center"]], [centre - k * d, centre - 0.1 * m * k], atol=1e-6
            )
            np.testing.assert_allclose(
                out[INDEX["left_eye_center"]], [centre + k * d, centre - 0.1 * m * k], atol=1e-6
            )
            np.testing.assert_allclose(out[INDEX["mouth_center"]], [centre, centre + 0.9 * m * k], atol=1e-6)


def test_frontal_crop_puts_eyes_at_canonical_positions(faces, detector):
    """Real frontal selfies: in the crop, re-detected eyes are level, symmetric about the vertical
    centre line, and where the alignment says they are."""
    size = 256
    for name in FRONTAL:
        image, landmarks = faces[name]
        al = estimate_alignment(landmarks, size)
        crop = warp_to_crop(image, al)
        assert crop.shape == (size, size, 3) and crop.dtype == np.uint8
        predicted = apply_affine(al.matrix, landmarks)
        redetected = detector.detect(crop)[0].landmarks
        for eye in ("right_eye_center", "left_eye_center"):
            assert np.linalg.norm(redetected[INDEX[eye]] - predicted[INDEX[eye]]) < 2.0, (name, eye)
        right, left = redetected[INDEX["right_eye_center"]], redetected[INDEX["left_eye_center"]]
        assert right[0] < size / 2 - 0.5 < left[0]  # subject's right eye on the image's left
        assert abs((right[0] + left[0]) / 2 - (size / 2 - 0.5)) < 3.0, name
        assert abs(right[1] - left[1]) < 3.0, name
        # FFHQ framing with zoom 1: eyes about a quarter of the crop apart, a little above the centre
        assert 0.2 * size < left[0] - right[0] < 0.3 * size, name
        assert 0.35 * size < (right[1] + left[1]) / 2 < 0.5 * size, name


# --- resampling matches the point convention ----------------------------------------------------------


@pytest.mark.parametrize("zoom, sigma", [(3.0, 2.0), (1.0, 2.5), (0.25, 8.0)])
def test_warp_to_crop_moves_pixels_like_apply_affine(faces, zoom, sigma):
    """Blobs drawn at landmark positions appear in the crop where ``apply_affine`` puts the landmarks
    (pixel-centre convention), in the upsampling, plain and area-prefiltered downsampling paths."""
    _, landmarks = faces[OTHERS[0]]
    names = ("right_eye_center", "left_eye_center", "nose_tip", "mouth_center")
    rng = np.random.default_rng(2)
    pts = np.stack([landmarks[INDEX[n]] for n in names]) * 2 + 300 + rng.uniform(0, 1, (len(names), 2))
    h, w = 1000, 1100
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    lm = empty_landmarks()
    for n, p in zip(names, pts, strict=True):
        lm[INDEX[n]] = p
    al = estimate_alignment(lm, 256, zoom=zoom)
    if zoom < 0.5:
        assert al.scale < 0.5  # the area-prefiltered path
    radius = int(np.ceil(4 * max(sigma * al.scale, 1.0)))
    checked = 0
    for p, q in zip(pts, apply_affine(al.matrix, pts), strict=True):
        if not (radius <= q).all() or not (q < 255 - radius).all():
            continue  # a tight zoom leaves the mouth out of the crop
        checked += 1
        # one blob per image: a neighbour's tail (nose and mouth at sigma 8) would bias the centroid
        image = np.exp(-((xx - p[0]) ** 2 + (yy - p[1]) ** 2) / (2 * sigma**2)).astype(np.float32)
        crop = warp_to_crop(image, al, border="constant")
        found = _blob_centroid(crop, q[0], q[1], radius)
        assert np.linalg.norm(found - q) < 0.25, (p, q, found, al.scale)
    assert checked >= 2


def test_affine_helpers():
    rng = np.random.default_rng(3)
    a, b = _random_similarity(rng), _random_similarity(rng)
    pts = rng.uniform(0, 500, (10, 2))
    np.testing.assert_allclose(apply_affine(compose_affine(a, b), pts), apply_affine(a, apply_affine(b, pts)))
    np.testing.assert_allclose(apply_affine(invert_affine(a), apply_affine(a, pts)), pts, atol=1e-9)
    al = Alignment(a, 64)
    np.testing.assert_allclose(al.inverse, invert_affine(a))
    assert apply_affine(a, np.zeros((0, 2))).shape == (0, 2)


def test_feather_mask():
    m = feather_mask(100, 0.1)
    assert m.shape == (100, 100) and m.dtype == np.float32
    assert m.max() == 1.0 and m[50, 50] == 1.0 and 0 < m[0, 0] < 0.01
    np.testing.assert_array_equal(m, m[::-1]) and np.testing.assert_array_equal(m, m.T)
    assert (np.diff(m[50, :50]) >= 0).all()


# --- paste-back ---------------------------------------------------------------------------------------


def _framed(image: np.ndarray, landmarks: np.ndarray, pad: int = 160):
    """A larger real frame around the selfie (mirrored border), so part of it lies outside the crop."""
    frame = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    return frame, landmarks + pad


def _outside_crop(alignment: Alignment, shape, margin: float = 2.0) -> np.ndarray:
    """Pixels of a frame of ``shape`` farther than ``margin`` from the crop square mapped back."""
    s = alignment.size
    corners = np.array([[-0.5, -0.5], [s - 0.5, -0.5], [s - 0.5, s - 0.5], [-0.5, s - 0.5]])
    quad = apply_affine(alignment.inverse, corners).astype(np.float32)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    dist = np.array(
        [
            cv2.pointPolygonTest(quad, (float(x), float(y)), True)
            for x, y in zip(xx.ravel(), yy.ravel(), strict=True)
        ]
    ).reshape(shape[:2])
    return dist < -margin


def test_paste_back_changes_only_the_face_region(faces):
    image, landmarks = faces[OTHERS[1]]
    frame, pts = _framed(image, landmarks)
    al = estimate_alignment(pts, 256, zoom=1.3)
    crop = warp_to_crop(frame, al)
    out = paste_back(frame, 255 - crop, al)
    assert out.shape == frame.shape and out.dtype == np.uint8
    outside = _outside_crop(al, frame.shape)
    assert outside.mean() > 0.3  # the test means something
    np.testing.assert_array_equal(out[outside], frame[outside])
    # the face itself is replaced (by the inverted crop)
    for name in ("nose_tip", "right_eye_center", "mouth_center"):
        x, y = np.round(pts[INDEX[name]]).astype(int)
        np.testing.assert_allclose(out[y, x].astype(int), 255 - frame[y, x].astype(int), atol=40)
    changed = np.abs(out.astype(int) - frame.astype(int)).max(axis=2) > 0
    assert changed[~outside].mean() > 0.5


def test_paste_back_of_unmodified_crop_reproduces_the_frame(faces):
    for name in (FRONTAL[0], OTHERS[2]):
        image, landmarks = faces[name]
        frame, pts = _framed(image, landmarks)
        al = estimate_alignment(pts, 512, zoom=1.0)  # crop finer than the source: little resampling loss
        out = paste_back(frame, warp_to_crop(frame, al), al)
        inner = cv2.warpAffine(
            (feather_mask(512) >= 1.0).astype(np.uint8),
            al.inverse,
            frame.shape[1::-1],
            flags=cv2.INTER_NEAREST,
        ).astype(bool)
        assert inner.sum() > 10_000
        err = np.abs(out.astype(int) - frame.astype(int))[inner]
        assert err.mean() < 1.5 and np.percentile(err, 99) < 12, (name, err.mean(), np.percentile(err, 99))
        # and the region the crop does not reach is untouched
        outside = _outside_crop(al, frame.shape)
        np.testing.assert_array_equal(out[outside], frame[outside])


def test_paste_back_custom_mask_and_gray_frames(faces):
    image, landmarks = faces[OTHERS[0]]
    al = estimate_alignment(landmarks, 128)
    gray = image.mean(axis=2).astype(np.uint8)
    crop = warp_to_crop(gray, al)
    assert crop.shape == (128, 128)
    mask = np.zeros((128, 128), np.float32)
    mask[40:90, 40:90] = 1.0
    out = paste_back(gray, np.full_like(crop, 255), al, mask=mask)
    centre = np.round(apply_affine(al.inverse, np.array([64.0, 64.0]))).astype(int)
    assert out[centre[1], centre[0]] == 255
    corner = np.round(apply_affine(al.inverse, np.array([5.0, 5.0]))).astype(int)
    if 0 <= corner[0] < gray.shape[1] and 0 <= corner[1] < gray.shape[0]:
        assert out[corner[1], corner[0]] == gray[corner[1], corner[0]]
    with pytest.raises(ValueError, match="crop"):
        paste_back(gray, np.zeros((64, 64), np.uint8), al)


# --- surround: the fill where a crop reaches past the picture -------------------------------------


def _cut_top(faces, name: str, keep_above_eyes: float = 0.6):
    """A real selfie cut so that little is left above the eyes: its crop reaches past the top."""
    image, lm = faces[name]
    eye_y = float(np.nanmean(lm[[INDEX["left_eye_center"], INDEX["right_eye_center"]], 1]))
    eye_gap = float(np.hypot(*(lm[INDEX["left_eye_center"]] - lm[INDEX["right_eye_center"]])))
    cut = int(max(0, eye_y - keep_above_eyes * eye_gap))
    shifted = lm.copy()
    shifted[:, 1] -= cut
    return np.ascontiguousarray(image[cut:]), shifted


def test_surround_leaves_a_crop_inside_the_picture_alone(faces):
    image, lm = faces[FRONTAL[0]]
    al = estimate_alignment(lm, 256, zoom=2.0)  # a tight crop, well inside the selfie
    around = surround(image, al)
    assert not around.extended
    assert around.frame is image and around.alignment is al and around.offset == (0, 0)


def test_surround_fills_past_the_top_without_stripes(faces):
    image, lm = _cut_top(faces, FRONTAL[0])
    al = estimate_alignment(lm, 256)
    around = surround(image, al)
    ox, oy = around.offset
    assert around.extended and oy > 0
    h, w = image.shape[:2]
    # The picture's pixels in the window are untouched, and the crop shows the same face.
    fh, fw = around.frame.shape[:2]
    x0, x1 = max(0, ox), min(fw, ox + w)
    assert x1 - x0 > 100 and oy + h >= fh
    np.testing.assert_array_equal(around.frame[oy:, x0:x1], image[: fh - oy, x0 - ox : x1 - ox])
    replicated = warp_to_crop(image, al).astype(np.int16)
    filled = warp_to_crop(around.frame, around.alignment).astype(np.int16)
    ones = np.full(image.shape[:2], 255, np.uint8)
    inside = warp_to_crop(ones, al, border="constant") == 255
    inside = cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert inside.mean() > 0.5 and (~inside).mean() > 0.1
    assert np.abs(filled - replicated)[inside].max() <= 1
    # Replicating the top row draws vertical stripes: every column constant above the picture, so the
    # rows vary a lot across and not at all down. The fill varies as little across as down.
    outside = cv2.erode((~inside).astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert outside.sum() > 1000

    def across_and_down(crop):
        g = crop.mean(-1)
        dx = np.abs(np.diff(g, axis=1))[:-1, :][outside[:-1, :-1]]
        dy = np.abs(np.diff(g, axis=0))[:, :-1][outside[:-1, :-1]]
        return dx.mean(), dy.mean()

    dx_rep, dy_rep = across_and_down(replicated.astype(np.float64))
    dx_fill, dy_fill = across_and_down(filled.astype(np.float64))
    assert dy_rep < 0.2 * dx_rep  # the stripes (this is what the fill is for)
    # (measured: replicated 2.81 across, 0.39 down; filled 0.65 across, 1.06 down)
    assert dx_fill < 0.35 * dx_rep
    assert dx_fill < 1.5 * dy_fill


def test_surround_fades_to_the_pictures_mean_far_out(faces):
    image, lm = _cut_top(faces, FRONTAL[1], keep_above_eyes=0.2)
    al = estimate_alignment(lm, 256)
    around = surround(image, al, reach=1.5)
    ox, oy = around.offset
    assert oy > 0
    s_frame = 256 / al.scale  # the crop's side in picture pixels
    far = int(np.ceil(SURROUND_FADE * s_frame)) + 2
    assert oy > far, "the test needs a fill reaching past the fade"
    x0, x1 = max(0, ox), min(around.frame.shape[1], ox + image.shape[1])
    band = around.frame[: oy - far, x0:x1].reshape(-1, 3).astype(np.float64)
    # The fill fades to the mean colour of the picture around the crop: here (a 256 px selfie whose
    # crop, widened 1.5x, covers it) the whole picture's.
    mean = image.reshape(-1, 3).astype(np.float64).mean(0)
    # (1 - MEAN_SHARE) of the blurred mirror is left: at most 10 % of the range away from the mean.
    assert np.abs(band - mean).max() <= (1 - SURROUND_MEAN_SHARE) * 255 + 2
    assert np.abs(band.mean(0) - mean).max() < 8


def test_surround_cuts_only_the_window_of_a_large_picture():
    # A 4000 x 6000 picture whose crop (2560 px wide, 1.5x that with its reach) starts at its corner:
    # the frame is the crop's window, not the picture plus its border.
    yy, xx = np.mgrid[0:4000, 0:6000].astype(np.float32)
    wave = 127 + 100 * np.sin(xx / 170.0) * np.cos(yy / 230.0)  # smooth: see below
    big = np.repeat(wave[..., None], 3, -1).astype(np.uint8)
    big[..., 1] //= 2
    al = Alignment(np.array([[0.1, 0.0, 0.0], [0.0, 0.1, 0.0]]), 256)
    around = surround(big, al, reach=1.5)
    half = 1.5 * 2560 / 2
    assert around.frame.shape[0] < 2 * half + 20 and around.frame.shape[1] < 2 * half + 20
    ox, oy = around.offset
    assert 0 < ox < half and 0 < oy < half
    np.testing.assert_array_equal(around.frame[oy:, ox:], big[: around.frame.shape[0] - oy, : around.frame.shape[1] - ox])
    # The crop reads the same picture through the moved alignment (the area average before the
    # resampling takes its blocks from the window's grid, so a level or two apart).
    diff = np.abs(warp_to_crop(around.frame, around.alignment).astype(int) - warp_to_crop(big, al))[20:, 20:]
    assert diff.max() <= 3


def test_surround_takes_grey_pictures_and_refuses_others(faces):
    image, lm = _cut_top(faces, FRONTAL[0])
    al = estimate_alignment(lm, 256)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    around = surround(grey, al)
    assert around.frame.ndim == 2 and around.offset == surround(image, al).offset
    with pytest.raises(ValueError):
        surround(image.astype(np.float32), al)
    with pytest.raises(ValueError):
        surround(image, al, reach=0.5)
