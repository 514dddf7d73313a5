"""The running server's guards, over plain HTTP: loopback Host only, a header cross-site forms cannot
send, ids and file names that never leave the data folder, size limits, one-line errors."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request

import pytest
from PIL import Image


def _request(url, method="GET", data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def _multipart(field: str, filename: str, payload: bytes) -> tuple[bytes, str]:
    boundary = "geostyleboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def test_only_loopback_host_names_are_answered(server):
    status, _, body = _request(server.url + "/api/models", headers={"Host": "attacker.example:80"})
    assert status == 421 and "loopback" in json.loads(body)["error"]
    status, headers, _ = _request(server.url + "/")
    assert status == 200 and "default-src 'self'" in headers["Content-Security-Policy"]


def test_state_changes_need_the_page_header(server, photo_files):
    body, ctype = _multipart("file", "a.jpg", photo_files[0].read_bytes())
    status, _, reply = _request(server.url + "/api/uploads", "POST", body, {"Content-Type": ctype})
    assert status == 403 and "X-Geostyle" in json.loads(reply)["error"]
    status, _, reply = _request(
        server.url + "/api/uploads", "POST", body, {"Content-Type": ctype, "X-Geostyle": "1"}
    )
    assert status == 200 and json.loads(reply)["kind"] == "image"


def test_upload_names_never_become_paths(server, photo_files):
    body, ctype = _multipart("files", "../../../../tmp/evil.png", photo_files[0].read_bytes())
    status, _, reply = _request(
        server.url + "/api/styles", "POST", body, {"Content-Type": ctype, "X-Geostyle": "1"}
    )
    assert status == 200, reply
    set_id = json.loads(reply)["id"]
    stored = sorted(
        p.relative_to(server.data).as_posix() for p in (server.data / "styles" / set_id).rglob("*.png")
    )
    assert stored == [f"styles/{set_id}/images/0001.png"]
    overview = json.loads(_request(f"{server.url}/api/styles/{set_id}")[2])
    assert overview["items"][0]["name"] == "evil.png"
    assert not list(server.data.parent.rglob("evil.png"))


@pytest.mark.parametrize(
    "path",
    [
        "/api/styles/..%2F..%2F..%2Fetc/items/0001/image",
        "/api/styles/0123456789abcdef/items/..%2F..%2Fset/image",
        "/api/uploads/0123456789abcdef/out/..%2Fmeta.json",
        "/api/uploads/ZZZ/input",
        "/api/jobs/0123456789abcdef/samples/..%2F..%2Fjob.json",
        "/static/..%2F..%2F..%2Fpyproject.toml",
    ],
)
def test_paths_outside_the_data_folder_are_not_found(server, path):
    status, _, body = _request(server.url + path)
    assert status == 404
    assert b"Traceback" not in body


def test_oversized_request_is_refused_before_reading(server):
    body = b"x" * 64
    headers = {"X-Geostyle": "1", "Content-Type": "application/octet-stream", "Content-Length": str(2 << 30)}
    req = urllib.request.Request(server.url + "/api/uploads", data=body, method="POST", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=30)
    assert info.value.code == 413 and "too large" in json.loads(info.value.read())["error"]


def test_bad_requests_are_one_line_errors(server):
    status, _, body = _request(
        server.url + "/api/stylize",
        "POST",
        json.dumps({"upload": "0123456789abcdef", "model": "anime"}).encode(),
        {"X-Geostyle": "1", "Content-Type": "application/json"},
    )
    assert status == 404 and json.loads(body) == {"error": "no such upload: 0123456789abcdef"}
    status, _, body = _request(
        server.url + "/api/jobs",
        "POST",
        json.dumps({"style_set": "nope"}).encode(),
        {"X-Geostyle": "1", "Content-Type": "application/json"},
    )
    assert status == 400 and json.loads(body)["error"].startswith("bad request")
    status, _, body = _request(
        server.url + "/api/frame?model=../../etc/passwd",
        "POST",
        open(__file__, "rb").read()[:100],
        {"X-Geostyle": "1", "Content-Type": "image/jpeg"},
    )
    assert status == 400 and "JPEG, PNG or WebP" in json.loads(body)["error"]
    frame = io.BytesIO()
    Image.new("RGB", (64, 48)).save(frame, "JPEG")
    status, _, body = _request(
        server.url + "/api/frame?stream=../x&model=anime",
        "POST",
        frame.getvalue(),
        {"X-Geostyle": "1", "Content-Type": "image/jpeg"},
    )
    assert status == 400 and "16-hex-digit" in json.loads(body)["error"]
    status, _, body = _request(
        server.url + "/api/frame?stream=0123456789abcdef&model=../../etc/passwd",
        "POST",
        frame.getvalue(),
        {"X-Geostyle": "1", "Content-Type": "image/jpeg"},
    )
    assert status == 404 and json.loads(body)["error"].startswith("no such model")
