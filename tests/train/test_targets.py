"""Dense targets and edge-promoting fakes on real images: the properties that make them cartoons."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from geostyle.data.images import load_image
from geostyle.train.targets import (
    Palette,
    cartoon_image,
    cartoon_target,
    edge_smoothed,
    skin_chroma,
    source_palette,
    transfer_palette,
)


@pytest.fixture(scope="module")
def photo(shared_data):
    return cv2.resize(load_image(shared_data / "photos/selfie/female_13582.jpg"), (128, 128), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def anime(shared_data):
    paths = sorted((shared_data / "styles/anime").glob("*.jpg"))[:6]
    return np.stack([cv2.resize(load_image(p), (128, 128), interpolation=cv2.INTER_AREA) for p in paths])


def test_palette_statistics_match_opencv_lab(anime):
    pal = Palette.of(anime)
    lab = np.concatenate([cv2.cvtColor(im, cv2.COLOR_RGB2LAB).reshape(-1, 3) for im in anime]).astype(float)
    np.testing.assert_allclose(pal.mean, lab.mean(0), atol=1e-6)
    np.testing.assert_allclose(pal.std, lab.std(0), atol=1e-6)


def test_palette_transfer_moves_the_statistics_to_the_palette(photo, anime):
    pal = Palette.of(anime)
    moved = cv2.cvtColor(transfer_palette(photo, pal), cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(float)
    # Within uint8 rounding and clipping of the Lab round trip.
    np.testing.assert_allclose(moved.mean(0), pal.mean, atol=4.0)
    np.testing.assert_allclose(moved.std(0), pal.std, rtol=0.15)
    np.testing.assert_array_equal(transfer_palette(photo, pal, amount=0.0), _lab_round_trip(photo))


def test_palette_transfer_is_the_reinhard_formula_also_on_a_grey_photo(photo, anime):
    """The float32 affine form against the float64 formula, and on a photo with no chroma at all
    (spread 0: the scale is ~1e7, where cancelling two huge products once gave garbage colours)."""
    pal = Palette.of(anime)

    def reference(image, amount):
        lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float64)
        mean, std = lab.reshape(-1, 3).mean(0), lab.reshape(-1, 3).std(0) + 1e-6
        moved = (lab - mean) / std * np.asarray(pal.std) + np.asarray(pal.mean)
        return cv2.cvtColor(np.clip(lab + amount * (moved - lab), 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)

    grey = np.repeat(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    for image in (photo, grey):
        for amount in (1.0, 0.5):
            ours, ref = transfer_palette(image, pal, amount).astype(int), reference(image, amount).astype(int)
            assert np.abs(ours - ref).max() <= 1 and (ours != ref).mean() < 0.01
    # The grey photo's chroma lands on the exemplars' mean chroma (the skin-coloured grey), flat.
    ab = cv2.cvtColor(transfer_palette(grey, pal), cv2.COLOR_RGB2LAB)[..., 1:].reshape(-1, 2).astype(float)
    assert ab.std(0).max() < 1.5
    np.testing.assert_allclose(ab.mean(0), pal.mean[1:], atol=2.0)


def test_neutral_palette_transfer_keeps_greys_grey(photo, anime):
    """A face crop with a grey and a black patch: Reinhard's transfer moves the chroma about the
    skin's mean, so the neutral patches take a colour (the teal blacks); the neutral transfer keeps
    them grey while the skin takes the exemplars' colour."""
    pal = Palette.of(anime)
    image = photo.copy()
    image[:24, :24] = 128  # grey
    image[-24:, -24:] = 20  # black

    def chroma(img):
        lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB).astype(float)
        return lab[..., 1:] - 128.0

    reinhard, neutral = (transfer_palette(image, pal, mode=m) for m in ("reinhard", "neutral"))
    for patch in (np.s_[:24, :24], np.s_[-24:, -24:]):
        assert np.linalg.norm(chroma(reinhard)[patch], axis=-1).mean() > 6.0
        assert np.linalg.norm(chroma(neutral)[patch], axis=-1).mean() < 2.5
    # The colourful pixels (the skin) move toward the exemplars' mean colour.
    skin = np.s_[40:90, 40:90]
    target = np.asarray(pal.mean[1:]) - 128.0
    before = np.linalg.norm(chroma(image)[skin].reshape(-1, 2).mean(0) - target)
    after = np.linalg.norm(chroma(neutral)[skin].reshape(-1, 2).mean(0) - target)
    assert after < 0.5 * before, (before, after)
    lightness = cv2.cvtColor(neutral, cv2.COLOR_RGB2LAB)[..., 0].astype(float)
    assert abs(lightness.mean() - pal.mean[0]) < 5.0  # the lightness still moves as Reinhard's
    with pytest.raises(ValueError, match="palette transfer"):
        transfer_palette(image, pal, mode="vivid")


