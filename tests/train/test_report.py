"""Run pictures: the progression sheet is cut from the trainer's sample grids at the right places."""

from __future__ import annotations

import numpy as np
from PIL import Image

from geostyle.data.contact_sheet import save_grid
from geostyle.train.report import progression


def test_progression_takes_the_photo_and_the_output_column_of_each_step(tmp_path):
    side = 16
    for step, shade in ((500, 50), (1000, 100), (1500, 150)):
        rows = [
            [np.full((side, side, 3), 10 * (r + 1) + c, np.uint8) if c != 2 else np.full((side, side, 3), shade + r, np.uint8)
             for c in range(6)]
            for r in range(4)
        ]  # fmt: skip
        save_grid(tmp_path / "samples" / f"step-{step:06d}.png", rows, ["a", "b", "c", "d", "e", "f"])
    out = np.asarray(Image.open(progression(tmp_path, rows=2)))
    pad, top = 2, 14
    for r in range(2):
        y = top + pad + r * (side + pad)
        cells = [out[y : y + side, pad + j * (side + pad) : pad + j * (side + pad) + side] for j in range(4)]
        assert np.all(cells[0] == 10 * (r + 1))  # the photo
        assert [int(c[0, 0, 0]) for c in cells[1:]] == [50 + r, 100 + r, 150 + r]  # G at each step
        assert all(np.all(c == c[0, 0]) for c in cells)  # whole cells, no neighbouring column cut in
    assert out.shape[0] == top + 2 * (side + pad) + pad
