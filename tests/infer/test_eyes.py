"""Anime eyes: where the iris and the catchlight land, when an eye is left alone, and that every
stylizing path draws them at the face's target landmarks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from geostyle.data.images import load_image
from geostyle.errors import GeostyleError
from geostyle.faces.align import apply_affine, estimate_alignment
from geostyle.faces.landmarks import INDEX, NUM_LANDMARKS
from geostyle.infer.eyes import (
    CATCHLIGHT_RADIUS,
    CATCHLIGHT_SHIFT,
    IRIS_RADIUS,
    IRIS_SHADE,
    LIGHTNESS_RAMP,
    MAX_IRIS_LIGHTNESS,
    draw_anime_eyes,
    drawable_eyes,
    iris_lightness,
)
from geostyle.infer.stylize import Stylizer

GREY = 100


def eye_points(centres=((80.0, 100.0), (176.0, 100.0)), width: float = 40.0, opening: float = 16.0) -> np.ndarray:
    """Landmarks with only the two eyes present: corners ``width`` apart, lids ``opening`` apart."""
    pts = np.full((NUM_LANDMARKS, 2), np.nan)
    for side, (cx, cy) in zip(("right", "left"), centres, strict=True):
        pts[INDEX[f"{side}_eye_center"]] = (cx, cy)
        pts[INDEX[f"{side}_eye_outer"]] = (cx - width / 2, cy)
        pts[INDEX[f"{side}_eye_inner"]] = (cx + width / 2, cy)
        pts[INDEX[f"{side}_eye_top"]] = (cx, cy - opening / 2)
        pts[INDEX[f"{side}_eye_bottom"]] = (cx, cy + opening / 2)
    return pts


def face(pupil: int = 30, centres=((80, 100), (176, 100))) -> np.ndarray:
    """Grey with a pupil of radius 5 px and grey level ``pupil`` at each eye's centre."""
    image = np.full((256, 256, 3), GREY, np.uint8)
    for c in centres:
        cv2.circle(image, c, 5, (pupil,) * 3, -1)
    return image


def test_iris_darkens_and_catchlight_lights_where_the_eyes_are():
    image = face()
    out = draw_anime_eyes(image, eye_points())
    assert np.array_equal(image, face())  # the input is not drawn on
    width, opening = 40.0, 16.0
    for cx, cy in ((80, 100), (176, 100)):
        # The iris: the colour kept at IRIS_SHADE, outside the pupil, below the catchlight (which
        # sits up and left).
        below = out[cy + 6, cx + 4]
        assert np.abs(below.astype(int) - round(GREY * IRIS_SHADE)).max() <= 1
        lx, ly = cx + CATCHLIGHT_SHIFT[0] * width, cy + CATCHLIGHT_SHIFT[1] * opening
        assert (out[round(ly), round(lx)] >= 250).all()
        # Nothing beyond the iris's edge (plus the soft border).
        r = IRIS_RADIUS * width
        assert (out[cy, round(cx + r + 3)] == GREY).all() and (out[round(cy + r + 3), cx] == GREY).all()
    assert (out[:60] == GREY).all() and (out[150:] == GREY).all() and (out[:, 120:136] == GREY).all()
    assert CATCHLIGHT_RADIUS < IRIS_RADIUS
    # An anime-tall eye: the catchlight sits higher, partly beyond the iris, and is drawn whole.
    tall = draw_anime_eyes(image, eye_points(opening=40.0))
    lx, ly = 80 + CATCHLIGHT_SHIFT[0] * width, 100 + CATCHLIGHT_SHIFT[1] * 40.0
    top = round(ly - CATCHLIGHT_RADIUS * width + 1)
    assert (tall[round(ly), round(lx)] >= 250).all() and (tall[top, round(lx)] > GREY + 50).all()


