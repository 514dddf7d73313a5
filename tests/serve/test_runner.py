"""The job runner's command lines and error reading (the end-to-end run is in test_train_page.py)."""

from __future__ import annotations

import os

from geostyle.serve.jobs import _alive
from geostyle.serve.runner import commands, last_error

JOB = {
    "preset": "anime",
    "steps": 40,
    "photos_dir": "/srv/photos",
    "styles_dir": "/data/styles/abc/images",
    "detector": "animeface,mediapipe",
    "overrides": ["train.log_every=1", "train.threads=1"],
}


def test_first_run_prepares_with_hand_fixed_landmarks_first(tmp_path):
    phases = commands(JOB, tmp_path)
    assert [p for p, _ in phases] == ["preparing", "preparing", "training"]
    prepare_styles = phases[1][1]
    assert prepare_styles[prepare_styles.index("--backend") + 1] == "file,animeface,mediapipe"
    assert prepare_styles[prepare_styles.index("--out") + 1] == str(tmp_path / "prep" / "styles")
    train = phases[2][1]
    assert train[train.index("--preset") + 1] == "anime" and "--resume" not in train
    assert train[train.index("--styles") + 1] == str(tmp_path / "prep" / "styles")
    sets = [train[i + 1] for i, a in enumerate(train) if a == "--set"]
    assert sets == ["train.steps=40", "train.log_every=1", "train.threads=1"]


def test_resume_continues_the_saved_run_changing_only_its_length(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "resume.pt").write_bytes(b"")
    ((phase, train),) = commands(JOB, tmp_path)
    assert phase == "training" and "--resume" in train
    assert "--photos" not in train and "--styles" not in train
    sets = [train[i + 1] for i, a in enumerate(train) if a == "--set"]
    assert sets == ["train.steps=40", "train.threads=1"]


def test_last_error_is_the_cli_line(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text(
        "step 1\nW0000 noise\ngeostyle train: error: /x/run: in use by a running trainer (pid 12)\n"
        "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
    )
    assert last_error(log) == "geostyle train: error: /x/run: in use by a running trainer (pid 12)"
    log.write_text("all fine\n")
    assert last_error(log) == ""
    assert last_error(tmp_path / "missing.txt") == ""


def test_a_process_that_is_not_this_jobs_runner_is_not_alive(tmp_path):
    assert not _alive(os.getpid(), tmp_path)  # pytest is alive, but it is not a runner of tmp_path
    assert not _alive(None, tmp_path)
    assert not _alive(2**22 + 12345, tmp_path)
