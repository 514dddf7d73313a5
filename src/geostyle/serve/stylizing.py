"""Loaded models and the stylization the pages ask for: an uploaded image, one webcam frame, a video.

Each model is loaded once and kept (:class:`ModelPool`); calls on one model are serialised by its
lock because the face detector inside a :class:`~geostyle.infer.stylize.Stylizer` keeps state and is
not thread-safe. The HTTP layer runs these calls in worker threads, so a slow one never blocks the
page. A webcam stream keeps a :class:`geostyle.video.LiveSession` (face tracking between frames,
:class:`LiveStreams`). A video gets its own :class:`Stylizer` in a background thread and reports
progress; it never holds the lock the interactive page needs.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geostyle.errors import GeostyleError
from geostyle.serve.storage import DataDir, NotFoundError, check_id, read_json, write_json

MIN_STRENGTH, MAX_STRENGTH = 0.0, 2.0
JOB_MODEL_PREFIX = "job-"


def check_strength(value: float) -> float:
    value = float(value)
    if not (MIN_STRENGTH <= value <= MAX_STRENGTH):
        raise GeostyleError(f"geometry strength must be between {MIN_STRENGTH:g} and {MAX_STRENGTH:g}")
    return value


def _default_strength(path: str | Path) -> float:
    """The strength a model file suggests, or the runtime's default where it cannot be read."""
    from geostyle.infer.stylize import DEFAULT_STRENGTH, suggested_strength
    from geostyle.nets.release import read_release_metadata

    try:
        return suggested_strength(read_release_metadata(path).get("extra", {}), path)
    except GeostyleError:
        return DEFAULT_STRENGTH


def strength_tag(strength: float) -> str:
    return f"{round(strength * 100):03d}"


@dataclass
class _Loaded:
    stylizer: Any
    lock: threading.Lock
    mtime: float


