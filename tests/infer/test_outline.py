"""The face's outline: it lands on the face's edge near the landmarks, fades where nothing shows an
edge, leaves a face it cannot place alone, and every stylizing path draws it after the anime eyes at
the face's target landmarks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from geostyle.data.images import load_image
from geostyle.errors import GeostyleError
from geostyle.faces.landmarks import INDEX, NUM_LANDMARKS
from geostyle.infer.outline import OUTLINE_POINTS, SHADE, draw_face_outline, outline_curve, place_outline
from geostyle.infer.stylize import Stylizer

SIZE = 256
CENTRE, AXES = (128.0, 100.0), (70.0, 100.0)  # the face: a light ellipse; its chin at y = 200
SKIN, BACKGROUND = 210, 70


def face_image(background: int = BACKGROUND) -> np.ndarray:
    image = np.full((SIZE, SIZE, 3), background, np.uint8)
    # 4 fractional bits: the edge within 1/16 px of the ellipse.
    cv2.ellipse(image, (int(CENTRE[0] * 16), int(CENTRE[1] * 16)), (int(AXES[0] * 16), int(AXES[1] * 16)), 0, 0, 360,
                (SKIN, SKIN, SKIN), -1, cv2.LINE_AA, shift=4)  # fmt: skip
    return image


def outline_points(inset: float = 0.0) -> np.ndarray:
    """Landmarks with only the outline present: on the ellipse from the right jaw (the image's
    left) round the chin to the left jaw, ``inset`` px inside it."""
    pts = np.full((NUM_LANDMARKS, 2), np.nan)
    for name, angle in zip(OUTLINE_POINTS, np.linspace(170, 10, len(OUTLINE_POINTS)), strict=True):
        a = np.radians(angle)
        direction = np.array([np.cos(a) * AXES[0], np.sin(a) * AXES[1]])
        on_edge = np.array(CENTRE) + direction
        pts[INDEX[name]] = on_edge - inset * direction / np.linalg.norm(direction)
    return pts


def darkening(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """How much each pixel lost (0-1 of its own value, grey images)."""
    b, a = before[..., 0].astype(float), after[..., 0].astype(float)
    return np.where(b > 0, (b - a) / np.maximum(b, 1), 0.0)


def test_the_line_lands_on_the_edge_near_the_landmarks():
    image = face_image()
    pts = outline_points(inset=2.5)  # the landmarks 2.5 px inside the jaw, as detectors miss it
    out = draw_face_outline(image, pts)
    assert (image == face_image()).all()  # the input is left as it was
    lost = darkening(image, out)
    # Below the chin (x = 128) the line's centre sits on the edge (y = 200), not on the landmarks'
    # curve (197.5): the snap moved it.
    column = lost[185:215, 128]
    centre = 185 + float((column * np.arange(30)).sum() / column.sum())
    assert abs(centre - 200.0) < 1.0, centre
    assert column.max() > 0.6 * SHADE  # a dark line, not a tint
    # The whole jaw is drawn: every outline landmark has the line within 3 px of the edge beside it.
    edge = outline_points(0.0)
    for name in OUTLINE_POINTS:
        x, y = np.round(edge[INDEX[name]]).astype(int)
        assert lost[y - 3 : y + 4, x - 3 : x + 4].max() > 0.5 * SHADE, name
    # Nothing far from the edge changes (the top of the head, the face's middle, the background).
    yy, xx = np.mgrid[:SIZE, :SIZE]
    r = np.sqrt(((xx - CENTRE[0]) / AXES[0]) ** 2 + ((yy - CENTRE[1]) / AXES[1]) ** 2)
    assert (lost[np.abs(r - 1) > 0.12] < 1e-6).all()
    # The curve passes through the landmarks themselves.
    curve = outline_curve(pts)
    assert curve is not None
    for name in OUTLINE_POINTS:
        assert np.min(np.linalg.norm(curve - pts[INDEX[name]], axis=1)) < 1e-9


def test_no_edge_no_line():
    """Where nothing tells the face from what is beside it (a hand, hair, a turned head's hidden
    side), the line fades out; on a blank image there is none at all."""
    blank = np.full((SIZE, SIZE, 3), SKIN, np.uint8)
    assert (draw_face_outline(blank, outline_points()) == blank).all()
    # With nothing to snap to, the curve stays on the landmarks' own (of equal steps, the nearest).
    placed = place_outline(blank, outline_points())
    assert placed is not None and np.abs(placed[0] - outline_curve(outline_points())).max() < 1e-9
    # The image's left half covered with the face's own colour: the jaw shows only on the right.
    image = face_image()
    image[:, :100] = SKIN
    lost = darkening(image, draw_face_outline(image, outline_points()))
    placed = place_outline(image, outline_points())
    assert placed is not None
    curve, opacity = placed
    assert opacity[curve[:, 0] < 80].max() < 1e-6 and opacity[curve[:, 0] > 120].min() > 0.99
    assert lost[:, :80].max() < 1e-6 and lost[:, 130:].max() > 0.6 * SHADE


def test_a_guide_places_the_line_by_the_photo_and_draws_it_on_the_image():
    """``guide``: the snap and the guard read the guide (the warped photo), the line is drawn on the
    image (the drawing). A drawing whose jaw shows no edge (flat, as a band may leave it) still gets
    the line where the photo's jaw is; a guide without the edge takes it away."""
    photo = face_image()
    flat = np.full((SIZE, SIZE, 3), SKIN, np.uint8)  # the drawing: no edge at the jaw
    pts = outline_points(inset=2.5)
    assert (draw_face_outline(flat, pts) == flat).all()  # by itself: nothing to draw on
    out = draw_face_outline(flat, pts, 1.0, photo)
    assert (photo == face_image()).all()  # the guide is only read
    lost = darkening(flat, out)
    column = lost[185:215, 128]
    centre = 185 + float((column * np.arange(30)).sum() / column.sum())
    assert abs(centre - 200.0) < 1.0, centre  # snapped to the photo's chin, drawn on the drawing
    assert column.max() > 0.6 * SHADE
    assert (draw_face_outline(face_image(), pts, 1.0, flat) == face_image()).all()
    with pytest.raises(ValueError, match="guide"):
        draw_face_outline(flat, pts, 1.0, photo[:128])


