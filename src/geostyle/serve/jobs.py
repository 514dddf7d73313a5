"""Training jobs: each a folder of the data dir, run by a detached :mod:`geostyle.serve.runner`.

The runner is started in its own session, so it outlives the server (and a closed page); its
progress is read from files the trainer writes anyway (``run/stats.jsonl``, ``run/samples/``,
``run/model.safetensors``). When the server starts it looks for jobs that were active but whose
runner is gone (server or machine restarted, process killed) and starts them again: the runner
resumes from the job's checkpoints. A job never has two runners: starting one checks the recorded
runner first; if the trainer itself refuses (another trainer holds the run), that one-line error is
the job's message.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from geostyle.errors import GeostyleError
from geostyle.serve.annotate import DEFAULT_DETECTOR, ImageSets
from geostyle.serve.runner import ACTIVE
from geostyle.serve.storage import DataDir, NotFoundError, check_id, read_json, write_json

MAX_STEPS = 1_000_000
BUILTIN = "builtin:"
SERIES_POINTS = 120
# (metrics.json key, column title) shown beside the baselines; columns without any number are left out.
METRICS = (
    ("kid", "KID×1000"),
    ("fid", "FID"),
    ("anime_rate", "anime-face rate"),
    ("identity_rank1", "identity rank-1"),
    ("identity_distance", "identity distance"),
    ("landmark_nme", "landmark NME"),
    ("ssim", "SSIM"),
    ("lpips", "LPIPS"),
)
BASELINE_NAMES = {
    "photo": "photo (input)",
    "grayscale": "grayscale",
    "pencil": "pencil filter",
    "cartoon": "cartoon filter",
    "style_images": "style images themselves",
}
# Detector chatter that says nothing to a user watching the log.
_NOISE = ("W0000", "I0000", "INFO: Created TensorFlow", "WARNING: All log messages")


class JobError(GeostyleError):
    """A training job cannot be created or started as asked."""


def presets() -> list[str]:
    """The training presets ``geostyle train --preset NAME`` knows that train a style set from scratch
    (not the distillation presets, whose teacher must have learnt these very styles)."""
    from geostyle.train.presets import available_presets, needs_teacher

    return [name for name in available_presets() if not needs_teacher(name)]


def _alive(pid: int | None, job_dir: Path) -> bool:
    """Is ``pid`` this job's runner (not a dead, reaped or recycled process id)?"""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        return False
    return b"geostyle.serve.runner" in cmdline and str(job_dir).encode() in cmdline


