"""Light marks (geostyle.eval.marks): what counts as a thin light mark the photo lacks."""

import numpy as np
import pytest

from geostyle.eval.marks import light_marks


def _navy(height: int = 32, width: int = 40) -> np.ndarray:
    return np.broadcast_to(np.array([30, 40, 90], np.uint8), (height, width, 3)).copy()


def test_a_white_dash_on_a_dark_area_is_a_mark_and_the_photos_own_line_is_not():
    photo = _navy()
    out = photo.copy()
    out[4:16, 6:8] = 255  # the dash, 2 px wide
    out[4:16, 30:31] = 250  # a line the photo has too
    photo[4:16, 30:31] = 240
    marks = light_marks(out, photo)
    assert marks[4:16, 6:8].all()
    assert marks.sum() == 24  # the dash and nothing else


def test_a_wide_light_shape_a_gap_between_lines_and_a_faint_dash_are_not_marks():
    photo = _navy()
    photo[:, 20:] = 200  # a lit half
    out = photo.copy()
    out[4:16, 6:11] = 255  # a light patch 5 px wide: wider than a mark
    out[4:16, 14:15] = 60  # a dash 30 levels over the navy's luma of about 42: too faint
    out[4:16, 24:25] = 0  # two drawn dark lines with the lit photo between them:
    out[4:16, 27:28] = 0  # the gap stands out but is no lighter than the photo
    assert not light_marks(out, photo).any()


def test_sizes_must_match():
    with pytest.raises(ValueError, match="differ in size"):
        light_marks(_navy(32, 40), _navy(32, 48))


def test_along_rows_finds_a_horizontal_streak_and_not_a_vertical_dash():
    photo = _navy()
    out = photo.copy()
    out[4:16, 6:8] = 255  # a vertical dash
    out[24:26, 10:30] = 255  # a horizontal streak, 2 px tall
    across_rows, along_rows = light_marks(out, photo), light_marks(out, photo, along_rows=True)
    assert across_rows[4:16, 6:8].all() and not across_rows[24:26, 12:28].any()
    assert along_rows[24:26, 10:30].all() and not along_rows[6:14, 6:8].any()
