"""The runtime's NumPy TPS field equals the trainer's torch field (the model was trained with it)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geostyle.data.images import load_image
from geostyle.faces.landmarks import pixels_to_normalized
from geostyle.infer.fields import identity_field
from geostyle.infer.stylize import Stylizer
from geostyle.warp.grid import identity_grid


@pytest.fixture(scope="module")
def face(astronaut_path):
    stylizer = Stylizer("anime")
    return stylizer, stylizer.align(load_image(astronaut_path)).landmarks


def test_identity_field_matches_torch_identity_grid():
    assert np.abs(identity_field(5, 7) - identity_grid(1, 5, 7, torch.float64)[0].numpy()).max() < 1e-12


@pytest.mark.parametrize("alpha", [0.5, 1.0])
def test_numpy_field_equals_training_field(face, alpha):
    stylizer, pts = face
    s = stylizer.size
    p = torch.from_numpy(np.nan_to_num(pixels_to_normalized(pts, s, s))).float()[None]
    mask = torch.from_numpy(np.isfinite(pts).all(-1))[None]
    target = stylizer.aligner.photo_target(p, mask, strength=alpha)
    reference = stylizer.aligner.field(target, p, mask)[0].numpy()
    full, quarter = stylizer.face_fields(pts, strength=alpha)
    assert full.shape == (s, s, 2) and quarter.shape == (1, s // 4, s // 4, 2)
    assert np.abs(full - reference).max() < 2e-5
    # A real warp (not the identity), pinned at the crop border by the anchors.
    assert np.abs(full - identity_field(s, s)).max() > 0.05
    assert np.abs(full[0, :] - identity_field(s, s)[0, :]).max() < 0.01


def test_strength_zero_means_no_warp(face):
    stylizer, pts = face
    assert stylizer.face_fields(pts, strength=0.0) is None
    field, target = stylizer.target_field(pts, stylizer.size, strength=0.0)
    assert field is not None and np.abs(field[0].numpy() - identity_field(stylizer.size, stylizer.size)).max() < 1e-5
    assert np.allclose(target, pts, atol=1e-6, equal_nan=True)


# --------------------------------------------------------------------------- reach beyond the crop
def _backward(solver, spline, points):
    return points + solver.displacement(spline, points)


@pytest.fixture(scope="module")
def helen_face(shared_data):
    """A held-out HELEN photo with the neck in the picture, its anime stylizer and crop landmarks."""
    from geostyle.faces.align import apply_affine, estimate_alignment

    stylizer = Stylizer("anime", strength=1.0)
    image = load_image(shared_data / "landmarks" / "helen" / "2038888040_1.jpg")
    landmarks = stylizer.detect(image).warp_landmarks()
    alignment = estimate_alignment(landmarks, stylizer.size, stylizer.zoom)
    return stylizer, image, alignment, apply_affine(alignment.matrix, landmarks)


def test_wider_reach_moves_the_crop_border_and_pins_its_own(helen_face):
    stylizer, _, _, pts = helen_face
    solver, s = stylizer.fields, stylizer.size
    near, far = solver.solve(pts, 1.0, reach=1.0), solver.solve(pts, 1.0, reach=1.5)
    t = solver.target(pts, 1.0)
    keep = np.isfinite(t).all(-1)
    photo = pixels_to_normalized(pts, s, s)[keep]
    # Both carry the target geometry to the photo's landmarks (the regularised spline: close, not exact).
    for spline in (near, far):
        assert np.abs(_backward(solver, spline, t[keep]) - photo).max() < 0.03
    edge = np.linspace(-1.0, 1.0, 33)
    crop_bottom = np.stack([edge, np.ones_like(edge)], -1)
    ring_bottom = np.stack([edge * 1.5, np.full_like(edge, 1.5)], -1)
    # Training's reach pins the crop border (exactly at its anchors, half a crop apart; within a
    # few pixels between them); the wider one lets the neck move across it (upward: the output's
    # bottom row reads the photo further down) and pins its own border instead, as firmly.
    assert np.abs(solver.displacement(near, crop_bottom[::8])).max() < 2e-3
    assert np.abs(solver.displacement(near, crop_bottom)).max() < 0.03
    assert solver.displacement(far, crop_bottom)[:, 1].max() > 0.05
    assert np.abs(solver.displacement(far, ring_bottom)).max() < 0.03


def test_surroundings_move_with_the_face(helen_face):
    """Around the crop the frame moves by the face's own warp: a frame whose pixels hold their own
    coordinates, moved, reads at every crop pixel the source point the crop's field reads, and
    the picture's border holds."""
    from geostyle.faces.align import apply_affine
    from geostyle.infer.composite import crop_region, widened

    stylizer, image, alignment, pts = helen_face
    h, w = image.shape[:2]
    warp = stylizer.frame_warp(alignment, pts, h, w)
    assert warp is not None and warp.reach == pytest.approx(1.5, abs=0.01)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    coords = np.dstack([xs, ys, np.zeros_like(xs)])
    moved = coords.copy()
    stylizer.move_surroundings(moved, warp)
    # Compare where the crop's pixels land in the frame (crop pixel centres, away from the border).
    s = stylizer.size
    grid = np.mgrid[16 : s - 16 : 8, 16 : s - 16 : 8].reshape(2, -1).T[:, ::-1].astype(np.float64)  # (x, y)
    frame_pts = apply_affine(alignment.inverse, grid)
    inside = (frame_pts >= 0).all(-1) & (frame_pts[:, 0] <= w - 1) & (frame_pts[:, 1] <= h - 1)
    frame_pts, grid = frame_pts[inside], grid[inside]
    ix, iy = np.rint(frame_pts).astype(int).T
    read = moved[iy, ix, :2]
    field = warp.full[grid[:, 1].astype(int), grid[:, 0].astype(int)]  # normalised crop
    expected = apply_affine(alignment.inverse, (field + 1.0) * (s / 2.0) - 0.5)
    # Reads agree to within a pixel or two of the frame (coarse lattice, rounding to the nearest pixel).
    err = np.linalg.norm(read - expected, axis=-1)
    assert np.median(err) < 1.0 and err.max() < 3.0, (np.median(err), err.max())
    assert np.abs(read - frame_pts).max() > 10  # and the warp is a real one here
    # This tight photo lies inside the widened square; the frame's border stays where it is.
    outer = crop_region(widened(alignment, warp.reach), h, w, margin=0)
    assert (outer.x0, outer.y0, outer.x1, outer.y1) == (0, 0, w, h)
    # (exactly at the pins, half a crop apart; within a pixel between them)
    assert np.abs(moved[-1, :, 1] - (h - 1)).max() < 1.5 and np.abs(moved[:, 0, 0]).max() < 1.5


