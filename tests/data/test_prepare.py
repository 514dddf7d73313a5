"""``prepare_dataset`` end to end on real selfies, odd files and odd scenes, with the real detectors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import geostyle.data.prepare as prepare_mod
from geostyle.data.images import load_image
from geostyle.data.manifest import MANIFEST_NAME, ManifestError, load_manifest
from geostyle.data.prepare import DEFAULT_ZOOM, build_detector, format_summary, prepare_dataset
from geostyle.errors import GeostyleError
from geostyle.faces.align import Alignment, apply_affine, surround, warp_to_crop
from geostyle.faces.landmarks import INDEX, PARTS

SIZE = 128  # smaller crops keep the test fast; the geometry does not depend on it


class Counting:
    """Wraps a detector and counts the images it is asked about."""

    def __init__(self, inner, fail_on: int | None = None, exc: BaseException | None = None):
        self.inner, self.calls, self.fail_on, self.exc = inner, 0, fail_on, exc

    def detect(self, image, path=None):
        self.calls += 1
        if self.fail_on is not None and self.calls == self.fail_on:
            raise self.exc
        return self.inner.detect(image, path)


@pytest.fixture(scope="module")
def photo_detector():
    return build_detector(prepare_mod.DEFAULT_BACKENDS["photo"])


@pytest.fixture()
def source(tmp_path, selfie_paths, odd_builder, scene_builder):
    """A folder with 6 real selfies (two in a sub-folder, one saved twice under the same stem),
    every odd file, a no-face image, a sky, a two-face image and a tiny face; and the expectations."""
    src = tmp_path / "src"
    expected: dict[str, str] = {}  # relative path -> "ok" or failure reason
    for n, path in enumerate(selfie_paths[:4]):
        rel = f"selfies/{path.name}" if n < 2 else f"selfies/nested/deeper/{path.name}"
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, src / rel)
        expected[rel] = "ok"
    (src / "pair").mkdir()
    shutil.copy(selfie_paths[4], src / "pair" / "face.jpg")  # the same stem twice: ids must not collide
    Image.open(selfie_paths[5]).save(src / "pair" / "face.png")
    expected["pair/face.jpg"] = expected["pair/face.png"] = "ok"
    for case in odd_builder(src / "odd", selfie_paths[0]).values():
        expected[case.path.relative_to(src).as_posix()] = case.expected
    for case in scene_builder(src / "scenes", selfie_paths[2:4]).values():
        expected[case.path.relative_to(src).as_posix()] = case.expected
    (src / "notes.txt").write_text("not an image suffix: ignored")
    (src / "selfies" / "landmarks.json").write_text("{}")
    return src, expected


def _rel(src: Path, source: str) -> str:
    return Path(source).relative_to(src.resolve()).as_posix()


def test_prepare_end_to_end(tmp_path, source, selfie_paths, photo_detector, monkeypatch):
    src, expected = source
    out = tmp_path / "dataset"
    det = Counting(photo_detector)
    m = prepare_dataset(src, out, size=SIZE, progress=False, detector=det)

    # --- counts ---
    assert det.calls == len(expected) - 4  # unreadable files never reach the detector
    reasons = sorted(set(expected.values()))
    want = {r: sum(v == r for v in expected.values()) for r in reasons}
    assert want == {"ok": 14, "unreadable": 4, "no_face": 2, "tiny_face": 1}
    assert m.summary == {
        "ok": 14,
        "unreadable": 4,
        "no_face": 2,
        "tiny_face": 1,
        "incomplete_landmarks": 0,
        "bad_alignment": 0,
        "error": 0,
        "multiple_faces": 1,
    }
    assert m.run["processed"] == len(expected) and m.run["skipped"] == 0

    # --- the manifest on disk is the one returned ---
    disk = load_manifest(out)
    assert disk.summary == m.summary and [it.id for it in disk.items] == [it.id for it in m.items]
    assert (disk.domain, disk.size, disk.zoom) == ("photo", SIZE, DEFAULT_ZOOM)
    got = {_rel(src, it.source): "ok" for it in disk.items}
    got.update({_rel(src, f["source"]): f["reason"] for f in disk.failures})
    assert got == expected
    assert all(f["detail"] for f in disk.failures)

    # --- ids: stable, from the relative path, collision-free ---
    ids = {_rel(src, it.source): it.id for it in disk.items}
    assert (
        ids[f"selfies/nested/deeper/{selfie_paths[2].name}"]
        == f"selfies__nested__deeper__{selfie_paths[2].stem}"
    )
    assert ids["pair/face.jpg"] == "pair__face" and ids["pair/face.png"].startswith("pair__face-")
    assert ids["odd/gray.png"] == "odd__gray" and ids["scenes/two_faces.jpg"] == "scenes__two_faces"
    assert len(set(ids.values())) == len(ids)

    # --- items: crops, landmarks, matrices ---
    for item in disk.items:
        assert item.crop == f"crops/{item.id}.png" and item.crop_path.is_file()
        crop = load_image(item.crop_path)
        assert crop.shape == (SIZE, SIZE, 3)
        assert item.backend in ("mediapipe", "dlib") and 0 < item.score <= 1
        pts = item.landmarks
        inner = [INDEX[n] for part in PARTS.values() for n in part]
        assert np.isfinite(pts[inner]).all(), item.id
        present = pts[np.isfinite(pts).all(axis=1)]
        assert (present > -0.5).all() and (present < SIZE - 0.5).all(), item.id
        # the crop is the source warped by the stored matrix, filled where it reaches past the source
        source_image = load_image(item.source)
        around = surround(source_image, Alignment(item.matrix, SIZE))
        np.testing.assert_array_equal(crop, warp_to_crop(around.frame, around.alignment))
    by_rel = {_rel(src, it.source): it for it in disk.items}
    assert by_rel["scenes/two_faces.jpg"].faces_found == 2
    assert all(it.faces_found == 1 for r, it in by_rel.items() if r != "scenes/two_faces.jpg")
    # the larger (left) face was kept: the crop centre maps back into the left half
    centre = apply_affine(
        Alignment(by_rel["scenes/two_faces.jpg"].matrix, SIZE).inverse, np.array([SIZE / 2] * 2)
    )
    assert centre[0] < 256
    # odd modes and EXIF rotation give the same face in the same place as the plain JPEG
    reference = by_rel[f"selfies/{selfie_paths[0].name}"]
    for rel in (
        "odd/gray.png",
        "odd/gray16.png",
        "odd/cmyk.jpg",
        "odd/palette.png",
        "odd/exif6.jpg",
        "odd/exif8.jpg",
    ):
        item = by_rel[rel]
        eyes = [INDEX["right_eye_center"], INDEX["left_eye_center"], INDEX["mouth_center"]]
        err = np.abs(item.landmarks[eyes] - reference.landmarks[eyes]).max()
        assert err < 0.05 * SIZE, (rel, err)
        # the similarity has the same rotation as the upright original's
        angle = np.degrees(np.arctan2(item.matrix[1, 0], item.matrix[0, 0]))
        ref_angle = np.degrees(np.arctan2(reference.matrix[1, 0], reference.matrix[0, 0]))
        assert abs(angle - ref_angle) < 5, (rel, angle, ref_angle)

    # --- contact sheet ---
    sheet = Image.open(out / "contact_sheet.png")
    assert sheet.format == "PNG" and sheet.width == 8 * 128 and sheet.height > 2 * 128
    assert "ok 14" in format_summary(m) and "tiny_face 1" in format_summary(m)

    # --- re-run: nothing to do, no detector built, nothing rewritten ---
    before = {p.name: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}

    def no_detector(spec):
        raise AssertionError("a re-run with nothing new must not load a detector")

    monkeypatch.setattr(prepare_mod, "build_detector", no_detector)
    again = prepare_dataset(src, out, size=SIZE, progress=False)
    assert again.run["processed"] == 0 and again.run["skipped"] == len(expected)
    assert again.summary == m.summary and [it.id for it in again.items] == [it.id for it in m.items]
    assert {p.name: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    monkeypatch.undo()

    # --- a deleted crop is made again under the same id; failures retried only on request ---
    victim = by_rel["pair/face.png"]
    victim.crop_path.unlink()
    det2 = Counting(photo_detector)
    third = prepare_dataset(src, out, size=SIZE, progress=False, detector=det2)
    assert det2.calls == 1 and victim.crop_path.is_file()
    assert [it.id for it in third.items] == [it.id for it in m.items] and third.summary == m.summary
    det3 = Counting(photo_detector)
    fourth = prepare_dataset(src, out, size=SIZE, progress=False, detector=det3, retry_failures=True)
    assert fourth.run["processed"] == 7 and det3.calls == 3  # the 4 unreadable files fail before detection
    assert fourth.summary == m.summary

    # --- other settings into the same folder are refused ---
    with pytest.raises(ManifestError, match="zoom"):
        prepare_dataset(src, out, size=SIZE, zoom=2.0, progress=False, detector=det3)


def test_interrupt_and_crash_keep_the_work_done(tmp_path, selfie_paths, photo_detector):
    src = tmp_path / "src"
    src.mkdir()
    for p in selfie_paths:
        shutil.copy(p, src / p.name)
    out = tmp_path / "ds"
    # Ctrl-C during the 4th image: the 3 done are saved
    with pytest.raises(KeyboardInterrupt):
        prepare_dataset(
            src, out, size=64, progress=False, detector=Counting(photo_detector, 4, KeyboardInterrupt())
        )
    assert len(load_manifest(out).items) == 3
    # any other exception that stops the run also keeps what is done
    shutil.rmtree(out)
    with pytest.raises(SystemExit):
        prepare_dataset(
            src, out, size=64, progress=False, detector=Counting(photo_detector, 6, SystemExit(3))
        )
    assert len(load_manifest(out).items) == 5
    # resuming finishes the job, detecting only what is missing
    det = Counting(photo_detector)
    m = prepare_dataset(src, out, size=64, progress=False, detector=det)
    assert det.calls == 1 and m.summary["ok"] == 6


def test_manifest_is_saved_periodically(tmp_path, selfie_paths, photo_detector):
    """A run killed outright (no chance to save) loses at most ``save_every`` images: the manifest on
    disk, seen from inside the detector, grows in steps of ``save_every``."""
    src = tmp_path / "src"
    src.mkdir()
    for p in selfie_paths:
        shutil.copy(p, src / p.name)
    out = tmp_path / "ds"
    seen = []

    class Spy(Counting):
        def detect(self, image, path=None):
            seen.append(len(load_manifest(out).items) if (out / MANIFEST_NAME).is_file() else None)
            return super().detect(image, path)

    prepare_dataset(src, out, size=64, progress=False, save_every=2, detector=Spy(photo_detector))
    assert seen == [None, None, 2, 2, 4, 4]


def test_a_crashing_detector_fails_one_image_only(tmp_path, selfie_paths, photo_detector):
    src = tmp_path / "src"
    src.mkdir()
    for p in selfie_paths[:3]:
        shutil.copy(p, src / p.name)
    det = Counting(photo_detector, 2, RuntimeError("model exploded"))
    m = prepare_dataset(src, tmp_path / "ds", size=64, progress=False, detector=det, limit=3)
    assert m.summary["ok"] == 2 and m.summary["error"] == 1
    assert "model exploded" in m.failures[0]["detail"]


def test_style_domain_with_landmark_files(tmp_path, shared_data):
    """The ``file`` backend end to end: a HELEN photo with its iBUG .pts is aligned from the file;
    a drawing whose .json lacks the mouth is ``incomplete_landmarks``."""
    helen = sorted((shared_data / "landmarks" / "helen").glob("*.pts"))[0]
    src = tmp_path / "src"
    src.mkdir()
    image_path = next(p for p in helen.parent.glob(helen.stem + ".*") if p.suffix != ".pts")
    shutil.copy(image_path, src / image_path.name)
    shutil.copy(helen, src / helen.name)
    Image.new("RGB", (200, 200), (250, 250, 240)).save(src / "drawing.png")
    (src / "drawing.json").write_text(
        json.dumps({"landmarks": {"right_eye_center": [70, 90], "left_eye_center": [130, 90]}})
    )
    m = prepare_dataset(src, tmp_path / "ds", domain="style", size=SIZE, backends="file", progress=False)
    assert m.summary["ok"] == 1 and m.summary["incomplete_landmarks"] == 1
    (item,) = m.items
    assert item.backend == "file" and item.faces_found == 1
    assert m.failures[0]["source"].endswith("drawing.png")
    # the eyes from the file land where the alignment puts eyes
    eyes = item.landmarks[[INDEX["right_eye_center"], INDEX["left_eye_center"]]]
    assert abs(eyes[0, 1] - eyes[1, 1]) < 0.08 * SIZE and eyes[0, 0] < SIZE / 2 < eyes[1, 0]
    assert json.loads((tmp_path / "ds" / MANIFEST_NAME).read_text())["domain"] == "style"


def test_bad_arguments(tmp_path):
    with pytest.raises(GeostyleError, match="no such folder"):
        prepare_dataset(tmp_path / "missing", tmp_path / "out", progress=False)
    with pytest.raises(GeostyleError, match="domain"):
        prepare_dataset(tmp_path, tmp_path / "out", domain="cartoon", progress=False)
    with pytest.raises(GeostyleError, match="zoom"):
        prepare_dataset(tmp_path, tmp_path / "out", zoom=0, progress=False)


def test_output_inside_source_is_not_read_back(tmp_path, selfie_paths, photo_detector):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(selfie_paths[0], src / "a.jpg")
    det = Counting(photo_detector)
    prepare_dataset(src, src / "dataset", size=64, progress=False, detector=det)
    m = prepare_dataset(src, src / "dataset", size=64, progress=False, detector=det)
    assert det.calls == 1 and m.run["found"] == 1


def test_a_rejected_face_falls_through_to_the_next_backend(tmp_path, shared_data):
    """On this anime image mediapipe's only "face" is a tiny false detection (eyes ~6 px apart);
    the chain must not stop there when animeface finds the real face."""
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(shared_data / "styles" / "anime" / "1963.jpg", src / "1963.jpg")
    alone = prepare_dataset(
        src, tmp_path / "mp", domain="style", size=64, backends="mediapipe", progress=False
    )
    assert alone.summary["tiny_face"] == 1 and "mediapipe" in alone.failures[0]["detail"]
    both = prepare_dataset(
        src, tmp_path / "both", domain="style", size=64, backends="mediapipe,animeface", progress=False
    )
    assert both.summary["ok"] == 1 and both.items[0].backend == "animeface"


def test_hidden_jaw_of_a_turned_head_reaches_the_manifest_and_the_training_set(tmp_path, shared_data):
    """HELEN 197 turns the subject's right side away (yaw about -38 deg): prepare stores mediapipe's
    per-point confidence, the right jaw, cheek and lower jaw fall below ``MIN_CONFIDENCE``, and the
    training set (whose landmarks also fit the training geometry model) treats them as missing,
    on the mirrored copy as well."""
    from geostyle.data.dataset import FaceSet
    from geostyle.data.manifest import MIN_CONFIDENCE, landmarks_array
    from geostyle.faces.landmarks import mirror_permutation

    helen = sorted((shared_data / "landmarks" / "helen").glob("*.jpg"))
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(helen[197], src / "a_turned.jpg")
    shutil.copy(helen[150], src / "b_frontal.jpg")
    m = prepare_dataset(
        src, tmp_path / "ds", size=64, backends="mediapipe", progress=False, contact_sheet=False
    )
    assert m.summary["ok"] == 2
    back = load_manifest(tmp_path / "ds")
    turned, frontal = sorted(back.items, key=lambda it: it.source)
    assert turned.confidence is not None and frontal.confidence is not None
    hidden = [INDEX[n] for n in ("jaw_right", "cheek_right", "jaw_right_lower")]
    assert (turned.confidence[hidden] < MIN_CONFIDENCE).all()
    assert np.delete(turned.confidence, hidden).min() == 1.0 and frontal.confidence.min() == 1.0
    assert np.isfinite(turned.landmarks).all()  # the guess is kept in the manifest ...
    usable = landmarks_array(back)
    assert set(np.flatnonzero(np.isnan(usable).any(-1).any(0))) == set(hidden)  # ... but not used

    faces = FaceSet(tmp_path / "ds", 32)
    t = faces.ids.index(turned.id)
    assert set(np.flatnonzero(~faces.mask[t].numpy())) == set(hidden)
    assert faces.mask[1 - t].all()
    flipped = faces.batch(torch.tensor([t]), flips=torch.tensor([True]))
    mirrored = set(mirror_permutation()[hidden])
    assert set(np.flatnonzero(~flipped.mask[0].numpy())) == mirrored != set(hidden)
    assert np.isnan(faces.landmarks_nan()[t, hidden]).all()