def test_faces_it_cannot_place_are_left_alone():
    image = face_image()
    pts = outline_points()
    missing = pts.copy()
    missing[INDEX["chin"]] = np.nan
    assert (draw_face_outline(image, missing) == image).all()
    # A face 14 px wide, its outline on a real edge: too small to draw on (a larger one is drawn).
    small = np.full((SIZE, SIZE, 3), BACKGROUND, np.uint8)
    cv2.ellipse(small, (128, 100), (7, 10), 0, 0, 360, (SKIN, SKIN, SKIN), -1)
    tiny = (pts - np.array(CENTRE)) * 0.1 + np.array(CENTRE)
    assert (draw_face_outline(small, tiny) == small).all()
    cv2.ellipse(small, (128, 100), (14, 20), 0, 0, 360, (SKIN, SKIN, SKIN), -1)
    assert (draw_face_outline(small, (pts - np.array(CENTRE)) * 0.2 + np.array(CENTRE)) != small).any()
    assert (draw_face_outline(image, pts, 0.0) == image).all()
    # Half the opacity darkens half as much.
    full, half = darkening(image, draw_face_outline(image, pts)), darkening(image, draw_face_outline(image, pts, 0.5))
    peak = np.unravel_index(np.argmax(full), full.shape)
    assert half[peak] == pytest.approx(full[peak] / 2, abs=0.02)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="outline"):
            draw_face_outline(image, pts, bad)


def test_every_stylizing_path_draws_the_outline_after_the_eyes(tiny_model, astronaut_path, monkeypatch):
    """The outline reads the crop after the anime eyes, at the same target landmarks, in a crop, an
    aligned face and a whole frame; a model without it draws none."""
    import geostyle.infer.stylize as stylize_module

    calls: list[tuple[str, np.ndarray, np.ndarray]] = []

    def recording(kind, draw):
        def record(image, points, amount=1.0, *guide):
            out = draw(image, points, amount, *guide)
            calls.append((kind, np.array(points), out, *guide))
            return out

        return record

    monkeypatch.setattr(stylize_module, "draw_anime_eyes", recording("eyes", stylize_module.draw_anime_eyes))
    monkeypatch.setattr(stylize_module, "draw_face_outline", recording("outline", stylize_module.draw_face_outline))
    image = load_image(astronaut_path)
    plain = Stylizer(tiny_model, strength=1.0)
    drawn = Stylizer(tiny_model, strength=1.0, eyes=0.5, outline=0.75)
    assert plain.outline == 0.0 and drawn.outline == 0.75 and drawn.draws and not plain.draws
    aligned = plain.align(image)
    crop, pts = aligned.crop, aligned.landmarks
    a = plain.stylize_crop(crop, pts)
    assert not calls
    b = drawn.stylize_crop(crop, pts)
    assert [c[0] for c in calls] == ["eyes", "outline"]
    target = plain.target_pixels(plain.fields.solve(pts, 1.0))
    np.testing.assert_allclose(calls[1][1], target, atol=1e-4)
    # Placed by the warped photo (the crop moved by the same field; the tiny model has no exposure).
    full, _ = plain.fields.crop_fields(plain.fields.solve(pts, 1.0))
    maps = ((full + 1.0) * (crop.shape[0] / 2.0) - 0.5).astype(np.float32)
    warped = cv2.remap(crop, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert np.array_equal(calls[1][3], warped)
    assert np.array_equal(b, draw_face_outline(calls[0][2], target, 0.75, warped))
    calls.clear()
    drawn.stylize(image)
    assert [c[0] for c in calls] == ["eyes", "outline"]
    warp = plain.frame_warp(aligned.alignment, pts, *image.shape[:2])
    assert warp is not None
    np.testing.assert_allclose(calls[1][1], plain.target_pixels(warp.spline), atol=1e-4)
    calls.clear()
    faces = [f.warp_landmarks() for f in plain.detect_faces(image)]
    drawn.render(image, faces)
    assert [c[0] for c in calls] == ["eyes", "outline"]
    calls.clear()
    only = Stylizer(tiny_model, strength=1.0, eyes=0.0, outline=1.0)
    only.stylize_crop(crop, pts)
    assert [c[0] for c in calls] == ["outline"]
    calls.clear()
    only.render(image, faces)  # a model that draws only the outline still draws it on whole frames
    assert [c[0] for c in calls] == ["outline"]
    assert (a == plain.stylize_crop(crop, pts)).all()
    for bad in (1.5, "dark"):
        with pytest.raises(GeostyleError, match="outline must be") as caught:
            Stylizer(tiny_model, outline=bad)  # type: ignore[arg-type]
        assert type(caught.value) is GeostyleError and "safetensors" not in str(caught.value)  # the caller's, not the model file's