def test_set_palette_transfer_keeps_people_apart(photo, anime):
    """Reinhard's transfer takes every crop to the exemplars' mean lightness, so a darker face is
    lifted further than a light one; the set transfer moves both by the set's one formula, so the
    darker stays darker by the same ratio of spreads."""
    pal = Palette.of(anime)
    lab = cv2.cvtColor(photo, cv2.COLOR_RGB2LAB).astype(np.float64)
    darker = lab.copy()
    darker[..., 0] *= 0.6  # the same face, darker
    darker = cv2.cvtColor(darker.astype(np.uint8), cv2.COLOR_LAB2RGB)
    source = Palette.of(np.stack([photo, darker]))

    def lightness(image):
        return cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[..., 0].astype(float).mean()

    gap_before = lightness(photo) - lightness(darker)
    reinhard = [lightness(transfer_palette(im, pal)) for im in (photo, darker)]
    kept = [lightness(transfer_palette(im, pal, mode="set", source=source)) for im in (photo, darker)]
    assert abs(reinhard[0] - reinhard[1]) < 3.0  # both faces at the exemplars' lightness
    assert gap_before > 30.0

    def set_formula(image):  # the set's one affine map of the lightness, clipped as uint8 Lab is
        lab_l = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[..., 0].astype(float)
        return np.clip((lab_l - source.mean[0]) / source.std[0] * pal.std[0] + pal.mean[0], 0, 255).mean()

    for got, image in zip(kept, (photo, darker), strict=True):
        assert abs(got - set_formula(image)) < 3.0, (got, set_formula(image))  # RGB gamut clipping
    assert kept[0] - kept[1] > 0.8 * gap_before * pal.std[0] / source.std[0]
    # The set as a whole lands on the palette's mean lightness.
    assert abs(np.mean(kept) - pal.mean[0]) < 4.0
    # A crop with the set's own statistics is moved exactly as Reinhard's transfer moves it.
    own = Palette.of(photo[None])
    np.testing.assert_array_equal(transfer_palette(photo, pal, mode="set", source=own), transfer_palette(photo, pal))
    with pytest.raises(ValueError, match="set's statistics"):
        transfer_palette(photo, pal, mode="set")
    with pytest.raises(ValueError, match="set's statistics"):
        transfer_palette(photo, pal, source=source)


def test_skin_palette_transfer_takes_the_skin_to_the_exemplars_skin(photo, anime):
    """``"skin"`` is the set's transfer with the chroma anchored at the cheeks: it differs from
    ``"set"`` only by one shift of a* and b*, the one that takes the photo set's skin colour to the
    exemplars' skin colour; the lightness is the set's."""
    from dataclasses import replace

    source = Palette.of(photo[None])
    pal = Palette.of(anime)
    # A green-haired exemplar set's whole-image mean is greener than its skin (a* under 128 is green).
    source_s = replace(source, skin=(source.mean[1] + 6.0, source.mean[2] + 9.0))
    pal_s = replace(pal, skin=(pal.mean[1] + 4.0, pal.mean[2] - 3.0))
    lab = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2LAB).astype(np.float64)  # noqa: E731
    rgb_set = transfer_palette(photo, pal, mode="set", source=source)
    rgb_skin = transfer_palette(photo, pal_s, mode="skin", source=source_s)
    by_set, by_skin = lab(rgb_set), lab(rgb_skin)
    scale = np.asarray(pal.std[1:]) / (np.asarray(source.std[1:]) + 1e-6)
    shift = (np.asarray(pal_s.skin) - pal.mean[1:]) - scale * (np.asarray(source_s.skin) - source.mean[1:])
    # Away from the RGB gamut's edges, where the conversion back clips.
    inside = np.all((rgb_set > 8) & (rgb_set < 247) & (rgb_skin > 8) & (rgb_skin < 247), axis=-1)
    assert inside.mean() > 0.3
    got = (by_skin[..., 1:] - by_set[..., 1:])[inside].mean(0)
    np.testing.assert_allclose(got, shift, atol=1.5)  # RGB round trips
    assert np.abs(got).max() > 5.0  # a real shift, not none
    assert abs((by_skin[..., 0] - by_set[..., 0])[inside].mean()) < 1.0  # the lightness is the set's
    # A pixel of the photo set's skin colour lands on the exemplars' skin colour.
    skin_pixel = np.array([[[source.mean[0], *source_s.skin]]], np.float64)
    rgb = cv2.cvtColor(np.round(skin_pixel).astype(np.uint8), cv2.COLOR_LAB2RGB)
    moved = lab(transfer_palette(rgb, pal_s, mode="skin", source=source_s))[0, 0, 1:]
    np.testing.assert_allclose(moved, pal_s.skin, atol=2.5)
    with pytest.raises(ValueError, match="skin's chroma"):
        transfer_palette(photo, pal, mode="skin", source=source_s)
    with pytest.raises(ValueError, match="set's statistics"):
        transfer_palette(photo, pal_s, mode="skin")
    # The palette keeps its skin through a release's dict, and an old dict without one still reads.
    assert Palette.from_dict(pal_s.to_dict()) == pal_s
    assert Palette.from_dict(pal.to_dict()) == pal
    with pytest.raises(ValueError, match="a\\* and b\\*"):
        Palette.from_dict({**pal.to_dict(), "skin": [1.0]})


