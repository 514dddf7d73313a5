"""Manifest reading/writing and id making (pure logic: no detector needed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geostyle.data.manifest import (
    MANIFEST_NAME,
    Manifest,
    ManifestError,
    ManifestItem,
    landmarks_array,
    load_manifest,
    save_manifest,
)
from geostyle.data.prepare import make_id, summarize
from geostyle.errors import GeostyleError
from geostyle.faces.landmarks import CANONICAL_NAMES, INDEX, NUM_LANDMARKS


def _manifest(root, n=3) -> Manifest:
    rng = np.random.default_rng(0)
    items = []
    for i in range(n):
        pts = rng.uniform(0, 255, (NUM_LANDMARKS, 2))
        pts[i] = np.nan
        items.append(
            ManifestItem(
                id=f"img{i}",
                crop=f"crops/img{i}.png",
                source=f"/data/img{i}.jpg",
                backend="mediapipe",
                score=0.9,
                faces_found=1 + i,
                landmarks=pts,
                matrix=np.array([[0.5, 0.1, 3.0], [-0.1, 0.5, 4.0]]),
                root=root,
            )
        )
    m = Manifest(domain="photo", size=256, zoom=1.0, root=root, items=items)
    m.failures = [{"source": "/data/bad.jpg", "reason": "unreadable", "detail": "not an image"}]
    m.summary = summarize(m)
    return m


def test_round_trip(tmp_path):
    m = _manifest(tmp_path)
    path = save_manifest(m)
    assert path == tmp_path / MANIFEST_NAME
    assert [p.name for p in tmp_path.iterdir()] == [MANIFEST_NAME]  # no temporary file left behind
    back = load_manifest(tmp_path)
    assert back.domain == "photo" and back.size == 256 and back.zoom == 1.0 and back.root == tmp_path
    assert back.landmark_names == list(CANONICAL_NAMES)
    assert back.failures == m.failures
    assert back.summary == {
        "ok": 3,
        "unreadable": 1,
        "no_face": 0,
        "tiny_face": 0,
        "incomplete_landmarks": 0,
        "bad_alignment": 0,
        "error": 0,
        "multiple_faces": 2,
    }
    for a, b in zip(m.items, back.items, strict=True):
        assert (a.id, a.crop, a.source, a.backend, a.faces_found) == (
            b.id,
            b.crop,
            b.source,
            b.backend,
            b.faces_found,
        )
        np.testing.assert_allclose(b.landmarks, a.landmarks, atol=1e-3)  # stored to 3 decimals
        assert np.array_equal(np.isnan(b.landmarks), np.isnan(a.landmarks))
        np.testing.assert_array_equal(b.matrix, a.matrix)
        assert b.crop_path == tmp_path / "crops" / f"{b.id}.png"
    arr = landmarks_array(back)
    assert arr.shape == (3, NUM_LANDMARKS, 2) and np.isnan(arr[1, 1]).all()
    # the JSON follows the documented format: null for missing points
    raw = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert raw["format"] == "geostyle-dataset" and raw["version"] == 1
    assert raw["items"][0]["landmarks"][0] is None and len(raw["items"][0]["landmarks"]) == NUM_LANDMARKS
    assert set(raw["items"][0]) == {
        "id",
        "crop",
        "source",
        "backend",
        "score",
        "faces_found",
        "landmarks",
        "matrix",
    }
    # the manifest file is readable by others (not created private like mkstemp does)
    assert (tmp_path / MANIFEST_NAME).stat().st_mode & 0o044


def test_empty_manifest(tmp_path):
    m = Manifest(domain="style", size=128, zoom=1.2, root=tmp_path)
    save_manifest(m)
    back = load_manifest(tmp_path / MANIFEST_NAME)  # the file itself is accepted too
    assert back.items == [] and landmarks_array(back).shape == (0, NUM_LANDMARKS, 2)


def test_bad_manifests_raise_clear_errors(tmp_path):
    with pytest.raises(ManifestError, match="no manifest.json"):
        load_manifest(tmp_path)
    save_manifest(_manifest(tmp_path))
    good = json.loads((tmp_path / MANIFEST_NAME).read_text())

    def check(data, pattern):
        (tmp_path / MANIFEST_NAME).write_text(data if isinstance(data, str) else json.dumps(data))
        with pytest.raises(ManifestError, match=pattern) as info:
            load_manifest(tmp_path)
        assert isinstance(info.value, GeostyleError)

    check('{"format": "geostyle-dataset", "items": [', "corrupt")
    check({**good, "format": "something-else"}, "not a geostyle dataset")
    check([1, 2], "not a geostyle dataset")
    check({**good, "version": 2}, "version")
    check({**good, "landmark_names": good["landmark_names"][:-1]}, "landmark names differ")
    check({**good, "landmark_names": good["landmark_names"][::-1]}, "landmark names differ")
    check({**good, "domain": "cartoon"}, "domain")
    broken = json.loads(json.dumps(good))
    del broken["items"][1]["matrix"]
    check(broken, "malformed")
    broken = json.loads(json.dumps(good))
    broken["items"][0]["landmarks"] = broken["items"][0]["landmarks"][:5]
    check(broken, "malformed")


def test_item_without_root_has_no_crop_path():
    item = _manifest(None).items[0]
    with pytest.raises(ManifestError):
        _ = item.crop_path


def test_make_id_is_stable_and_collision_free():
    taken: set[str] = set()
    assert make_id("female_1.jpg", taken) == "female_1"
    assert make_id("sub/dir/a.jpg", taken) == "sub__dir__a"
    png = make_id("female_1.png", taken)  # same stem as an earlier file
    assert png.startswith("female_1-") and len(png) == len("female_1-") + 8
    assert make_id("FEMALE_1.jpg", set(taken)).startswith("FEMALE_1-")  # case-insensitive file systems
    weird = make_id("my photo (1).jpg", taken)
    assert weird.startswith("my_photo__1_-")  # lossy rewriting gets a hash
    assert make_id("my photo (1).jpg", set()) == weird  # same input, same id
    assert make_id(".hidden.jpg", set()).startswith("hidden-")
    assert len(taken) == 4


def test_count_distinct_faces():
    from geostyle.data.prepare import count_distinct_faces
    from geostyle.faces.landmarks import Face, empty_landmarks

    def face(*box):
        return Face(box=box, landmarks=empty_landmarks(), score=1.0, backend="test")

    big = face(0, 0, 100, 100)
    assert count_distinct_faces([]) == 0
    assert count_distinct_faces([big]) == 1
    assert (
        count_distinct_faces([big, face(60, 20, 90, 50)]) == 1
    )  # inside the big one (reflection, duplicate)
    assert count_distinct_faces([face(90, 0, 150, 60), big]) == 2  # overlapping a little: another person
    assert count_distinct_faces([big, face(200, 0, 260, 60), face(210, 10, 250, 50)]) == 2


def test_confidence_round_trips_and_masks_hidden_points(tmp_path):
    m = _manifest(tmp_path)
    conf = np.ones(NUM_LANDMARKS)
    conf[[INDEX["jaw_left"], INDEX["cheek_left"]]] = [0.2, 0.49]
    conf[INDEX["jaw_left_lower"]] = 0.5  # at the threshold: kept
    m.items[1].confidence = conf
    save_manifest(m)
    raw = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert "confidence" not in raw["items"][0] and len(raw["items"][1]["confidence"]) == NUM_LANDMARKS
    back = load_manifest(tmp_path)
    assert back.items[0].confidence is None
    np.testing.assert_allclose(back.items[1].confidence, conf)
    usable = landmarks_array(back)
    assert np.isnan(usable[1, [INDEX["jaw_left"], INDEX["cheek_left"]]]).all()
    assert np.isfinite(usable[1, INDEX["jaw_left_lower"]]).all()
    # everything else as stored (to the 3 decimals written); 0 keeps every detected point
    keep = np.ones(NUM_LANDMARKS, bool)
    keep[[INDEX["jaw_left"], INDEX["cheek_left"]]] = False
    np.testing.assert_array_equal(usable[1, keep], back.items[1].landmarks[keep])
    np.testing.assert_allclose(landmarks_array(back, min_confidence=0)[1], m.items[1].landmarks, atol=1e-3)
    np.testing.assert_array_equal(np.isnan(usable[0]), np.isnan(m.items[0].landmarks))
    raw["items"][1]["confidence"][0] = 1.5
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(raw))
    with pytest.raises(ManifestError, match="confidence"):
        load_manifest(tmp_path)
