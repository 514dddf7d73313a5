"""Stylize page in a real Chromium: upload a real photo, get the library's stylized frame back; bad
uploads give a message in the page."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect


def _image(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.fixture(scope="module")
def library_anime():
    from geostyle.infer.stylize import Stylizer

    return Stylizer("anime", runtime="onnx")  # the server's default runtime


def _result(page) -> tuple[str, np.ndarray]:
    out = page.locator("#output-img")
    out.wait_for(state="visible")
    url = out.get_attribute("data-result")
    response = page.request.get(page.url.split("/?")[0].rstrip("/") + url)
    assert response.ok
    return url, _image(response.body())


def test_upload_photo_gives_the_library_result(page, server, photo_files, library_anime, screenshot):
    photo = photo_files[0]
    page.goto(server.url + "/")
    page.locator("#model").select_option("anime")
    page.set_input_files("#file", str(photo))
    url, got = _result(page)
    # The slider starts at the strength the model suggests (anime: 0.35, its extra.default_strength).
    assert url.endswith("anime-035.png")
    assert page.locator("#strength-value").text_content() == "0.35"

    from geostyle.data.images import load_image

    source = load_image(photo)
    library_anime.strength = 0.35
    expected = library_anime.stylize_frame(source)
    assert got.shape == source.shape
    # Same pixels as the library call (lossless PNG both ways): the page shows what the CLI would write.
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1
    changed = np.abs(got.astype(int) - source.astype(int)).sum(-1) > 30
    assert changed.mean() > 0.05, "the picture is stylized, not returned as it came"
    assert page.locator("#input-img").is_visible()
    screenshot(page, "web_stylize.png")

    # The strength slider re-runs on the stored upload: a stronger warp gives a different picture.
    page.locator("#strength").fill("1")
    expect(page.locator("#output-img")).to_have_attribute("data-result", re.compile(r"anime-100\.png$"))
    _, stronger = _result(page)
    assert np.abs(stronger.astype(int) - got.astype(int)).mean() > 1.0

    download = page.request.get(server.url + page.locator("#download").get_attribute("href"))
    assert download.ok and "attachment" in download.headers["content-disposition"]


@pytest.mark.parametrize(
    "name, payload, expected",
    [
        ("notes.jpg", b"this is a text file, not a photo\n" * 20, "not a supported file"),
        ("cut.jpg", "truncate", "damaged or truncated"),
        ("big.png", b"\x89PNG\r\n\x1a\n" + bytes(3 << 20), "too large"),
    ],
)
def test_bad_upload_shows_a_message(page, server, photo_files, screenshot, name, payload, expected):
    if payload == "truncate":
        payload = photo_files[0].read_bytes()[:3000]
    page.goto(server.url + "/")
    page.set_input_files("#file", files=[{"name": name, "mimeType": "image/jpeg", "buffer": payload}])
    message = page.locator("#message")
    message.wait_for(state="visible")
    text = message.inner_text()
    assert expected in text
    assert "Traceback" not in page.content() and "error" in message.get_attribute("class")
    assert page.locator("#output-img").is_hidden()
    if name == "notes.jpg":
        screenshot(page, "web_bad_upload.png")


def test_photo_without_a_face_is_stylized_without_the_warp(page, server):
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(buf, "PNG")
    page.goto(server.url + "/")
    page.set_input_files(
        "#file", files=[{"name": "noise.png", "mimeType": "image/png", "buffer": buf.getvalue()}]
    )
    expect(page.locator("#message")).to_contain_text("No face found")
    assert "info" in page.locator("#message").get_attribute("class")
    expect(page.locator("#status")).to_contain_text("0 faces")
    _, got = _result(page)
    assert got.shape == (96, 128, 3)
    page.locator("#crop").check()  # a face crop needs a face: a one-line error
    expect(page.locator("#message")).to_contain_text("no face found in the image")


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory, shared_data):
    """The first 12 frames of a real talking-head video, re-encoded (keeps the test short)."""
    from geostyle.video import VideoReader, VideoWriter

    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    with VideoReader(shared_data / "video" / "d0.mp4") as reader:
        info = reader.info
        writer = VideoWriter(path, info.width, info.height, info.fps)
        for i, frame in enumerate(reader):
            if i == 12:
                break
            writer.write(frame.image)
        writer.close()
    return path


def _frames(path) -> np.ndarray:
    from geostyle.video import VideoReader

    with VideoReader(path) as reader:
        return np.stack([f.image for f in reader]).astype(int)


def test_upload_video_gives_the_library_video(page, server, short_clip, library_anime, tmp_path, screenshot):
    page.goto(server.url + "/")
    page.set_input_files("#file", str(short_clip))
    video = page.locator("#output-video")
    expect(video).to_have_attribute("data-result", re.compile(r"anime-035\.mp4$"), timeout=120_000)
    expect(page.locator("#status")).to_contain_text("12 frames, 12 with a face")
    result = tmp_path / "web.mp4"
    result.write_bytes(page.request.get(server.url + video.get_attribute("data-result")).body())
    screenshot(page, "web_video.png")

    from geostyle.video import stylize_video

    library_anime.strength = 0.35
    stylize_video(short_clip, tmp_path / "library.mp4", library_anime)
    got, expected, source = _frames(result), _frames(tmp_path / "library.mp4"), _frames(short_clip)
    assert got.shape == expected.shape == source.shape == (12, 512, 512, 3)
    assert np.abs(got - expected).mean() < 1.0, "the page's video is the library's video"
    assert np.abs(got - source).mean() > 5.0, "and it is stylized"


def test_a_file_chosen_before_the_model_list_arrives_is_stylized(page, server, photo_files):
    # The list of models comes from the server after the page loads; a file chosen before it
    # arrives must still be uploaded and stylized with the default model, not silently dropped.
    held = []

    def hold(route):
        held.append(route)

    page.route("**/api/models", hold)
    page.goto(server.url + "/")
    page.set_input_files("#file", str(photo_files[0]))
    page.wait_for_timeout(300)
    assert len(held) == 1 and page.locator("#output-img").is_hidden()
    held[0].continue_()
    url, _ = _result(page)
    assert url.endswith("anime-035.png")


def test_models_carry_the_strength_they_suggest(page, server):
    """``/api/models`` gives each model's own default strength (read from its file), and the page
    moves the slider there when the model changes."""
    from geostyle.infer.stylize import DEFAULT_STRENGTH, resolve_model
    from geostyle.nets.release import read_release_metadata

    models = {m["name"]: m for m in page.request.get(server.url + "/api/models").json()["models"]}
    for name in ("anime", "sketch"):
        extra = read_release_metadata(resolve_model(name)).get("extra", {})
        assert models[name]["strength"] == extra.get("default_strength", DEFAULT_STRENGTH)
    assert models["anime"]["strength"] == 0.35
    page.goto(server.url + "/")
    expect(page.locator("#strength-value")).to_have_text("0.35")
    page.locator("#model").select_option("sketch")
    expect(page.locator("#strength-value")).to_have_text(f"{models['sketch']['strength']:.2f}")