def test_skin_chroma_reads_the_cheeks_not_the_hair():
    """A face of skin colour inside green hair: the whole image's mean is green, its cheeks are not."""
    from geostyle.faces.landmarks import INDEX, NUM_LANDMARKS

    skin_rgb, hair_rgb = (225, 180, 160), (60, 170, 90)
    image = np.zeros((128, 128, 3), np.uint8)
    image[:] = hair_rgb
    image[40:110, 34:94] = skin_rgb
    pixels = {
        "right_eye_bottom": (48, 52), "left_eye_bottom": (80, 52), "nose_tip": (64, 72),
        "mouth_right": (52, 92), "mouth_left": (76, 92),
    }
    points = np.zeros((1, NUM_LANDMARKS, 2))
    mask = np.zeros((1, NUM_LANDMARKS), bool)
    for name, (x, y) in pixels.items():
        points[0, INDEX[name]] = ((x + 0.5) / 64.0 - 1.0, (y + 0.5) / 64.0 - 1.0)
        mask[0, INDEX[name]] = True
    expected = cv2.cvtColor(np.array([[skin_rgb]], np.uint8), cv2.COLOR_RGB2LAB)[0, 0, 1:]
    np.testing.assert_allclose(skin_chroma(image[None], points, mask), expected, atol=0.5)
    assert abs(Palette.of(image[None]).mean[1] - expected[0]) > 10.0  # the hair moves the whole mean
    # Two faces: the mean of their cheeks; a face without its nose tip counts for nothing.
    other = image.copy()
    other[40:110, 34:94] = (200, 150, 120)
    second = cv2.cvtColor(np.array([[(200, 150, 120)]], np.uint8), cv2.COLOR_RGB2LAB)[0, 0, 1:]
    both = skin_chroma(np.stack([image, other]), np.concatenate([points, points]), np.concatenate([mask, mask]))
    np.testing.assert_allclose(both, (expected.astype(float) + second) / 2.0, atol=0.5)
    no_nose = mask.copy()
    no_nose[0, INDEX["nose_tip"]] = False
    assert skin_chroma(image[None], points, no_nose) is None


def test_source_palette_measures_what_the_target_moves(photo, anime):
    from geostyle.nets.blocks import cartoon_base

    x = torch.from_numpy(photo).permute(2, 0, 1)[None].float().div(127.5).sub(1.0)
    flipped = x.flip(-1)
    darker = (x + 1.0) * 0.5 - 1.0
    photos = torch.cat([x, flipped, darker])
    plain = source_palette(photos)
    np.testing.assert_allclose(plain.mean, Palette.of(np.concatenate([_u8(x), _u8(flipped), _u8(darker)])).mean, atol=1e-6)
    drawn = source_palette(photos, cartoon_base)
    assert drawn.mean[0] < plain.mean[0] - 0.5  # the filter's lines darken the drawing
    np.testing.assert_allclose(drawn.mean, Palette.of(_u8(cartoon_base(photos))).mean, atol=1e-6)
    # At most `limit` photos, spread over the set: the first and the last.
    np.testing.assert_allclose(source_palette(photos, limit=2).mean, Palette.of(np.concatenate([_u8(x), _u8(darker)])).mean, atol=1e-6)
    # The guided target moves the drawing by the set's formula.
    out = cartoon_target(x, Palette.of(anime), "guided", "set", source=drawn)
    base = np.clip(np.round((cartoon_base(x)[0].permute(1, 2, 0).numpy() + 1.0) * 127.5), 0, 255).astype(np.uint8)
    expected = transfer_palette(base, Palette.of(anime), mode="set", source=drawn).astype(np.float64)
    got = ((out[0].permute(1, 2, 0).numpy() + 1.0) * 127.5).round()
    assert np.abs(got - expected).max() <= 1.0
    # A prepared set's uint8 images read as the same pictures.
    as_u8 = torch.from_numpy(_u8(photos)).permute(0, 3, 1, 2).contiguous()
    np.testing.assert_allclose(source_palette(as_u8).mean, plain.mean, atol=1e-6)
    with pytest.raises(ValueError, match="no photos"):
        source_palette(photos[:0])


