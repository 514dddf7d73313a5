"""HTTP routes of the web app. Routes only parse, call :mod:`geostyle.serve` objects and format.

Every error a user can cause becomes ``{"error": "<one line>"}`` with a 4xx status, which the page
shows; anything else is logged here with its traceback and answered with a generic 500 line, so no
stack trace ever reaches the browser. Sync route functions run in FastAPI's worker threads: a long
stylization or a landmark detection never blocks the event loop or the other pages.

Browser-facing protections for a local server: the ``Host`` header must name the address the server
is bound to (defeats DNS rebinding), and every state-changing API request must carry the
``X-Geostyle`` header, which a cross-site form cannot set (defeats cross-site posts).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Body, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from geostyle.errors import GeostyleError, NoFaceError
from geostyle.serve.annotate import ImageSets, StyleLandmarks
from geostyle.serve.jobs import Jobs, presets
from geostyle.serve.storage import DataDir, NotFoundError, read_json, write_json
from geostyle.serve.stylizing import LiveStreams, ModelPool, VideoTasks, encode_image, strength_tag
from geostyle.serve.uploads import Limits, UploadTooLargeError, VideoInfo, display_name, store_upload

log = logging.getLogger("geostyle.serve")
STATIC = Path(__file__).resolve().parent / "static"
PAGES = {"/": "index.html", "/webcam": "webcam.html", "/styles": "styles.html", "/train": "train.html"}
CSRF_HEADER = "x-geostyle"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


@dataclass
class ServeConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    photo_sets: dict[str, Path] = field(default_factory=dict)
    train_overrides: list[str] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    max_request_bytes: int = 1 << 30
    recover_jobs: bool = True
    eval_photos: int = 24
    runtime: str = "onnx"  # the generator runtime of every page (geostyle.infer.runtime.RUNTIMES)
    threads: int = 0  # its threads (0: the runtime's default)


class Services:
    """Everything the routes call, built once per server."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.data = DataDir(config.data_dir)
        self.limits = config.limits
        self.models = ModelPool(self.data, runtime=config.runtime, threads=config.threads)
        self.videos = VideoTasks(self.data, self.models)
        self.streams = LiveStreams(self.models)
        self.styles = ImageSets(self.data, "styles", self.limits)
        self.photos = ImageSets(self.data, "photos", self.limits)
        self.detector = ThreadPoolExecutor(max_workers=1, thread_name_prefix="landmarks")
        self.landmarks = StyleLandmarks(self.styles, self.detector)
        self.jobs = Jobs(
            self.data, self.styles, self.photos, config.photo_sets, config.train_overrides, config.eval_photos
        )


def _status_of(exc: GeostyleError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, UploadTooLargeError):
        return 413
    return 400


def _files(files: list[UploadFile]) -> list[tuple[str | None, Any]]:
    return [(f.filename, f.file) for f in files]


