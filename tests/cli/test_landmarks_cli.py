"""``geostyle landmarks`` on real images: JSON lines, error lines, exit status, drawing, EXIF."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from geostyle.cli.main import main
from geostyle.faces.backends.files import read_pts
from geostyle.faces.landmarks import CANONICAL_NAMES, from_dict, from_ibug68


@pytest.fixture
def helen(shared_data):
    image = sorted((shared_data / "landmarks" / "helen").glob("*.jpg"))[150]
    return image, read_pts(image.with_suffix(".pts"))


def nme(pred: np.ndarray, pts68: np.ndarray) -> float:
    iod = np.linalg.norm(pts68[36] - pts68[45])
    return float(np.nanmean(np.linalg.norm(pred - from_ibug68(pts68), axis=1)) / iod)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_output_matches_ground_truth(helen, capsys):
    image, pts68 = helen
    assert main(["landmarks", str(image), "--json", "--backend", "mediapipe"]) == 0
    [record] = json_lines(capsys.readouterr().out)
    assert record["path"] == str(image)
    [face] = record["faces"]
    assert face["backend"] == "mediapipe" and len(face["box"]) == 4 and face["score"] > 0
    assert list(face["landmarks"]) == list(CANONICAL_NAMES)
    assert nme(from_dict(face["landmarks"]), pts68) < 0.08


def test_corrupt_file_gives_error_line_others_still_print(helen, tmp_path, capsys):
    image, pts68 = helen
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg" * 10)
    missing = tmp_path / "missing.png"
    code = main(["landmarks", str(corrupt), str(image), str(missing), "--json", "--backend", "dlib"])
    captured = capsys.readouterr()
    records = json_lines(captured.out)
    assert code != 0
    assert [r["path"] for r in records] == [str(corrupt), str(image), str(missing)]
    assert "error" in records[0] and "faces" not in records[0] and str(corrupt) in records[0]["error"]
    assert "error" in records[2]
    assert nme(from_dict(records[1]["faces"][0]["landmarks"]), pts68) < 0.08
    assert "2 image(s)" in captured.err


def test_file_backend_and_human_summary(helen, tmp_path, capsys):
    image, pts68 = helen
    copy = tmp_path / image.name
    shutil.copy(image, copy)
    shutil.copy(image.with_suffix(".pts"), copy.with_suffix(".pts"))
    assert main(["landmarks", str(copy), "--backend", "file"]) == 0
    out = capsys.readouterr().out
    assert f"{copy}: 1 face" in out and "file" in out and "33/33 points" in out

    assert main(["landmarks", str(tmp_path), "--json", "--backend", "auto"]) == 0  # a folder expands
    [record] = json_lines(capsys.readouterr().out)
    np.testing.assert_allclose(from_dict(record["faces"][0]["landmarks"]), from_ibug68(pts68), atol=1e-3)


def test_no_face_is_not_an_error(tmp_path, capsys):
    gray = tmp_path / "gray.png"
    Image.new("RGB", (200, 160), (128, 128, 128)).save(gray)
    assert main(["landmarks", str(gray), "--json", "--backend", "mediapipe,dlib"]) == 0
    assert json_lines(capsys.readouterr().out) == [{"path": str(gray), "faces": []}]


def test_exif_rotation_is_applied_before_detection(helen, tmp_path, capsys):
    image, pts68 = helen
    upright = Image.open(image).convert("RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # pixels stored sideways...
    exif = Image.Exif()
    exif[0x0112] = 6  # ...with "rotate 90 degrees clockwise to display"
    rotated = tmp_path / "rotated.jpg"
    stored.save(rotated, exif=exif, quality=95)
    assert main(["landmarks", str(rotated), "--json", "--backend", "mediapipe"]) == 0
    [record] = json_lines(capsys.readouterr().out)
    face = record["faces"][0]
    assert nme(from_dict(face["landmarks"]), pts68) < 0.08  # in the upright frame of the .pts
    assert face["box"][2] <= upright.width + 1 and face["box"][3] <= upright.height + 1


def test_draw_saves_annotated_images(helen, tmp_path, capsys):
    image, _ = helen
    out_dir = tmp_path / "drawn"
    assert main(["landmarks", str(image), "--backend", "mediapipe", "--draw", str(out_dir)]) == 0
    capsys.readouterr()
    drawn = out_dir / f"{image.stem}.png"
    original = np.asarray(Image.open(image).convert("RGB"))
    annotated = np.asarray(Image.open(drawn).convert("RGB"))
    assert annotated.shape == original.shape
    assert (np.abs(annotated.astype(int) - original).sum(axis=2) > 60).sum() > 100  # points were drawn


def test_unknown_backend_is_a_clean_error(helen, capsys):
    image, _ = helen
    assert main(["landmarks", str(image), "--backend", "nope"]) == 1
    assert "unknown landmark backend 'nope'" in capsys.readouterr().err