def _u8(images):
    from geostyle.data.images import to_uint8

    return to_uint8(images)


def _lab_round_trip(image):
    return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2LAB), cv2.COLOR_LAB2RGB)


def test_cartoon_is_flat_with_dark_lines(photo):
    out = cartoon_image(photo)
    assert out.shape == photo.shape and out.dtype == np.uint8
    # Flat colour: far fewer distinct lightness values and weaker fine texture than the photo.
    lum_in = cv2.cvtColor(photo, cv2.COLOR_RGB2LAB)[..., 0]
    lum_out = cv2.cvtColor(out, cv2.COLOR_RGB2LAB)[..., 0]
    line = np.abs(out.astype(int) - cartoon_image(photo, line_strength=0.0).astype(int)).sum(-1) > 0
    assert len(np.unique(lum_out[~line])) < 0.5 * len(np.unique(lum_in))
    # Line art: dark pixels sit where the photo has local contrast (edges), not in flat regions.
    gray = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY).astype(np.float64)
    local_std = np.sqrt(np.maximum(cv2.blur(gray**2, (5, 5)) - cv2.blur(gray, (5, 5)) ** 2, 0))
    assert 0.01 < line.mean() < 0.4
    assert np.median(local_std[line]) > 2 * np.median(local_std[~line])
    assert lum_out[line].mean() < 0.5 * lum_out[~line].mean()


