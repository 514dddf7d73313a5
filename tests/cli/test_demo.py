"""The README's main job: the demo on the bundled portrait with the bundled anime model."""

import numpy as np

from geostyle.data.images import load_image
from geostyle.infer.demo import EXAMPLE, run_demo


def test_demo_writes_every_picture_and_changes_only_the_face(tmp_path):
    written = run_demo(tmp_path)
    assert set(written) == {"landmarks", "aligned", "geometry", "stylized_crop", "stylized", "frame", "before_after"}
    for path in written.values():
        assert path.is_file() and path.stat().st_size > 1000
    original, stylized = load_image(EXAMPLE), load_image(written["stylized"])
    assert stylized.shape == original.shape
    changed = np.any(original != stylized, axis=-1)
    assert 0.02 < changed.mean() < 0.5  # the face region, not the whole frame
    assert not changed[-60:, :].any()  # the helmet at the bottom is untouched
    # The whole-frame product (what `geostyle stylize` writes) changes the background too.
    frame = load_image(written["frame"])
    assert frame.shape == original.shape
    assert np.any(original != frame, axis=-1).mean() > 0.9
    assert load_image(written["before_after"]).shape == (original.shape[0], 3 * original.shape[1], 3)
