"""``load_image`` on every odd input, made from a real selfie."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from geostyle.data.images import list_images, load_image, save_image, to_rgb8
from geostyle.errors import GeostyleError, ImageReadError

UNREADABLE = ("corrupt", "truncated", "text", "empty")
READABLE = ("gray", "rgba", "gray16", "cmyk", "palette", "exif6", "exif8")


@pytest.mark.parametrize("name", UNREADABLE)
def test_unreadable_files_raise_one_clear_error(odd_images, name):
    case = odd_images[name]
    with pytest.raises(ImageReadError) as info:
        load_image(case.path)
    assert isinstance(info.value, GeostyleError)
    assert str(case.path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageReadError, match="no such file"):
        load_image(tmp_path)


@pytest.mark.parametrize("name", READABLE)
def test_odd_modes_become_upright_rgb8(odd_images, name):
    case = odd_images[name]
    image = load_image(case.path)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.flags["C_CONTIGUOUS"]
    assert image.shape == case.upright.shape, "EXIF orientation not applied" if "exif" in name else ""
    err = np.abs(image.astype(float) - case.upright.astype(float)).mean()
    assert err <= case.tolerance, (name, err)


def test_exif_rotation_is_not_a_near_miss(odd_images):
    """The sideways pixels really are turned the right way, not merely to the right shape: the wrong
    turn (180 degrees off) is far from the original."""
    case = odd_images["exif6"]
    image = load_image(case.path).astype(float)
    assert np.abs(image - case.upright).mean() < 4.0
    assert np.abs(image[::-1, ::-1] - case.upright).mean() > 20.0
    # without the tag the image is sideways
    stored = np.asarray(Image.open(case.path).convert("RGB"))
    assert stored.shape[:2] == case.upright.shape[1::-1]


def test_malformed_exif_does_not_make_an_image_unreadable(tmp_path, selfie_paths):
    rgb = np.asarray(Image.open(selfie_paths[0]).convert("RGB"))
    exif = Image.Exif()
    exif[0x0112] = 42  # no such orientation: ignored
    path = tmp_path / "odd_orientation.jpg"
    Image.fromarray(rgb).save(path, quality=95, exif=exif)
    assert load_image(path).shape == rgb.shape


def test_to_rgb8_float_and_int_modes():
    ramp = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    out = to_rgb8(Image.fromarray(ramp))
    assert out.shape == (8, 8, 3) and out[0, 0, 0] == 0 and out[-1, -1, 0] == 255
    wide = Image.fromarray((ramp * 4000).astype(np.int32))
    assert to_rgb8(wide).max() <= 255 and to_rgb8(wide)[-1, -1, 0] == round(4000 / 65535 * 255)
    la = Image.fromarray(np.dstack([np.full((4, 4), 10, np.uint8), np.zeros((4, 4), np.uint8)]))
    assert (to_rgb8(la) == 255).all()  # fully transparent -> white


def test_save_and_list_images(tmp_path, selfie_paths):
    rgb = load_image(selfie_paths[0])
    save_image(tmp_path / "a" / "b" / "x.png", rgb)
    save_image(tmp_path / "a" / "y.jpg", rgb)
    (tmp_path / "a" / "notes.txt").write_text("x")
    assert np.array_equal(load_image(tmp_path / "a" / "b" / "x.png"), rgb)
    assert [p.name for p in list_images(tmp_path)] == ["x.png", "y.jpg"]
