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
    stylizer = Stylizer("anime", part_gains={})  # the whole face at one strength
    return stylizer, stylizer.align(load_image(astronaut_path)).landmarks


@pytest.fixture(scope="module")
def shaped_face(astronaut_path):
    stylizer = Stylizer("anime")  # its face shape: the outline and brows further than the parts
    assert stylizer.part_gains
    return stylizer, stylizer.align(load_image(astronaut_path)).landmarks


def test_identity_field_matches_torch_identity_grid():
    assert np.abs(identity_field(5, 7) - identity_grid(1, 5, 7, torch.float64)[0].numpy()).max() < 1e-12


def test_grid_displacement_equals_the_general_form(face):
    """The crop grid's displacement, built from the grid's rows and columns, is the spline evaluated
    at the grid's points (the form every other caller uses), here with a wider reach and frame pins."""
    stylizer, pts = face
    solver = stylizer.fields
    pins = np.array([[-1.2, 1.0], [0.0, 1.0], [1.2, 1.0]])
    spline = solver.solve(pts, 0.8, reach=1.5, pins=pins, limit=True)
    grid = solver.crop_displacement(spline)
    general = solver.displacement(spline, identity_field(solver.grid, solver.grid).reshape(-1, 2))
    assert grid.shape == (solver.grid, solver.grid, 2) and grid.dtype == np.float32
    assert np.abs(grid - general.reshape(grid.shape)).max() < 5e-6
    assert np.abs(grid).max() > 0.02  # a real move, not the identity


@pytest.mark.parametrize("alpha, shaped", [(0.5, False), (1.0, False), (0.35, True)])
def test_numpy_field_equals_training_field(face, shaped_face, alpha, shaped):
    stylizer, pts = shaped_face if shaped else face
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

    stylizer = Stylizer("anime", strength=1.0, part_gains={})
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
    coordinates, moved, reads at every crop pixel the source point the crop's field reads."""
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
    # Reads beyond the picture get its edge pixels (no pin next to the lifted chin: see frame_pins).
    expected = np.clip(expected, 0, [w - 1, h - 1])
    # Reads agree to within a pixel or two of the frame (coarse lattice, rounding to the nearest pixel).
    err = np.linalg.norm(read - expected, axis=-1)
    assert np.median(err) < 1.0 and err.max() < 3.0, (np.median(err), err.max())
    assert np.abs(read - frame_pts).max() > 10  # and the warp is a real one here
    # This tight photo lies inside the widened square: all of it may move.
    outer = crop_region(widened(alignment, warp.reach), h, w, margin=0)
    assert (outer.x0, outer.y0, outer.x1, outer.y1) == (0, 0, w, h)


def test_frame_pins_hold_the_picture_border_and_limit_the_moves_next_to_it(shared_data):
    """A face near the bottom of the picture: the border holds (nothing pulled in from beyond it),
    and a landmark next to it moves at most half as far as it is from the border."""
    from geostyle.faces.align import apply_affine, estimate_alignment
    from geostyle.faces.landmarks import INDEX, pixels_to_normalized
    from geostyle.infer.composite import frame_pins
    from geostyle.infer.fields import limit_moves

    stylizer = Stylizer("anime", strength=1.0, part_gains={})
    image = load_image(shared_data / "photos" / "selfie" / "female_10262.jpg")  # chin 20 px above the bottom
    h, w = image.shape[:2]
    landmarks = stylizer.detect(image).warp_landmarks()
    alignment = estimate_alignment(landmarks, stylizer.size, stylizer.zoom)
    pts = apply_affine(alignment.matrix, landmarks)
    pins = frame_pins(alignment, h, w, 1.5)
    assert len(pins) > 10 and (np.abs(pins) <= 1.5).all()
    assert len(np.unique(np.round(pins, 9), axis=0)) == len(pins)  # corners once
    # Every pin is on the picture's border.
    frame_px = apply_affine(alignment.inverse, (pins + 1.0) * (stylizer.size / 2.0) - 0.5)
    on_edge = np.minimum.reduce(
        [np.abs(frame_px[:, 0] + 0.5), np.abs(frame_px[:, 0] - (w - 0.5)), np.abs(frame_px[:, 1] + 0.5), np.abs(frame_px[:, 1] - (h - 0.5))]
    )
    assert on_edge.max() < 1e-6
    spline = stylizer.fields.solve(pts, 1.0, 1.5, pins, limit=True)
    assert np.abs(stylizer.fields.displacement(spline, pins)).max() < 2e-3
    unpinned = stylizer.fields.solve(pts, 1.0, 1.5)
    assert np.abs(stylizer.fields.displacement(unpinned, pins)).max() > 0.02  # they matter here
    # The chin is lifted only half as far as it is from the edge, not the full 0.3.
    s = stylizer.size
    source = pixels_to_normalized(pts, s, s)
    target = stylizer.fields.target(pts, 1.0)
    limited = limit_moves(source, target, pins)
    chin = INDEX["chin"]
    room = 0.5 * np.linalg.norm(pins - source[chin], axis=-1).min()
    assert np.linalg.norm(target[chin] - source[chin]) > 1.5 * room
    assert np.linalg.norm(limited[chin] - source[chin]) == pytest.approx(room)
    eyes = INDEX["right_eye_center"]
    np.testing.assert_allclose(limited[eyes], target[eyes])  # far from the edge: the full move


