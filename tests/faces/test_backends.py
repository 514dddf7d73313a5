"""Detector backends on real images: faces found, canonical points agree with HELEN ground truth."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from geostyle.data.images import list_images, load_image
from geostyle.errors import BackendUnavailableError
from geostyle.faces.backends import base
from geostyle.faces.backends.chain import AUTO, BackendChain, build_backend, parse_spec
from geostyle.faces.backends.files import read_pts
from geostyle.faces.draw import draw_landmarks
from geostyle.faces.landmarks import INDEX, NUM_LANDMARKS, from_ibug68, mirror_permutation

HELEN_HELD_OUT = (150, 157, 199, 234)  # not used to choose the mediapipe mesh indices


def nme(pred: np.ndarray, pts68: np.ndarray) -> float:
    truth = from_ibug68(pts68)
    iod = np.linalg.norm(pts68[36] - pts68[45])
    return float(np.nanmean(np.linalg.norm(pred - truth, axis=1)) / iod)


@pytest.fixture(scope="module")
def helen(shared_data):
    images = sorted((shared_data / "landmarks" / "helen").glob("*.jpg"))
    return [(p, load_image(p), read_pts(p.with_suffix(".pts"))) for p in (images[i] for i in HELEN_HELD_OUT)]


@pytest.fixture(scope="module")
def mediapipe_backend():
    backend = base.get_backend("mediapipe")
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def dlib_backend():
    return base.get_backend("dlib")


@pytest.fixture(scope="module")
def anime_backend():
    return base.get_backend("animeface")


def best_face(faces, pts68):
    assert faces, "no face found"
    return min(faces, key=lambda f: nme(f.landmarks, pts68))


@pytest.mark.parametrize("backend_name", ["mediapipe", "dlib"])
def test_photo_backends_match_helen_ground_truth(backend_name, helen, request):
    backend = request.getfixturevalue(f"{backend_name}_backend")
    for path, image, pts68 in helen:
        faces = backend.detect(image, path)
        face = best_face(faces, pts68)
        assert face.backend == backend_name
        assert face.landmarks.shape == (NUM_LANDMARKS, 2)
        assert face.mask.all()
        error = nme(face.landmarks, pts68)
        assert error < 0.08, f"{path.name}: NME {error:.3f}"
        # subject's right eye on the image's left, brows above eyes above mouth above chin
        lm = face.landmarks
        assert lm[INDEX["right_eye_center"], 0] < lm[INDEX["left_eye_center"], 0]
        assert lm[INDEX["right_brow_center"], 1] < lm[INDEX["right_eye_center"], 1]
        assert lm[INDEX["right_eye_center"], 1] < lm[INDEX["mouth_center"], 1] < lm[INDEX["chin"], 1]
        x0, y0, x1, y1 = face.box
        assert x0 < lm[INDEX["nose_tip"], 0] < x1 and y0 < lm[INDEX["nose_tip"], 1] < y1
        # largest first
        assert [f.area for f in faces] == sorted((f.area for f in faces), reverse=True)


def test_mediapipe_mapping_is_mirror_consistent(helen, mediapipe_backend):
    """Flipping the image must give the same points with left/right names swapped."""
    path, image, pts68 = helen[0]
    face = best_face(mediapipe_backend.detect(image), pts68)
    flipped = np.ascontiguousarray(image[:, ::-1])
    faces = mediapipe_backend.detect(flipped)
    assert faces
    back = faces[0].landmarks[mirror_permutation()]
    back[:, 0] = (image.shape[1] - 1) - back[:, 0]
    iod = np.linalg.norm(pts68[36] - pts68[45])
    assert np.linalg.norm(back - face.landmarks, axis=1).mean() / iod < 0.03


def test_mediapipe_crop_and_retry_finds_small_face(helen, mediapipe_backend):
    path, image, pts68 = helen[0]
    scale, ox, oy = 0.3, 900, 700
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((1600, 1600, 3), 128, np.uint8)
    canvas[oy : oy + small.shape[0], ox : ox + small.shape[1]] = small
    pts_canvas = (
        (pts68 + 0.5) * [small.shape[1] / image.shape[1], small.shape[0] / image.shape[0]] - 0.5 + [ox, oy]
    )

    no_retry = base.get_backend("mediapipe", retry=False)
    try:
        assert no_retry.detect(canvas) == []  # FaceMesh alone misses a 130 px face in 1600 px
    finally:
        no_retry.close()
    faces = mediapipe_backend.detect(canvas)
    face = best_face(faces, pts_canvas)
    assert face.extra["found_by"] == "full-range-crop"
    assert 0 < face.score <= 1
    assert nme(face.landmarks, pts_canvas) < 0.1


def test_dlib_scores_and_ibug_points(helen, dlib_backend):
    path, image, pts68 = helen[1]
    face = best_face(dlib_backend.detect(image), pts68)
    assert np.isfinite(face.score)
    np.testing.assert_allclose(from_ibug68(face.extra["ibug68"]), face.landmarks)


@pytest.mark.parametrize("backend_name", ["mediapipe", "dlib", "animeface"])
def test_no_face_gives_empty_list(backend_name, request):
    backend = request.getfixturevalue(f"{backend_name.replace('animeface', 'anime')}_backend")
    gray = np.full((256, 256, 3), 127, np.uint8)
    gradient = np.repeat(np.linspace(0, 255, 320, dtype=np.uint8)[None, :, None], 240, axis=0).repeat(
        3, axis=2
    )
    assert backend.detect(gray) == []
    assert backend.detect(np.ascontiguousarray(gradient)) == []


def test_anime_backend_geometry(shared_data, anime_backend):
    paths = list_images(shared_data / "styles" / "anime")[:4]
    for path in paths:
        image = load_image(path)
        faces = anime_backend.detect(image, path)
        assert faces, path.name
        face = faces[0]
        lm = face.landmarks
        assert face.backend == "animeface" and 0.5 <= face.score <= 1.0
        # the subject's right eye is on the image's left
        assert lm[INDEX["right_eye_center"], 0] < lm[INDEX["left_eye_center"], 0]
        assert lm[INDEX["right_eye_outer"], 0] < lm[INDEX["right_eye_inner"], 0]
        assert lm[INDEX["left_eye_inner"], 0] < lm[INDEX["left_eye_outer"], 0]
        assert lm[INDEX["mouth_right"], 0] < lm[INDEX["mouth_left"], 0]
        # eyes above the nose tip, above the mouth, above the chin
        eyes_y = max(lm[INDEX["right_eye_center"], 1], lm[INDEX["left_eye_center"], 1])
        assert eyes_y < lm[INDEX["nose_tip"], 1] < lm[INDEX["mouth_center"], 1] < lm[INDEX["chin"], 1]
        # what animeface cannot give is missing, not invented
        for name in ("right_brow_center", "nose_bridge", "jaw_left", "cheek_right"):
            assert np.isnan(lm[INDEX[name]]).all()
        present = lm[face.mask]
        h, w = image.shape[:2]
        assert (
            (present >= -0.5).all() and (present[:, 0] <= w - 0.5).all() and (present[:, 1] <= h - 0.5).all()
        )


def test_anime_backend_maps_coordinates_back_from_pyramid(shared_data, anime_backend):
    """The same drawing at twice the size gives the same points, twice as far from the origin."""
    path = list_images(shared_data / "styles" / "anime")[0]
    image = load_image(path)
    big = cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    a = anime_backend.detect(image)[0].landmarks
    b = anime_backend.detect(big)[0].landmarks
    eye_dist = np.linalg.norm(a[INDEX["right_eye_center"]] - a[INDEX["left_eye_center"]])
    err = np.nanmean(np.linalg.norm((b + 0.5) / 2 - 0.5 - a, axis=1))
    assert err < 0.15 * eye_dist


def test_anime_backend_refuses_pillow_12(monkeypatch):
    import PIL

    monkeypatch.setattr(PIL, "__version__", "12.0.0")
    with pytest.raises(BackendUnavailableError, match="Pillow"):
        base.get_backend("animeface")


def test_chain_first_non_empty_result_wins(helen, shared_data):
    path, image, pts68 = helen[0]
    chain = BackendChain(["file", "mediapipe"])
    faces = chain.detect(image, path)
    assert [f.backend for f in faces] == ["file"]
    np.testing.assert_allclose(faces[0].landmarks, from_ibug68(pts68))
    selfie = list_images(shared_data / "photos" / "selfie")[0]
    faces = chain.detect(load_image(selfie), selfie)  # no landmark file: falls through
    assert faces and faces[0].backend == "mediapipe"
    # without a path the file backend cannot run and is skipped
    assert chain.detect(image)[0].backend == "mediapipe"
    chain.close()


def test_build_backend_specs(monkeypatch):
    assert parse_spec("auto") == list(AUTO)
    assert parse_spec(" mediapipe , dlib,mediapipe") == ["mediapipe", "dlib"]
    assert build_backend("file").name == "file"
    chain = build_backend("file,animeface")
    assert isinstance(chain, BackendChain) and chain.name == "file,animeface"
    with pytest.raises(BackendUnavailableError, match="unknown landmark backend"):
        build_backend("mediapipe,nope")
    with pytest.raises(BackendUnavailableError):
        build_backend("")

    monkeypatch.setitem(base.BACKENDS, "broken", "geostyle.no_such_module:Backend")
    with pytest.warns(RuntimeWarning, match="broken"):
        chain = build_backend("broken,file")
    assert chain.skipped == ["broken"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(BackendUnavailableError, match="broken"):
            build_backend("broken")


def test_draw_landmarks_marks_points_and_skips_missing():
    image = np.zeros((40, 60, 3), np.uint8)
    pts = np.array([[10.0, 20.0], [np.nan, np.nan], [50.0, 5.0]])
    out = draw_landmarks(image, pts, color=(255, 0, 0), radius=2)
    assert image.sum() == 0  # input untouched
    assert tuple(out[20, 10]) == (255, 0, 0) and tuple(out[5, 50]) == (255, 0, 0)
    assert out[:, 20:45].sum() == 0  # nothing drawn elsewhere
    colored = draw_landmarks(image, pts, color=[(255, 0, 0), (0, 0, 0), (0, 0, 255)], radius=1)
    assert tuple(colored[5, 50]) == (0, 0, 255)
