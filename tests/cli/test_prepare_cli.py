"""``geostyle prepare`` through the real command dispatcher, real selfies, real detectors."""

from __future__ import annotations

import shutil

import pytest

from geostyle.cli.main import main
from geostyle.data.manifest import load_manifest

SELFIES = ("female_13582.jpg", "female_10911.jpg", "female_10057.jpg")


@pytest.fixture()
def src(tmp_path, shared_data):
    folder = tmp_path / "src"
    folder.mkdir()
    for name in SELFIES:
        shutil.copy(shared_data / "photos" / "selfie" / name, folder / name)
    (folder / "zz_broken.jpg").write_text("not a jpeg")
    return folder


def test_prepare_cli(tmp_path, src, capsys):
    out = tmp_path / "ds"
    code = main(
        [
            "prepare",
            str(src),
            "--out",
            str(out),
            "--size",
            "96",
            "--zoom",
            "1.2",
            "--limit",
            "3",
            "--no-progress",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "ok 3" in captured.out and "3 processed" in captured.out
    m = load_manifest(out)
    assert (m.size, m.zoom, m.domain, len(m.items)) == (96, 1.2, "photo", 3)
    assert (out / "contact_sheet.png").is_file()
    # without --limit the broken file is reached and counted; the rest is skipped
    assert (
        main(["prepare", str(src), "--out", str(out), "--size", "96", "--zoom", "1.2", "--no-progress"]) == 0
    )
    captured = capsys.readouterr()
    assert "unreadable 1" in captured.out and "1 processed, 3 skipped" in captured.out
    assert load_manifest(out).summary["unreadable"] == 1


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--backend", "nosuchdetector"], "nosuchdetector"),
        (["--zoom", "0"], "zoom"),
        (["--domain", "style", "--size", "96"], "domain=photo"),  # continuing a photo dataset as style
    ],
)
def test_prepare_cli_errors_are_one_line(tmp_path, src, capsys, extra, message):
    out = tmp_path / "ds"
    if "--domain" in extra:
        assert (
            main(["prepare", str(src), "--out", str(out), "--size", "96", "--limit", "1", "--no-progress"])
            == 0
        )
        capsys.readouterr()
    assert main(["prepare", str(src), "--out", str(out), "--no-progress", *extra]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("geostyle prepare: error:") and message in err and "\n" not in err


def test_prepare_cli_missing_source(tmp_path, capsys):
    code = main(["prepare", str(tmp_path / "nope"), "--out", str(tmp_path / "ds")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err == f"geostyle prepare: error: {tmp_path / 'nope'}: no such folder"
    assert not (tmp_path / "ds").exists()


def test_prepare_cli_needs_out(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["prepare", str(tmp_path)])
    assert info.value.code == 2 and "--out" in capsys.readouterr().err
