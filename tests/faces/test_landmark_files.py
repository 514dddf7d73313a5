"""Landmark files: iBUG .pts and geostyle .json, reading, writing, malformed input, the file backend."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from geostyle.errors import BackendUnavailableError, LandmarkFileError
from geostyle.faces.backends.files import (
    LandmarkFileBackend,
    read_landmark_json,
    read_pts,
    write_landmark_json,
)
from geostyle.faces.landmarks import INDEX, NUM_LANDMARKS, Face, empty_landmarks, from_ibug68


def pts_text(points: np.ndarray, n_points: int | None = None) -> str:
    n = len(points) if n_points is None else n_points
    body = "\n".join(f"{x:.3f} {y:.3f}" for x, y in points)
    return f"version: 1\nn_points: {n}\n{{\n{body}\n}}\n"


@pytest.fixture
def helen_pair(shared_data):
    image = sorted((shared_data / "landmarks" / "helen").glob("*.jpg"))[0]
    return image, image.with_suffix(".pts")


def test_read_pts_real_file(helen_pair):
    _, pts_path = helen_pair
    pts = read_pts(pts_path)
    assert pts.shape == (68, 2) and pts.dtype == np.float64
    lines = pts_path.read_text().split("\n")
    first = lines[lines.index("{") + 1].split()
    last = lines[lines.index("{") + 68].split()
    np.testing.assert_allclose(pts[0], [float(v) for v in first])
    np.testing.assert_allclose(pts[67], [float(v) for v in last])


def test_read_pts_tolerates_blank_lines_and_crlf(tmp_path):
    pts = np.arange(136, dtype=float).reshape(68, 2)
    path = tmp_path / "a.pts"
    path.write_bytes(("\r\n" + pts_text(pts).replace("\n", "\r\n\r\n")).encode())
    np.testing.assert_allclose(read_pts(path), pts, atol=1e-3)


@pytest.mark.parametrize(
    ("mutate", "message", "line"),
    [
        (lambda t: t.replace("{\n", ""), "header or '{'", 3),
        (lambda t: t.replace("n_points: 68", "n_points: 5"), "n_points is 5", None),
        (lambda t: t.replace("n_points: 68", "n_points: many"), "not an integer", None),
        (lambda t: t.replace("2.000 3.000", "2.000 abc"), "not a number", 5),
        (lambda t: t.replace("2.000 3.000", "2.000 3.000 4.000"), "expected two numbers", 5),
        (lambda t: t.replace("4.000 5.000\n", ""), "found 67 points", 71),
        (lambda t: t.replace("}\n", ""), "missing closing", None),
        (lambda t: t + "junk\n", "unexpected text", 73),
        (lambda t: "", "empty file", None),
        (lambda t: t.replace("version: 1", "version 1"), "header", 1),
    ],
)
def test_malformed_pts_raises_with_file_and_line(tmp_path, mutate, message, line):
    pts = np.arange(136, dtype=float).reshape(68, 2)
    path = tmp_path / "bad.pts"
    path.write_text(mutate(pts_text(pts)))
    with pytest.raises(LandmarkFileError, match=message) as info:
        read_pts(path)
    assert str(path) in str(info.value)
    if line is not None:
        assert f"{path}:{line}:" in str(info.value)


def test_hand_written_json_single_face(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(
        json.dumps(
            {
                "landmarks": {
                    "right_eye_center": [10, 20],
                    "left_eye_center": [50.5, 22],
                    "chin": None,
                    "nose_tip": [30, 60],
                }
            }
        )
    )
    [face] = read_landmark_json(path)
    assert face.landmarks[INDEX["left_eye_center"]].tolist() == [50.5, 22.0]
    assert np.isnan(face.landmarks[INDEX["chin"]]).all()
    assert np.isnan(face.landmarks[INDEX["mouth_left"]]).all()
    assert int(face.mask.sum()) == 3
    assert face.box == (10.0, 20.0, 50.5, 60.0)  # default box: extent of the landmarks
    assert face.score == 1.0 and face.backend == "file"


def test_cli_format_json_with_faces_sorted_largest_first(tmp_path):
    small = {"box": [0, 0, 10, 10], "score": 0.5, "backend": "dlib", "landmarks": {"nose_tip": [5, 5]}}
    big = {"box": [0, 0, 100, 100], "score": 0.9, "backend": "mediapipe", "landmarks": {"nose_tip": [50, 50]}}
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"path": "x.jpg", "faces": [small, big]}))
    faces = read_landmark_json(path)
    assert [f.backend for f in faces] == ["mediapipe", "dlib"]
    assert faces[0].box == (0.0, 0.0, 100.0, 100.0) and faces[0].score == 0.9
    path.write_text(json.dumps({"path": "x.jpg", "faces": []}))
    assert read_landmark_json(path) == []


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ('{\n "landmarks": {\n  "nose_tip": [1, 2],\n }\n}', "invalid JSON", 4),
        ('{\n "landmarks": {\n  "nose_tipp": [1, 2]\n }\n}', "unknown landmark name 'nose_tipp'", 3),
        ('{\n "landmarks": {\n  "chin": [1]\n }\n}', "chin", 3),
        ('{\n "landmarks": {\n  "chin": ["a", 2]\n }\n}', "two numbers", 3),
        ('{\n "landmarks": {"chin": null}\n}', "no landmark with coordinates", None),
        ('{\n "landmarks": {"chin": [1, 2]},\n "box": [1, 2]\n}', "box", 3),
        ('{"faces": {"a": 1}}', "must be a list", 1),
        ("[1, 2]", "expected an object", 1),
        ('{"path": "a.jpg", "error": "unreadable"}', "detection error", None),
        ('{\n "landmarks": [1, 2]\n}', "landmarks", 2),
    ],
)
def test_malformed_json_raises_with_file_and_line(tmp_path, text, message, line):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(LandmarkFileError, match=message) as info:
        read_landmark_json(path)
    assert str(path) in str(info.value)
    if line is not None:
        assert f"{path}:{line}:" in str(info.value)


def test_json_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 200, (NUM_LANDMARKS, 2))
    b = empty_landmarks()
    b[:5] = rng.uniform(0, 50, (5, 2))
    faces = [
        Face(box=(1.0, 2.0, 201.0, 202.0), landmarks=a, score=0.87, backend="mediapipe"),
        Face(box=(0.0, 0.0, 50.0, 50.0), landmarks=b, score=1.0, backend="animeface"),
    ]
    path = tmp_path / "sub" / "faces.json"
    write_landmark_json(path, faces, image_path="img.jpg")
    data = json.loads(path.read_text())
    assert data["path"] == "img.jpg" and len(data["faces"]) == 2
    back = read_landmark_json(path)
    assert [f.backend for f in back] == ["mediapipe", "animeface"]
    for orig, got in zip(faces, back, strict=True):
        np.testing.assert_allclose(got.landmarks, orig.landmarks, atol=1e-3)  # NaN positions must match too
        np.testing.assert_allclose(got.box, orig.box, atol=1e-2)
        assert got.score == pytest.approx(orig.score)


def test_file_backend_reads_pts_and_prefers_json(tmp_path, helen_pair):
    image_path, pts_path = helen_pair
    backend = LandmarkFileBackend()
    image = np.zeros((4, 4, 3), np.uint8)  # the file backend does not look at pixels
    [face] = backend.detect(image, image_path)
    expected = from_ibug68(read_pts(pts_path))
    np.testing.assert_allclose(face.landmarks, expected)
    assert face.box == pytest.approx((*np.nanmin(expected, 0), *np.nanmax(expected, 0)))
    assert face.backend == "file" and face.extra["file"] == str(pts_path)

    copy = tmp_path / image_path.name
    shutil.copy(image_path, copy)
    assert backend.detect(image, copy) == []  # no landmark file beside it
    shutil.copy(pts_path, copy.with_suffix(".pts"))
    assert backend.detect(image, copy)[0].extra["file"].endswith(".pts")
    copy.with_suffix(".json").write_text(json.dumps({"landmarks": {"nose_tip": [7, 8]}}))
    [face] = backend.detect(image, copy)
    assert face.extra["file"].endswith(".json") and face.landmarks[INDEX["nose_tip"]].tolist() == [7.0, 8.0]
    copy.with_suffix(".json").write_text("{oops")
    with pytest.raises(LandmarkFileError):
        backend.detect(image, copy)
    with pytest.raises(BackendUnavailableError):
        backend.detect(image, None)
