"""Anime skin: the face's skin becomes a flat lit tone with a cel shadow, while hair, dark and thin lines, the
eyes, nose and mouth and everything outside the face stay; a face it cannot place is left alone;
every stylizing path draws it between the anime eyes and the outline."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from geostyle.data.images import load_image
from geostyle.errors import GeostyleError
from geostyle.faces.landmarks import INDEX, NUM_LANDMARKS
from geostyle.infer.skin import SHADOW, draw_anime_skin, skin_region
from geostyle.infer.stylize import Stylizer

SIZE = 256
CENTRE, AXES = (128, 130), (70, 95)
SKIN, BACKGROUND, INK = (230, 190, 170), (70, 70, 70), (30, 30, 30)
# Blond hair and a pale blue phone: about as light as the skin, so only their colour tells them apart.
HAIR, PHONE = (230, 200, 60), (150, 180, 230)
LIPS = (215, 150, 150)  # light enough that only the mouth's hole keeps them
RIM = (250, 228, 214)  # a pale thin line (a glasses' rim): lighter than the skin, kept for being thin
# Eyes and a nose about as light as the skin and not thin: only their holes keep them.
EYES, NOSE = (200, 160, 150), (205, 165, 152)
BLOTCH = (218, 178, 159)  # a little darker than the skin: lit, so it takes the skin's tone
SHADE = (188, 150, 134)  # far darker: the shadow
POINTS = {
    "right_brow_outer": (80, 85), "right_brow_center": (95, 82), "right_brow_inner": (110, 85),
    "left_brow_inner": (146, 85), "left_brow_center": (161, 82), "left_brow_outer": (176, 85),
    "right_eye_outer": (80, 105), "right_eye_inner": (110, 105), "right_eye_top": (95, 100),
    "right_eye_bottom": (95, 110), "right_eye_center": (95, 105),
    "left_eye_inner": (146, 105), "left_eye_outer": (176, 105), "left_eye_top": (161, 100),
    "left_eye_bottom": (161, 110), "left_eye_center": (161, 105),
    "nose_bridge": (128, 105), "nose_tip": (128, 140), "nose_base": (128, 148),
    "nose_right": (118, 145), "nose_left": (138, 145),
    "mouth_right": (110, 170), "mouth_left": (146, 170), "mouth_top": (128, 164),
    "mouth_bottom": (128, 177), "mouth_center": (128, 170),
}  # fmt: skip
OUTLINE = ("jaw_right", "cheek_right", "jaw_right_lower", "chin", "jaw_left_lower", "cheek_left", "jaw_left")


def face_points() -> np.ndarray:
    pts = np.full((NUM_LANDMARKS, 2), np.nan)
    for name, xy in POINTS.items():
        pts[INDEX[name]] = xy
    for name, angle in zip(OUTLINE, np.linspace(170, 10, len(OUTLINE)), strict=True):
        a = np.radians(angle)
        pts[INDEX[name]] = (CENTRE[0] + np.cos(a) * AXES[0], CENTRE[1] + np.sin(a) * AXES[1])
    return pts


def face_image() -> np.ndarray:
    """A skin ellipse on grey with a lit blotch, a shadow patch, hair over the forehead, a phone in
    front of the chin, a skin-coloured neck under it, an ink line and a pale thin line on the
    cheeks, and eyes, nose and mouth of about the skin's lightness."""
    image = np.full((SIZE, SIZE, 3), BACKGROUND, np.uint8)
    cv2.ellipse(image, CENTRE, AXES, 0, 0, 360, SKIN, -1)
    cv2.rectangle(image, (78, 122), (104, 152), BLOTCH, -1)
    cv2.rectangle(image, (100, 70), (156, 77), BLOTCH, -1)  # on the forehead, above the brows
    cv2.rectangle(image, (150, 118), (182, 160), SHADE, -1)
    cv2.rectangle(image, (50, 30), (206, 66), HAIR, -1)  # over the top of the face
    cv2.rectangle(image, (150, 196), (200, 250), PHONE, -1)
    cv2.rectangle(image, (110, 226), (146, 255), BLOTCH, -1)  # the neck, below the jaw
    cv2.line(image, (84, 186), (104, 196), INK, 2)
    cv2.line(image, (72, 166), (96, 172), RIM, 1)
    for side in ("right", "left"):
        cv2.ellipse(image, POINTS[f"{side}_eye_center"], (12, 4), 0, 0, 360, EYES, -1)
    cv2.ellipse(image, POINTS["mouth_center"], (15, 4), 0, 0, 360, LIPS, -1)
    cv2.ellipse(image, (128, 145), (8, 4), 0, 0, 360, NOSE, -1)
    return image


def lightness(rgb) -> float:
    return float(cv2.cvtColor(np.uint8([[rgb]]), cv2.COLOR_RGB2LAB)[0, 0, 0])


