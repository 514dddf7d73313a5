"""Light marks: thin light structures in a model's output that its photo does not have (the white
dashes some anime students draw), counted the same way in ``benchmarks/light_marks.py`` and in the
test that holds the bundled ``anime`` to clearing them.

A mark pixel is one whose BT.601 luma stands more than :data:`STANDS_OUT` levels above its
grey-level opening along the row over :data:`WIDTH` pixels (a light structure one or two pixels
wide; the dashes are vertical), where the photo's own such structure, widened by a pixel each way,
stands out less than :data:`PHOTO_BELOW` levels (hair strands in light, glints and teeth are not
marks), and which is more than :data:`LIGHTER` levels lighter than the lightest photo pixel within
two pixels (a light gap between two drawn lines, as lit as the photo there, is no mark either).

This is a narrower, stricter test than the generator's filter
(:func:`geostyle.nets.blocks.clear_light_marks`: both directions, five pixels, a ramp from 16
levels), so the filter does not grade itself.
"""

from __future__ import annotations

import cv2
import numpy as np

WIDTH = 3  # the opening along a row: light structures one or two pixels wide
STANDS_OUT = 40.0  # levels (of 255) above the opening: a mark
PHOTO_BELOW = 20.0  # levels: the photo's own structure there is weaker than this
LIGHTER = 24.0  # levels the mark is lighter than the lightest photo pixel within two pixels


def _luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _stands_out(lightness: np.ndarray) -> np.ndarray:
    """Luma above its opening along rows (a white top-hat of thin vertical structures)."""
    return lightness - cv2.morphologyEx(lightness, cv2.MORPH_OPEN, np.ones((1, WIDTH), np.uint8))


def light_marks(output: np.ndarray, photo: np.ndarray, along_rows: bool = False) -> np.ndarray:
    """Boolean ``(H, W)``: the thin light marks of ``output`` that ``photo`` lacks (both RGB uint8,
    the same size: a whole frame and its photo). ``along_rows``: marks thin across a column
    instead (light streaks along a row; the same test on the transposed pictures)."""
    if output.shape != photo.shape:
        raise ValueError(f"output {output.shape} and photo {photo.shape} differ in size")
    if along_rows:
        turned = light_marks(np.ascontiguousarray(output.swapaxes(0, 1)), np.ascontiguousarray(photo.swapaxes(0, 1)))
        return turned.T
    photo_luma, output_luma = _luma(photo), _luma(output)
    photo_own = cv2.dilate(_stands_out(photo_luma), np.ones((3, 3), np.uint8))
    lighter = output_luma - cv2.dilate(photo_luma, np.ones((5, 5), np.uint8))
    return (_stands_out(output_luma) > STANDS_OUT) & (photo_own < PHOTO_BELOW) & (lighter > LIGHTER)