def create_app(config: ServeConfig) -> FastAPI:
    services = Services(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if config.recover_jobs:
            restarted = services.jobs.recover()
            if restarted:
                log.warning(
                    "resumed %d interrupted training job(s): %s", len(restarted), ", ".join(restarted)
                )
        yield
        services.detector.shutdown(wait=False, cancel_futures=True)
        services.streams.close()

    app = FastAPI(title="geostyle", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.services = services
    allowed_hosts = LOOPBACK_HOSTS if config.host in LOOPBACK_HOSTS else None

    @app.middleware("http")
    async def guard(request: Request, call_next):
        host = (request.headers.get("host") or "").rsplit(":", 1)[0]
        if allowed_hosts is not None and host not in allowed_hosts:
            return JSONResponse(
                {"error": "this server answers only on its loopback address"}, status_code=421
            )
        if request.url.path.startswith("/api/") and request.method not in ("GET", "HEAD"):
            if request.headers.get(CSRF_HEADER) != "1":
                return JSONResponse({"error": "missing X-Geostyle header"}, status_code=403)
            length = request.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > config.max_request_bytes:
                return JSONResponse(
                    {"error": f"upload too large (the limit is {config.max_request_bytes >> 20} MB)"},
                    status_code=413,
                )
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
            "script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'"
        )
        return response

    @app.exception_handler(GeostyleError)
    async def user_error(request: Request, exc: GeostyleError):
        return JSONResponse({"error": str(exc)}, status_code=_status_of(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        fields = ", ".join(".".join(str(p) for p in e.get("loc", [])[1:]) or "body" for e in exc.errors())
        return JSONResponse({"error": f"bad request: check {fields}"}, status_code=400)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": "internal error; the server log has the details"}, status_code=500)

    for route, page in PAGES.items():
        app.add_api_route(route, _page(page), methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # ------------------------------------------------------------------------------ stylize
    @app.get("/api/models")
    def models() -> dict[str, Any]:
        return {"models": services.models.available()}

    @app.post("/api/uploads")
    def upload(file: UploadFile = File(...)) -> dict[str, Any]:
        upload_id, folder = services.data.create("uploads")
        try:
            kind, path, payload = store_upload(file.file, folder, services.limits)
        except BaseException:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
            raise
        meta: dict[str, Any] = {
            "id": upload_id,
            "kind": kind,
            "name": display_name(file.filename),
            "created": time.time(),
        }
        if isinstance(payload, VideoInfo):
            meta.update(payload.__dict__)
        else:
            meta.update(height=int(payload.shape[0]), width=int(payload.shape[1]))
        meta["input"] = f"/api/uploads/{upload_id}/input"
        write_json(folder / "meta.json", meta)
        return meta

    def _input_path(upload_id: str) -> tuple[Path, dict[str, Any]]:
        folder = services.data.folder("uploads", upload_id)
        meta = read_json(folder / "meta.json", {})
        for child in folder.iterdir():
            if child.name.startswith("input."):
                return child, meta
        raise NotFoundError("no such upload")

    @app.get("/api/uploads/{upload_id}/input")
    def upload_input(upload_id: str):
        path, _ = _input_path(upload_id)
        return FileResponse(path)

    @app.post("/api/stylize")
    def stylize(
        upload: str = Body(...), model: str = Body(...), strength: float = Body(0.5), crop: bool = Body(False)
    ) -> dict[str, Any]:
        from geostyle.data.images import load_image, save_image

        path, meta = _input_path(upload)
        if meta.get("kind") != "image":
            raise GeostyleError("this upload is a video: use the video button")
        started = time.perf_counter()
        try:
            out, faces = services.models.stylize(model, load_image(path), strength, crop=crop)
        except NoFaceError:
            raise GeostyleError("no face found in the image, so there is no face crop to show") from None
        ms = (time.perf_counter() - started) * 1000
        name = f"{model}-{strength_tag(strength)}{'-crop' if crop else ''}.png"
        save_image(path.parent / "out" / name, out)
        return {
            "result": f"/api/uploads/{upload}/out/{name}",
            "ms": round(ms, 1),
            "width": out.shape[1],
            "height": out.shape[0],
            "faces": faces,
        }

    @app.get("/api/uploads/{upload_id}/out/{name}")
    def upload_output(upload_id: str, name: str, download: int = 0):
        import re

        folder = services.data.folder("uploads", upload_id)
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,60}\.(png|mp4)", name):
            raise NotFoundError("no such result")
        path = services.data.inside(folder / "out" / name)
        if not path.is_file():
            raise NotFoundError("no such result")
        return FileResponse(path, filename=f"geostyle-{name}" if download else None)

    @app.post("/api/frame")
    async def frame(request: Request, stream: str = "", model: str = "anime", strength: float = 0.5):
        from starlette.concurrency import run_in_threadpool

        from geostyle.serve.uploads import decode_frame

        body = await request.body()
        started = time.perf_counter()

        def work() -> tuple[bytes, int]:
            image = decode_frame(body, services.limits)
            out, faces = services.streams.frame(stream, model, image, strength)
            return encode_image(out, "JPEG", 85), faces

        data, faces = await run_in_threadpool(work)
        ms = (time.perf_counter() - started) * 1000
        return Response(data, media_type="image/jpeg", headers={"X-Faces": str(faces), "X-Ms": f"{ms:.1f}"})

    @app.post("/api/videos")
    def video_start(
        upload: str = Body(...), model: str = Body(...), strength: float = Body(0.5)
    ) -> dict[str, Any]:
        return services.videos.start(upload, model, strength)

    @app.get("/api/videos/{upload_id}/{task_id}")
    def video_status(upload_id: str, task_id: str) -> dict[str, Any]:
        return services.videos.status(upload_id, task_id)

    # ------------------------------------------------------------------------- style sets
    @app.get("/api/styles")
    def style_sets() -> dict[str, Any]:
        from geostyle.serve.annotate import DEFAULT_DETECTOR, DETECTORS

        return {"sets": services.styles.list(), "detectors": DETECTORS, "default_detector": DEFAULT_DETECTOR}

    @app.post("/api/styles")
    def style_create(
        files: list[UploadFile] = File(...), name: str = Form(""), detector: str = Form("")
    ) -> dict[str, Any]:
        set_id = services.styles.create(name, _files(files), detector or None)
        services.landmarks.schedule(set_id)
        return services.styles.meta(set_id)

    @app.post("/api/styles/{set_id}/images")
    def style_add(set_id: str, files: list[UploadFile] = File(...)) -> dict[str, Any]:
        added = services.styles.add(set_id, _files(files))
        services.landmarks.schedule(set_id)
        return {"added": added}

    @app.get("/api/styles/{set_id}")
    def style_overview(set_id: str) -> dict[str, Any]:
        return services.landmarks.overview(set_id)

    @app.get("/api/styles/{set_id}/items/{item}")
    def style_item(set_id: str, item: str) -> dict[str, Any]:
        return services.landmarks.item(set_id, item)

    @app.get("/api/styles/{set_id}/items/{item}/image")
    def style_image(set_id: str, item: str):
        return FileResponse(services.styles.image_path(set_id, item))

    @app.put("/api/styles/{set_id}/items/{item}")
    def style_save(
        set_id: str, item: str, landmarks: dict[str, Any] = Body(..., embed=True)
    ) -> dict[str, Any]:
        return services.landmarks.save(set_id, item, landmarks)

    @app.delete("/api/styles/{set_id}/items/{item}/landmarks")
    def style_revert(set_id: str, item: str) -> dict[str, Any]:
        return services.landmarks.revert(set_id, item)

    @app.get("/api/styles/{set_id}/geometry")
    def style_geometry(set_id: str) -> dict[str, Any]:
        info = services.landmarks.preview(set_id)
        if "version" in info:
            info = info | {"image": f"/api/styles/{set_id}/preview.png?v={info['version']}"}
        return info

    @app.get("/api/styles/{set_id}/preview.png")
    def style_preview(set_id: str):
        path = services.styles.folder(set_id) / "preview.png"
        if not path.is_file():
            raise NotFoundError("no preview yet")
        return FileResponse(path, headers={"Cache-Control": "no-store"})

    # --------------------------------------------------------------------------- photos, jobs
    @app.get("/api/photos")
    def photo_sets() -> dict[str, Any]:
        return {"sets": services.jobs.photo_sets()}

    @app.post("/api/photos")
    def photo_create(files: list[UploadFile] = File(...), name: str = Form("")) -> dict[str, Any]:
        return services.photos.meta(services.photos.create(name, _files(files)))

    @app.get("/api/presets")
    def training_presets() -> dict[str, Any]:
        return {"presets": list(presets())}

    @app.get("/api/jobs")
    def jobs() -> dict[str, Any]:
        return {"jobs": services.jobs.list()}

    @app.post("/api/jobs")
    def job_create(
        style_set: str = Body(...),
        photo_set: str = Body(...),
        preset: str = Body("anime"),
        steps: int = Body(...),
        name: str = Body(""),
    ) -> dict[str, Any]:
        return services.jobs.create(style_set, photo_set, preset, steps, name)

    @app.get("/api/jobs/{job_id}")
    def job_status(job_id: str) -> dict[str, Any]:
        return services.jobs.status(job_id)

    @app.post("/api/jobs/{job_id}/stop")
    def job_stop(job_id: str) -> dict[str, Any]:
        return services.jobs.stop(job_id)

    @app.post("/api/jobs/{job_id}/resume")
    def job_resume(job_id: str, steps: int | None = Body(None, embed=True)) -> dict[str, Any]:
        return services.jobs.resume(job_id, steps)

    @app.post("/api/jobs/{job_id}/evaluate")
    def job_evaluate(job_id: str, photo_set: str | None = Body(None, embed=True)) -> dict[str, Any]:
        return services.jobs.evaluate(job_id, photo_set)

    @app.get("/api/jobs/{job_id}/evaluation.jpg")
    def job_eval_sheet(job_id: str):
        return FileResponse(services.jobs.eval_sheet(job_id), headers={"Cache-Control": "no-store"})

    @app.get("/api/jobs/{job_id}/samples/{name}")
    def job_sample(job_id: str, name: str):
        return FileResponse(services.jobs.sample_path(job_id, name))

    return app


def _page(name: str):
    def page() -> FileResponse:
        return FileResponse(STATIC / name, headers={"Cache-Control": "no-store"})

    return page
