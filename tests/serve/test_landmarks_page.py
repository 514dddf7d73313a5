"""Landmark annotation in a real Chromium: upload exemplars, drag a detected point, mark one missing,
save, reload and see both kept; the file is the one ``prepare`` reads; the geometry preview follows."""

from __future__ import annotations

import json
import re

import numpy as np
from playwright.sync_api import expect

from geostyle.faces.backends.files import read_landmark_file
from geostyle.faces.landmarks import INDEX


def _circle(page, name):
    return page.locator(f'#canvas circle[data-name="{name}"]')


def _centre(page, name) -> tuple[float, float]:
    c = _circle(page, name)
    return float(c.get_attribute("cx")), float(c.get_attribute("cy"))


def test_drag_save_reload_and_prepare_reads_it(page, server, anime_files, tmp_path, screenshot):
    page.goto(server.url + "/styles")
    page.fill("#set-name", "anime four")
    page.locator("#detector").select_option("animeface")
    page.set_input_files("#set-files", [str(p) for p in anime_files])
    page.click("#create-set")
    page.wait_for_url(re.compile(r"/styles\?set=[0-9a-f]{16}$"))
    set_id = page.url.rsplit("=", 1)[1]
    thumbs = page.locator("#items .thumb")
    expect(thumbs).to_have_count(len(anime_files))
    expect(page.locator("#items .badge.pending")).to_have_count(0, timeout=60_000)
    expect(page.locator("#items .badge.detected")).to_have_count(len(anime_files))
    expect(page.locator("#preview")).to_be_visible(timeout=30_000)
    version_before = page.locator("#preview").get_attribute("data-version")

    page.locator('#items .thumb[data-item="0001"]').click()
    page.wait_for_url(re.compile(r"item=0001$"))
    expect(page.locator("#source")).to_contain_text("detected (animeface)")
    nose = _circle(page, "nose_tip")
    expect(nose).to_be_visible()
    before = _centre(page, "nose_tip")
    box = nose.bounding_box()
    canvas = page.locator("#canvas").bounding_box()
    scale = 256 / canvas["width"]  # the exemplar is 256 px wide, shown scaled to the canvas
    x0, y0 = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + 20, y0 + 12, steps=5)
    page.mouse.move(x0 + 40, y0 + 24, steps=5)
    page.mouse.up()
    moved = _centre(page, "nose_tip")
    assert abs(moved[0] - before[0] - 40 * scale) < 1.5 and abs(moved[1] - before[1] - 24 * scale) < 1.5
    expect(page.locator("#dirty")).to_have_text("unsaved changes")

    # "chin" is detected by animeface; mark it missing.
    page.locator('#points .row[data-name="chin"] button').click()
    expect(_circle(page, "chin")).to_have_count(0)
    page.click("#save")
    expect(page.locator("#message")).to_contain_text("Saved 16 landmarks")
    expect(page.locator("#preview")).not_to_have_attribute(
        "data-version", version_before or "", timeout=30_000
    )
    screenshot(page, "web_landmarks.png")

    # The saved file is the landmark-file format prepare reads, next to the exemplar.
    saved = server.data / "styles" / set_id / "images" / "0001.json"
    face = read_landmark_file(saved)[0]
    assert np.allclose(face.landmarks[INDEX["nose_tip"]], moved, atol=0.06)
    assert np.isnan(face.landmarks[INDEX["chin"]]).all()
    assert face.backend == "manual"

    page.reload()
    expect(page.locator("#source")).to_have_text("saved by hand")
    assert _centre(page, "nose_tip") == moved
    expect(_circle(page, "chin")).to_have_count(0)
    expect(page.locator('#points .row[data-name="chin"] .coords')).to_have_text("missing")

    # Another exemplar was not touched.
    page.goto(f"{server.url}/styles?set={set_id}&item=0002")
    expect(page.locator("#source")).to_contain_text("detected")

    from geostyle.data.prepare import prepare_dataset

    manifest = prepare_dataset(
        saved.parent, tmp_path / "prep", domain="style", backends="file,animeface", progress=False
    )
    backends = {item.source.split("/")[-1]: item.backend for item in manifest.items}
    assert backends["0001.png"] == "manual"
    assert {backends[f"000{i}.png"] for i in (2, 3, 4)} == {"animeface"}


def test_set_of_one_user_is_not_seen_in_another(page, server, anime_files):
    """The same file uploaded twice makes two sets; saving landmarks in one leaves the other alone."""
    photo = anime_files[0]
    upload = {"files": {"name": photo.name, "mimeType": "image/jpeg", "buffer": photo.read_bytes()}}
    ids = []
    for _ in range(2):
        response = page.request.post(
            server.url + "/api/styles", multipart=upload, headers={"X-Geostyle": "1"}
        )
        assert response.ok, response.text()
        ids.append(response.json()["id"])
    assert ids[0] != ids[1]
    body = {
        "landmarks": {
            "nose_tip": [100.0, 120.0],
            "right_eye_center": [90, 100],
            "left_eye_center": [160, 100],
        }
    }
    saved = page.request.put(
        f"{server.url}/api/styles/{ids[0]}/items/0001",
        data=json.dumps(body),
        headers={"X-Geostyle": "1", "Content-Type": "application/json"},
    )
    assert saved.ok and saved.json()["source"] == "saved"
    other = page.request.get(f"{server.url}/api/styles/{ids[1]}/items/0001").json()
    assert other["source"] != "saved"
    assert not (server.data / "styles" / ids[1] / "images" / "0001.json").exists()