class Jobs:
    def __init__(
        self,
        data: DataDir,
        styles: ImageSets,
        photos: ImageSets,
        builtin_photos: dict[str, Path] | None = None,
        overrides: list[str] | None = None,
        eval_n: int = 24,
    ) -> None:
        self.data = data
        self.styles = styles
        self.photos = photos
        self.builtin_photos = {k: Path(v).resolve() for k, v in (builtin_photos or {}).items()}
        self.overrides = list(overrides or [])
        self.eval_n = int(eval_n)
        self._procs: dict[str, subprocess.Popen] = {}
        self._guard = threading.Lock()

    # ------------------------------------------------------------------------------------- sources
    def photo_sets(self) -> list[dict[str, Any]]:
        from geostyle.data.images import list_images

        out = [
            {"id": BUILTIN + name, "name": f"{name} (server folder)", "count": len(list_images(path))}
            for name, path in self.builtin_photos.items()
        ]
        return out + [{"id": m["id"], "name": m["name"], "count": m["count"]} for m in self.photos.list()]

    def _photo_dir(self, ref: str) -> Path:
        if ref.startswith(BUILTIN):
            path = self.builtin_photos.get(ref[len(BUILTIN) :])
            if path is None:
                raise NotFoundError(f"no such photo set: {ref[:60]!r}")
            return path
        return self.photos.folder(check_id(ref)) / "images"

    # --------------------------------------------------------------------------------------- create
    def create(
        self, style_set: str, photo_set: str, preset: str, steps: int, name: str = ""
    ) -> dict[str, Any]:
        from geostyle.data.images import list_images
        from geostyle.serve.uploads import display_name

        known = presets()
        if preset not in known:
            raise JobError(f"unknown preset {str(preset)[:40]!r}; choose from {', '.join(known) or 'none'}")
        try:
            steps = int(steps)
        except (TypeError, ValueError):
            raise JobError("steps must be a whole number") from None
        if not 1 <= steps <= MAX_STEPS:
            raise JobError(f"steps must be between 1 and {MAX_STEPS}")
        style_meta = self.styles.meta(check_id(style_set))
        if style_meta["count"] < 2:
            raise JobError("the style set needs at least 2 exemplars")
        photos_dir = self._photo_dir(photo_set)
        if len(list_images(photos_dir)) < 2:
            raise JobError("the photo set needs at least 2 photos")
        job_id, folder = self.data.create("jobs")
        job = {
            "id": job_id,
            "name": display_name(name)[:60] if name else f"{style_meta['name']} ({preset})",
            "created": time.time(),
            "preset": preset,
            "steps": steps,
            "style_set": style_set,
            "photo_set": photo_set,
            # Absolute folders, so the runner needs nothing from the server's command line.
            "styles_dir": str(self.styles.folder(style_set) / "images"),
            "photos_dir": str(photos_dir),
            "detector": style_meta.get("detector", DEFAULT_DETECTOR),
            "overrides": self.overrides,
        }
        write_json(folder / "job.json", job)
        self.start(job_id)
        return self.status(job_id)

    # ------------------------------------------------------------------------------------ lifecycle
    def _runner_pid(self, folder: Path) -> int | None:
        return read_json(folder / "runner.json", {}).get("pid")

    def alive(self, job_id: str) -> bool:
        folder = self.data.folder("jobs", job_id)
        proc = self._procs.get(job_id)
        if proc is not None and proc.poll() is not None:
            self._procs.pop(job_id, None)  # reap: a finished child must not linger as a zombie
        return _alive(self._runner_pid(folder), folder)

    def start(self, job_id: str) -> None:
        folder = self.data.folder("jobs", job_id)
        with self._guard:
            if self.alive(job_id):
                raise JobError("this job is already running")
            write_json(folder / "state.json", {"phase": "starting", "updated": time.time(), "message": ""})
            log = open(folder / "log.txt", "a", encoding="utf-8")
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "geostyle.serve.runner", str(folder)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # outlives the server; its own process group for "stop"
                    cwd=str(folder),
                )
            finally:
                log.close()
            self._procs[job_id] = proc
            write_json(folder / "runner.json", {"pid": proc.pid, "started": time.time()})

    def stop(self, job_id: str) -> dict[str, Any]:
        folder = self.data.folder("jobs", job_id)
        if not self.alive(job_id):
            raise JobError("this job is not running")
        pid = self._runner_pid(folder)
        assert pid is not None
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.time() + 20
        while time.time() < deadline and self.alive(job_id):
            time.sleep(0.1)
        return self.status(job_id)

    def resume(self, job_id: str, steps: int | None = None) -> dict[str, Any]:
        """Continue a stopped, failed or finished job (to ``steps`` in total, if given)."""
        folder = self.data.folder("jobs", job_id)
        job = read_json(folder / "job.json")
        if steps is not None:
            steps = int(steps)
            if not int(job["steps"]) <= steps <= MAX_STEPS:
                raise JobError(f"steps can only grow (now {job['steps']}), up to {MAX_STEPS}")
            job["steps"] = steps
            write_json(folder / "job.json", job)
        self.start(job_id)
        return self.status(job_id)

    def evaluate(self, job_id: str, photo_set: str | None = None) -> dict[str, Any]:
        """Measure the finished model beside the baselines (``geostyle evaluate``), in the background."""
        folder = self.data.folder("jobs", job_id)
        if self.alive(job_id):
            raise JobError("this job is still running")
        if not (folder / "run" / "model.safetensors").is_file():
            raise JobError("this job has no finished model yet")
        job = read_json(folder / "job.json")
        job["evaluate"] = True
        job["eval_n"] = self.eval_n
        job["eval_photo_set"] = photo_set or job["photo_set"]
        job["eval_photos_dir"] = str(self._photo_dir(job["eval_photo_set"]))
        write_json(folder / "job.json", job)
        (folder / "eval" / "metrics.json").unlink(missing_ok=True)
        self.start(job_id)
        return self.status(job_id)

    def recover(self) -> list[str]:
        """Start again every job that was active when its runner went away. Returns their ids."""
        restarted = []
        for job_id in self.data.ids("jobs"):
            folder = self.data.folder("jobs", job_id)
            state = read_json(folder / "state.json", {})
            if state.get("phase") in ACTIVE and not self.alive(job_id) and (folder / "job.json").is_file():
                with open(folder / "log.txt", "a", encoding="utf-8") as log:
                    log.write("--- runner was gone (server or machine restart): resuming\n")
                self.start(job_id)
                restarted.append(job_id)
        return restarted

    # --------------------------------------------------------------------------------------- status
    def status(self, job_id: str) -> dict[str, Any]:
        from geostyle.train.stats import read_stats

        folder = self.data.folder("jobs", check_id(job_id))
        job = read_json(folder / "job.json")
        if not job:
            raise NotFoundError(f"no such job: {job_id}")
        state = read_json(folder / "state.json", {})
        alive = self.alive(job_id)
        phase = state.get("phase", "unknown")
        if phase in ACTIVE and not alive:
            phase = "interrupted"
        run_dir = folder / "run"
        records = read_stats(run_dir / "stats.jsonl") if (run_dir / "stats.jsonl").is_file() else []
        stride = max(1, len(records) // SERIES_POINTS)
        series = [[r["step"], r.get("g/total"), r.get("d/style")] for r in records[::stride] if "step" in r]
        last = records[-1] if records else {}
        samples_dir = run_dir / "samples"
        samples = sorted(p.name for p in samples_dir.glob("step-*.png")) if samples_dir.is_dir() else []
        has_model = (run_dir / "model.safetensors").is_file()
        return {
            "id": job_id,
            "name": job["name"],
            "created": job["created"],
            "preset": job["preset"],
            "steps": job["steps"],
            "style_set": job["style_set"],
            "photo_set": job["photo_set"],
            "phase": phase,
            "alive": alive,
            "message": state.get("message", ""),
            "step": int(last.get("step", 0)),
            "last": {k: v for k, v in last.items() if k not in ("time",)},
            "series": series,
            "samples": samples,
            "model": f"job-{job_id}" if has_model and phase in ("done", "evaluating") else None,
            "evaluation": evaluation_table(folder / "eval" / "metrics.json"),
            "log": self.log_tail(folder),
        }

    @staticmethod
    def log_tail(folder: Path, lines: int = 12) -> list[str]:
        try:
            with open(folder / "log.txt", "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 16384))
                text = fh.read().decode("utf-8", errors="replace")
        except OSError:
            return []
        kept = [line for line in text.splitlines() if line.strip() and not line.startswith(_NOISE)]
        return kept[-lines:]

    def list(self) -> list[dict[str, Any]]:
        jobs = []
        for job_id in self.data.ids("jobs"):
            try:
                jobs.append(self.status(job_id))
            except NotFoundError:
                continue  # a folder being created right now
        return sorted(jobs, key=lambda j: j["created"], reverse=True)

    def eval_sheet(self, job_id: str) -> Path:
        path = self.data.folder("jobs", job_id) / "eval" / "contact_sheet.jpg"
        if not path.is_file():
            raise NotFoundError("no evaluation sheet")
        return self.data.inside(path)

    def sample_path(self, job_id: str, name: str) -> Path:
        import re

        folder = self.data.folder("jobs", job_id)
        if not re.fullmatch(r"step-[0-9]{6}\.png", name):
            raise NotFoundError("no such sample")
        path = folder / "run" / "samples" / name
        if not path.is_file():
            raise NotFoundError("no such sample")
        return self.data.inside(path)


def evaluation_table(metrics_path: Path) -> dict[str, Any] | None:
    """The model's numbers and the baselines' from a ``geostyle evaluate`` report, as a table."""
    metrics = read_json(metrics_path)
    if not isinstance(metrics, dict) or "baselines" not in metrics:
        return None
    rows = [("this model", metrics)]
    rows += [(BASELINE_NAMES.get(k, k), v) for k, v in metrics["baselines"].items() if isinstance(v, dict)]

    def number(value: Any) -> float | None:
        return (
            round(float(value), 3)
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            else None
        )

    columns = [(key, title) for key, title in METRICS if any(number(r.get(key)) is not None for _, r in rows)]
    return {
        "columns": [title for _, title in columns],
        "rows": [[name, *[number(r.get(key)) for key, _ in columns]] for name, r in rows],
        "photos": metrics.get("n_outputs"),
        "style_images": metrics.get("style_images"),
        "seconds": metrics.get("seconds"),
    }
