"""One training job, run detached from the server: ``python -m geostyle.serve.runner JOB_DIR``.

It runs the same CLI commands a user would type, in order, with their output in ``JOB_DIR/log.txt``:
``geostyle prepare`` on the job's photo and style folders (style landmarks: hand-fixed files first,
then the set's detectors), then ``geostyle train`` (``--resume`` when the run has a resume
checkpoint), then, when asked, ``geostyle evaluate`` on the finished model. Each step resumes or is
skipped when done, so starting the runner again after any interruption (server restart, reboot,
stop button) continues the job. The runner is the only writer of
``JOB_DIR/state.json``; the server only reads it. SIGTERM (the stop button) ends the current command
and records the job as stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from geostyle.serve.storage import read_json, write_json

ACTIVE = ("starting", "preparing", "training", "evaluating")
# What ``geostyle train --resume`` still lets change (execution details, and the length).
RESUME_OVERRIDES = ("train.threads", "train.device")


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "geostyle.cli.main", *args]


def commands(job: dict[str, Any], job_dir: Path) -> list[tuple[str, list[str]]]:
    """``(phase, command)`` pairs the job runs, in order.

    The style set is prepared here rather than by ``train``, with the hand-fixed landmark files first
    (``--backend file,<the set's detectors>``): ``train`` uses a prepared folder as it is.
    A resumed run continues exactly as it was saved; only its length (and the thread count) may change.
    """
    prep = job_dir / "prep"
    run_dir = job_dir / "run"
    steps = f"train.steps={int(job['steps'])}"
    overrides = list(job.get("overrides", []))
    if (run_dir / "resume.pt").is_file():
        kept = [o for o in overrides if o.split("=", 1)[0].strip() in RESUME_OVERRIDES]
        train = cli("train", "--preset", job["preset"], "--run-dir", str(run_dir), "--resume", "--set", steps)
        train += [arg for item in kept for arg in ("--set", item)] + ["--no-progress"]
        return [("training", train)]
    train = cli(
        "train",
        "--preset",
        job["preset"],
        "--photos",
        str(prep / "photos"),
        "--styles",
        str(prep / "styles"),
        "--run-dir",
        str(run_dir),
        "--set",
        steps,
        *[arg for item in overrides for arg in ("--set", item)],
        "--no-progress",
    )
    prepare_photos = cli(
        "prepare", job["photos_dir"], "--out", str(prep / "photos"), "--domain", "photo", "--no-progress"
    )
    prepare_styles = cli(
        "prepare",
        job["styles_dir"],
        "--out",
        str(prep / "styles"),
        "--domain",
        "style",
        "--backend",
        "file," + job["detector"],
        "--no-progress",
    )
    return [("preparing", prepare_photos), ("preparing", prepare_styles), ("training", train)]


def needs_evaluation(job: dict[str, Any], job_dir: Path) -> bool:
    """Evaluation was asked for and there is no report of the current model yet."""
    if not job.get("evaluate"):
        return False
    metrics = job_dir / "eval" / "metrics.json"
    model = job_dir / "run" / "model.safetensors"
    return not metrics.is_file() or metrics.stat().st_mtime < model.stat().st_mtime


def evaluate_command(job: dict[str, Any], job_dir: Path) -> list[str]:
    """``geostyle evaluate`` of the job's model beside the baselines, on the evaluation photos and the
    set's own exemplars (a few-shot set has no held-out style images, so the training files count)."""
    return cli(
        "evaluate",
        "--model",
        str(job_dir / "run" / "model.safetensors"),
        "--photos",
        job.get("eval_photos_dir") or job["photos_dir"],
        "--styles",
        job["styles_dir"],
        "--out",
        str(job_dir / "eval"),
        "--include-trained",
        "--n",
        str(int(job.get("eval_n", 24))),
        "--speed-repeats",
        "0",
        "--no-progress",
    )


def last_error(log_path: Path) -> str:
    """The CLI's one-line error (``geostyle X: error: ...``) from the end of the log, if any."""
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-200:]
    except OSError:
        return ""
    for line in reversed(lines):
        if ": error:" in line or line.startswith(("Traceback", "RuntimeError", "Error")):
            return line.strip()[:300]
    return ""


def finished(job: dict[str, Any], job_dir: Path) -> bool:
    """The run holds its final model at the requested length (nothing left to do)."""
    from geostyle.train.stats import read_stats

    run_dir = job_dir / "run"
    if not (run_dir / "model.safetensors").is_file() or not (run_dir / "stats.jsonl").is_file():
        return False
    records = read_stats(run_dir / "stats.jsonl")
    return bool(records) and int(records[-1].get("step", 0)) >= int(job["steps"])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    job_dir = Path(argv[0]).resolve()
    job = read_json(job_dir / "job.json")
    if not job:
        print(f"{job_dir}: no job.json", file=sys.stderr)
        return 2
    state_path = job_dir / "state.json"
    state: dict[str, Any] = {"pid": os.getpid(), "started": time.time(), "phase": "starting", "message": ""}

    def set_state(**values: Any) -> None:
        state.update(values, updated=time.time())
        write_json(state_path, state)

    child: list[subprocess.Popen] = []
    stopping = [False]

    def on_term(signum, frame) -> None:
        stopping[0] = True
        for proc in child:
            if proc.poll() is None:
                proc.terminate()

    signal.signal(signal.SIGTERM, on_term)
    with open(job_dir / "log.txt", "a", buffering=1, encoding="utf-8") as log:
        log.write(f"--- runner started {time.strftime('%Y-%m-%d %H:%M:%S')} (pid {os.getpid()})\n")

        def run(phase: str, command: list[str]) -> int:
            set_state(phase=phase)
            log.write("$ " + " ".join(command) + "\n")
            log.flush()
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            child[:] = [proc]
            return proc.wait()

        for phase, command in [] if finished(job, job_dir) else commands(job, job_dir):
            code = run(phase, command)
            if stopping[0]:
                set_state(phase="stopped", message="stopped by the user", returncode=code)
                return 0
            if code != 0:
                message = last_error(job_dir / "log.txt") or f"{phase} failed (exit status {code})"
                set_state(phase="failed", message=message, returncode=code)
                return 1
        if not finished(job, job_dir):
            set_state(phase="failed", message="training ended without a final model", returncode=1)
            return 1
        message = ""
        if needs_evaluation(job, job_dir):
            code = run("evaluating", evaluate_command(job, job_dir))
            if stopping[0]:
                set_state(phase="done", message="evaluation stopped", returncode=0)
                return 0
            if code != 0:
                message = "evaluation failed: " + (last_error(job_dir / "log.txt") or f"exit status {code}")
        set_state(phase="done", message=message, returncode=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