def test_amount_fades_and_zero_leaves_the_image():
    image = face()
    pts = eye_points()
    assert np.array_equal(draw_anime_eyes(image, pts, 0.0), image)
    half = draw_anime_eyes(image, pts, 0.5)[106, 84].astype(int)
    assert np.abs(half - round(GREY * (1 - 0.5 * (1 - IRIS_SHADE)))).max() <= 1
    with pytest.raises(ValueError, match="between 0 and 1"):
        draw_anime_eyes(image, pts, 1.5)


def test_eyes_it_cannot_place_are_left_alone():
    pts = eye_points()
    assert len(drawable_eyes(pts)) == 2
    missing = pts.copy()
    missing[INDEX["left_eye_top"]] = np.nan
    assert [round(c[0]) for c, _, _, _ in drawable_eyes(missing)] == [80]
    assert drawable_eyes(eye_points(opening=4.0)) == []  # nearly closed: 0.1 of the width
    # Near the limit an eye fades rather than switching: half-way up the opening's ramp, half weight.
    assert [round(w, 3) for *_, w in drawable_eyes(eye_points(opening=0.15 * 40))] == [0.5, 0.5]
    assert [w for *_, w in drawable_eyes(eye_points(opening=0.2 * 40))] == [1.0, 1.0]
    turned = eye_points()
    for n, dx in (("outer", -8.0), ("inner", 8.0)):  # the left eye only 16 px wide: a turned face
        turned[INDEX[f"left_eye_{n}"]] = turned[INDEX["left_eye_center"]] + (dx, 0.0)
    assert [round(c[0]) for c, _, _, _ in drawable_eyes(turned)] == [80]
    image = face(centres=((80, 100),))
    out = draw_anime_eyes(image, turned)
    assert (out[:, 140:] == GREY).all() and (out[:, :120] != image[:, :120]).any()


def test_no_iris_where_the_face_shows_no_dark_eye():
    """Where the disc is not darker than the ring around it (landmarks beside the eye, glare), the
    eye is left alone; the other eye is still drawn."""
    pts = eye_points()
    bright = face(centres=((176, 100),))
    cv2.circle(bright, (80, 100), 5, (160,) * 3, -1)  # a highlight where the right eye should be
    out = draw_anime_eyes(bright, pts)
    assert np.array_equal(out[:, :128], bright[:, :128])
    assert (out[:, 128:] != bright[:, 128:]).any()
    # No darker disc (a flat face) or one barely darker than the ramp's top: left alone; the guard
    # lifted, drawn. Between, on the ramp, drawn fainter (no on/off step for a video to flicker on).
    flat = np.full((256, 256, 3), GREY, np.uint8)
    assert np.array_equal(draw_anime_eyes(flat, pts), flat)
    assert (draw_anime_eyes(flat, pts, max_lightness=np.inf) != flat).any()
    centre, radius = np.array([80.0, 100.0]), IRIS_RADIUS * 40
    pale = face(pupil=90)
    assert MAX_IRIS_LIGHTNESS + LIGHTNESS_RAMP < iris_lightness(pale, centre, radius) < 1.0
    assert np.array_equal(draw_anime_eyes(pale, pts), pale)
    faint = face(pupil=80)
    ratio = iris_lightness(faint, centre, radius)
    assert MAX_IRIS_LIGHTNESS < ratio < MAX_IRIS_LIGHTNESS + LIGHTNESS_RAMP
    weight = (MAX_IRIS_LIGHTNESS + LIGHTNESS_RAMP - ratio) / (2 * LIGHTNESS_RAMP)
    shade = draw_anime_eyes(faint, pts)[106, 84].astype(int)  # outside the pupil, inside the iris
    assert np.abs(shade - round(GREY * (1 - (1 - IRIS_SHADE) * weight))).max() <= 1
    assert iris_lightness(face(), centre, radius) < MAX_IRIS_LIGHTNESS - LIGHTNESS_RAMP
    # An eye centred off the crop is not drawn (nothing to measure it on).
    off = eye_points(centres=((-5.0, 100.0), (176.0, 100.0)))
    assert iris_lightness(face(), np.array([-5.0, 100.0]), radius) is None
    assert (draw_anime_eyes(face(), off)[:, :40] == face()[:, :40]).all()


