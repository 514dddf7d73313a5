"""Whole-frame compositing geometry: working sizes, cutting faces out of a frame, pasting them back."""

from __future__ import annotations

import numpy as np
import pytest

from geostyle.data.images import from_uint8, load_image, to_uint8
from geostyle.faces.align import Alignment, estimate_alignment, warp_to_crop
from geostyle.infer.composite import crop_region, cut_face, paste_face, working_size
from geostyle.infer.fields import identity_field
from geostyle.warp.grid import warp_image


@pytest.mark.parametrize(
    "shape, work, expected",
    [((512, 512), 512, (512, 512)), ((1080, 1920), 512, (288, 512)), ((300, 200), 512, (296, 200)), ((301, 3000), 512, (48, 512)),
     ((9000, 12000), 512, (384, 512)), ((3, 5), 512, (8, 8)), ((1000, 700), None, (1000, 696))],
)
def test_working_size(shape, work, expected):
    assert working_size(*shape, work) == expected


@pytest.fixture(scope="module")
def photo(astronaut_path):
    image = load_image(astronaut_path)
    from geostyle.faces.backends.mediapipe_mesh import MediapipeBackend

    with MediapipeBackend() as backend:
        face = backend.detect(image)[0]
    return image, face.landmarks


@pytest.mark.parametrize("size, zoom", [(256, 1.1), (64, 1.0)])  # 64 px: the face is area-averaged first
def test_cut_face_matches_warp_to_crop(photo, size, zoom):
    image, landmarks = photo
    alignment = estimate_alignment(landmarks, size, zoom)
    crop, warped = cut_face(image, alignment, None)
    assert warped is None
    diff = np.abs(crop.astype(int) - warp_to_crop(image, alignment))
    # Both area-average a large face before sampling; the blocks may fall differently at edges.
    assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 8


def test_cut_face_applies_the_field_in_one_resampling(photo):
    image, landmarks = photo
    alignment = estimate_alignment(landmarks, 256, 1.1)
    ident = identity_field(256, 256).astype(np.float32)
    crop, same = cut_face(image, alignment, ident)
    # remap and warpAffine round sub-pixel positions differently (both to 1/32 px).
    diff = np.abs(same.astype(int) - crop)
    assert diff.mean() < 0.1 and diff.max() <= 8
    # A smooth field: equal (up to the second resampling of the reference) to warping the crop.
    field = ident + 0.05 * np.sin(3 * ident[..., ::-1])
    _, warped = cut_face(image, alignment, field.astype(np.float32))
    import torch

    reference = to_uint8(warp_image(from_uint8(crop), torch.from_numpy(field).float()[None]))[0]
    assert np.abs(warped.astype(int) - reference).mean() < 2.0
    assert np.abs(warped.astype(int) - crop).mean() > 5


def test_paste_face_touches_only_the_crop_region(photo):
    image, landmarks = photo
    alignment = estimate_alignment(landmarks, 128, 1.1)
    out = image.copy()
    red = np.zeros((128, 128, 3), np.uint8)
    red[..., 0] = 255
    paste_face(out, red, alignment, feather=0.1)
    region = crop_region(alignment, *image.shape[:2])
    outside = np.ones(image.shape[:2], bool)
    outside[region.y0 : region.y1, region.x0 : region.x1] = False
    assert np.array_equal(out[outside], image[outside])
    # The crop centre maps back onto the face centre, fully replaced there.
    cx, cy = alignment.inverse @ np.array([63.5, 63.5, 1.0])
    assert tuple(out[int(round(cy)), int(round(cx))]) == (255, 0, 0)


def test_face_outside_the_frame_is_clipped():
    frame = np.full((100, 100, 3), 50, np.uint8)
    off = Alignment(np.array([[1.0, 0, 500], [0, 1.0, 500]]), 64)  # crop of a region far outside
    paste_face(frame, np.zeros((64, 64, 3), np.uint8), off)
    assert (frame == 50).all()
    crop, _ = cut_face(frame, off, None)
    assert crop.shape == (64, 64, 3)
