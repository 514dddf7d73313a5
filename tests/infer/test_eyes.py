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
    assert [round(c[0]) for c, _, _ in drawable_eyes(missing)] == [80]
    assert drawable_eyes(eye_points(opening=4.0)) == []  # nearly closed: 0.1 of the width
    turned = eye_points()
    for n, dx in (("outer", -8.0), ("inner", 8.0)):  # the left eye only 16 px wide: a turned face
        turned[INDEX[f"left_eye_{n}"]] = turned[INDEX["left_eye_center"]] + (dx, 0.0)
    assert [round(c[0]) for c, _, _ in drawable_eyes(turned)] == [80]
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
    # No darker disc (a flat face) or one barely darker than MAX_IRIS_LIGHTNESS asks: left alone;
    # the guard lifted, drawn.
    flat = np.full((256, 256, 3), GREY, np.uint8)
    assert np.array_equal(draw_anime_eyes(flat, pts), flat)
    assert (draw_anime_eyes(flat, pts, max_lightness=np.inf) != flat).any()
    faint = face(pupil=80)  # the disc at about 0.93 of its ring
    assert 0.9 < iris_lightness(faint, np.array([80.0, 100.0]), IRIS_RADIUS * 40) < 0.95
    assert np.array_equal(draw_anime_eyes(faint, pts), faint)
    assert iris_lightness(face(), np.array([80.0, 100.0]), IRIS_RADIUS * 40) < MAX_IRIS_LIGHTNESS


def test_every_path_draws_the_eyes_at_the_target_landmarks(tiny_model, astronaut_path):
    """The aligned crop, :meth:`stylize_crop` and the whole frame: with ``eyes`` the output is the
    one without, darkened in two discs around where the warp put the eyes (the tiny model's geometry
    moves them 30 % further apart) and lit at their catchlights; nothing else changes."""
    image = load_image(astronaut_path)
    plain = Stylizer(tiny_model, strength=1.0)
    eyed = Stylizer(tiny_model, strength=1.0, eyes=1.0)
    assert plain.eyes == 0.0 and eyed.eyes == 1.0
    aligned = plain.align(image)
    crop, pts = aligned.crop, aligned.landmarks
    target = plain.target_pixels(plain.fields.solve(pts, 1.0))
    centres = [target[INDEX[f"{s}_eye_center"]] for s in ("right", "left")]
    own = [pts[INDEX[f"{s}_eye_center"]] for s in ("right", "left")]
    assert abs(centres[1][0] - centres[0][0]) > 1.15 * abs(own[1][0] - own[0][0])  # moved apart
    size = plain.size
    yy, xx = np.mgrid[:size, :size]
    near = np.zeros((size, size), bool)
    for c, in zip(centres, strict=True):
        width = np.linalg.norm(target[INDEX["right_eye_outer"]] - target[INDEX["right_eye_inner"]])
        near |= (xx - c[0]) ** 2 + (yy - c[1]) ** 2 <= (IRIS_RADIUS * width + 3) ** 2
    for a, b in (
        (plain.stylize_crop(crop, pts), eyed.stylize_crop(crop, pts)),
        (plain.stylize(image).crop, eyed.stylize(image).crop),
    ):
        changed = np.abs(a.astype(int) - b.astype(int)).max(-1) > 0
        assert changed.any() and not (changed & ~near).any()
        for c in centres:  # the iris's lower half is darker than without eyes
            y, x = round(c[1] + 2), round(c[0] + 2)
            assert b[y, x].astype(int).sum() < a[y, x].astype(int).sum()
    faces = [f.warp_landmarks() for f in plain.detect_faces(image)]
    frame_a, frame_b = plain.render(image, faces).astype(int), eyed.render(image, faces).astype(int)
    changed = np.abs(frame_a - frame_b).max(-1) > 0
    # Where the frame's warp put the eyes, back in frame pixels.
    alignment = estimate_alignment(faces[0], size, plain.zoom)
    warp = plain.frame_warp(alignment, apply_affine(alignment.matrix, faces[0]), *image.shape[:2])
    assert warp is not None
    target = plain.target_pixels(warp.spline)
    width = np.linalg.norm(target[INDEX["right_eye_outer"]] - target[INDEX["right_eye_inner"]])
    radius = (IRIS_RADIUS * width + 3) / alignment.scale
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    near = np.zeros(changed.shape, bool)
    for s in ("right", "left"):
        c = apply_affine(alignment.inverse, target[INDEX[f"{s}_eye_center"]][None])[0]
        near |= (xx - c[0]) ** 2 + (yy - c[1]) ** 2 <= radius**2
    assert changed.sum() > 20 and not (changed & ~near).any()
    with pytest.raises(GeostyleError, match="eyes"):
        Stylizer(tiny_model, eyes=-0.1)


def test_a_release_carries_its_eyes(tiny_model, tmp_path):
    """``extra.eyes`` is the default an explicit ``eyes`` replaces; a malformed one is refused
    naming the file."""
    from geostyle.errors import CheckpointError
    from geostyle.nets.release import update_release_extra

    eyed = tmp_path / "eyed.safetensors"
    update_release_extra(tiny_model, eyed, eyes=0.5)
    assert Stylizer(eyed).eyes == 0.5 and Stylizer(eyed, eyes=0.0).eyes == 0.0
    for bad, error in (("lots", CheckpointError), (1.5, GeostyleError)):
        path = tmp_path / "bad.safetensors"
        update_release_extra(tiny_model, path, eyes=bad)
        with pytest.raises(error, match="bad.safetensors.*eyes|eyes.*bad.safetensors"):
            Stylizer(path)