def test_every_path_draws_the_eyes_at_the_target_landmarks(tiny_model, astronaut_path, monkeypatch):
    """The aligned crop, :meth:`stylize_crop` and the whole frame draw the eyes at the face's target
    landmarks (the tiny model's geometry moves the eyes 30 % further apart), at the stylizer's
    opacity, onto the output the stylizer without eyes gives; at strength 0 at the landmarks
    themselves. The drawing is recorded (and its guard lifted, so the random model's pixels cannot
    decide whether anything is drawn)."""
    import geostyle.infer.stylize as stylize_module

    calls: list[tuple[np.ndarray, np.ndarray, float]] = []

    def recording(image, points, amount=1.0):
        calls.append((image.copy(), np.array(points), amount))
        return draw_anime_eyes(image, points, amount, max_lightness=np.inf)

    monkeypatch.setattr(stylize_module, "draw_anime_eyes", recording)
    image = load_image(astronaut_path)
    plain = Stylizer(tiny_model, strength=1.0)
    eyed = Stylizer(tiny_model, strength=1.0, eyes=0.75)
    assert plain.eyes == 0.0 and eyed.eyes == 0.75
    aligned = plain.align(image)
    crop, pts = aligned.crop, aligned.landmarks
    size = plain.size

    def centres(points):
        return np.array([points[INDEX[f"{s}_eye_center"]] for s in ("right", "left")])

    target = plain.target_pixels(plain.fields.solve(pts, 1.0))
    assert abs(np.diff(centres(target)[:, 0])) > 1.15 * abs(np.diff(centres(pts)[:, 0]))  # moved apart
    a, b = plain.stylize_crop(crop, pts), eyed.stylize_crop(crop, pts)
    assert len(calls) == 1  # the stylizer without eyes draws none
    drawn_on, points, amount = calls.pop()
    assert np.array_equal(drawn_on, a) and amount == 0.75
    np.testing.assert_allclose(points, target, atol=1e-4)
    assert np.array_equal(b, draw_anime_eyes(a, target, 0.75, max_lightness=np.inf)) and (b != a).any()
    # The aligned crop: the whole-frame warp's targets (anchored further out, so not the same).
    a, b = plain.stylize(image).crop, eyed.stylize(image).crop
    drawn_on, points, _ = calls.pop()
    warp = plain.frame_warp(aligned.alignment, pts, *image.shape[:2])
    assert warp is not None and np.array_equal(drawn_on, a)
    np.testing.assert_allclose(points, plain.target_pixels(warp.spline), atol=1e-4)
    # The whole frame: the face drawn on before it is pasted, at its frame warp's targets.
    faces = [f.warp_landmarks() for f in plain.detect_faces(image)]
    frame_a, frame_b = plain.render(image, faces), eyed.render(image, faces)
    assert len(calls) == 1
    _, points, _ = calls.pop()
    alignment = estimate_alignment(faces[0], size, plain.zoom)
    warp = plain.frame_warp(alignment, apply_affine(alignment.matrix, faces[0]), *image.shape[:2])
    assert warp is not None
    np.testing.assert_allclose(points, plain.target_pixels(warp.spline), atol=1e-4)
    changed = np.abs(frame_a.astype(int) - frame_b.astype(int)).max(-1) > 0
    radius = (IRIS_RADIUS * np.linalg.norm(points[INDEX["right_eye_outer"]] - points[INDEX["right_eye_inner"]]) + 3) / alignment.scale
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    near = np.zeros(changed.shape, bool)
    for c in apply_affine(alignment.inverse, centres(points)):
        near |= (xx - c[0]) ** 2 + (yy - c[1]) ** 2 <= radius**2
    assert changed.sum() > 20 and not (changed & ~near).any()
    # Strength 0: no warp, the eyes at the landmarks themselves.
    eyed.stylize_crop(crop, pts, strength=0.0)
    np.testing.assert_allclose(calls.pop()[1], pts)
    with pytest.raises(GeostyleError, match="eyes"):
        Stylizer(tiny_model, eyes=-0.1)
