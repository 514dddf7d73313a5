"""Webcam page in a real Chromium whose fake camera plays a real face photo: stylized frames come back."""

from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image
from playwright.sync_api import expect


def _shot(locator, size=(480, 360)) -> np.ndarray:
    # Element screenshots, not page scripts: the pages' Content-Security-Policy forbids eval.
    image = Image.open(io.BytesIO(locator.screenshot())).convert("RGB")
    return np.asarray(image.resize(size, Image.Resampling.BILINEAR)).astype(int)


def test_webcam_frames_come_back_stylized(page, server, screenshot):
    page.goto(server.url + "/webcam")
    page.click("#start")
    expect(page.locator("#stop")).to_be_enabled()
    # Several round trips, each with the face found (the fake camera shows a portrait).
    expect(page.locator("#faces")).to_have_text(re.compile(r"^([4-9]|\d\d+)$"), timeout=60_000)
    assert float(page.locator("#fps").inner_text()) > 0
    assert page.locator("#face-state").inner_text() == ""
    page.click("#stop")  # freeze the last stylized frame
    expect(page.locator("#start")).to_be_enabled()
    stylized = _shot(page.locator("#output"))
    page.click("#start")  # the camera again, for the unstylized view of the same scene
    expect(page.locator("#frames")).not_to_have_text(re.compile(r"^$"))
    page.wait_for_timeout(500)
    camera = _shot(page.locator("#camera"))
    assert camera.std() > 20, "the fake camera delivers the portrait, not a blank frame"
    # The returned frame is the camera frame stylized: same scene, clearly different pixels.
    diff = np.abs(camera - stylized).sum(-1)
    assert (diff > 40).mean() > 0.05
    assert np.corrcoef(camera.mean(-1).ravel(), stylized.mean(-1).ravel())[0, 1] > 0.5
    screenshot(page, "web_webcam.png")
    page.click("#stop")
