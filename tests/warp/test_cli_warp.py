"""``geostyle warp``: argument handling and one end-to-end preview (detector replaced by fixed landmarks)."""

from __future__ import annotations

import numpy as np
import pytest

from geostyle.cli.main import main
from geostyle.data.images import load_image
from geostyle.faces.align import apply_affine, estimate_alignment, invert_affine
from geostyle.faces.landmarks import Face
from geostyle.warp.geometry import GeometryModel

from .test_geometry import _anime_like, _template


class _FixedBackend:
    name = "fixed"

    def __init__(self, landmarks):
        self.landmarks = landmarks

    def detect(self, image, path=None):
        return [Face((0, 0, image.shape[1], image.shape[0]), self.landmarks, 1.0, "fixed")]


@pytest.fixture()
def geometry_file(tmp_path):
    rng = np.random.default_rng(0)
    photos = _template() + rng.normal(0, 2, (20, 33, 2))
    styles = _anime_like(_template()) + rng.normal(0, 2, (20, 33, 2))
    return GeometryModel.fit(photos, styles, size=256).save(tmp_path / "geometry.json")


def test_warp_cli_writes_a_row(tmp_path, astronaut_path, geometry_file, monkeypatch, capsys):
    image = load_image(astronaut_path)
    # put the template face into the astronaut image's frame (as a detector would report it)
    m = estimate_alignment(_template(), size=256)
    landmarks = apply_affine(invert_affine(m.matrix), _template()) * 1.5 + 40
    import geostyle.faces.backends.base as base

    monkeypatch.setattr(base, "get_backend", lambda name, **kw: _FixedBackend(landmarks))
    out = tmp_path / "row.png"
    code = main(
        [
            "warp",
            str(astronaut_path),
            "--geometry",
            str(geometry_file),
            "--alphas",
            "0,1",
            "--out",
            str(out),
            "--size",
            "128",
        ]
    )
    assert code == 0
    row = load_image(out)
    assert row.shape == (128, 2 * 128 + 4, 3)
    assert image.shape[0] > 0 and "2 panels" in capsys.readouterr().out
    out_local = tmp_path / "local.png"
    assert (
        main(
            [
                "warp",
                str(astronaut_path),
                "--geometry",
                str(geometry_file),
                "--local",
                "--no-grid",
                "--out",
                str(out_local),
            ]
        )
        == 0
    )
    assert load_image(out_local).shape == (256, 3 * 256 + 8, 3)


def test_warp_cli_user_errors(tmp_path, astronaut_path, geometry_file, capsys):
    out = str(tmp_path / "x.png")
    assert main(["warp", str(astronaut_path), "--out", out]) == 1
    assert "need --geometry" in capsys.readouterr().err
    assert main(["warp", str(astronaut_path), "--geometry", str(tmp_path / "none.json"), "--out", out]) == 1
    assert (
        main(["warp", str(astronaut_path), "--geometry", str(geometry_file), "--styles", "x", "--out", out])
        == 1
    )
    with pytest.raises(SystemExit):
        main(["warp", str(astronaut_path), "--geometry", str(geometry_file), "--alphas", "a,b", "--out", out])
