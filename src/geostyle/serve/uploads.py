"""What may enter the data folder: uploads checked by size and by content, never by name.

An upload is accepted when its first bytes carry the signature of a supported image or video
container *and* it decodes (images: fully, with a pixel limit checked before decoding; videos: the
container opens and holds a video stream). The client's file name and declared content type are
ignored except as a display label; stored files get fixed names chosen here. Images are stored
re-encoded as PNG after EXIF rotation, so the pixels the browser shows are the pixels every later
step (landmarks, ``prepare``) reads, and no metadata of the upload is kept.
"""

from __future__ import annotations

import io
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from geostyle.errors import GeostyleError, ImageReadError

CHUNK = 1 << 20
IMAGE_FORMATS = "JPEG, PNG, WebP, BMP, GIF or TIFF"
VIDEO_FORMATS = "MP4, MOV, WebM, MKV or AVI"


class UploadError(GeostyleError):
    """An upload is refused (wrong type by content, undecodable, empty)."""


class UploadTooLargeError(UploadError):
    """An upload is over the size limit."""


@dataclass(frozen=True)
class Limits:
    image_bytes: int = 25 << 20
    video_bytes: int = 300 << 20
    image_pixels: int = 40_000_000  # checked from the header, before any pixel is decoded
    frame_bytes: int = 4 << 20  # one webcam frame
    frame_pixels: int = 1920 * 1080
    files_per_set: int = 200


def sniff(head: bytes) -> tuple[str, str] | None:
    """``(kind, extension)`` from the first bytes of a file, or None. ``kind`` is ``image`` or ``video``."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "gif"
    if head[:2] == b"BM" and len(head) >= 26:
        return "image", "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image", "tif"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "video", "mov" if brand == b"qt  " else "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video", "webm" if b"webm" in head[:64] else "mkv"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video", "avi"
    return None


def display_name(name: str | None) -> str:
    """A client file name made safe to show (never used as a path): base name, printable, short."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable())
    return base[:120] or "upload"


def save_stream(src: BinaryIO, dst: Path, limit: int) -> int:
    """Copy ``src`` to ``dst`` in chunks; refuse (and delete ``dst``) past ``limit`` bytes or when empty."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    total = 0
    try:
        with open(dst, "wb") as out:
            while chunk := src.read(CHUNK):
                total += len(chunk)
                if total > limit:
                    raise UploadTooLargeError(f"file too large (the limit is {limit >> 20} MB)")
                out.write(chunk)
        if total == 0:
            raise UploadError("the file is empty")
    except BaseException:
        dst.unlink(missing_ok=True)
        raise
    return total


def _pil_size(source: Path | io.BytesIO) -> tuple[int, int]:
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(source) as img:  # lazy: reads the header only
                return img.size
        except Image.DecompressionBombError as exc:
            raise UploadTooLargeError("image too large to decode") from exc
        except Exception as exc:
            raise UploadError(f"not a readable image ({exc.__class__.__name__})") from exc


def load_checked_image(path: Path, limits: Limits) -> np.ndarray:
    """Decode a stored upload as ``(H, W, 3)`` uint8 RGB, EXIF applied, or raise :class:`UploadError`."""
    from geostyle.data.images import load_image

    head = path.read_bytes()[:64]
    found = sniff(head)
    if found is None or found[0] != "image":
        raise UploadError(f"not a supported image: the content is not {IMAGE_FORMATS}")
    w, h = _pil_size(path)
    if w * h > limits.image_pixels:
        raise UploadTooLargeError(
            f"image too large ({w}x{h}; the limit is {limits.image_pixels // 10**6} MP)"
        )
    try:
        return load_image(path)
    except ImageReadError as exc:
        raise UploadError("the image is damaged or truncated and cannot be decoded") from exc


def decode_frame(data: bytes, limits: Limits) -> np.ndarray:
    """One webcam frame (JPEG / PNG / WebP bytes) as ``(H, W, 3)`` uint8 RGB."""
    from PIL import Image

    from geostyle.data.images import to_rgb8

    if len(data) > limits.frame_bytes:
        raise UploadTooLargeError(f"frame too large (the limit is {limits.frame_bytes >> 20} MB)")
    found = sniff(data[:64])
    if found is None or found[1] not in ("jpg", "png", "webp"):
        raise UploadError("a frame must be JPEG, PNG or WebP")
    w, h = _pil_size(io.BytesIO(data))
    if w * h > limits.frame_pixels:
        raise UploadTooLargeError(f"frame too large ({w}x{h})")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return np.ascontiguousarray(to_rgb8(img))
    except Exception as exc:
        raise UploadError("the frame cannot be decoded") from exc


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: float
    frames: int
    seconds: float
    audio: bool


def probe_video(path: Path) -> VideoInfo:
    """Describe a stored video upload (:func:`geostyle.video.probe_video`) after checking that its
    content is a video container and that its first frame decodes; else :class:`UploadError`."""
    import av

    from geostyle.errors import VideoError
    from geostyle.video import probe_video as probe

    found = sniff(path.read_bytes()[:64])
    if found is None or found[0] != "video":
        raise UploadError(f"not a supported video: the content is not {VIDEO_FORMATS}")
    try:
        info = probe(path)
    except VideoError as exc:
        raise UploadError("the video cannot be read (no video stream, or a damaged file)") from exc
    try:
        with av.open(str(path)) as container:
            if next(container.decode(video=0), None) is None:
                raise UploadError("the video has no decodable frame")
    except UploadError:
        raise
    except Exception as exc:
        raise UploadError(f"the video cannot be decoded ({exc.__class__.__name__})") from exc
    frames = info.frames or round(info.duration * info.fps)
    return VideoInfo(
        info.width, info.height, round(info.fps, 3), frames, round(info.duration, 3), info.has_audio
    )


def store_image(src: BinaryIO, folder: Path, stem: str, limits: Limits) -> tuple[Path, np.ndarray]:
    """Check an uploaded image and store it as ``folder/<stem>.png``. Returns the path and the pixels."""
    from geostyle.data.images import save_image

    raw = folder / f".{stem}.upload"
    save_stream(src, raw, limits.image_bytes)
    try:
        image = load_checked_image(raw, limits)
    finally:
        raw.unlink(missing_ok=True)
    path = folder / f"{stem}.png"
    save_image(path, image)
    return path, image


def store_upload(src: BinaryIO, folder: Path, limits: Limits) -> tuple[str, Path, np.ndarray | VideoInfo]:
    """An image or a video for the stylize page: ``(kind, stored path, pixels | VideoInfo)``."""
    raw = folder / ".input.upload"
    save_stream(src, raw, max(limits.image_bytes, limits.video_bytes))
    try:
        found = sniff(raw.read_bytes()[:64])
        if found is None:
            raise UploadError(
                f"not a supported file: expected an image ({IMAGE_FORMATS}) or a video ({VIDEO_FORMATS})"
            )
        kind, ext = found
        if kind == "image":
            if raw.stat().st_size > limits.image_bytes:
                raise UploadTooLargeError(f"image too large (the limit is {limits.image_bytes >> 20} MB)")
            image = load_checked_image(raw, limits)
            from geostyle.data.images import save_image

            path = folder / "input.png"
            save_image(path, image)
            return kind, path, image
        info = probe_video(raw)
        path = folder / f"input.{ext}"
        shutil.move(raw, path)
        return kind, path, info
    finally:
        raw.unlink(missing_ok=True)