def test_cartoon_target_batch_matches_the_image_function(photo, anime):
    pal = Palette.of(anime)
    batch = torch.from_numpy(np.stack([photo, photo[:, ::-1].copy()])).permute(0, 3, 1, 2).float() / 127.5 - 1
    out = cartoon_target(batch, pal)
    assert out.shape == batch.shape and out.min() >= -1 and out.max() <= 1
    first = ((out[0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
    np.testing.assert_allclose(first.astype(int), cartoon_image(photo, pal).astype(int), atol=1)


def test_edge_smoothing_blurs_only_the_lines(anime):
    soft = edge_smoothed(anime)
    assert soft.shape == anime.shape
    diff = np.abs(soft.astype(int) - anime.astype(int)).sum(-1) > 0
    for im, changed in zip(anime, diff):
        edges = cv2.dilate(cv2.Canny(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), 100, 200), np.ones((3, 3))) > 0
        assert changed.any()
        assert not changed[~edges].any()  # nothing away from the lines moves
    # Blurred lines are weaker: less high-frequency energy than the originals.
    lap = [np.abs(cv2.Laplacian(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), cv2.CV_64F)).mean() for x in (anime[0], soft[0])]
    assert lap[1] < 0.9 * lap[0]


def _eye_points(size: int = 64):
    """Canonical landmarks (normalised frame) with only the two eyes set: centres at x = -0.4 / +0.4."""
    from geostyle.faces.landmarks import INDEX, NUM_LANDMARKS

    pts = torch.zeros(1, NUM_LANDMARKS, 2)
    mask = torch.zeros(1, NUM_LANDMARKS, dtype=torch.bool)
    for side, cx in (("right", -0.4), ("left", 0.4)):
        outer = cx - 0.1 if side == "right" else cx + 0.1
        inner = cx + 0.1 if side == "right" else cx - 0.1
        for name, x in ((f"{side}_eye_center", cx), (f"{side}_eye_outer", outer), (f"{side}_eye_inner", inner)):
            pts[0, INDEX[name]] = torch.tensor([x, -0.2])
            mask[0, INDEX[name]] = True
    return pts, mask


def test_part_masks_cover_the_eyes_and_nothing_else():
    from geostyle.train.targets import part_masks

    size = 64
    pts, mask = _eye_points(size)
    m = part_masks(pts, mask, size, width=1.6, aspect=0.8, feather=0.35)[0, 0]
    assert m.shape == (size, size) and float(m.min()) >= 0 and float(m.max()) <= 1

    def at(x: float, y: float) -> float:  # normalised -> nearest pixel
        return float(m[int((y + 1) * size / 2), int((x + 1) * size / 2)])

    assert at(-0.4, -0.2) == pytest.approx(1.0) and at(0.4, -0.2) == pytest.approx(1.0)
    # semi-axes: 1.6 x 0.1 = 0.16 across, 0.128 down; outside them the mask is 0
    assert at(-0.4 + 0.2, -0.2) == 0.0 and at(-0.4, -0.2 + 0.16) == 0.0
    assert at(0.0, -0.2) == 0.0 and at(0.0, 0.5) == 0.0  # between the eyes, the mouth region
    # a missing corner removes that eye's mask, not the other one
    from geostyle.faces.landmarks import INDEX

    mask2 = mask.clone()
    mask2[0, INDEX["left_eye_outer"]] = False
    m2 = part_masks(pts, mask2, size, width=1.6)[0, 0]
    assert float(m2[int(0.8 * size / 2), int(1.4 * size / 2)]) == 0.0
    assert float(m2[int(0.8 * size / 2), int(0.6 * size / 2)]) == pytest.approx(1.0)


def test_paste_parts_takes_the_exemplar_inside_the_mask_only():
    from geostyle.train.targets import paste_parts

    target, exemplar = torch.full((1, 3, 8, 8), -1.0), torch.full((1, 3, 8, 8), 1.0)
    masks = torch.zeros(1, 1, 8, 8)
    masks[..., 2:4, 2:4] = 1.0
    masks[..., 5, 5] = 0.5
    out = paste_parts(target, exemplar, masks)
    assert torch.all(out[..., 2:4, 2:4] == 1.0) and torch.all(out[..., 0, :] == -1.0)
    assert torch.allclose(out[..., 5, 5], torch.zeros(1, 3))


def test_guided_cartoon_target_is_the_generator_base_in_the_exemplar_palette(photo, anime):
    from geostyle.nets.blocks import cartoon_base

    x = torch.from_numpy(photo).permute(2, 0, 1)[None].float().div(127.5).sub(1.0)
    pal = Palette.of(anime)
    out = cartoon_target(x, pal, "guided")
    base = (cartoon_base(x)[0].permute(1, 2, 0).numpy() + 1.0) * 127.5
    expected = transfer_palette(np.clip(np.round(base), 0, 255).astype(np.uint8), pal)
    got = ((out[0].permute(1, 2, 0).numpy() + 1.0) * 127.5).round()
    assert np.abs(got - expected.astype(np.float64)).max() <= 1.0
    unpainted = ((cartoon_target(x, None, "guided")[0].permute(1, 2, 0).numpy() + 1.0) * 127.5).round()
    assert np.abs(unpainted - np.clip(np.round(base), 0, 255)).max() <= 1.0
    with pytest.raises(ValueError, match="cartoon filter"):
        cartoon_target(x, pal, "median")


def test_skin_masks_cover_the_face_inside_its_outline(astronaut_path):
    """On a real face: the skin mask holds the cheeks and forehead between the brows, not the hair
    above the brows, not the background beside the jaw, not the chin's edge; a face with too few
    outline points gets none."""
    from geostyle.data.images import load_image
    from geostyle.faces.landmarks import INDEX, pixels_to_normalized
    from geostyle.infer.stylize import Stylizer
    from geostyle.train.targets import skin_masks

    aligned = Stylizer("anime").align(load_image(astronaut_path))
    lm, size = aligned.landmarks, 256
    pts = torch.from_numpy(np.nan_to_num(pixels_to_normalized(lm, size, size))).float()[None]
    mask = torch.from_numpy(np.isfinite(lm).all(-1))[None]
    m = skin_masks(pts, mask, size)[0, 0].numpy()

    def at(name: str, dx: float = 0.0, dy: float = 0.0) -> float:
        x, y = lm[INDEX[name]]
        return float(m[int(round(y + dy)), int(round(x + dx))])

    eye_gap = lm[INDEX["left_eye_center"], 0] - lm[INDEX["right_eye_center"], 0]
    assert at("nose_tip") > 0.95 and at("right_eye_center", dy=0.6 * eye_gap) > 0.95  # nose, cheek
    assert at("nose_bridge", dy=-0.1 * eye_gap) > 0.9  # between the brows
    assert at("nose_bridge", dy=-0.9 * eye_gap) < 0.05  # the hair above the brows
    # the face's own edge stays the photo's: the hull is shrunk toward the centre
    assert at("chin") < 0.5 and at("jaw_right", dx=-0.3 * eye_gap) < 0.05
    few = mask.clone()
    few[0, [INDEX[n] for n in ("jaw_right", "cheek_right", "jaw_right_lower", "chin", "jaw_left_lower",
                               "cheek_left", "jaw_left", "right_brow_outer")]] = False  # fmt: skip
    assert float(skin_masks(pts, few, size).max()) == 0.0
