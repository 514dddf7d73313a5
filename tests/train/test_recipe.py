"""The fast recipe's training mechanics: paired batches, low-resolution phase, warm-up, cached Grams."""

from __future__ import annotations

import shutil

import pytest
import torch

from geostyle.data.dataset import FaceSet, partner_indices, read_pairs, resize_uint8, step_generator
from geostyle.data.prepare import prepare_dataset
from geostyle.errors import ConfigError, GeostyleError
from geostyle.train import losses as L
from geostyle.train.trainer import build_trainer

from .test_trainer import tiny_config


@pytest.fixture(scope="module")
def cuhk_pairs(shared_data, tmp_path_factory):
    """Six real CUHK photo/sketch pairs prepared at 64 px, and the pairs CSV (one partner missing)."""
    root = tmp_path_factory.mktemp("cuhk")
    photos = sorted((shared_data / "styles/sketch_cuhk/photo").glob("*.jpg"))[:6]
    out = {}
    for domain, sub in (("photo", "photo"), ("style", "sketch")):
        src = root / f"src_{domain}"
        src.mkdir()
        for p in photos:
            stem = p.stem if sub == "photo" else f"{p.stem[0].upper()}2-{p.stem[2:]}-sz1"
            shutil.copy(shared_data / "styles/sketch_cuhk" / sub / f"{stem}.jpg", src / f"{stem}.jpg")
        prepare_dataset(src, root / domain, domain=domain, size=64, progress=False)
        out[domain] = root / domain
    csv = root / "pairs.csv"
    rows = [f"{p.stem},{p.stem[0].upper()}2-{p.stem[2:]}-sz1" for p in photos[:5]]  # the 6th has no row
    csv.write_text("# test pairs\nphoto,truth\n" + "\n".join(rows) + "\nnot-a-photo,nothing-sz1\n")
    out["csv"] = csv
    return out


def test_pairs_csv_and_partners(cuhk_pairs):
    pairs = read_pairs(cuhk_pairs["csv"])
    assert len(pairs) == 6 and pairs[0][1].endswith("-sz1")
    photos, styles = FaceSet(cuhk_pairs["photo"], 32), FaceSet(cuhk_pairs["style"], 32)
    partner = partner_indices(photos, styles, pairs)
    assert (partner >= 0).sum() == 5 and partner[5] == -1  # the unlisted photo has no partner
    for i in range(5):
        stem = photos.stems[i]
        assert styles.stems[int(partner[i])] == f"{stem[0].upper()}2-{stem[2:]}-sz1"


