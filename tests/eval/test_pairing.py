"""Photo <-> truth pairing by file stem and by CSV; a missing partner is counted, never an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from geostyle.errors import GeostyleError
from geostyle.eval.pairing import (
    cuhk_truth_stem,
    load_pairing,
    pair_by_stem,
    pairs_from_csv,
    read_pairs_csv,
    write_cuhk_pairs,
)

REPO = Path(__file__).resolve().parents[2]


def _touch(folder: Path, *names: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        (folder / name).write_bytes(b"x")
        paths.append(folder / name)
    return paths


def test_pair_by_stem(tmp_path):
    photos = _touch(tmp_path / "p", "f-039-01.jpg", "f-039.jpg", "a.png", "b_1.jpg", "lonely.jpg")
    _touch(tmp_path / "t", "f-039-01-sz1.jpg", "f-039-x.jpg", "a.jpg", "a-v2.jpg", "b_1_drawn.png", "zzz.jpg")
    pairing = pair_by_stem(photos, tmp_path / "t")
    names = {k: v.name for k, v in pairing.truth.items()}
    # The longest photo stem owns a truth; an exact stem beats a suffixed one; "_" works like "-".
    assert names == {
        "f-039-01": "f-039-01-sz1.jpg",
        "f-039": "f-039-x.jpg",
        "a": "a.jpg",
        "b_1": "b_1_drawn.png",
    }
    assert pairing.missing == ["lonely"]
    assert load_pairing(tmp_path / "t", photos).truth == pairing.truth


def test_pairs_from_csv_with_missing_partner(tmp_path):
    photos = _touch(tmp_path / "p", "f-005-01.jpg", "m-034-01.jpg", "x.jpg", "y.jpg")
    _touch(tmp_path / "t", "F2-005-01-sz1.jpg", "M2-034-01-sz1.png")
    _touch(tmp_path / "csvdir" / "deep", "y_truth.jpg")
    csv = tmp_path / "csvdir" / "pairs.csv"
    csv.write_text(
        "# comment\nphoto,truth\nf-005-01.jpg,F2-005-01-sz1\nm-034-01,M2-034-01-sz1.png\n"
        "x,no-such-drawing\ny,deep/y_truth.jpg\n"
    )
    pairing = pairs_from_csv(csv, photos, tmp_path / "t")
    assert {k: v.name for k, v in pairing.truth.items()} == {
        "f-005-01": "F2-005-01-sz1.jpg",
        "m-034-01": "M2-034-01-sz1.png",
        "y": "y_truth.jpg",  # a path relative to the CSV's folder
    }
    assert pairing.missing == ["x"]
    assert pairing.to_json() == {"source": str(csv), "pairs": 3, "missing": ["x"]}


def test_bad_csv_and_bad_spec(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("photo,truth\nonly-one-column\n")
    with pytest.raises(GeostyleError, match="bad.csv:2"):
        read_pairs_csv(bad)
    with pytest.raises(GeostyleError, match="--pairs"):
        load_pairing(tmp_path / "absent.csv", [])


def test_cuhk_rule_and_committed_csv(shared_data, tmp_path):
    assert cuhk_truth_stem("f-005-01") == "F2-005-01-sz1"
    assert cuhk_truth_stem("m-034-01") == "M2-034-01-sz1"
    with pytest.raises(GeostyleError):
        cuhk_truth_stem("x-1")
    out = tmp_path / "cuhk.csv"
    assert write_cuhk_pairs(shared_data / "styles/sketch_cuhk", out) == 88
    assert out.read_text() == (REPO / "docs/eval/cuhk_pairs.csv").read_text()
    photos = sorted((shared_data / "styles/sketch_cuhk/photo").glob("*.jpg"))
    pairing = pairs_from_csv(out, photos, shared_data / "styles/sketch_cuhk/sketch")
    assert len(pairing.truth) == 88 and not pairing.missing