def _min_jacobian(stylizer, warp, alignment, h, w):
    """Smallest determinant of the backward map's Jacobian over the part of the crop inside the
    picture (negative = the warp folds: the picture is mirrored there)."""
    from geostyle.faces.align import apply_affine

    s = stylizer.size
    n = 129
    g = np.linspace(-1.0, 1.0, n)
    u = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    mapped = (u + stylizer.fields.displacement(warp.spline, u)).reshape(n, n, 2)
    du = g[1] - g[0]
    dx = np.gradient(mapped, du, axis=1)
    dy = np.gradient(mapped, du, axis=0)
    det = dx[..., 0] * dy[..., 1] - dx[..., 1] * dy[..., 0]
    frame_px = apply_affine(alignment.inverse, (u + 1.0) * (s / 2.0) - 0.5).reshape(n, n, 2)
    inside = (frame_px[..., 0] >= 0) & (frame_px[..., 0] <= w - 1) & (frame_px[..., 1] >= 0) & (frame_px[..., 1] <= h - 1)
    return float(det[inside].min())


@pytest.mark.parametrize("below_chin", [40, 5, -15])
def test_a_chin_at_the_picture_edge_does_not_fold_the_warp(shared_data, below_chin):
    """The picture cut so its bottom edge is 40 px under the chin, 5 px under it, or 15 px above
    it (a webcam's framing): the product's warp at strength 1 never folds."""
    import av

    from geostyle.faces.align import apply_affine, estimate_alignment
    from geostyle.faces.landmarks import INDEX

    stylizer = Stylizer("anime", strength=1.0, part_gains={})
    with av.open(str(shared_data / "video" / "d18.mp4")) as container:
        full = next(iter(container.decode(video=0))).to_ndarray(format="rgb24")
    landmarks = stylizer.detect(full).warp_landmarks()
    bottom = int(round(landmarks[INDEX["chin"], 1])) + below_chin
    assert bottom < full.shape[0]
    image = full[:bottom]
    h, w = image.shape[:2]
    alignment = estimate_alignment(landmarks, stylizer.size, stylizer.zoom)
    warp = stylizer.frame_warp(alignment, apply_affine(alignment.matrix, landmarks), h, w)
    assert warp is not None
    assert _min_jacobian(stylizer, warp, alignment, h, w) > 0.02


def test_wider_reach_stops_the_neck_smear(shared_data):
    """A talking head with the neck in the picture: below the lifted chin, training's reach squeezes
    the lift into the strip above the crop border (the map nearly folds); the product's warp
    (reach 1.5, frame pins, tapered where it moves the surroundings) spreads it over the neck."""
    import av

    from geostyle.faces.align import apply_affine, estimate_alignment
    from geostyle.faces.landmarks import INDEX
    from geostyle.infer.composite import taper

    with av.open(str(shared_data / "video" / "d18.mp4")) as container:
        image = next(iter(container.decode(video=0))).to_ndarray(format="rgb24")
    h, w = image.shape[:2]

    def stretch(reach: float) -> float:
        stylizer = Stylizer("anime", strength=1.0, part_gains={}, reach=reach)
        landmarks = stylizer.detect(image).warp_landmarks()
        alignment = estimate_alignment(landmarks, stylizer.size, stylizer.zoom)
        pts = apply_affine(alignment.matrix, landmarks)
        warp = stylizer.frame_warp(alignment, pts, h, w)
        assert warp is not None
        chin = stylizer.fields.target(pts, 1.0)[INDEX["chin"]]
        ys = np.linspace(chin[1], warp.reach, 400)
        line = np.stack([np.full_like(ys, chin[0]), ys], -1)
        disp = stylizer.fields.displacement(warp.spline, line)[:, 1]
        # Beyond the crop the surroundings move by the tapered warp.
        outside = np.abs(line).max(-1) > 1.0
        disp = np.where(outside, disp * taper(line, warp.reach), disp)
        step = np.diff(ys + disp)
        return np.inf if (step <= 0).any() else float((np.diff(ys) / step).max())

    # Measured 23 and 2.5: the picture ends 0.35 crop half-sides under this chin and is held there,
    # so the lift of 0.31 spreads over that strip, not over a longer neck.
    near, far = stretch(1.0), stretch(1.5)
    assert near > 8.0, near
    assert far < 3.0, far


def test_surroundings_move_the_same_in_strips(helen_face, monkeypatch):
    """Small regions get their moving field in one resize, huge ones strip by strip through a remap
    of the lattice: the same picture either way."""
    import geostyle.infer.composite as composite

    stylizer, image, alignment, pts = helen_face
    h, w = image.shape[:2]
    warp = stylizer.frame_warp(alignment, pts, h, w)
    assert warp is not None
    whole = image.copy()
    stylizer.move_surroundings(whole, warp)
    monkeypatch.setattr(composite, "RESIZE_LIMIT", 0)
    monkeypatch.setattr(composite, "PASTE_STRIP_ROWS", 37)  # several strips, a ragged last one
    strips = image.copy()
    stylizer.move_surroundings(strips, warp)
    assert np.abs(whole.astype(int) - image).max() > 20  # something moved
    assert np.abs(whole.astype(int) - strips).max() <= 1