def test_frame_pins_hold_the_picture_border(shared_data):
    """A face near the bottom of the picture: the warp may not pull rows in from beyond it."""
    from geostyle.faces.align import apply_affine, estimate_alignment
    from geostyle.infer.composite import frame_pins

    stylizer = Stylizer("anime", strength=1.0)
    image = load_image(shared_data / "photos" / "selfie" / "female_10262.jpg")  # chin 20 px above the bottom
    landmarks = stylizer.detect(image).warp_landmarks()
    alignment = estimate_alignment(landmarks, stylizer.size, stylizer.zoom)
    pins = frame_pins(alignment, *image.shape[:2], 1.5)
    assert len(pins) > 10 and (np.abs(pins) <= 1.5).all()
    # Every pin is on the picture's border.
    frame_px = apply_affine(alignment.inverse, (pins + 1.0) * (stylizer.size / 2.0) - 0.5)
    h, w = image.shape[:2]
    on_edge = np.minimum.reduce(
        [np.abs(frame_px[:, 0] + 0.5), np.abs(frame_px[:, 0] - (w - 0.5)), np.abs(frame_px[:, 1] + 0.5), np.abs(frame_px[:, 1] - (h - 0.5))]
    )
    assert on_edge.max() < 1e-6
    pts = apply_affine(alignment.matrix, landmarks)
    spline = stylizer.fields.solve(pts, 1.0, 1.5, pins)
    assert np.abs(stylizer.fields.displacement(spline, pins)).max() < 2e-3
    unpinned = stylizer.fields.solve(pts, 1.0, 1.5)
    assert np.abs(stylizer.fields.displacement(unpinned, pins)).max() > 0.02  # they matter here


def test_wider_reach_stops_the_neck_smear(helen_face):
    """Below the lifted chin, training's reach squeezes the lift into the strip above the crop
    border (the map nearly folds); the product's reach spreads it over the neck."""
    from geostyle.faces.landmarks import INDEX

    stylizer, _, _, pts = helen_face
    solver = stylizer.fields
    chin = solver.target(pts, 1.0)[INDEX["chin"]]

    def stretch(reach):
        ys = np.linspace(chin[1], reach, 300)
        line = np.stack([np.full_like(ys, chin[0]), ys], -1)
        src = _backward(solver, solver.solve(pts, 1.0, reach), line)[:, 1]
        step = np.diff(src)
        return np.inf if (step <= 0).any() else float((np.diff(ys) / step).max())

    near, far = stretch(1.0), stretch(1.5)
    assert near > 3.0, near
    assert far < 2.0, far
