"""Test inputs made from real selfies: every odd kind of file ``load_image`` and ``prepare`` must survive."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

# Real selfies (shared/data/photos/selfie) that were looked at: one clearly visible face each.
SELFIES = (
    "female_13582.jpg",
    "female_10911.jpg",
    "female_10057.jpg",
    "female_10150.jpg",
    "female_10633.jpg",
    "female_10225.jpg",
)


@dataclass(frozen=True)
class Case:
    path: Path
    expected: str  # "ok" or the prepare failure reason
    upright: np.ndarray | None = None  # what load_image must return (approximately), if readable
    tolerance: float = 0.0  # mean absolute error allowed against ``upright``


def _jpeg_bytes(path: Path) -> bytes:
    return path.read_bytes()


def make_odd_images(folder: Path, selfie: Path) -> dict[str, Case]:
    """Write one file per odd case into ``folder`` (created) from the real JPEG ``selfie``."""
    folder.mkdir(parents=True, exist_ok=True)
    rgb = np.asarray(Image.open(selfie).convert("RGB"))
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    raw = _jpeg_bytes(selfie)
    rng = np.random.default_rng(0)
    cases: dict[str, Case] = {}

    # --- unreadable -------------------------------------------------------------------------------
    p = folder / "corrupt.jpg"  # real JPEG start, then noise: the header no longer parses
    p.write_bytes(raw[:20] + rng.integers(0, 256, len(raw) - 20, dtype=np.uint8).tobytes())
    cases["corrupt"] = Case(p, "unreadable")
    p = folder / "truncated.jpg"
    p.write_bytes(raw[: len(raw) // 2])
    cases["truncated"] = Case(p, "unreadable")
    p = folder / "text.jpg"
    p.write_text("this is not an image\n")
    cases["text"] = Case(p, "unreadable")
    p = folder / "empty.png"
    p.write_bytes(b"")
    cases["empty"] = Case(p, "unreadable")

    # --- readable in odd modes --------------------------------------------------------------------
    p = folder / "gray.png"
    Image.fromarray(gray).save(p)
    cases["gray"] = Case(p, "ok", np.repeat(gray[:, :, None], 3, 2), 0.0)

    p = folder / "rgba.png"  # left quarter fully transparent: composited over white
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:, : rgb.shape[1] // 4] = 0
    Image.fromarray(np.dstack([rgb, alpha])).save(p)
    expected = rgb.copy()
    expected[:, : rgb.shape[1] // 4] = 255
    cases["rgba"] = Case(p, "ok", expected, 0.0)

    p = folder / "gray16.png"
    Image.fromarray(gray.astype(np.uint16) * 257).save(p)  # 16-bit, full range
    assert Image.open(p).mode == "I;16"
    cases["gray16"] = Case(p, "ok", np.repeat(gray[:, :, None], 3, 2), 0.01)

    p = folder / "cmyk.jpg"
    Image.fromarray(rgb).convert("CMYK").save(p, quality=95)
    assert Image.open(p).mode == "CMYK"
    cases["cmyk"] = Case(p, "ok", rgb, 4.0)

    p = folder / "palette.png"
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=256).save(p)
    assert Image.open(p).mode == "P"
    cases["palette"] = Case(p, "ok", rgb, 4.0)

    # EXIF orientation: the pixels are stored sideways, the tag says how to turn them upright.
    for tag, stored in ((6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270)):
        p = folder / f"exif{tag}.jpg"
        exif = Image.Exif()
        exif[0x0112] = tag
        Image.fromarray(rgb).transpose(stored).save(p, quality=95, exif=exif)
        assert Image.open(p).size == (rgb.shape[0], rgb.shape[1])  # stored sideways
        cases[f"exif{tag}"] = Case(p, "ok", rgb, 4.0)
    return cases


def make_scenes(folder: Path, selfies: list[Path]) -> dict[str, Case]:
    """No face, two faces, and a tiny face, from real selfies."""
    folder.mkdir(parents=True, exist_ok=True)
    cases: dict[str, Case] = {}
    p = folder / "flat.png"
    Image.new("RGB", (320, 240), (70, 110, 170)).save(p)
    cases["flat"] = Case(p, "no_face")
    p = folder / "sky.jpg"  # a smooth vertical gradient with a little noise
    ramp = np.linspace(0, 1, 240)[:, None, None]
    sky = (np.array([90, 140, 220]) * (1 - ramp) + np.array([200, 220, 240]) * ramp) * np.ones((1, 320, 1))
    sky += np.random.default_rng(1).normal(0, 2, sky.shape)
    Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8)).save(p, quality=90)
    cases["sky"] = Case(p, "no_face")

    a = np.asarray(Image.open(selfies[0]).convert("RGB"))
    b = np.asarray(Image.open(selfies[1]).convert("RGB"))
    small = cv2.resize(b, (180, 180), interpolation=cv2.INTER_AREA)
    right = np.full_like(a, 128)
    right[38:218, 38:218] = small
    p = folder / "two_faces.jpg"  # the larger face (left half) must be the one kept
    Image.fromarray(np.concatenate([a, right], axis=1)).save(p, quality=95)
    cases["two_faces"] = Case(p, "ok")

    canvas = np.full((480, 640, 3), 200, np.uint8)
    canvas[160:184, 213:237] = cv2.resize(a, (24, 24), interpolation=cv2.INTER_AREA)
    p = folder / "tiny.png"
    Image.fromarray(canvas).save(p)
    cases["tiny"] = Case(p, "tiny_face")
    return cases


@pytest.fixture(scope="session")
def selfie_paths(shared_data) -> list[Path]:
    paths = [shared_data / "photos" / "selfie" / name for name in SELFIES]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        pytest.fail(f"missing shared selfies: {missing}")
    return paths


@pytest.fixture(scope="session")
def odd_images(tmp_path_factory, selfie_paths) -> dict[str, Case]:
    """The odd files, written once per session; tests must not modify them."""
    return make_odd_images(tmp_path_factory.mktemp("odd"), selfie_paths[0])


@pytest.fixture(scope="session")
def scene_builder():
    """``make_scenes(folder, selfies)`` for tests that need their own copy."""
    return make_scenes


@pytest.fixture(scope="session")
def odd_builder():
    """``make_odd_images(folder, selfie)`` for tests that need their own copy."""
    return make_odd_images
