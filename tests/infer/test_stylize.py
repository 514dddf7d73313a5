"""Stylization pipeline on a real photo with a real (untrained, tiny) release checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geostyle.data.images import load_image
from geostyle.errors import CheckpointError, NoFaceError
from geostyle.faces.landmarks import from_ibug68
from geostyle.infer.stylize import Stylizer, available_models, resolve_model
from geostyle.nets.registry import create_model
from geostyle.nets.release import save_release
from geostyle.warp.geometry import GeometryModel


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, shared_data):
    """A release checkpoint whose geometry makes eyes 30 % wider apart: easy to check in outputs."""
    import glob

    pts = [
        from_ibug68(np.loadtxt(p, skiprows=3, max_rows=68))
        for p in sorted(glob.glob(str(shared_data / "landmarks/helen/*.pts")))[:5]
    ]
    photo = np.stack([(p - p.mean(0)) / np.ptp(p[:, 0]) * 1.0 for p in pts])  # rough normalised faces
    style = photo.copy()
    style[:, :, 0] *= 1.3
    geometry = GeometryModel.fit(photo, style)
    torch.manual_seed(0)
    g = create_model("geo_mobile_s")
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_release(
        path, g, "geo_mobile_s", dict(g.config), geometry.to_dict(), 128, {}, {"zoom": 1.1, "strength": 1.0}
    )
    return path


def test_crop_and_frame_outputs(tiny_model, astronaut_path):
    stylizer = Stylizer(tiny_model)
    image = load_image(astronaut_path)
    result = stylizer.stylize(image)
    assert result.crop.shape == (128, 128, 3) and result.crop.dtype == np.uint8
    assert result.face.backend in ("mediapipe", "dlib")
    frame = stylizer.stylize_frame(image)
    assert frame.shape == image.shape
    changed = np.any(frame != image, axis=-1)
    ys, xs = np.nonzero(changed)
    x0, y0, x1, y1 = result.face.box
    # Changes stay around the face; far corners are untouched.
    assert not changed[:40, :40].any() and not changed[-40:, -40:].any()
    assert x0 - 200 < xs.mean() < x1 + 200 and y0 - 200 < ys.mean() < y1 + 200


def test_strength_zero_keeps_the_photo_geometry(tiny_model, astronaut_path):
    image = load_image(astronaut_path)
    stylizer = Stylizer(tiny_model, strength=0.0)
    aligned = stylizer.align(image)
    crop, pts = aligned.crop, aligned.landmarks
    x = torch.from_numpy(crop).permute(2, 0, 1)[None].float().div(127.5).sub(1)
    direct = (
        stylizer.release.generator(x, None)[0]
        .clamp(-1, 1)
        .add(1)
        .mul(127.5)
        .round()
        .byte()
        .permute(1, 2, 0)
        .numpy()
    )
    via_pipeline = stylizer.stylize_crop(crop, pts)
    assert np.abs(direct.astype(int) - via_pipeline.astype(int)).max() <= 2  # identity warp at alpha = 0
    warped = stylizer.stylize_crop(crop, pts, strength=1.0)
    assert np.abs(warped.astype(int) - direct.astype(int)).mean() > 2  # the warp acts


def test_no_face_and_bad_model_errors(tiny_model, tmp_path):
    stylizer = Stylizer(tiny_model)
    with pytest.raises(NoFaceError):
        stylizer.stylize(np.full((200, 200, 3), 128, np.uint8))
    with pytest.raises(CheckpointError, match="unknown model"):
        resolve_model("no-such-style")
    with pytest.raises(CheckpointError, match="no such model"):
        resolve_model(tmp_path / "absent.safetensors")


@pytest.mark.parametrize("name", ["anime", "sketch"])
def test_bundled_models_change_the_face(name, astronaut_path):
    if name not in available_models():
        pytest.fail(f"bundled model {name!r} is missing from src/geostyle/models")
    stylizer = Stylizer(name)
    result = stylizer.stylize(load_image(astronaut_path))
    diff = np.abs(result.crop.astype(int) - result.source_crop.astype(int)).mean()
    assert diff > 8, f"{name} output is nearly the input photo (mean abs diff {diff:.1f})"


def test_stylize_cli_reports_bad_files_and_continues(tiny_model, astronaut_path, tmp_path, capsys):
    from geostyle.cli.main import main

    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"garbage")
    code = main(
        [
            "stylize",
            str(bad),
            str(astronaut_path),
            "--model",
            str(tiny_model),
            "--out",
            str(tmp_path / "o"),
            "--crop",
        ]
    )
    assert code == 1
    assert (tmp_path / "o" / "astronaut.png").is_file()
    assert "bad.jpg: error" in capsys.readouterr().err
