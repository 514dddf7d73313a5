"""Landmark NME and dlib identity scores: known answers."""

from __future__ import annotations

import numpy as np
import pytest

from geostyle.data.images import load_image
from geostyle.eval.geometry import landmark_nme
from geostyle.eval.identity import FaceEmbedder, identity_per_output, identity_scores
from geostyle.eval.run import Tally, identity_per_photo
from geostyle.faces.landmarks import INDEX, from_ibug68


def test_nme_known_shift(shared_data):
    pts = from_ibug68(
        np.loadtxt(next((shared_data / "landmarks/helen").glob("*.pts")), skiprows=3, max_rows=68)
    )
    eye = np.linalg.norm(pts[INDEX["right_eye_outer"]] - pts[INDEX["left_eye_outer"]])
    moved = pts + np.array([0.6, 0.8]) * 0.1 * eye  # every point moves by 0.1 eye distances
    assert landmark_nme(moved, pts) == pytest.approx(0.1)
    assert landmark_nme(pts, pts) == 0.0
    half = moved.copy()
    half[::2] = np.nan  # missing points are left out, not counted as errors
    assert landmark_nme(half, pts) == pytest.approx(0.1)
    assert landmark_nme(np.full_like(pts, np.nan), pts) is None


def test_identity_scores_known_answers():
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(6, 128))
    assert identity_scores(inputs, inputs) == (0.0, 1.0)
    swapped = inputs[[1, 0, 2, 3, 4, 5]]
    dist, rank1 = identity_scores(swapped, inputs)
    assert rank1 == pytest.approx(4 / 6) and dist > 0
    # outputs made from a subset of the inputs, retrieved among all of them
    assert identity_scores(inputs[[2, 4]], inputs, np.array([2, 4])) == (0.0, 1.0)


def test_identity_per_output_names_the_misses():
    rng = np.random.default_rng(1)
    inputs = rng.normal(size=(5, 128))
    outputs = inputs[[1, 0, 2, 3, 4]].copy()  # outputs 0 and 1 look like each other's input
    outputs[3] += 0.01  # near its own input, not on it
    dist, hit = identity_per_output(outputs, inputs)
    assert hit.tolist() == [False, False, True, True, True]
    assert dist[0] == pytest.approx(np.linalg.norm(inputs[1] - inputs[0]))
    assert dist[2] == 0.0 and dist[3] == pytest.approx(0.01 * np.sqrt(128))
    # the rates are the means of the per-output values
    assert identity_scores(outputs, inputs) == (pytest.approx(dist.mean()), pytest.approx(0.6))


def test_identity_per_photo_lands_in_each_photos_record():
    rng = np.random.default_rng(2)
    inputs = list(rng.normal(size=(4, 128)))  # all evaluated photos; the row has outputs of 1, 2, 3
    crops_in = list(rng.normal(size=(3, 128)))
    tally = Tally(
        emb=[inputs[1], inputs[3] + 0.01, inputs[3]],  # photo "b"'s output looks like photo "c"
        emb_crop=[crops_in[0], crops_in[1], crops_in[0]],  # "c"'s crop looks like "a"'s source crop
        input_crop=crops_in,
        own=[1, 2, 3],
        per_image=[{"photo": "a"}, {"photo": "b"}, {"photo": "c"}],
    )
    rates = identity_per_photo(tally, inputs)
    records = {r["photo"]: r for r in tally.per_image}
    assert [records[k]["identity_hit"] for k in "abc"] == [True, False, True]
    assert records["b"]["identity_distance"] == pytest.approx(np.linalg.norm(inputs[3] + 0.01 - inputs[2]))
    assert records["a"]["identity_distance"] == 0.0
    assert [records[k]["identity_hit_crop"] for k in "abc"] == [True, True, False]
    assert rates["identity_rank1"] == pytest.approx(2 / 3) and rates["identity_rank1_crop"] == pytest.approx(2 / 3)


@pytest.fixture(scope="module")
def embedder():
    return FaceEmbedder()


def test_rank1_is_one_when_outputs_are_inputs(embedder, shared_data):
    photos = [load_image(p) for p in sorted((shared_data / "styles/sketch_cuhk/photo").glob("*.jpg"))[:5]]
    boxes = [embedder.face_box(p) for p in photos]
    assert all(b is not None for b in boxes)
    emb = np.stack([embedder.embed(p, b) for p, b in zip(photos, boxes)])
    assert emb.shape == (5, 128)
    dist, rank1 = identity_scores(emb, emb)
    assert dist == 0.0 and rank1 == 1.0
    # a slightly blurred copy is still nearest to its own photo, and nearer than other people are
    from scipy.ndimage import gaussian_filter

    blurred = [np.clip(gaussian_filter(p.astype(float), (1, 1, 0)), 0, 255).astype(np.uint8) for p in photos]
    emb_blur = np.stack([embedder.embed(p, b) for p, b in zip(blurred, boxes)])
    dist_blur, rank1_blur = identity_scores(emb_blur, emb)
    others = np.linalg.norm(emb[:, None] - emb[None], axis=-1)[np.triu_indices(5, 1)]
    assert rank1_blur == 1.0 and 0 < dist_blur < others.min()
