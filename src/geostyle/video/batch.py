"""Files and folders of images and videos: what ``geostyle stylize INPUT...`` works through.

* Inputs are files or folders (walked recursively, hidden entries skipped, sorted); each file is
  recognised **by its content** — an image if Pillow can read its header, a video if PyAV finds a
  video stream — so a JPEG called ``.mp4`` is still stylized as a photo.
* Output names are predictable: ``OUT/<path below the input folder>/<stem>.png`` for images and
  ``.mp4`` for videos; when two inputs would get the same name, the later one (in sorted order) gets
  its original suffix added: ``a.png`` and ``a_jpg.png``.
* An existing output is left alone unless ``overwrite`` (the input is reported as skipped, so a
  rerun after an interruption only does what is missing). Outputs are written to a temporary name
  and renamed, so an interrupted run never leaves a half-written file under the final name.
* One bad input never stops the others: each gets an :class:`Outcome` (``ok``, ``failed`` with a
  one-line reason, ``skipped``).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geostyle.data.images import IMAGE_SUFFIXES, load_image, save_image
from geostyle.errors import GeostyleError
from geostyle.video.io import VIDEO_SUFFIXES, is_video

IMAGE, VIDEO = "image", "video"


def sniff(path: Path) -> str | None:
    """``"image"``, ``"video"`` or None, from the file's content (not its name)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # large is fine here
            with Image.open(path) as img:  # reads the header only
                img.size  # noqa: B018  (touch the header: some formats parse lazily)
                return IMAGE
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        pass
    except Image.DecompressionBombError:
        return IMAGE  # an image, too large: load_image gives the clear error
    return VIDEO if is_video(path) else None


@dataclass
class Job:
    source: Path
    output: Path
    kind: str | None  # None: neither image nor video
    explicit: bool  # named on the command line (not found in a folder)


@dataclass
class Outcome:
    job: Job
    status: str  # "ok" | "failed" | "skipped"
    message: str = ""
    seconds: float = 0.0


def _walk(folder: Path, exclude: Path | None) -> Iterable[Path]:
    for root, dirs, files in os.walk(folder):
        root_path = Path(root)
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and (exclude is None or (root_path / d).resolve() != exclude)
        )
        for name in sorted(files):
            if not name.startswith("."):
                yield root_path / name


def plan(inputs: Iterable[str | Path], out_dir: str | Path) -> tuple[list[Job], list[Path]]:
    """The jobs for ``inputs`` (files and folders) and the folder files passed over because they are
    neither images nor videos and do not claim to be (e.g. ``notes.txt``).

    A folder file with an image or video suffix that does not read as one is kept as a job with
    ``kind=None`` (it fails, visibly), as is any such file named explicitly.
    """
    out_dir = Path(out_dir)
    exclude = out_dir.resolve() if out_dir.exists() else None
    jobs: list[Job] = []
    ignored: list[Path] = []
    taken: set[Path] = set()

    def output_for(source: Path, relative: Path, kind: str | None) -> Path:
        suffix = ".mp4" if kind == VIDEO else ".png"
        target = out_dir / relative.parent / f"{relative.stem}{suffix}"
        if target in taken:
            tag = source.suffix.lstrip(".").lower() or "file"
            target = out_dir / relative.parent / f"{relative.stem}_{tag}{suffix}"
            n = 2
            while target in taken:
                target = out_dir / relative.parent / f"{relative.stem}_{tag}{n}{suffix}"
                n += 1
        taken.add(target)
        return target

    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for file in _walk(path, exclude):
                kind = sniff(file)
                if kind is None and file.suffix.lower() not in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
                    ignored.append(file)
                    continue
                jobs.append(Job(file, output_for(file, file.relative_to(path), kind), kind, explicit=False))
        else:
            kind = sniff(path) if path.is_file() else None
            jobs.append(Job(path, output_for(path, Path(path.name), kind), kind, explicit=True))
    return jobs, ignored


