"""``geostyle stylize`` on files and folders: content-recognised inputs, predictable names, no
overwriting, one bad input never stops the others, exit status says whether any failed."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from geostyle.cli.main import main
from geostyle.data.images import load_image, save_image
from geostyle.video import probe_video
from geostyle.video.batch import plan

from .conftest import write_synthetic


def _tree(tmp_path, astronaut_path, talking_clip):
    root = tmp_path / "in"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    shutil.copy(astronaut_path, root / "astronaut.png")
    shutil.copy(astronaut_path, root / "sub" / "photo.mp4")  # an image with a video's name
    shutil.copy(talking_clip, root / "sub" / "deeper" / "clip.jpg")  # a video with an image's name
    shutil.copy(astronaut_path, root / "sub" / "astronaut.jpg")
    jpeg = tmp_path / "full.jpg"
    save_image(jpeg, load_image(astronaut_path))
    (root / "broken.jpg").write_bytes(jpeg.read_bytes()[:4000])  # a JPEG cut short
    (root / "empty.png").write_bytes(b"")
    (root / "notes.txt").write_text("ignored")
    shutil.copy(astronaut_path, root / ".hidden" / "skip.png")
    return root


def test_plan_names_outputs_predictably(tmp_path, astronaut_path, talking_clip):
    root = _tree(tmp_path, astronaut_path, talking_clip)
    (root / "astronaut.jpg").write_bytes(astronaut_path.read_bytes())  # same stem as astronaut.png
    jobs, ignored = plan([root], tmp_path / "out")
    names = {j.source.relative_to(root).as_posix(): (j.output.relative_to(tmp_path / "out").as_posix(), j.kind) for j in jobs}
    assert names == {
        "astronaut.jpg": ("astronaut.png", "image"),
        "astronaut.png": ("astronaut_png.png", "image"),
        "broken.jpg": ("broken.png", "image"),
        "empty.png": ("empty.png", None),
        "sub/astronaut.jpg": ("sub/astronaut.png", "image"),
        "sub/deeper/clip.jpg": ("sub/deeper/clip.mp4", "video"),
        "sub/photo.mp4": ("sub/photo.png", "image"),
    }
    assert [p.name for p in ignored] == ["notes.txt"]


def test_folder_run_continues_past_bad_inputs_and_never_overwrites(
    tiny_model, tmp_path, astronaut_path, talking_clip, capsys
):
    root = _tree(tmp_path, astronaut_path, talking_clip)
    out = tmp_path / "out"
    args = ["stylize", str(root), str(tmp_path / "absent.png"), "--model", str(tiny_model), "--out", str(out)]
    code = main(args + ["--runtime", "torch"])
    err = capsys.readouterr().err
    assert code == 1
    for name in ("broken.jpg: error: ", "empty.png: error: empty file", "absent.png: error: no such file"):
        assert name in err
    assert "4 done, 3 failed, 0 skipped, 1 other files ignored" in err
    photo = load_image(out / "astronaut.png")
    assert photo.shape == load_image(astronaut_path).shape
    assert load_image(out / "sub" / "photo.png").shape == photo.shape
    assert probe_video(out / "sub" / "deeper" / "clip.mp4").frames == 12
    assert not (out / ".hidden").exists() and not list(out.rglob(".*partial*"))
    # A rerun leaves existing outputs alone (reported as skipped) and only retries the failures.
    before = (out / "astronaut.png").stat().st_mtime_ns
    code = main(args[:2] + args[3:] + ["--runtime", "torch"])  # without the absent file
    err = capsys.readouterr().err
    assert "0 done, 2 failed, 4 skipped" in err and code == 1
    assert (out / "astronaut.png").stat().st_mtime_ns == before
    code = main(["stylize", str(root / "astronaut.png"), "--model", str(tiny_model), "--out", str(out), "--overwrite"])
    assert code == 0 and (out / "astronaut.png").stat().st_mtime_ns != before


def test_crop_mode_and_side_by_side(tiny_model, tmp_path, astronaut_path):
    out = tmp_path / "o"
    assert main(["stylize", str(astronaut_path), "--model", str(tiny_model), "--out", str(out), "--crop"]) == 0
    assert load_image(out / "astronaut.png").shape == (128, 128, 3)
    out2 = tmp_path / "o2"
    assert main(["stylize", str(astronaut_path), "--model", str(tiny_model), "--out", str(out2), "--side-by-side"]) == 0
    pair = load_image(out2 / "astronaut.png")
    original = load_image(astronaut_path)
    assert pair.shape == (512, 1024, 3) and np.array_equal(pair[:, :512], original)


def test_no_face_photo_and_video_pass_through_stylized(tiny_model, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    write_synthetic(src / "gradient.mp4", list(range(0, 400, 40)))
    save_image(src / "wall.png", np.full((120, 160, 3), 90, np.uint8))
    assert main(["stylize", str(src), "--model", str(tiny_model), "--out", str(tmp_path / "out")]) == 0
    assert load_image(tmp_path / "out" / "wall.png").shape == (120, 160, 3)
    assert probe_video(tmp_path / "out" / "gradient.mp4").frames == 10


def test_part_gain_option(tiny_model, tmp_path, astronaut_path, capsys):
    """``--part-gain eyes=3`` changes the stylized crop (the eyes move further); a malformed or
    unknown part is refused with a readable error before anything is written."""
    plain, gained = tmp_path / "plain", tmp_path / "gained"
    args = ["stylize", str(astronaut_path), "--model", str(tiny_model), "--crop", "--strength", "0.5"]
    assert main([*args, "--out", str(plain)]) == 0
    assert main([*args, "--out", str(gained), "--part-gain", "eyes=3"]) == 0
    a, b = (load_image(next(d.iterdir())) for d in (plain, gained))
    assert a.shape == b.shape and np.abs(a.astype(int) - b).mean() > 0.5
    with pytest.raises(SystemExit):
        main([*args, "--out", str(tmp_path / "bad"), "--part-gain", "eyes"])
    assert "PART=GAIN" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "ears"), "--part-gain", "ears=2"]) != 0
    assert "unknown face part" in capsys.readouterr().err


def test_reach_option(tiny_model, tmp_path, astronaut_path, capsys):
    """``--reach 1`` (training's pinned crop border) and the default give different whole frames
    only around the face (the astronaut's widened square ends above the bottom and left of the right
    edge); an out-of-range reach is refused with a readable error."""
    args = ["stylize", str(astronaut_path), "--model", str(tiny_model), "--strength", "1"]
    assert main([*args, "--out", str(tmp_path / "wide")]) == 0
    assert main([*args, "--out", str(tmp_path / "pinned"), "--reach", "1"]) == 0
    a, b = (load_image(next((tmp_path / d).iterdir())).astype(int) for d in ("wide", "pinned"))
    changed = np.abs(a - b).max(-1) > 8
    assert changed.mean() > 0.01  # the warp moved more than the crop
    assert not changed[-60:].any() and not changed[:, -60:].any()  # far from the face: the same pass
    assert main([*args, "--out", str(tmp_path / "bad"), "--reach", "0.5"]) != 0
    assert "reach must be between 1 and 4" in capsys.readouterr().err
