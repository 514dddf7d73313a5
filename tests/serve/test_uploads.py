"""Upload checks by content: signatures, limits, decoding, EXIF, video probing; storage ids and paths."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from geostyle.serve.storage import DataDir, NotFoundError, check_id, check_item, new_id
from geostyle.serve.uploads import (
    Limits,
    UploadError,
    UploadTooLargeError,
    decode_frame,
    display_name,
    load_checked_image,
    probe_video,
    save_stream,
    sniff,
    store_image,
    store_upload,
)


def _png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _png_header_only(w: int, h: int) -> bytes:
    """A PNG signature and IHDR claiming ``w x h``, no pixel data: a decompression-bomb stand-in."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "head, expected",
    [
        (b"\xff\xd8\xff\xe0" + bytes(60), ("image", "jpg")),
        (b"\x89PNG\r\n\x1a\n" + bytes(56), ("image", "png")),
        (b"GIF89a" + bytes(58), ("image", "gif")),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(48), ("image", "webp")),
        (b"\x00\x00\x00\x20ftypisom" + bytes(52), ("video", "mp4")),
        (b"\x00\x00\x00\x14ftypqt  " + bytes(52), ("video", "mov")),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm" + bytes(50), ("video", "webm")),
        (b"<html><script>alert(1)</script>" + bytes(32), None),
        (b"%PDF-1.7" + bytes(56), None),
        (b"", None),
    ],
)
def test_sniff_goes_by_content(head, expected):
    assert sniff(head) == expected


def test_display_name_is_never_a_path():
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("C:\\Users\\me\\face.jpg") == "face.jpg"
    assert display_name("a\x00b\nc.png") == "abc.png"
    assert display_name(None) == "upload"
    assert len(display_name("x" * 500)) == 120


def test_save_stream_refuses_past_the_limit_and_leaves_nothing(tmp_path):
    dst = tmp_path / "f"
    with pytest.raises(UploadTooLargeError, match="too large"):
        save_stream(io.BytesIO(bytes(3 << 20)), dst, 2 << 20)
    assert not dst.exists()
    with pytest.raises(UploadError, match="empty"):
        save_stream(io.BytesIO(b""), dst, 10)
    assert save_stream(io.BytesIO(b"abc"), dst, 3) == 3 and dst.read_bytes() == b"abc"


def test_images_are_decoded_not_trusted(tmp_path, shared_data):
    limits = Limits()
    photo = sorted((shared_data / "photos" / "celebahq").glob("*.jpg"))[0]
    assert load_checked_image(photo, limits).shape == (512, 512, 3)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(photo.read_bytes()[:2000])
    with pytest.raises(UploadError, match="damaged or truncated"):
        load_checked_image(cut, limits)
    text = tmp_path / "text.png"
    text.write_bytes(b"hello" * 100)
    with pytest.raises(UploadError, match="not a supported image"):
        load_checked_image(text, limits)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header_only(8000, 8000))
    with pytest.raises(UploadTooLargeError, match="8000x8000"):
        load_checked_image(bomb, limits)
    bomb.write_bytes(_png_header_only(30000, 30000))
    with pytest.raises(UploadTooLargeError, match="too large"):
        load_checked_image(bomb, limits)


def test_stored_image_is_upright_png_without_metadata(tmp_path):
    img = Image.fromarray(np.tile(np.arange(60, dtype=np.uint8)[None, :, None], (40, 1, 3)))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif[0x010F] = "SomeCamera"
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    buf.seek(0)
    path, pixels = store_image(buf, tmp_path, "0001", Limits())
    assert path.name == "0001.png" and pixels.shape == (60, 40, 3)
    with Image.open(path) as stored:
        assert stored.format == "PNG" and stored.size == (40, 60)
        assert not stored.getexif()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0001.png"]


def test_store_upload_tells_image_from_video(tmp_path, shared_data):
    video = sorted((shared_data / "video").glob("*.mp4"))[0]
    (tmp_path / "a").mkdir()
    kind, path, info = store_upload(open(video, "rb"), tmp_path / "a", Limits())
    assert kind == "video" and path.name == "input.mp4"
    assert info.width > 100 and info.height > 100 and 20 <= info.fps <= 31 and info.frames > 10
    (tmp_path / "b").mkdir()
    kind, path, pixels = store_upload(io.BytesIO(_png(32, 16)), tmp_path / "b", Limits())
    assert kind == "image" and path.name == "input.png" and pixels.shape == (16, 32, 3)
    (tmp_path / "c").mkdir()
    with pytest.raises(UploadTooLargeError):
        store_upload(io.BytesIO(_png(64, 64)), tmp_path / "c", Limits(image_bytes=50))
    assert list((tmp_path / "c").iterdir()) == []


def test_fake_video_is_refused(tmp_path):
    fake = tmp_path / "x.mp4"
    fake.write_bytes(b"\x00\x00\x00\x20ftypisom" + b"garbage" * 100)
    with pytest.raises(UploadError, match="cannot be decoded|no video"):
        probe_video(fake)


def test_frames_are_limited():
    limits = Limits(frame_bytes=1000, frame_pixels=64 * 64)
    assert decode_frame(_png(32, 32), limits).shape == (32, 32, 3)
    with pytest.raises(UploadTooLargeError):
        decode_frame(_png(100, 100), Limits(frame_pixels=64 * 64))
    with pytest.raises(UploadTooLargeError):
        decode_frame(bytes(2000), limits)
    with pytest.raises(UploadError, match="JPEG, PNG or WebP"):
        decode_frame(b"GIF89a" + bytes(100), Limits())


def test_ids_and_paths_stay_inside_the_data_folder(tmp_path):
    data = DataDir(tmp_path / "data")
    assert len(new_id()) == 16 and new_id() != new_id()
    for bad in ("../../etc", "ABCDEF0123456789", "0123", "0123456789abcdef/..", "", None):
        with pytest.raises(NotFoundError):
            check_id(bad)  # type: ignore[arg-type]
    for bad in ("../0001", "1", "00001", "0001.png"):
        with pytest.raises(NotFoundError):
            check_item(bad)
    object_id, folder = data.create("styles")
    assert data.folder("styles", object_id) == folder and folder.parent == data.root / "styles"
    (folder / "link").symlink_to(tmp_path)
    with pytest.raises(NotFoundError, match="outside"):
        data.inside(folder / "link" / "secret")
    with pytest.raises(NotFoundError):
        data.folder("styles", "0" * 16)
