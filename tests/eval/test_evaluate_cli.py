"""End to end: ``geostyle evaluate`` with a tiny real release checkpoint on a handful of real photos,
including a photo without a face and a corrupt file (counted and named, never fatal)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from geostyle.errors import GeostyleError
from geostyle.eval.run import ROW_KEYS, select, style_kind, trained_on

from .conftest import make_tiny_model

REPO = Path(__file__).resolve().parents[2]
TOP_KEYS = {
    "kid", "kid_std", "fid", "anime_rate", "identity_rank1", "identity_distance", "landmark_nme",
    "detection_rate", "ssim", "lpips", "feature_distance", "n_outputs", "model", "style_images",
    "anime_rate_crop", "identity_rank1_crop", "baselines",
}  # fmt: skip


@pytest.fixture(scope="module")
def report(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("eval")
    cuhk = shared_data / "styles/sketch_cuhk"
    photos, styles = root / "photos", root / "styles"
    photos.mkdir()
    styles.mkdir()
    for stem in ("f-005-01", "f-006-01", "f-007-01", "m-034-01"):
        shutil.copy(cuhk / "photo" / f"{stem}.jpg", photos)
    Image.fromarray(np.full((120, 100, 3), 90, np.uint8)).save(photos / "noface.png")
    (photos / "corrupt.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    for stem in ("F2-008-01-sz1", "F2-009-01-sz1", "F2-010-01-sz1", "M2-035-01-sz1", "M2-036-01-sz1"):
        shutil.copy(cuhk / "sketch" / f"{stem}.jpg", styles)
    model = root / "tiny.safetensors"
    make_tiny_model(model, shared_data, {"trained_on": {"photos": ["f-007-01"], "styles": ["F2-008-01-sz1"]}})
    other = root / "other.safetensors"
    make_tiny_model(other, shared_data, seed=1)
    from geostyle.cli.main import main

    out = root / "report"
    code = main(
        [
            "evaluate", "--model", str(model), "--photos", str(photos), "--styles", str(styles),
            "--pairs", str(REPO / "docs/eval/cuhk_pairs.csv"), "--truth-dir", str(cuhk / "sketch"),
            "--out", str(out), "--compare", str(other), "--cache-dir", str(root / "cache"), "--speed-repeats", "0",
            "--kid-subsets", "5", "--no-progress", "--threads", "1",
        ]
    )  # fmt: skip
    assert code == 0
    return out, json.loads((out / "metrics.json").read_text())


def test_metrics_json_keys_and_rows(report):
    _, m = report
    assert TOP_KEYS <= set(m)
    assert set(m["baselines"]) == {"compare", "photo", "grayscale", "pencil", "cartoon", "style_images"}
    assert m["baselines"]["compare"]["model"].endswith("other.safetensors")
    assert m["baselines"]["compare"]["kid"] != m["kid"]  # another generator, other outputs
    for row in m["baselines"].values():
        assert set(ROW_KEYS) <= set(row)
    assert m["kind"] == "other" and m["anime_rate"] is None  # not an anime style
    assert m["n_outputs"] == 3 and m["style_images"] == 4
    assert m["speed"]["model"]["params"] > 0 and m["speed"]["model"]["gflops"] > 0


def test_failures_are_counted_and_named(report):
    _, m = report
    failed = {f["photo"]: f["reason"] for f in m["failures"]}
    assert failed == {"noface.png": "NoFaceError", "corrupt.jpg": "ImageReadError"}
    assert m["inputs"]["photos_failed"] == 2 and m["inputs"]["photos_evaluated"] == 3


def test_trained_on_files_are_excluded(report):
    out, m = report
    assert m["inputs"]["excluded_trained"] == {"photos": 1, "styles": 1}
    assert "f-007-01" not in m["photos_evaluated"]
    assert not (out / "outputs/full/f-007-01.png").exists()


def test_include_trained_keeps_the_named_set_only(report):
    """``--include-trained photos`` keeps the photos the model learnt and still leaves its exemplars
    out; ``styles`` the other way round (a few-shot set has no held-out exemplars); alone, both."""
    from dataclasses import replace

    from geostyle.eval.run import EvalOptions, Evaluation

    root = report[0].parent
    ev = Evaluation(EvalOptions(model=str(root / "tiny.safetensors"), photos=root / "photos", styles=root / "styles", out=root / "unused", threads=1))

    def kept(include: str) -> tuple[bool, bool, str]:
        ev.o = replace(ev.o, include_trained=include)
        photos, styles, note = ev.select_inputs()
        return "f-007-01" in {p.stem for p in photos.paths}, "F2-008-01-sz1" in {p.stem for p in styles.paths}, note

    assert kept("")[:2] == (False, False)
    photos_only = kept("photos")
    assert photos_only[:2] == (True, False) and photos_only[2].startswith("--include-trained photos")
    assert kept("styles")[:2] == (False, True)
    assert kept("all")[:2] == (True, True)
    with pytest.raises(GeostyleError, match="include_trained"):
        kept("exemplars")


def test_outputs_are_kept_per_input(report):
    out, m = report
    for stem in ("f-005-01", "f-006-01", "m-034-01"):
        full = np.asarray(Image.open(out / "outputs/full" / f"{stem}.png"))
        crop = np.asarray(Image.open(out / "outputs/crop" / f"{stem}.png"))
        assert full.shape == (250, 200, 3) and crop.shape == (128, 128, 3)
        assert (out / "outputs/compare/full" / f"{stem}.png").is_file()
    assert (out / "report.md").read_text().count("|") > 40
    assert Image.open(out / "contact_sheet.jpg").size[0] > 5 * 192


def test_report_names_the_part_gains(report):
    """The settings line shows the gains the stylizer used (a model's own face shape included)."""
    from geostyle.eval.report import markdown

    _, m = report
    assert "part gains" not in markdown(m)  # the tiny model has none
    gains = {"right_eye": 2.0, "left_eye": 2.0, "outline": 1.857142857}
    shaped = markdown({**m, "settings": {**m["settings"], "part_gains": gains}})
    assert f"- geometry strength {m['settings']['strength']:g} (part gains eyes 2, outline 1.857)" in shaped


def test_report_names_the_drawings(report):
    """The settings line names each drawing the model drew, the anime skin among them, and the
    generator's filters (dark colour and depth, lift cap, cleared light marks)."""
    from geostyle.eval.report import markdown

    _, m = report
    assert m["settings"]["skin"] == 0.0 and "anime skin" not in markdown(m)  # the tiny model draws none
    assert m["settings"]["dark_colour"] == 0.0 and "dark colour" not in markdown(m)
    assert m["settings"]["dark_depth"] == 0.0 and "dark depth" not in markdown(m)
    assert m["settings"]["lift_cap"] == 0.0 and "lift cap" not in markdown(m)
    assert m["settings"]["clear_marks"] == 0.0 and "light marks" not in markdown(m)
    drawn = markdown({**m, "settings": {**m["settings"], "eyes": 1.0, "skin": 0.5, "outline": 1.0}})
    assert ", anime eyes 1, anime skin 0.5, outline 1" in drawn
    assert m["settings"]["ink_grain"] == 8.0  # the default, named only where the model inks
    settings = {"ink": 1.0, "dark_colour": 1.0, "dark_depth": 0.6, "lift_cap": 32, "clear_marks": 1.0}
    kept = markdown({**m, "settings": {**m["settings"], **settings}})
    assert ", ink 1 (grain smoothed at 8 levels), dark colour 1, dark depth 0.6, lift cap 32, light marks cleared 1" in kept
    raw = markdown({**m, "settings": {**m["settings"], **settings, "ink_grain": 0.0}})
    assert ", ink 1, dark colour 1" in raw
    assert m["settings"]["smooth_head"] == 0.0 and "checkerboard" not in markdown(m)
    smoothed = markdown({**m, "settings": {**m["settings"], **settings, "smooth_head": 1.0}})
    assert "light marks cleared 1, head's checkerboard smoothed 1" in smoothed


def test_known_answers_of_the_baselines(report):
    _, m = report
    photo = m["baselines"]["photo"]
    # The photo baseline's outputs are its inputs: identity is perfect.
    assert photo["identity_rank1"] == 1.0 and photo["identity_distance"] == 0.0
    assert photo["identity_rank1_crop"] == 1.0
    assert m["pairs"]["pairs"] == 3 and m["pairs"]["missing"] == ["corrupt", "noface"]  # not in the CSV
    # Against the artists' drawings: grayscale is closer in structure than the colour photo is far.
    for name in ("photo", "grayscale", "pencil"):
        assert 0 < m["baselines"][name]["ssim"] < 1
    assert m["ssim"] is not None and m["lpips"] is not None and m["feature_distance"] is not None
    assert m["baselines"]["style_images"]["identity_rank1"] is not None  # artists' sketches vs photos
    assert m["baselines"]["photo"]["detection_rate"] == 1.0
    # Each photo's own identity result is kept, and the rates are their means, row by row.
    photo_images = m["per_image"]["photo"]
    assert [r["identity_hit"] for r in photo_images] == [True] * 3
    assert [r["identity_distance"] for r in photo_images] == [0.0] * 3
    for name, images in m["per_image"].items():
        row = m if name == "model" else m["baselines"][name]
        assert [r["photo"] for r in images] == m["photos_evaluated"]
        assert np.mean([r["identity_hit"] for r in images]) == pytest.approx(row["identity_rank1"])
        assert np.mean([r["identity_hit_crop"] for r in images]) == pytest.approx(row["identity_rank1_crop"])
        assert np.mean([r["identity_distance"] for r in images]) == pytest.approx(row["identity_distance"], abs=1e-6)


def test_selection_rules(tmp_path):
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg"):
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / name)
    sel = select(tmp_path, trained={"b"}, listed={"c"}, skip=1, n=1)
    assert [p.name for p in sel.paths] == ["d.jpg"]
    assert sel.excluded_trained == ["b"] and sel.excluded_listed == ["c"] and sel.found == 4
    with pytest.raises(GeostyleError, match="no photos left"):
        select(tmp_path, set(), set(), skip=4)
    assert trained_on({"extra": {}}) is None
    assert trained_on({"extra": {"trained_on": {"photos": ["x.jpg"], "styles": []}}}) == {
        "photos": ["x"],
        "styles": [],
    }
    assert style_kind({"config": {"name": "anime_v6"}}, None) == "anime"
    assert style_kind({"config": {"name": "anime"}}, "sketch") == "sketch"


def test_without_baselines_only_the_model_and_the_style_images_are_measured(report, tmp_path):
    """``EvalOptions(baselines=False)``: the model's numbers are those of the full run; no filter rows."""
    from geostyle.eval.run import EvalOptions, evaluate

    out, full = report
    cfg = json.loads((out / "metrics.json").read_text())["inputs"]
    root = Path(cfg["photos"]).parent
    lean = evaluate(
        EvalOptions(
            model=str(root / "tiny.safetensors"), photos=Path(cfg["photos"]), styles=Path(cfg["styles"]),
            out=tmp_path / "lean", cache_dir=root / "cache", speed_repeats=0, kid_subsets=5, progress=False,
            threads=1, baselines=False,
        )
    )  # fmt: skip
    assert set(lean["baselines"]) == {"style_images"}
    assert lean["identity_rank1"] == full["identity_rank1"] and lean["n_outputs"] == full["n_outputs"]
    assert lean["kid"] == pytest.approx(full["kid"], rel=1e-6)
