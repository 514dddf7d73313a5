"""Custom style training in a real Chromium: a real (short) training job started from uploads, seen
progressing, stopped and resumed from the page, training on while the server is down, picked up
again after a crash of its runner, and its model used on the stylize page."""

from __future__ import annotations

import io
import json
import os
import re
import time

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

# Enough steps that the stop below lands before the end: a preset step of the tiny job takes about
# a third of a second now (with 10 steps, a run once finished before the stop click arrived).
STEPS = 40


def _steps(stats_path) -> list[int]:
    if not stats_path.is_file():
        return []
    return [json.loads(line)["step"] for line in stats_path.read_text().splitlines() if line.strip()]


def _wait(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = open(f"/proc/{pid}/stat").read()
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


@pytest.mark.slow  # two real trainer starts and two detector loads: ~1-4 min on a 2-core machine
def test_training_job_lifecycle(browser, fresh_server, anime_files, photo_files, screenshot):
    srv = fresh_server.start()
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)

    # Exemplars uploaded through the landmark page, then a job started from the training page.
    page.goto(srv.url + "/styles")
    page.fill("#set-name", "tiny anime")
    page.locator("#detector").select_option("animeface")
    page.set_input_files("#set-files", [str(p) for p in anime_files])
    page.click("#create-set")
    page.wait_for_url(re.compile(r"set=[0-9a-f]{16}$"))
    set_id = page.url.rsplit("=", 1)[1]
    page.goto(f"{srv.url}/train?style={set_id}")
    page.locator("#photo-set").select_option("builtin:tiny")
    page.locator("#preset").select_option("anime")
    page.fill("#steps", str(STEPS))
    page.click("#start-job")
    card = page.locator(".job").first
    expect(card).to_be_visible()
    job_id = card.get_attribute("data-job")
    job_dir = srv.data / "jobs" / job_id
    stats = job_dir / "run" / "stats.jsonl"

    # Progress is seen in the page: the step counter moves while the job trains.
    expect(card.locator(".step")).to_have_text(re.compile(rf"step [1-9]\d* of {STEPS}"), timeout=120_000)
    expect(card.locator(".phase")).to_have_text("training")
    screenshot(page, "web_train_running.png")
    # A second runner for the same job is refused.
    again = page.request.post(f"{srv.url}/api/jobs/{job_id}/resume", data="{}", headers={"X-Geostyle": "1"})
    assert again.status == 400 and "already running" in again.json()["error"]

    # Stop from the page, then resume from the page: training continues from its checkpoint.
    card.locator("button.stop").click()
    expect(card.locator(".phase")).to_have_text("stopped", timeout=30_000)
    stopped_at = _steps(stats)[-1]
    assert stopped_at < STEPS
    card.locator("button.resume").click()
    _wait(lambda: _steps(stats)[-1] > stopped_at, 180, "training to go on after resume")

    # The server goes away; the job does not (its runner is detached) and keeps training.
    runner_pid = json.loads((job_dir / "runner.json").read_text())["pid"]
    down_at = _steps(stats)[-1]
    srv.stop()
    assert _alive(runner_pid)
    if down_at < STEPS:
        _wait(lambda: _steps(stats)[-1] > down_at, 120, "a step trained while the server is down")
    srv.start()
    page.goto(srv.url + "/train")
    card = page.locator(f'.job[data-job="{job_id}"]')
    expect(card.locator(".phase")).to_have_text("done", timeout=180_000)
    expect(card.locator(".step")).to_have_text(f"step {STEPS} of {STEPS}")

    # Two runs of the trainer (start, resume after the stop), the second continuing from the first's
    # checkpoint (checkpoint_every=1): every step trained, nothing from scratch again.
    log = (job_dir / "log.txt").read_text()
    assert log.count("--- runner started") == 2 and log.count(" --resume ") == 1
    steps = _steps(stats)
    assert sorted(set(steps)) == list(range(1, STEPS + 1))
    assert len(steps) <= STEPS + 1, "a resumed run repeats at most the step the stop cut short"

    sample = card.locator("img.sample")
    expect(sample).to_be_visible()
    grid = Image.open(io.BytesIO(page.request.get(srv.url + sample.get_attribute("src")).body()))
    assert min(grid.size) > 200
    # A runner that died before recording the end (a crash) is started again by the next server,
    # which finds the run complete and does not train it again.
    srv.stop()
    state = json.loads((job_dir / "state.json").read_text())
    (job_dir / "state.json").write_text(json.dumps(state | {"phase": "training"}))
    srv.start()
    page.goto(srv.url + "/train")
    card = page.locator(f'.job[data-job="{job_id}"]')
    expect(card.locator(".phase")).to_have_text("done", timeout=60_000)
    log = (job_dir / "log.txt").read_text()
    assert "runner was gone" in log and log.count("--- runner started") == 3
    assert _steps(stats)[-1] == STEPS and len(_steps(stats)) == len(steps)

    # Evaluate numbers beside the baselines measured in the same run (geostyle evaluate).
    card.locator("button.evaluate").click()
    expect(card.locator(".phase")).to_have_text("evaluating", timeout=30_000)
    expect(card.locator(".phase")).to_have_text("done", timeout=300_000)
    table = card.locator("table.metrics")
    expect(table).to_be_visible()
    names = table.locator("tbody th").all_inner_texts()
    assert names[0] == "this model" and "photo (input)" in names and "cartoon filter" in names
    headers = table.locator("thead th").all_inner_texts()
    assert "KID×1000" in headers
    metrics = json.loads((job_dir / "eval" / "metrics.json").read_text())
    kid = table.locator("tbody tr").first.locator("td").nth(headers.index("KID×1000") - 1).inner_text()
    assert abs(float(kid) - metrics["kid"]) < 1e-3 and metrics["n_outputs"] == 2
    sheet = page.request.get(f"{srv.url}/api/jobs/{job_id}/evaluation.jpg")
    assert sheet.ok and sheet.headers["content-type"] == "image/jpeg"
    page.wait_for_load_state("networkidle")
    screenshot(page, "web_train_done.png")

    # The finished model is offered on the stylize page and used there.
    card.locator("a.use-model").click()
    expect(page.locator("#model")).to_have_value(f"job-{job_id}")
    page.set_input_files("#file", str(photo_files[2]))
    out = page.locator("#output-img")
    # The page starts at the strength the job's own model suggests (its preset's inference strength).
    offered = {m["name"]: m for m in page.request.get(f"{srv.url}/api/models").json()["models"]}
    tag = f"{round(offered[f'job-{job_id}']['strength'] * 100):03d}"
    expect(out).to_have_attribute("data-result", re.compile(rf"job-{job_id}-{tag}\.png$"), timeout=60_000)
    mine = np.asarray(
        Image.open(io.BytesIO(page.request.get(srv.url + out.get_attribute("data-result")).body()))
    )
    page.locator("#model").select_option("anime")
    expect(out).to_have_attribute("data-result", re.compile(r"anime-035\.png$"), timeout=60_000)
    bundled = np.asarray(
        Image.open(io.BytesIO(page.request.get(srv.url + out.get_attribute("data-result")).body()))
    )
    assert mine.shape == bundled.shape
    assert np.abs(mine.astype(int) - bundled.astype(int)).mean() > 2, (
        "the job's own model, not the bundled one"
    )
    context.close()