# Above this many pixels a JPEG is decoded by OpenCV straight into one RGB array: Pillow keeps 4
# bytes per pixel and the conversion makes copies (12000x9000: 2.1 GB peak instead of ~0.4 GB).
LARGE_IMAGE_PIXELS = 16_000_000
# Above this many pixels PNG outputs use the fastest zlib level (a 108-megapixel PNG takes ~2 min
# at the default level here, ~3x less at level 1, for ~1.5x the size).
FAST_PNG_PIXELS = 4_000_000


def read_image(path: Path) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB, EXIF orientation applied, as :func:`geostyle.data.images.load_image`,
    with less memory for very large JPEGs."""
    import cv2
    from PIL import Image

    try:
        with path.open("rb") as fh:
            is_jpeg = fh.read(3) == b"\xff\xd8\xff"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                pixels = img.size[0] * img.size[1]
    except (OSError, ValueError, Image.DecompressionBombError):
        return load_image(path)  # gives the clear error
    if is_jpeg and pixels > LARGE_IMAGE_PIXELS:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)  # applies the EXIF orientation too
        if bgr is not None:
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=bgr)
    return load_image(path)


def _write_image(path: Path, image: np.ndarray) -> None:
    """Write atomically. Large PNGs go through OpenCV at zlib level 1, converted to BGR in place
    (``image`` is consumed): no second full-size copy of the picture."""
    import cv2

    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        if path.suffix.lower() == ".png" and image.shape[0] * image.shape[1] > FAST_PNG_PIXELS:
            bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR, dst=image)
            if not cv2.imwrite(str(tmp), bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
                raise OSError(f"cannot write {path}")
        else:
            save_image(tmp, image)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def stylize_image_file(stylizer, job: Job, crop: bool, side_by_side: bool) -> str:
    image = read_image(job.source)
    if crop:
        result = stylizer.stylize(image, job.source)
        out, before = result.crop, result.source_crop
    else:
        out, before = stylizer.stylize_frame(image, job.source), image
    if side_by_side:
        out = np.concatenate([before, out], axis=1)
    del image, before  # a huge photo's input is not needed while its output is written
    size = f"{out.shape[1]}x{out.shape[0]}"
    _write_image(job.output, out)
    return size


def run_jobs(
    jobs: list[Job],
    stylizer,
    *,
    overwrite: bool = False,
    crop: bool = False,
    side_by_side: bool = False,
    smoothing: bool = True,
    video_progress: Callable[[Job], Callable[[int, int], None] | None] | None = None,
    report: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Run every job; ``report`` sees each outcome as it happens. Never raises for a bad input
    (``KeyboardInterrupt`` still stops the run)."""
    from geostyle.video.loop import stylize_video

    outcomes = []
    for job in jobs:
        start = time.perf_counter()
        if job.output.exists() and not overwrite:
            outcome = Outcome(job, "skipped", f"{job.output} exists (--overwrite to replace it)")
        elif job.kind is None:
            if not job.source.exists():
                reason = "no such file"
            elif job.source.is_file() and job.source.stat().st_size == 0:
                reason = "empty file"
            else:
                reason = "not an image or a video (by content)"
            outcome = Outcome(job, "failed", reason)
        else:
            try:
                job.output.parent.mkdir(parents=True, exist_ok=True)
                if job.kind == IMAGE:
                    detail = stylize_image_file(stylizer, job, crop, side_by_side)
                else:
                    progress = video_progress(job) if video_progress is not None else None
                    result = stylize_video(job.source, job.output, stylizer, progress=progress, smoothing=smoothing)
                    detail = (
                        f"{result.frames} frames, {result.processing_fps:.1f} fps"
                        f"{', audio copied' if result.audio else ''}"
                    )
                outcome = Outcome(job, "ok", detail)
            except GeostyleError as exc:
                outcome = Outcome(job, "failed", str(exc))
            except (MemoryError, OSError, ValueError, RuntimeError) as exc:
                # Not a user mistake we know of, but one file must not stop the rest.
                outcome = Outcome(job, "failed", f"{exc.__class__.__name__}: {exc}")
        outcome.seconds = time.perf_counter() - start
        outcomes.append(outcome)
        if report is not None:
            report(outcome)
    return outcomes