def test_bad_pairs_file(tmp_path):
    with pytest.raises(GeostyleError, match="no such pairs file"):
        read_pairs(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("photo,truth\nonlyone\n")
    with pytest.raises(GeostyleError, match="photo,truth"):
        read_pairs(bad)


def test_paired_batches_hold_each_photo_with_its_own_drawing(cuhk_pairs, tmp_path):
    datasets = {"photo": cuhk_pairs["photo"], "style": cuhk_pairs["style"]}
    cfg = tiny_config(
        datasets, "data.target=paired", "loss.target=1.0", "loss.target_gradient=1.0", "loss.target_tone=1.0"
    )
    cfg.data.pairs = str(cuhk_pairs["csv"])
    tr = build_trainer(cfg, tmp_path, progress=False)
    assert len(tr.photo_pool) == 5
    for step in range(4):
        x, y, style_idx, flips = tr.batches(step)
        photo_idx = tr.photo_pool[tr.phase(step).photo_sampler.indices(step)]
        for pi, si in zip(photo_idx.tolist(), style_idx.tolist()):
            stem = tr.photos.stems[pi]
            assert tr.styles.stems[si] == f"{stem[0].upper()}2-{stem[2:]}-sz1"
    stats = tr.train_step(0)
    assert stats["g/target"] > 0 and "g/target_gradient" in stats
    # The tone term compares cell means: never more than the per-pixel L1 (the mean of differences
    # is at most the mean of their sizes), and above zero for an untrained generator.
    assert 0 < stats["g/target_tone"] <= stats["g/target"] + 1e-6
    assert tr.tone_cell(torch.zeros(1, 1, cfg.data.resolution, cfg.data.resolution)) == cfg.loss.target_tone_cell
    assert tr.tone_cell(torch.zeros(1, 1, cfg.data.resolution // 2, cfg.data.resolution // 2)) == max(
        1, round(cfg.loss.target_tone_cell / 2)
    )
    # The dense target is the partner drawing aligned onto the photo's target geometry.
    s = tr.prepare_step(1)
    assert s.target is not None and s.target.shape == s.x.images.shape
    assert not torch.equal(s.target, s.y.images)  # warped, not the raw drawing


def test_paired_without_pairs_is_a_config_error(tiny_datasets, tmp_path):
    with pytest.raises(ConfigError, match="data.pairs"):
        build_trainer(tiny_config(tiny_datasets, "data.target=paired"), tmp_path, progress=False)
    with pytest.raises(ConfigError, match="data.target"):
        build_trainer(tiny_config(tiny_datasets, "data.target=sketchy"), tmp_path, progress=False)


def test_low_resolution_phase_then_full_size(tiny_datasets, tmp_path):
    cfg = tiny_config(
        tiny_datasets,
        "train.low_resolution=16",
        "train.low_resolution_steps=3",
        "train.low_resolution_batch=4",
        "data.target=cartoon",
        "loss.target=1.0",
        "loss.edge_fake=1.0",
    )
    tr = build_trainer(cfg, tmp_path, progress=False)
    x, y, style_idx, style_flips = tr.batches(0)
    assert x.images.shape == (4, 3, 16, 16) and y.images.shape == (4, 3, 16, 16)
    # Read from copies resized once: the batch as if resized from the full-size batch (mirrored
    # alike), up to the copy's rounding to whole grey levels.
    g = step_generator(cfg.train.seed, 0, 0, stream=0)
    flips = torch.rand(2, 4, generator=g) < 0.5
    full_y = tr.styles.batch(style_idx, flips[1])
    resized = torch.nn.functional.interpolate(full_y.images, size=(16, 16), mode="bilinear", antialias=True)
    assert torch.equal(style_flips, flips[1]) and torch.equal(y.points, full_y.points)
    assert float((y.images - resized).abs().max()) <= 1.01 / 127.5 and float((y.images - resized).abs().mean()) > 0
    soft = tr.edge_fakes(style_idx, style_flips, 16)
    assert tr.edge_smoothed is not None
    expected = resize_uint8(tr.edge_smoothed[style_idx], 16).float().div(127.5).sub(1.0)
    expected[style_flips] = expected[style_flips].flip(-1)
    torch.testing.assert_close(soft, expected, atol=0, rtol=0)  # the blurred-line copies, mirrored alike
    x, _, _, _ = tr.batches(3)
    assert x.images.shape == (2, 3, 32, 32)
    low, full = tr.train_step(0), tr.train_step(3)
    assert low["train/resolution"] == 16 and full["train/resolution"] == 32
    assert low["d/edge_fake"] >= 0 and low["g/target"] > 0


def test_adversarial_warmup_ramps_only_the_critics(tiny_datasets, tmp_path):
    tr = build_trainer(tiny_config(tiny_datasets, "train.adversarial_warmup=10"), tmp_path, progress=False)
    w0, w5, w20 = tr.term_weights(0), tr.term_weights(5), tr.term_weights(20)
    assert w0["g/adv"] == 0 and w5["g/adv"] == pytest.approx(0.5 * w20["g/adv"]) and w20["g/adv"] > 0
    assert w0["g/cycle"] == w20["g/cycle"] > 0


def test_cached_exemplar_grams_equal_fresh_ones(tiny_datasets, tmp_path):
    tr = build_trainer(tiny_config(tiny_datasets, "loss.style=0.5"), tmp_path, progress=False)
    idx = torch.tensor([1, 0, 1])
    cached = tr.exemplar_grams(idx, 32)
    assert tr.perceptual is not None
    fresh = [L.gram_matrix(f) for f in tr.perceptual.features(tr.styles.batch(idx).images)]
    for a, b in zip(cached, fresh):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    feats = tr.perceptual.features(tr.styles.batch(idx).images.flip(-1))
    direct = L.style_texture_loss(feats, tr.perceptual.features(tr.styles.batch(idx).images))
    torch.testing.assert_close(L.gram_texture_loss(feats, cached), direct)


def test_each_release_gets_a_quick_evaluation(tiny_datasets, tmp_path):
    # Four photos and styles stay out of training: the quick evaluation judges those.
    cfg = tiny_config(
        tiny_datasets, "train.steps=1", "train.quick_eval_photos=2", "data.max_photos=4", "data.max_styles=4"
    )
    from geostyle.train.run import train

    release = train(cfg, tmp_path, progress=False)
    tr = build_trainer(cfg, tmp_path / "again", progress=False)
    assert tr.photos.source_dir is not None and tr.styles.source_dir is not None
    assert release is not None
    proc = tr.quick_evaluate(release)
    report = tmp_path / "again" / "eval" / release.stem
    assert proc is not None and proc.wait(timeout=600) == 0, (report / "evaluate.log").read_text()[-2000:]
    import json

    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["n_outputs"] == 2  # --n 2 of the 4 held-out photos
    assert {"photo", "grayscale", "pencil", "cartoon"} <= set(metrics["baselines"])


def test_a_run_that_trains_on_every_photo_is_judged_on_them_and_says_so(tiny_datasets, tmp_path):
    # A user's own folders: every prepared photo is trained on, four exemplars stay out. The quick
    # evaluation used to fail in its log ("no photos left to evaluate") and nobody saw it.
    from geostyle.train.run import train

    release = train(tiny_config(tiny_datasets, "train.steps=1", "data.max_styles=4"), tmp_path, progress=False)
    tr = build_trainer(
        tiny_config(tiny_datasets, "train.quick_eval_photos=2", "data.max_styles=4"), tmp_path / "again", progress=False
    )
    assert tr.quick_eval_scope() == "photos"
    assert release is not None
    proc = tr.quick_evaluate(release)
    report = tmp_path / "again" / "eval" / release.stem
    assert proc is not None and proc.wait(timeout=600) == 0, (report / "evaluate.log").read_text()[-2000:]
    import json

    inputs = json.loads((report / "metrics.json").read_text())["inputs"]
    assert inputs["include_trained"] == "photos"
    assert inputs["photos_evaluated"] == 2
    assert inputs["excluded_trained"] == {"photos": 0, "styles": len(tr.styles)}  # the learnt exemplars stay out
    assert "not held out: the photos the model was trained on" in (report / "report.md").read_text()
    assert tr.finished_quick_evals() == [f"quick evaluation: {report / 'report.md'}"]
    assert tr.quick_evals == []


def test_a_one_shot_run_trains_without_quick_evaluations_and_says_why(tiny_datasets, shared_data, tmp_path):
    # One exemplar: training works; KID has nothing to compare with, so no evaluation is started
    # (it would only fail in its log with "fewer than 2 readable style images").
    src = tmp_path / "one"
    src.mkdir()
    shutil.copy(sorted((shared_data / "styles" / "anime").glob("*.jpg"))[0], src)
    one = {"photo": tiny_datasets["photo"], "style": tmp_path / "one_style"}
    prepare_dataset(src, one["style"], domain="style", size=64, progress=False)
    tr = build_trainer(tiny_config(one, "train.quick_eval_photos=2", "data.max_photos=4"), tmp_path / "run", progress=False)
    assert len(tr.styles) == 1
    blocker = tr.quick_eval_blocker()
    assert blocker is not None and "fewer than 2 style images" in blocker
    assert tr.quick_evaluate(tmp_path / "model-000001.safetensors") is None and tr.quick_evals == []
    two = build_trainer(tiny_config(tiny_datasets, "train.quick_eval_photos=2"), tmp_path / "two", progress=False)
    assert two.quick_eval_blocker() is None


def test_a_failed_quick_evaluation_is_reported_with_its_error(tiny_datasets, tmp_path):
    tr = build_trainer(
        tiny_config(tiny_datasets, "train.quick_eval_photos=2", "data.max_photos=4", "data.max_styles=4"),
        tmp_path,
        progress=False,
    )
    assert tr.quick_eval_scope() == ""  # photos and exemplars are left out: judge those
    proc = tr.quick_evaluate(tmp_path / "model-000007.safetensors")  # no such release
    assert proc is not None and proc.wait(timeout=300) != 0
    (line,) = tr.finished_quick_evals()
    assert line.startswith("quick evaluation of model-000007 failed (geostyle evaluate: error:")
    assert line.endswith(str(tmp_path / "eval" / "model-000007" / "evaluate.log"))


def test_target_parts_come_from_the_aligned_exemplar(tiny_datasets, tmp_path):
    from geostyle.train.targets import cartoon_target, part_masks
    from geostyle.warp.grid import warp_image

    cfg = tiny_config(tiny_datasets, "data.target=cartoon", "loss.target=1.0", "data.target_parts=[right_eye, left_eye]")
    tr = build_trainer(cfg, tmp_path, progress=False)
    s = tr.prepare_step(0)
    assert s.target is not None and s.geo.exemplar_on_target is not None
    plain = cartoon_target(s.warped_x, tr.palette)
    ex = warp_image(s.y.images, s.geo.exemplar_on_target)
    m = part_masks(s.geo.photo_target, s.geo.photo_target_mask & s.y.mask, s.target.shape[-1], width=cfg.data.target_part_width)
    inside, outside = (m >= 1.0).expand_as(s.target), (m <= 0.0).expand_as(s.target)
    assert inside.any() and outside.any()
    assert torch.allclose(s.target[inside], ex[inside], atol=1e-5)  # the exemplar's own eyes
    assert torch.allclose(s.target[outside], plain[outside], atol=1e-5)  # the cartoon elsewhere
    assert tr.train_step(0)["g/target"] > 0


def test_target_parts_are_checked(tiny_datasets, tmp_path):
    with pytest.raises(ConfigError, match="unknown part"):
        build_trainer(tiny_config(tiny_datasets, "data.target=cartoon", "data.target_parts=[ears]"), tmp_path)
    with pytest.raises(ConfigError, match="target=cartoon"):
        build_trainer(tiny_config(tiny_datasets, "data.target_parts=[left_eye]"), tmp_path)


def test_the_cartoon_base_is_computed_once_for_the_generator_and_the_target(tiny_datasets, tmp_path, monkeypatch):
    from geostyle.nets import blocks, generator
    from geostyle.train.targets import cartoon_target

    cfg = tiny_config(
        tiny_datasets,
        "data.target=cartoon",
        "data.target_filter=guided",
        "loss.target=1.0",
        "model.generator_kwargs={widths: [8, 8, 16], num_blocks: 1, cartoon_base: true}",
    )
    tr = build_trainer(cfg, tmp_path, progress=False)
    s = tr.prepare_step(0)
    assert s.drawn is not None and s.target is not None
    torch.testing.assert_close(s.target, cartoon_target(s.warped_x, tr.palette, "guided"), atol=0, rtol=0)
    # A step draws the base once for G(x) and the target, then once each for G(F(y)) and the
    # deformation pass: 3 drawings, where computing it for each user would make 4.
    drawings = []
    real = blocks.cartoon_base

    def counted(image, *args, **kwargs):
        drawings.append(tuple(image.shape))
        return real(image, *args, **kwargs)

    monkeypatch.setattr(blocks, "cartoon_base", counted)
    monkeypatch.setattr(generator, "cartoon_base", counted)
    tr.train_step(0)
    assert len(drawings) == 3, drawings
    # Generators without the base get none.
    assert build_trainer(tiny_config(tiny_datasets), tmp_path / "plain", progress=False).prepare_step(0).drawn is None
    with pytest.raises(ValueError, match="draws its own"):
        cartoon_target(s.warped_x, tr.palette, "bilateral", drawn=s.drawn)


def test_a_generator_with_ink_gets_a_cartoon_target_with_the_same_lines(tiny_datasets, tmp_path):
    from geostyle.nets.blocks import ink_lines
    from geostyle.train.targets import cartoon_target

    kwargs = "model.generator_kwargs={widths: [8, 8, 16], num_blocks: 1, cartoon_base: true%s}"
    common = ("data.target=cartoon", "data.target_filter=guided", "loss.target=1.0")
    plain = build_trainer(tiny_config(tiny_datasets, *common, kwargs % ""), tmp_path / "plain", progress=False)
    inked = build_trainer(tiny_config(tiny_datasets, *common, kwargs % ", ink: 0.5"), tmp_path / "ink", progress=False)
    a, b = plain.prepare_step(2), inked.prepare_step(2)
    assert a.target is not None and b.target is not None
    torch.testing.assert_close(a.warped_x, b.warped_x, atol=0, rtol=0)
    # The same drawing, darkened toward black by half the warped photo's lines: exactly what the
    # generator does to its own output, so off the lines nothing changes.
    lines = ink_lines(b.warped_x)
    torch.testing.assert_close(b.target, (a.target + 1) * (1 - 0.5 * lines) - 1, atol=1e-6, rtol=0)
    assert float(lines.amax()) > 0.5 and float((a.target - b.target).abs().amax()) > 0.2
    torch.testing.assert_close(a.target, cartoon_target(a.warped_x, plain.palette, "guided"), atol=0, rtol=0)
    # and a step trains toward it.
    assert inked.train_step(2)["g/target"] > 0


def test_a_generator_with_dark_colour_gets_a_cartoon_target_with_it(tiny_datasets, tmp_path):
    """A generator set with ``dark_colour`` trains toward a cartoon target given the same filter
    (before the ink, as the generator applies them); without it the target is as before."""
    from geostyle.nets.blocks import cap_lift, keep_dark_colour

    kwargs = "model.generator_kwargs={widths: [8, 8, 16], num_blocks: 1, cartoon_base: true%s}"
    common = ("data.target=cartoon", "data.target_filter=guided", "loss.target=1.0")
    plain = build_trainer(tiny_config(tiny_datasets, *common, kwargs % ""), tmp_path / "plain", progress=False)
    dark = ", dark_colour: 1.0, dark_depth: 0.6, lift_cap: 16"
    kept = build_trainer(tiny_config(tiny_datasets, *common, kwargs % dark), tmp_path / "dark", progress=False)
    a, b = plain.prepare_step(2), kept.prepare_step(2)
    assert a.target is not None and b.target is not None
    torch.testing.assert_close(a.warped_x, b.warped_x, atol=0, rtol=0)
    expected = cap_lift(keep_dark_colour(a.target, a.warped_x, 1.0, 0.6), a.warped_x, 16)
    torch.testing.assert_close(b.target, expected, atol=1e-6, rtol=0)
    assert float((a.target - b.target).abs().amax()) > 0.01
    assert kept.train_step(2)["g/target"] > 0


def test_terms_on_every_nth_step_weigh_n_times_there(tiny_datasets, tmp_path):
    from geostyle.train.trainer import due

    assert [s for s in range(8) if due(s, 2)] == [1, 3, 5, 7] and all(due(s, 1) for s in range(3))
    cfg = tiny_config(
        tiny_datasets, "loss.deformation_every=2", "loss.style_cycle_every=3", "loss.photo_cycle_every=6"
    )
    tr = build_trainer(cfg, tmp_path, progress=False)
    keys = ("g/deform_inv", "g/cycle_style", "g/cycle")
    kept = {k: tuple(key in st for key in keys) for k, st in ((k, tr.train_step(k)) for k in range(6))}
    assert kept == {
        0: (False, False, False),
        1: (True, False, False),
        2: (False, True, False),
        3: (True, False, False),
        4: (False, False, False),
        5: (True, True, True),
    }
    lc = cfg.loss
    assert tr.term_weights(1)["g/deform_inv"] == 2 * lc.deformation_invariance
    assert tr.term_weights(2)["g/cycle_style"] == 3 * lc.cycle
    assert tr.term_weights(5)["g/cycle"] == 6 * lc.cycle
    # The photo critic's term rides on the style cycle's F(y): weighted like it, logged only with it.
    assert tr.term_weights(2)["g/adv_photo"] == 3 * lc.reverse_adversarial > 0
    assert [("d/photo" in tr.train_step(k)) for k in (6, 7, 8)] == [False, False, True]
    # The balance probe reports the average pull: the plain weights, and every term.
    assert tr.term_weights()["g/deform_inv"] == lc.deformation_invariance
    s = tr.prepare_step(0)
    fake = tr.nets.generator(s.x.images, s.geo.target_from_photo)
    assert "g/deform_inv" not in tr.style_path_terms(s, fake)
    assert "g/deform_inv" in tr.style_path_terms(s, fake, every_term=True)
    with pytest.raises(ConfigError, match="deformation_every"):
        build_trainer(tiny_config(tiny_datasets, "loss.deformation_every=0"), tmp_path / "bad")


def _teacher_of(datasets, tmp_path):
    """The bundled anime model, recorded as trained on the tiny style set (a teacher must have learnt
    the student's styles)."""
    from geostyle.nets.release import resolve_model, update_release_extra

    stems = FaceSet(datasets["style"], 32).stems
    path = tmp_path / "teacher.safetensors"
    update_release_extra(resolve_model("anime"), path, trained_on={"photos": [], "styles": stems})
    return path


def _teacher_config(datasets, teacher_file, *overrides: str):
    """The tiny config training toward ``teacher_file``'s output, with ``overrides``."""
    return tiny_config(datasets, "data.target=teacher", f"data.teacher={teacher_file}", "loss.target=10.0", *overrides)


def test_a_teacher_draws_with_the_students_dark_colour_and_depth(tiny_datasets, tmp_path):
    """The trainer hands the student's own ``dark_colour``, ``dark_depth``, ``lift_cap``, ``clear_marks`` and
    ``ink_grain`` to its teacher, whatever the teacher's release carries (the bundled anime model: 1, 0.6, 0, 0
    and the default 8)."""
    teacher_file = _teacher_of(tiny_datasets, tmp_path)
    kwargs = (
        "model.generator_kwargs={widths: [8, 8, 16], num_blocks: 1, dark_colour: 0.5, dark_depth: 0.3, lift_cap: 20, "
        "clear_marks: 0.25, ink_grain: 3}"
    )
    tr = build_trainer(_teacher_config(tiny_datasets, teacher_file, kwargs), tmp_path / "run", progress=False)
    assert tr.teacher is not None and (tr.teacher.dark_colour, tr.teacher.dark_depth, tr.teacher.lift_cap) == (0.5, 0.3, 20)
    assert tr.teacher.clear_marks == 0.25 and tr.teacher.ink_grain == 3.0


def test_teacher_target_is_the_teachers_output_and_the_student_learns_it(tiny_datasets, tmp_path):
    import hashlib

    from geostyle.nets.release import load_release, read_release_metadata

    teacher_file = _teacher_of(tiny_datasets, tmp_path)
    cfg = _teacher_config(tiny_datasets, teacher_file, "train.lr_generator=2e-3")
    tr = build_trainer(cfg, tmp_path / "run", progress=False)
    teacher = load_release(teacher_file).generator
    s = tr.prepare_step(3)
    # The bundled teacher draws with ink; the target carries the student's ink (none here), a fixed
    # filter, not something to learn.
    assert teacher.ink == 1.0 and tr.teacher is not None and tr.teacher.ink == 0.0
    # Its dark colour and depth too (the bundled models carry them, the student none).
    assert teacher.dark_colour == 1.0 and tr.teacher.dark_colour == 0.0
    assert teacher.dark_depth == 0.6 and tr.teacher.dark_depth == 0.0
    assert teacher.clear_marks == 0.0 and tr.teacher.clear_marks == 0.0  # the bundled anime ships it off
    from geostyle.train.trainer import load_teacher

    stems = FaceSet(tiny_datasets["style"], 32).stems
    inked_teacher, _ = load_teacher(str(teacher_file), torch.device("cpu"), 3, stems, ink=0.5, dark_colour=0.25, dark_depth=0.1)
    assert (inked_teacher.ink, inked_teacher.dark_colour, inked_teacher.dark_depth) == (0.5, 0.25, 0.1)
    with torch.no_grad():
        inked = teacher(s.x.images, s.geo.target_from_photo)
        teacher.ink = 0.0
        teacher.set_dark_colour(0.0)
        teacher.set_dark_depth(0.0)
        teacher.set_clear_marks(0.0)
        expected = teacher(s.x.images, s.geo.target_from_photo)
    assert s.target is not None and s.target.shape == s.x.images.shape
    assert torch.allclose(s.target, expected, atol=1e-6)
    assert (inked - expected).abs().amax() > 0.5
    # The bundled anime model redraws the photo: the target is not the warped photo.
    assert (s.target - s.warped_x).abs().mean() > 0.05
    assert tr.teacher is not None and not any(p.requires_grad for p in tr.teacher.parameters())
    first = [tr.train_step(step)["g/target"] for step in range(5)]
    for step in range(5, 35):
        tr.train_step(step)
    last = [tr.train_step(step)["g/target"] for step in range(35, 40)]
    # The student's L1 to the teacher falls (it starts as the warped photo).
    assert sum(last) < 0.9 * sum(first), (first, last)
    # The release names its teacher by hash, as the resume state does.
    sha = hashlib.sha256(teacher_file.read_bytes()).hexdigest()
    release = tr.save_release(tmp_path / "student.safetensors")
    assert read_release_metadata(release)["extra"]["teacher"]["sha256"] == sha
    assert tr.state_dict()["teacher_sha256"] == sha


def test_teacher_target_is_checked(tiny_datasets, tmp_path):
    with pytest.raises(ConfigError, match="data.teacher"):
        build_trainer(tiny_config(tiny_datasets, "data.target=teacher", "loss.target=1"), tmp_path / "a", progress=False)
    with pytest.raises(ConfigError, match="only used with data.target=teacher"):
        build_trainer(tiny_config(tiny_datasets, "data.teacher=anime"), tmp_path / "b", progress=False)
    with pytest.raises(ConfigError, match="unknown model"):
        build_trainer(
            tiny_config(tiny_datasets, "data.target=teacher", "data.teacher=picasso", "loss.target=1"),
            tmp_path / "c",
            progress=False,
        )
    # The bundled sketch model learnt the CUHK sketches, not these anime faces: its student would
    # learn pencil sketches.
    with pytest.raises(ConfigError, match="did not train on"):
        build_trainer(
            tiny_config(tiny_datasets, "data.target=teacher", "data.teacher=sketch", "loss.target=1"),
            tmp_path / "d",
            progress=False,
        )
    with pytest.raises(ConfigError, match="loss.target > 0"):
        build_trainer(
            tiny_config(tiny_datasets, "data.target=teacher", f"data.teacher={_teacher_of(tiny_datasets, tmp_path)}"),
            tmp_path / "e",
            progress=False,
        )


def _two_distilled_steps(datasets, tmp_path):
    """A tiny distillation run of two steps: (teacher file, config, run directory)."""
    from geostyle.train.run import train

    teacher_file = _teacher_of(datasets, tmp_path)
    cfg = tiny_config(
        datasets, "data.target=teacher", f"data.teacher={teacher_file}", "loss.target=1", "train.steps=2"
    )
    run = tmp_path / "run"
    train(cfg, run, progress=False)
    return teacher_file, cfg, run


def test_resume_refuses_another_teacher(tiny_datasets, tmp_path):
    from geostyle.errors import CheckpointError
    from geostyle.nets.release import update_release_extra
    from geostyle.train.run import train

    teacher_file, cfg, run = _two_distilled_steps(tiny_datasets, tmp_path)
    # The same file under another name resumes; another file under the run's name does not.
    moved = tmp_path / "moved.safetensors"
    moved.write_bytes(teacher_file.read_bytes())
    assert train(cfg, run, resume=True, progress=False, steps=3, teacher=str(moved)) is not None
    update_release_extra(teacher_file, teacher_file, note="retrained")  # other bytes, same name
    with pytest.raises(CheckpointError, match="SHA-256"):
        train(cfg, run, resume=True, progress=False, steps=4, teacher=str(teacher_file))


def test_resume_without_a_saved_teacher_hash_needs_the_teacher_named(tiny_datasets, tmp_path):
    # Runs saved before teachers were hashed: their teacher name may mean another file now.
    from geostyle.errors import CheckpointError
    from geostyle.train import checkpoint as ckpt
    from geostyle.train.run import train

    teacher_file, cfg, run = _two_distilled_steps(tiny_datasets, tmp_path)
    state = ckpt.load_resume(run / "resume.pt")
    del state["teacher_sha256"]
    ckpt.save_resume(run / "resume.pt", {k: v for k, v in state.items() if k not in ("format", "version")})
    with pytest.raises(CheckpointError, match="without its teacher's hash"):
        train(cfg, run, resume=True, progress=False, steps=3)
    assert train(cfg, run, resume=True, progress=False, steps=3, teacher=str(teacher_file)) is not None
    assert "teacher_sha256" in ckpt.load_resume(run / "resume.pt")  # hashed from now on


def test_teacher_styles_compare_as_stems_with_dots(tiny_datasets, tmp_path):
    # Releases store stems, and a stem may hold dots ("face.001"): taking Path(..).stem of it again
    # would cut it short and refuse a teacher that did learn these styles.
    from geostyle.nets.release import resolve_model, update_release_extra
    from geostyle.train.trainer import load_teacher

    path = tmp_path / "dotted.safetensors"
    update_release_extra(resolve_model("anime"), path, trained_on={"photos": [], "styles": ["face.001", "b"]})
    teacher, identity = load_teacher(str(path), torch.device("cpu"), 3, ["face.001", "b"])
    assert identity["file"] == "dotted.safetensors" and len(identity["sha256"]) == 64
    with pytest.raises(ConfigError, match="did not train on 1 of the 2"):
        load_teacher(str(path), torch.device("cpu"), 3, ["face.001", "c"])


def test_a_student_names_its_teacher_s_photo_palette(tiny_datasets, tmp_path):
    """A student of a teacher trained on the photo set's one palette draws colours relative to that
    set as its teacher does, so its releases name the teacher's palette (the stylizer then tints a
    greyscale photo for it too); a student of a per-crop teacher names none, and a malformed palette
    is refused before training."""
    from geostyle.nets.release import read_release_metadata, update_release_extra
    from geostyle.train import checkpoint as ckpt
    from geostyle.train.run import train

    per_crop = tmp_path / "per_crop_teacher.safetensors"  # a teacher trained per crop names no palette
    update_release_extra(_teacher_of(tiny_datasets, tmp_path), per_crop, photo_palette=None)
    final = train(_teacher_config(tiny_datasets, per_crop, "train.steps=1"), tmp_path / "a", progress=False)
    assert "photo_palette" not in read_release_metadata(final)["extra"]
    palette = {"mean": [120.5, 137.0, 134.0], "std": [70.0, 10.0, 12.0]}
    set_teacher = tmp_path / "set_teacher.safetensors"
    update_release_extra(per_crop, set_teacher, photo_palette=palette)
    final = train(_teacher_config(tiny_datasets, set_teacher, "train.steps=1"), tmp_path / "b", progress=False)
    assert read_release_metadata(final)["extra"]["photo_palette"] == palette
    assert ckpt.load_resume(tmp_path / "b" / "resume.pt")["photo_palette"] == palette
    broken = tmp_path / "broken_teacher.safetensors"
    update_release_extra(per_crop, broken, photo_palette={"mean": [1.0, 2.0]})
    with pytest.raises(ConfigError, match="photo_palette is malformed"):
        train(_teacher_config(tiny_datasets, broken, "train.steps=1"), tmp_path / "c", progress=False)