class ModelPool:
    """Bundled models by name, and finished training jobs as ``job-<id>``; each loaded once.

    Every model runs on ``runtime`` (default ONNX Runtime, as ``geostyle stylize`` and ``live`` do):
    the webcam frame of ``benchmarks/serve_latency.py`` took 140 ms in the library with the PyTorch
    runtime and 28 ms with ONNX Runtime, on two idle cores (docs/webapp.md, "Measured speed")."""

    def __init__(
        self, data: DataDir, backend: str = "mediapipe", runtime: str = "onnx", threads: int = 0
    ) -> None:
        from geostyle.infer.runtime import RUNTIMES

        if runtime not in RUNTIMES:
            raise GeostyleError(f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
        self.data = data
        self.backend = backend
        self.runtime = runtime
        self.threads = threads
        self._loaded: dict[str, _Loaded] = {}
        self._guard = threading.Lock()

    def available(self) -> list[dict[str, Any]]:
        """Models the pages offer: name, label and the geometry strength the model itself suggests
        (its ``extra.default_strength``; the pages start their slider there)."""
        from geostyle.nets.release import available_models, resolve_model

        out = [
            {"name": name, "label": name, "strength": _default_strength(resolve_model(name))}
            for name in available_models()
        ]
        for job_id in self.data.ids("jobs"):
            folder = self.data.folder("jobs", job_id)
            path = folder / "run" / "model.safetensors"
            if path.is_file():
                job = read_json(folder / "job.json", {})
                label = f"{job.get('name') or job_id} (trained here)"
                out.append({"name": JOB_MODEL_PREFIX + job_id, "label": label, "strength": _default_strength(path)})
        return out

    def path_of(self, name: str) -> str | Path:
        """The checkpoint behind a model name the client sent; never a client-supplied path."""
        from geostyle.nets.release import available_models

        if name in available_models():
            return name
        if isinstance(name, str) and name.startswith(JOB_MODEL_PREFIX):
            folder = self.data.folder("jobs", check_id(name[len(JOB_MODEL_PREFIX) :]))
            path = folder / "run" / "model.safetensors"
            if path.is_file():
                return path
        raise NotFoundError(f"no such model: {str(name)[:60]!r}")

    def get(self, name: str) -> _Loaded:
        from geostyle.infer.stylize import resolve_model

        source = self.path_of(name)
        mtime = resolve_model(source).stat().st_mtime  # a continued job replaces its model file
        with self._guard:
            loaded = self._loaded.get(name)
            if loaded is None or loaded.mtime != mtime:
                loaded = _Loaded(self.build(source), threading.Lock(), mtime)
                self._loaded[name] = loaded
            return loaded

    def build(self, source: str | Path, strength: float | None = None) -> Any:
        """A new :class:`~geostyle.infer.stylize.Stylizer` of ``source`` on this pool's detector,
        runtime and threads."""
        from geostyle.infer.stylize import Stylizer

        return Stylizer(
            source, strength=strength, backend=self.backend, runtime=self.runtime, threads=self.threads
        )

    def stylize(
        self, name: str, image: np.ndarray, strength: float, crop: bool = False
    ) -> tuple[np.ndarray, int]:
        """``(result, faces)``: the stylized whole frame of ``image`` ((H, W, 3) uint8 RGB) and how many
        faces got the geometry treatment; with ``crop``, the aligned face crop of the largest face
        (raises :class:`NoFaceError` when there is none)."""
        strength = check_strength(strength)
        loaded = self.get(name)
        with loaded.lock:
            stylizer = loaded.stylizer
            if crop:
                return stylizer.stylize(image, strength=strength).crop, 1
            # stylize_frame's two steps, so the page can say whether a face was found.
            faces = stylizer.detect_faces(image)
            return stylizer.render(image, [f.warp_landmarks() for f in faces], strength), len(faces)


class LiveStreams:
    """One :class:`geostyle.video.LiveSession` per browser webcam stream: faces are tracked and their
    landmarks smoothed from frame to frame, so the warp stays still when the head does.

    A stream is named by a random id the page makes; sessions idle for ``idle_s`` are closed, and
    at most ``limit`` are kept (the oldest goes first).
    """

    def __init__(self, pool: ModelPool, idle_s: float = 120.0, limit: int = 8) -> None:
        self.pool = pool
        self.idle_s = idle_s
        self.limit = limit
        self._sessions: dict[str, tuple[Any, float]] = {}
        self._guard = threading.Lock()

    def _session(self, stream: str, stylizer) -> Any:
        from geostyle.video import LiveSession

        now = time.monotonic()
        with self._guard:
            stale = [k for k, (_, used) in self._sessions.items() if now - used > self.idle_s]
            while len(self._sessions) - len(stale) >= self.limit and stream not in self._sessions:
                oldest = min(
                    (k for k in self._sessions if k not in stale), key=lambda k: self._sessions[k][1]
                )
                stale.append(oldest)
            for key in stale:
                self._sessions.pop(key)[0].close()
            session = self._sessions.get(stream, (None, 0.0))[0]
            if session is None:
                session = LiveSession(stylizer)
            self._sessions[stream] = (session, now)
            return session

    def frame(self, stream: str, name: str, image: np.ndarray, strength: float) -> tuple[np.ndarray, int]:
        """One frame of ``stream``: ``(stylized frame, faces rendered)``; a frame without a face is
        stylized without a warp."""
        if not (
            isinstance(stream, str) and len(stream) == 16 and all(c in "0123456789abcdef" for c in stream)
        ):
            raise GeostyleError("a webcam stream needs a 16-hex-digit id")
        strength = check_strength(strength)
        loaded = self.pool.get(name)
        session = self._session(stream, loaded.stylizer)
        with loaded.lock:
            session.stylizer = loaded.stylizer  # the page may switch models mid-stream
            loaded.stylizer.strength = strength
            out = session.process(image)
            return out, session.faces

    def close(self) -> None:
        with self._guard:
            for session, _ in self._sessions.values():
                session.close()
            self._sessions.clear()


def encode_image(image: np.ndarray, fmt: str = "PNG", quality: int = 90) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return buf.getvalue()


# ------------------------------------------------------------------------------------------- videos
@dataclass
class VideoTask:
    id: str
    upload: str
    model: str
    strength: float
    state: str = "running"  # running | done | failed
    done: int = 0
    total: int = 0
    message: str = ""
    face_frames: int = 0
    processing_fps: float = 0.0
    started: float = field(default_factory=time.time)


class VideoTasks:
    """Video stylization in background threads (:func:`geostyle.video.stylize_video`); progress and
    results live in the upload's folder, so a page reload finds them again."""

    def __init__(self, data: DataDir, pool: ModelPool) -> None:
        self.data = data
        self.pool = pool
        self._guard = threading.Lock()

    def start(self, upload: str, model: str, strength: float) -> dict[str, Any]:
        folder = self.data.folder("uploads", upload)
        meta = read_json(folder / "meta.json", {})
        if meta.get("kind") != "video":
            raise GeostyleError("this upload is not a video")
        strength = check_strength(strength)
        source = self.pool.path_of(model)
        task = VideoTask(
            f"{model}-{strength_tag(strength)}", upload, model, strength, total=int(meta.get("frames", 0))
        )
        status_path = folder / "out" / f"{task.id}.json"
        with self._guard:
            current = read_json(status_path)
            if current and current.get("state") in ("running", "done"):
                return current
            self._write(status_path, task)
        thread = threading.Thread(
            target=self._run, args=(folder, source, task, status_path), daemon=True, name=f"video-{upload}"
        )
        thread.start()
        return self.status(upload, task.id)

    def _write(self, path: Path, task: VideoTask) -> None:
        write_json(path, task.__dict__ | {"result": f"{task.id}.mp4" if task.state == "done" else None})

    def _run(self, folder: Path, source, task: VideoTask, status_path: Path) -> None:
        from geostyle.video import stylize_video

        src = next(p for p in folder.iterdir() if p.name.startswith("input."))
        last = [0.0]

        def progress(done: int, total: int) -> None:
            task.done, task.total = int(done), int(total)
            if time.time() - last[0] > 0.5:
                last[0] = time.time()
                self._write(status_path, task)

        try:
            # Its own Stylizer: a long video must not hold the lock the interactive pages use.
            stylizer = self.pool.build(source, strength=task.strength)
            result = stylize_video(src, folder / "out" / f"{task.id}.mp4", stylizer, progress=progress)
            task.state, task.done, task.total = "done", result.frames, result.frames
            task.face_frames, task.processing_fps = result.face_frames, round(result.processing_fps, 2)
        except GeostyleError as exc:
            task.state, task.message = "failed", str(exc)
        except Exception as exc:  # one line in the page; the traceback stays in the server log
            import logging

            logging.getLogger("geostyle.serve").exception("video task %s failed", task.id)
            task.state, task.message = "failed", f"internal error ({exc.__class__.__name__})"
        self._write(status_path, task)

    def status(self, upload: str, task_id: str) -> dict[str, Any]:
        folder = self.data.folder("uploads", upload)
        if not task_id or not all(ch.isalnum() or ch == "-" for ch in task_id):
            raise NotFoundError("no such video task")
        status = read_json(folder / "out" / f"{task_id}.json")
        if status is None:
            raise NotFoundError("no such video task")
        return status