def scaled(image: np.ndarray, pts: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The fixture ``k`` times larger (each pixel a k x k block; landmarks moved with it)."""
    return np.repeat(np.repeat(image, k, 0), k, 1), (pts + 0.5) * k - 0.5


@pytest.mark.parametrize("k", [1, 2])
def test_the_skin_becomes_a_lit_tone_and_a_shadow(k):
    """At the models' 256 px and at 512 px (the tones worked out on a smaller copy, the lines at
    full size); checked at the fixture's coordinates."""
    big, big_pts = scaled(face_image(), face_points(), k)
    image = face_image()
    out = draw_anime_skin(big, big_pts)[k // 2 :: k, k // 2 :: k]  # one pixel of each block
    changed = np.abs(out.astype(int) - image.astype(int)).max(-1) > 0
    # The lit blotch takes the skin's own colour (the median of the face), to a level or two.
    np.testing.assert_allclose(out[137, 91], SKIN, atol=2)
    np.testing.assert_allclose(out[90, 128], SKIN, atol=2)  # between the brows
    np.testing.assert_allclose(out[74, 128], SKIN, atol=2)  # the forehead above them
    # The darker patch becomes the shadow tone: the same colour at SHADOW of its lightness.
    assert lightness(out[139, 166]) == pytest.approx(SHADOW * lightness(SKIN), abs=2.5)
    assert np.abs(out[125:155, 156:178].astype(int) - out[139, 166].astype(int)).max() <= 2  # flat
    # Hair over the forehead, the phone, the neck below the jaw, the ink line, the pale thin line,
    # the eyes, nose and mouth and the background stay.
    assert not changed[30:60, 50:207].any() and not changed[204:250, 158:201].any()
    assert not changed[234:256, 112:145].any()
    assert np.abs(out[191, 94].astype(int) - image[191, 94].astype(int)).max() <= 3
    assert np.abs(out[169, 84].astype(int) - np.array(RIM)).max() <= 3
    for y, x in (POINTS["right_eye_center"][::-1], POINTS["left_eye_center"][::-1], POINTS["mouth_center"][::-1], (145, 128)):
        assert np.abs(out[y, x].astype(int) - image[y, x]).max() <= 2  # redrawn, they would move by 15 or more
    outside = np.ones((SIZE, SIZE), bool)
    cv2.ellipse(outside.view(np.uint8), CENTRE, AXES, 0, 0, 360, 0, -1)
    assert not changed[outside & (image == BACKGROUND).all(-1)].any()
    assert (image == face_image()).all()  # a new array; the input is unchanged


def test_faces_it_cannot_place_are_left_alone():
    image, pts = face_image(), face_points()
    for name in ("chin", "left_brow_outer", "right_eye_top", "mouth_left", "nose_base"):
        missing = pts.copy()
        missing[INDEX[name]] = np.nan
        assert skin_region(missing, (SIZE, SIZE)) is None
        assert (draw_anime_skin(image, missing) == image).all()
    centre = np.array(CENTRE, float)
    tiny = (pts - centre) * 0.1 + centre  # 14 px wide
    assert skin_region(tiny, (SIZE, SIZE)) is None and (draw_anime_skin(image, tiny) == image).all()
    assert skin_region(pts * 1e12, (SIZE, SIZE)) is None  # far outside the picture
    assert (draw_anime_skin(image, pts, 0.0) == image).all()
    full, half = (draw_anime_skin(image, pts, a).astype(float) - image for a in (1.0, 0.5))
    np.testing.assert_allclose(half[139, 166], full[139, 166] / 2, atol=1.0)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="skin"):
            draw_anime_skin(image, pts, bad)
    with pytest.raises(ValueError, match="uint8"):
        draw_anime_skin(image.astype(np.float32) / 255, pts)
    # A picture wider than tall (the face in its middle): the same face redrawn the same way.
    wide = np.pad(image, ((0, 0), (64, 64), (0, 0)), constant_values=BACKGROUND[0])
    out = draw_anime_skin(wide, pts + [64, 0])[:, 64:-64]
    np.testing.assert_allclose(out[137, 91], SKIN, atol=2)
    assert lightness(out[139, 166]) == pytest.approx(SHADOW * lightness(SKIN), abs=2.5)


def test_every_stylizing_path_draws_the_skin_between_the_eyes_and_the_outline(tiny_model, astronaut_path, monkeypatch):
    import geostyle.infer.stylize as stylize_module

    calls: list[tuple[str, np.ndarray]] = []

    def recording(kind, draw):
        def record(image, points, amount=1.0, *guide):
            calls.append((kind, np.array(points)))
            return draw(image, points, amount, *guide)

        return record

    for kind, name in (("eyes", "draw_anime_eyes"), ("skin", "draw_anime_skin"), ("outline", "draw_face_outline")):
        monkeypatch.setattr(stylize_module, name, recording(kind, getattr(stylize_module, name)))
    image = load_image(astronaut_path)
    plain = Stylizer(tiny_model, strength=1.0)
    drawn = Stylizer(tiny_model, strength=1.0, eyes=0.5, skin=1.0, outline=0.75)
    assert plain.skin == 0.0 and drawn.skin == 1.0 and Stylizer(tiny_model, skin=0.5).draws
    aligned = plain.align(image)
    before = plain.stylize_crop(aligned.crop, aligned.landmarks)
    assert not calls
    after = drawn.stylize_crop(aligned.crop, aligned.landmarks)
    assert [c[0] for c in calls] == ["eyes", "skin", "outline"]
    target = plain.target_pixels(plain.fields.solve(aligned.landmarks, 1.0))
    np.testing.assert_allclose(calls[1][1], target, atol=1e-4)
    assert (before != after).any()
    for path in (lambda s: s.stylize(image), lambda s: s.render(image, [f.warp_landmarks() for f in s.detect_faces(image)])):
        calls.clear()
        path(drawn)
        assert [c[0] for c in calls] == ["eyes", "skin", "outline"]
    with pytest.raises(GeostyleError, match="skin must be"):
        Stylizer(tiny_model, skin=1.5)
