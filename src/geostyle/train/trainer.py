"""The training loop. It receives built objects (datasets, networks, aligner, losses); building them
from a :class:`~geostyle.train.config.Config` is :func:`build_trainer`'s job.

One optimisation step:
1. photo batch ``x`` (landmarks ``p``) and exemplar batch ``y`` (landmarks ``s``);
2. target geometry ``t = p + alpha (S - P)``; TPS fields ``t<-p`` (for G), ``p<-t`` (cycle),
   ``t<-s`` (exemplar aligned onto the photo's target: "pairs with identical landmarks");
3. generator step: adversarial (global + local parts at ``t``), cycle through the inverse warp,
   content (perceptual, G(x) vs the photo warped to ``t``), deformation invariance, reverse cycle;
4. discriminator step: aligned exemplars (real) vs G(x) (fake), local crops, photo-domain D for F.
Every per-step random choice comes from :func:`step_generator`, so resuming is exact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from geostyle.data.contact_sheet import save_grid
from geostyle.data.dataset import (
    EpochSampler,
    FaceSet,
    partner_indices,
    read_pairs,
    resize_uint8,
    step_generator,
)
from geostyle.data.images import list_images, to_uint8
from geostyle.errors import CheckpointError, ConfigError
from geostyle.nets.blocks import INK_GRAIN
from geostyle.train import checkpoint as ckpt
from geostyle.train import losses as L
from geostyle.train.augment import DiffAugment
from geostyle.train.config import Config, save_config
from geostyle.train.distributed import (
    DistInfo,
    average_scalars,
    barrier,
    resolve_device,
    resolve_precision,
    unwrap,
    wrap,
)
from geostyle.train.ema import EMA
from geostyle.train.release_settings import check_release_settings
from geostyle.train.samples import draw_points
from geostyle.train.stats import StatsWriter
from geostyle.warp.alignment import BatchAligner, compose_fields
from geostyle.warp.grid import random_tps_grid, warp_image
from geostyle.warp.local import crop_parts

if TYPE_CHECKING:
    from geostyle.nets.perceptual import PerceptualLoss
    from geostyle.train.targets import Palette

PART_CROP = 32  # local discriminator crop size at 256 px training resolution, scaled with it
TARGETS = ("none", "cartoon", "paired", "teacher")


@dataclass
class Phase:
    """Image size and batch of a stretch of steps (low-resolution steps first, then full size)."""

    resolution: int
    batch_size: int
    aligner: BatchAligner
    photo_sampler: EpochSampler
    style_sampler: EpochSampler
    part_crop: int


@dataclass
class Networks:
    generator: torch.nn.Module  # G: photo -> style
    reverse: torch.nn.Module  # F: style -> photo
    disc_style: torch.nn.Module  # global, style domain
    disc_photo: torch.nn.Module | None  # global, photo domain (for F)
    disc_local: torch.nn.Module | None  # eyes / nose / mouth crops, style domain


@dataclass
class StepInputs:
    """One step's batches, geometry and targets, before any network runs."""

    step: int
    phase: Phase
    x: Any  # photo Batch
    y: Any  # exemplar Batch (the photos' own artworks in paired mode)
    geo: Any  # PairGeometry
    rng: torch.Generator
    real: tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # exemplars as the critics see them
    warped_x: torch.Tensor  # photos in their target geometry
    target: torch.Tensor | None  # dense target of G(x) (data.target), None without one
    style_idx: torch.Tensor
    style_flips: torch.Tensor | None
    drawn: torch.Tensor | None = None  # G's cartoon base of warped_x (cartoon-base generators only)


# Lab levels the photo set's palette may differ by on resume (the same photos give the same numbers;
# float rounding across machines stays far below this).
PHOTO_PALETTE_TOLERANCE = 0.01
# Fewer exemplars than this with a whole-image palette transfer get the run-start note of
# Trainer.palette_note: the first ten anime exemplars' mean a*, b* lie about 4 Lab levels from the
# bundled models' fifty; the first three's a* is 7 levels greener, the first one's 21.
FEW_EXEMPLARS = 10


class Trainer:
    def __init__(
        self,
        config: Config,
        run_dir: str | Path,
        photos: FaceSet,
        styles: FaceSet,
        nets: Networks,
        aligner: BatchAligner,
        perceptual: PerceptualLoss | None,
        dist_info: DistInfo | None = None,
        progress: bool = True,
    ):
        self.cfg = config
        self.run_dir = Path(run_dir)
        self.photos, self.styles = photos, styles
        self.dist = dist_info or DistInfo()
        self.progress = progress
        self.quick_evals: list[tuple[Path, subprocess.Popen]] = []  # (report folder, process), oldest first
        self.aligner = aligner
        self.perceptual = perceptual
        tc = config.train
        # Networks arrive on their device (build_trainer); batches and geometry are built on the CPU
        # (seeded CPU generators make runs reproducible and resumable) and moved once per step.
        self.device = next(nets.generator.parameters()).device
        # None = float32; bfloat16 = the networks' forward passes under autocast (train.precision).
        self.autocast_dtype = resolve_precision(tc.precision, self.device)
        self.ema = EMA(nets.generator, tc.ema_decay, tc.ema_start)
        # What each release carries beyond the weights (the preset's drawings and filters; checked now,
        # not at the first release).
        self.release_arch_kwargs, self.release_extra = check_release_settings(
            config.release, config.model.generator, nets.generator
        )
        self.nets = Networks(
            wrap(nets.generator, self.dist),
            wrap(nets.reverse, self.dist),
            wrap(nets.disc_style, self.dist),
            wrap(nets.disc_photo, self.dist) if nets.disc_photo is not None else None,
            wrap(nets.disc_local, self.dist) if nets.disc_local is not None else None,
        )
        g_params = list(nets.generator.parameters()) + list(nets.reverse.parameters())
        d_modules = [m for m in (nets.disc_style, nets.disc_photo, nets.disc_local) if m is not None]
        d_params = [p for m in d_modules for p in m.parameters()]
        betas = (float(tc.betas[0]), float(tc.betas[1]))
        self.opt_g = torch.optim.Adam(g_params, lr=tc.lr_generator, betas=betas)
        self.opt_d = torch.optim.Adam(d_params, lr=tc.lr_discriminator, betas=betas)
        policy = [p.strip() for p in config.augment.policy.split(",") if p.strip()]
        self.augment = DiffAugment(policy=policy, probability=config.augment.probability)
        # Part crops are cut at landmarks: translating them would teach the local critics nothing.
        self.augment_parts = DiffAugment(
            policy=[p for p in policy if p != "translation"], probability=config.augment.probability
        )
        self.adversarial = L.AdversarialLoss(config.loss.gan_type)
        dc = config.data
        if dc.target not in TARGETS:
            raise ConfigError(f"data.target: {dc.target!r} is not one of {', '.join(TARGETS)}")
        # Paired data: photo i trains against its own artwork partner[i]; unpaired photos are left out.
        self.partner: torch.Tensor | None = None
        photo_pool = torch.arange(len(photos))
        if dc.target == "paired":
            if not dc.pairs:
                raise ConfigError("data.target=paired needs data.pairs (a CSV of photo,artwork stems)")
            self.partner = partner_indices(photos, styles, read_pairs(dc.pairs))
            photo_pool = torch.nonzero(self.partner >= 0).flatten()
            if len(photo_pool) == 0:
                raise ConfigError(f"{dc.pairs}: no photo of {dc.photos} has a partner in {dc.styles}")
        self.photo_pool = photo_pool
        self.teacher: torch.nn.Module | None = None
        self.teacher_identity: dict[str, str] | None = None
        if dc.target == "teacher":
            if config.loss.target <= 0:
                raise ConfigError("data.target=teacher needs loss.target > 0 (the weight of the L1 to the teacher)")
            self.teacher, self.teacher_identity = load_teacher(
                dc.teacher,
                self.device,
                int(getattr(nets.generator, "channels", 3)),
                styles.stems,
                ink=float(getattr(nets.generator, "ink", 0.0)),
                ink_grain=float(getattr(nets.generator, "ink_grain", INK_GRAIN)),
                dark_colour=float(getattr(nets.generator, "dark_colour", 0.0)),
                dark_depth=float(getattr(nets.generator, "dark_depth", 0.0)),
                lift_cap=float(getattr(nets.generator, "lift_cap", 0.0)),
                clear_marks=float(getattr(nets.generator, "clear_marks", 0.0)),
            )
        elif dc.teacher:
            raise ConfigError("data.teacher is only used with data.target=teacher")
        from geostyle.train.targets import CARTOON_FILTERS, PALETTE_TRANSFERS, PASTE_PARTS

        unknown = [p for p in dc.target_parts if p not in PASTE_PARTS]
        if unknown:
            raise ConfigError(f"data.target_parts: unknown part(s) {unknown}; known: {', '.join(PASTE_PARTS)}")
        if dc.target_filter not in CARTOON_FILTERS:
            raise ConfigError(f"data.target_filter: {dc.target_filter!r} is not one of {', '.join(CARTOON_FILTERS)}")
        if dc.target_palette not in PALETTE_TRANSFERS:
            raise ConfigError(
                f"data.target_palette: {dc.target_palette!r} is not one of {', '.join(PALETTE_TRANSFERS)}"
            )
        if dc.target_parts and dc.target != "cartoon":
            raise ConfigError("data.target_parts needs data.target=cartoon")
        if not 0.0 <= dc.target_skin <= 1.0:
            raise ConfigError(f"data.target_skin must be between 0 and 1, got {dc.target_skin}")
        if dc.target_skin > 0 and not dc.target_parts:
            raise ConfigError("data.target_skin needs data.target_parts (the exemplar aligned onto the photo)")
        for key in ("deformation_every", "style_cycle_every", "photo_cycle_every"):
            if getattr(config.loss, key) < 1:
                raise ConfigError(f"loss.{key} must be >= 1 (1 = every step), got {getattr(config.loss, key)}")
        if config.loss.target_tone_cell < 1:
            raise ConfigError(f"loss.target_tone_cell must be >= 1 pixel, got {config.loss.target_tone_cell}")
        if not 0.0 <= config.loss.local_blur <= 0.5:
            # sigma as a fraction of the crop side: past half the crop a part is one flat colour
            raise ConfigError(f"loss.local_blur must be in [0, 0.5] (0 = off), got {config.loss.local_blur}")
        self.palette = None
        if dc.target == "cartoon":
            from geostyle.train.targets import Palette

            exemplars = styles.images.permute(0, 2, 3, 1).numpy()
            self.palette = Palette.of(exemplars)
            if dc.target_palette == "skin":
                from dataclasses import replace

                from geostyle.train.targets import skin_chroma

                skin = skin_chroma(exemplars, styles.points.numpy(), styles.mask.numpy())
                if skin is None:
                    raise ConfigError(
                        "data.target_palette: skin needs exemplars whose eyes, nose tip and mouth corners were found"
                    )
                self.palette = replace(self.palette, skin=skin)
        self.photo_palette = None
        if self.teacher is not None:
            # A student draws what its teacher draws, colours included: where the teacher learnt on the
            # photo set's one palette, the student's releases name it too, so the stylizer gives a
            # greyscale photo the set's average colour for both (geostyle.infer.tone).
            self.photo_palette = teacher_palette(dc.teacher)
        elif dc.target == "cartoon" and dc.target_palette in ("set", "skin"):
            from geostyle.nets.blocks import cartoon_base
            from geostyle.train.targets import source_palette

            # One transfer for the whole photo set, measured on what the target moves: for the guided
            # target the photos' drawings by G's own base (the filter's defaults where G has none, as
            # cartoon_target draws them), for the bilateral one the photos.
            g = unwrap(self.nets.generator)
            draw: Callable[[torch.Tensor], torch.Tensor] | None = None
            if dc.target_filter == "guided":
                draw = partial(_cartoon_base, g) if getattr(g, "cartoon_base", False) else cartoon_base
            anchored = dc.target_palette == "skin"
            self.photo_palette = source_palette(
                photos.images, draw, points=photos.points if anchored else None, mask=photos.mask if anchored else None
            )
            if anchored and self.photo_palette.skin is None:
                raise ConfigError("data.target_palette: skin needs photos whose eyes, nose tip and mouth corners were found")
        self.edge_smoothed: torch.Tensor | None = None
        # Low-resolution copies of the sets and of the edge-smoothed exemplars, made once per phase
        # resolution (batches and edge fakes read them instead of resizing every step).
        self._resized: dict[int, tuple[FaceSet, FaceSet]] = {}
        self._edge_resized: dict[int, torch.Tensor] = {}
        if config.loss.edge_fake > 0:
            from geostyle.train.targets import edge_smoothed

            soft = edge_smoothed(styles.images.permute(0, 2, 3, 1).numpy())
            self.edge_smoothed = torch.from_numpy(soft).permute(0, 3, 1, 2).contiguous()
        self.phases = [self._phase(photos.resolution, tc.batch_size, aligner, 0)]
        if tc.low_resolution > 0 and tc.low_resolution_steps > 0:
            low_batch = tc.low_resolution_batch or tc.batch_size
            low = self._phase(tc.low_resolution, low_batch, aligner.at_resolution(tc.low_resolution), 2)
            self.phases.insert(0, low)
        self._grams: dict[int, list[torch.Tensor]] = {}
        self.step = 0

    def _phase(self, resolution: int, batch: int, aligner: BatchAligner, seed_offset: int) -> Phase:
        tc = self.cfg.train
        return Phase(
            resolution,
            batch,
            aligner,
            EpochSampler(len(self.photo_pool), batch, tc.seed + seed_offset, self.dist.rank, self.dist.world),
            EpochSampler(len(self.styles), batch, tc.seed + seed_offset + 1, self.dist.rank, self.dist.world),
            max(16, int(round(PART_CROP * resolution / 256))),
        )

    def phase(self, step: int) -> Phase:
        tc = self.cfg.train
        return self.phases[0] if step < tc.low_resolution_steps else self.phases[-1]

    # ------------------------------------------------------------------ one step
    def batches(self, step: int):
        """The (photo, exemplar) batches of ``step``: a function of (seed, step, rank) only. In paired
        mode the exemplars are the photos' own artworks, mirrored with them."""
        ph = self.phase(step)
        g = step_generator(self.cfg.train.seed, step, self.dist.rank, stream=0)
        b = ph.batch_size
        flips = (torch.rand(2, b, generator=g) < 0.5) if self.cfg.data.hflip else None
        photo_idx = self.photo_pool[ph.photo_sampler.indices(step)]
        if self.partner is not None:
            style_idx = self.partner[photo_idx]
            if flips is not None:
                flips[1] = flips[0]
        else:
            style_idx = ph.style_sampler.indices(step)
        photos, styles = self.photos, self.styles
        if ph.resolution != photos.resolution:
            if ph.resolution not in self._resized:
                self._resized[ph.resolution] = (photos.resized(ph.resolution), styles.resized(ph.resolution))
            photos, styles = self._resized[ph.resolution]
        x = photos.batch(photo_idx, flips[0] if flips is not None else None)
        y = styles.batch(style_idx, flips[1] if flips is not None else None)
        return x, y, style_idx, (flips[1] if flips is not None else None)

    def edge_fakes(self, style_idx: torch.Tensor, flips: torch.Tensor | None, size: int) -> torch.Tensor:
        """Edge-smoothed copies of this step's exemplars, mirrored like them, in [-1, 1]."""
        assert self.edge_smoothed is not None
        if size not in self._edge_resized:
            self._edge_resized[size] = resize_uint8(self.edge_smoothed, size)
        soft = self._edge_resized[size][style_idx].float().div(127.5).sub(1.0)
        if flips is not None and bool(flips.any()):
            soft[flips] = soft[flips].flip(-1)
        return soft.to(self.device)

    def dense_target(
        self, y, warped_x: torch.Tensor, geo, drawn: torch.Tensor | None = None
    ) -> torch.Tensor | None:
        """What G(x) regresses to this step (``data.target``; the teacher's output is drawn in
        :meth:`prepare_step`, on the step's device), or None. A cartoon target carries the
        generator's ink, if it has any. ``drawn``: the generator's
        cartoon base of ``warped_x``, computed once for both (``StepInputs.drawn``)."""
        kind = self.cfg.data.target
        if kind == "cartoon":
            from geostyle.train.targets import cartoon_target

            target = cartoon_target(
                warped_x,
                self.palette,
                self.cfg.data.target_filter,
                self.cfg.data.target_palette,
                drawn=drawn,
                source=self.photo_palette,
            )
            parts = tuple(self.cfg.data.target_parts)
            if parts:
                from geostyle.train.targets import part_masks, paste_parts

                # The exemplar's own parts, aligned onto the photo's target geometry (unaligned in the
                # TPS ablation, as every other use of exemplars there).
                ex = y.images if geo.exemplar_on_target is None else warp_image(y.images, geo.exemplar_on_target)
                masks = part_masks(
                    geo.photo_target, geo.photo_target_mask & y.mask, target.shape[-1], parts,
                    width=self.cfg.data.target_part_width,
                )
                target = paste_parts(target, ex, masks)
                if self.cfg.data.target_skin > 0:
                    from geostyle.train.targets import skin_masks

                    # The region is the photo's (the exemplar has no jaw or brows to intersect with;
                    # warped onto the target geometry it covers the whole crop anyway).
                    seen, size = geo.photo_target_mask, target.shape[-1]
                    features = part_masks(geo.photo_target, seen, size, ("right_eye", "left_eye", "mouth"))
                    skin = skin_masks(geo.photo_target, seen, size) * (1.0 - features)
                    target = paste_parts(target, ex, self.cfg.data.target_skin * skin)
            generator = unwrap(self.nets.generator)
            apply_photo_tone = getattr(generator, "apply_photo_tone", None)
            if apply_photo_tone is not None:
                # Likewise the photo's hue and darkness in its darks, the lift cap and the cleared
                # marks (dark_colour, dark_depth, lift_cap, clear_marks; none by default): the
                # target carries what the output's fixed filters do, so the residual is not pulled
                # to undo it.
                target = apply_photo_tone(target, warped_x)
            draw_ink = getattr(generator, "draw_ink", None)
            if draw_ink is not None:
                # A generator with ink draws the warped photo's lines over its residual; the cartoon
                # target gets the same lines, so the residual is not pulled to undo them (a teacher
                # draws its target with the student's ink for the same reason, load_teacher; an
                # artist's drawing, the paired target, keeps its own lines). No ink: unchanged.
                target = draw_ink(target, warped_x)
            return target
        if kind == "paired":
            # The artist's drawing of this very photo, TPS-aligned onto the photo's target geometry
            # (the paper's aligned pairs, here with real ground truth). Without TPS: the raw drawing.
            if geo.exemplar_on_target is None:
                return y.images
            return warp_image(y.images, geo.exemplar_on_target)
        return None

    @torch.no_grad()
    def exemplar_grams(self, style_idx: torch.Tensor, resolution: int) -> list[torch.Tensor]:
        """Gram matrices of the exemplars' perceptual features (one ``(B, C, C)`` per layer), computed
        once per exemplar and training resolution. Grams discard positions, so the unaligned, unmirrored
        exemplar stands in for its warped copy; this saves a backbone pass per step."""
        assert self.perceptual is not None
        if resolution not in self._grams:
            size = self.cfg.loss.content_resolution
            per_layer: list[list[torch.Tensor]] = []
            # Cached for the whole run: computed in float32 also when the first call comes from
            # inside the step's autocast.
            off = torch.autocast(device_type=self.device.type, enabled=False)
            for chunk in torch.arange(len(self.styles)).split(16):
                images = _resize(_resize(self.styles.batch(chunk).images, resolution), size).to(self.device)
                with off:
                    grams = [L.gram_matrix(f) for f in self.perceptual.features(images)]
                per_layer = [a + [g] for a, g in zip(per_layer, grams)] if per_layer else [[g] for g in grams]
            self._grams[resolution] = [torch.cat(g) for g in per_layer]
        return [g[style_idx] for g in self._grams[resolution]]

    def adversarial_scale(self, step: int) -> float:
        warm = self.cfg.train.adversarial_warmup
        return 1.0 if warm <= 0 else min(1.0, step / warm)

    def prepare_step(self, step: int) -> StepInputs:
        """Everything of ``step`` that does not depend on the networks (shared with the balance probe)."""
        cfg = self.cfg
        ph = self.phase(step)
        x, y, style_idx, style_flips = self.batches(step)
        geo = ph.aligner.pair(x.points, x.mask, y.points, y.mask, cfg.geometry.align_exemplars)
        rng = step_generator(cfg.train.seed, step, self.dist.rank, stream=1)
        real = self.real_exemplars(y, geo, rng)
        warped_x = warped_photo(x.images, geo)
        # G(x)'s cartoon base is the filter of this same warped photo (where G warps as warped_photo
        # does), and the guided target starts from it too: computed once a step, not twice.
        g = unwrap(self.nets.generator)
        has_base = bool(getattr(g, "cartoon_base", False))
        shares_base = has_base and getattr(g, "padding_mode", "") == "border"
        guided = self.cfg.data.target == "cartoon" and self.cfg.data.target_filter == "guided"
        drawn = None
        with torch.no_grad():
            # The guided target starts from the generator's own base (its levels and lines);
            # G(x) reuses that drawing only where it warps as warped_photo does.
            target_base = _cartoon_base(g, warped_x) if has_base and guided else None
            drawn = target_base if shares_base else None
            target = self.dense_target(y, warped_x, geo, target_base)
        dev = self.device
        if dev.type != "cpu":
            x, y = _batch_to(x, dev), _batch_to(y, dev)
            geo = geo.to(dev)
            real = (real[0].to(dev), real[1].to(dev), real[2].to(dev))
            warped_x, target, drawn = warped_x.to(dev), _to(target, dev), _to(drawn, dev)
        if shares_base and drawn is None:
            with torch.no_grad():
                drawn = _cartoon_base(g, warped_x)  # where G would have drawn it: on the step's device
        if self.teacher is not None:
            # The teacher's output for G's own inputs (photo and field), drawn on the step's device in
            # float32: the output G regresses to, at every phase's resolution.
            with torch.no_grad():
                target = self.teacher(x.images, geo.target_from_photo)
        return StepInputs(step, ph, x, y, geo, rng, real, warped_x, target, style_idx, style_flips, drawn)

    def train_step(self, step: int) -> dict[str, float]:
        lc = self.cfg.loss
        G, Fr, Dx = self.nets.generator, self.nets.reverse, self.nets.disc_photo
        s = self.prepare_step(step)
        x, y, geo, rng = s.x, s.y, s.geo, s.rng
        stats: dict[str, float] = {}

        # ---------------- generator step
        self.opt_g.zero_grad(set_to_none=True)
        with self.autocast():
            fake_y = G(x.images, geo.target_from_photo, drawn=s.drawn)
            terms = self.style_path_terms(s, fake_y)
            fake_x = None
            if due(step, lc.style_cycle_every):
                fake_x = Fr(y.images, geo.style_target_from_style)
                rec_y = G(fake_x, geo.style_from_style_target)
                terms["g/cycle_style"] = F.l1_loss(rec_y, y.images)
                if Dx is not None and lc.reverse_adversarial > 0:
                    terms["g/adv_photo"] = self.adversarial.g_loss(f32(Dx(self.augment(fake_x, generator=rng))))
        weights = self.term_weights(step)
        loss_g = torch.zeros((), device=self.device)
        for key, value in terms.items():
            loss_g = loss_g + weights[key] * value.float()
            stats[key] = value.item()
        # How far the output has moved from the (warped) photo: 0 at initialisation, grows as texture is learnt.
        stats["g/change"] = F.l1_loss(fake_y.detach(), s.warped_x).item()
        loss_g.backward()
        self.opt_g.step()
        stats["g/total"] = loss_g.item()

        # ---------------- discriminator step
        self.opt_d.zero_grad(set_to_none=True)
        with self.autocast():
            loss_d = self._critic_loss(s, fake_y.detach(), fake_x, stats)
        loss_d.float().backward()
        self.opt_d.step()
        self.ema.update(unwrap(G), step)
        stats["train/resolution"] = float(s.phase.resolution)
        for k, v in stats.items():
            if not math.isfinite(v):
                raise FloatingPointError(
                    f"step {step}: {k} is {v}; lower the learning rates or check the data"
                )
        return stats

    def autocast(self):
        """The context of the networks' passes: bfloat16 autocast with ``train.precision`` bf16 (or
        auto where native); a no-op in float32."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def _critic_loss(
        self, s: StepInputs, fake_y_d: torch.Tensor, fake_x: torch.Tensor | None, stats: dict[str, float]
    ) -> torch.Tensor:
        """The discriminators' loss of this step on the generator's detached outputs."""
        lc = self.cfg.loss
        Dy, Dx, Dl = self.nets.disc_style, self.nets.disc_photo, self.nets.disc_local
        x, y, geo, rng, part_crop = s.x, s.y, s.geo, s.rng, s.phase.part_crop
        y_real, y_real_pts, y_real_mask = s.real
        real_in = y_real.detach().requires_grad_(lc.r1 > 0)
        seen = [self.augment(real_in, generator=rng), self.augment(fake_y_d, generator=rng)]
        if self.edge_smoothed is not None:
            soft = self.edge_fakes(s.style_idx, s.style_flips, y.images.shape[-1])
            if geo.exemplar_on_target is not None:
                soft = warp_image(soft, geo.exemplar_on_target)  # placed like the real exemplars
            seen.append(self.augment(soft, generator=rng))
        judged = critic_passes(Dy, seen)
        real_out = judged[0]
        loss_d = self.adversarial.d_loss(real_out, judged[1])
        stats["d/style"] = loss_d.item()
        if self.edge_smoothed is not None:
            d_edge = self.adversarial.d_fake_loss(judged[2])
            loss_d = loss_d + lc.edge_fake * d_edge
            stats["d/edge_fake"] = d_edge.item()
        if lc.r1 > 0:
            with torch.autocast(device_type=self.device.type, enabled=False):  # a gradient, not a pass
                r1 = L.r1_penalty(real_out, real_in)
            loss_d = loss_d + lc.r1 * r1
            stats["d/r1"] = r1.item()
        if Dl is not None and lc.local_adversarial > 0:
            real_crops, real_ids = crop_parts(y_real.detach(), y_real_pts, y_real_mask, part_crop)
            fake_crops, fake_ids = crop_parts(fake_y_d, geo.photo_target, geo.photo_target_mask, part_crop)
            seen_parts = [self.local_view(real_crops, rng), self.local_view(fake_crops, rng)]
            d_local = self.adversarial.d_loss(*critic_passes(Dl, seen_parts, [real_ids, fake_ids]))
            loss_d = loss_d + lc.local_adversarial * d_local
            stats["d/local"] = d_local.item()
        if Dx is not None and lc.reverse_adversarial > 0 and fake_x is not None:
            photo_seen = [self.augment(x.images, generator=rng), self.augment(fake_x.detach(), generator=rng)]
            d_photo = self.adversarial.d_loss(*critic_passes(Dx, photo_seen))
            # Trained on the style cycle's steps only: weighted like the generator's side of it.
            loss_d = loss_d + lc.reverse_adversarial * lc.style_cycle_every * d_photo
            stats["d/photo"] = d_photo.item()
        return loss_d

    def local_view(self, crops: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Part crops as the local critics see them, real and fake alike: blurred by
        ``loss.local_blur``, then augmented."""
        return self.augment_parts(L.surface_view(crops, self.cfg.loss.local_blur), generator=rng)

    def term_weights(self, step: int | None = None) -> dict[str, float]:
        """Config weight of each generator loss term at ``step`` (adversarial terms ramp up over
        ``train.adversarial_warmup``; full weights when ``step`` is None), keyed like the stats."""
        lc = self.cfg.loss
        warm = 1.0 if step is None else self.adversarial_scale(step)
        # A term computed every N-th step weighs N x on those steps: the same expected gradient
        # (step None: that average, as the balance probe reports it). The photo critic's term comes
        # with the style cycle's F(y), so it follows that cycle's N.
        deform_every = 1 if step is None else lc.deformation_every
        cycle_every = 1 if step is None else lc.style_cycle_every
        photo_every = 1 if step is None else lc.photo_cycle_every
        return {
            "g/adv": lc.adversarial * warm,
            "g/adv_local": lc.local_adversarial * warm,
            "g/cycle": lc.cycle * photo_every,
            "g/content": lc.content,
            "g/style": lc.style,
            "g/style_local": lc.style_local,
            "g/color": lc.color,
            "g/deform_inv": lc.deformation_invariance * deform_every,
            "g/cycle_style": lc.cycle * cycle_every,
            "g/adv_photo": lc.reverse_adversarial * warm * cycle_every,
            "g/target": lc.target,
            "g/target_perceptual": lc.target_perceptual,
            "g/target_gradient": lc.target_gradient,
            "g/target_tone": lc.target_tone,
        }

    def real_exemplars(self, y, geo, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Real exemplars as the discriminators see them, with their landmarks and mask: warped onto
        the paired photo's target geometry (with ``aligned_exemplar_prob``), so real and fake faces
        have their parts in the same places."""
        if geo.exemplar_on_target is None:
            return y.images, y.points, y.mask
        use = torch.rand(y.images.shape[0], generator=rng) < self.cfg.geometry.aligned_exemplar_prob
        aligned = warp_image(y.images, geo.exemplar_on_target)
        both = y.mask & geo.photo_target_mask
        return (
            torch.where(use[:, None, None, None], aligned, y.images),
            torch.where(use[:, None, None], geo.photo_target, y.points),
            torch.where(use[:, None], both, y.mask),
        )

    def tone_cell(self, images: torch.Tensor) -> int:
        """``loss.target_tone_cell`` at the size of ``images``: the same share of the face at the
        low-resolution phase as at ``data.resolution``."""
        return max(1, round(self.cfg.loss.target_tone_cell * images.shape[-1] / self.cfg.data.resolution))

    def style_path_terms(
        self, s: StepInputs, fake_y: torch.Tensor, every_term: bool = False
    ) -> dict[str, torch.Tensor]:
        """Unweighted generator loss terms of the photo -> style path that depend on ``fake_y = G(x)``
        (keyed like the stats; weights in :meth:`term_weights`). Shared by the training step and
        :mod:`geostyle.train.balance` (``every_term``: also the terms not due at this step)."""
        lc = self.cfg.loss
        x, geo, rng, warped_x, target = s.x, s.geo, s.rng, s.warped_x, s.target
        G, Fr, Dy, Dl = self.nets.generator, self.nets.reverse, self.nets.disc_style, self.nets.disc_local
        y_real, y_real_pts, y_real_mask = s.real
        part_crop = s.phase.part_crop
        terms: dict[str, torch.Tensor] = {}
        terms["g/adv"] = self.adversarial.g_loss(f32(Dy(self.augment(fake_y, generator=rng))))
        if Dl is not None and lc.local_adversarial > 0:
            crops, part_ids = crop_parts(fake_y, geo.photo_target, geo.photo_target_mask, part_crop)
            terms["g/adv_local"] = self.adversarial.g_loss(
                f32(Dl(self.local_view(crops, rng), part_ids))
            )
        if every_term or due(s.step, lc.photo_cycle_every):
            terms["g/cycle"] = F.l1_loss(Fr(fake_y, geo.photo_from_target), x.images)
        if target is not None:
            if lc.target > 0:
                terms["g/target"] = F.l1_loss(fake_y, target)
            if lc.target_gradient > 0:
                terms["g/target_gradient"] = L.image_gradient_loss(fake_y, target)
            if lc.target_tone > 0:
                terms["g/target_tone"] = L.tone_loss(fake_y, target, self.tone_cell(fake_y))
        uses_backbone = lc.content > 0 or lc.style > 0 or (target is not None and lc.target_perceptual > 0)
        if self.perceptual is not None and uses_backbone:
            # One backbone pass over G(x) serves the content, target and texture terms.
            size = lc.content_resolution
            fake_features = f32(self.perceptual.features(_resize(fake_y, size)))
            if lc.content > 0:
                with torch.no_grad():
                    photo_features = f32(self.perceptual.features(_resize(warped_x, size)))
                terms["g/content"] = self.perceptual.feature_distance(fake_features, photo_features)
            if target is not None and lc.target_perceptual > 0:
                with torch.no_grad():
                    target_features = f32(self.perceptual.features(_resize(target, size)))
                terms["g/target_perceptual"] = self.perceptual.feature_distance(fake_features, target_features)
            if lc.style > 0:
                grams = self.exemplar_grams(s.style_idx, s.phase.resolution)
                terms["g/style"] = L.gram_texture_loss(fake_features, grams)
        if self.perceptual is not None and lc.style_local > 0:
            terms["g/style_local"] = self._part_texture_loss(
                fake_y, geo.photo_target, geo.photo_target_mask, y_real, y_real_pts, y_real_mask, part_crop
            )
        if lc.color > 0:
            terms["g/color"] = F.l1_loss(_resize(fake_y, 16), _resize(warped_x, 16))
        if lc.deformation_invariance > 0 and (every_term or due(s.step, lc.deformation_every)):
            w_grid = random_tps_grid(
                x.images.shape[0],
                fake_y.shape[-2],
                fake_y.shape[-1],
                strength=lc.deformation_strength,
                generator=rng,
                # A 4x4 lattice of jitters, as smooth as fields get: evaluated at the aligner's field
                # density and upsampled bilinearly (per pixel it was 7 % of a 128 px step).
                lowres=s.phase.aligner.grid_resolution,
                device=fake_y.device,
            ).grid
            inner = (
                geo.target_from_photo
                if geo.target_from_photo is not None
                else s.phase.aligner.identity(x.images.shape[0]).to(fake_y.device)
            )
            fake_w = G(x.images, compose_fields(w_grid, inner))  # stylize with the deformation folded in
            terms["g/deform_inv"] = F.l1_loss(fake_w, warp_image(fake_y, w_grid))
        return terms

    def _part_texture_loss(
        self, fake, fake_points, fake_mask, real, real_points, real_mask, size: int
    ) -> torch.Tensor:
        """Texture of each facial part of G(x) (cut at the target landmarks) against the same part of
        the exemplars (cut at their own): Gram matrices averaged per part over the batch, so a part
        missing in one sample does not unbalance the pairing."""
        assert self.perceptual is not None
        # Two layers: deeper ones reduce a part crop to a few pixels (strokes and shading live here).
        fake_crops, fake_ids = crop_parts(fake, fake_points, fake_mask, size)
        with torch.no_grad():
            real_crops, real_ids = crop_parts(real, real_points, real_mask, size)
            real_grams = [L.gram_matrix(f) for f in f32(self.perceptual.features(real_crops, first=2))]
        fake_grams = [L.gram_matrix(f) for f in f32(self.perceptual.features(fake_crops, first=2))]
        total, parts = fake.new_zeros(()), 0
        for part in torch.unique(fake_ids).tolist():
            if not bool((real_ids == part).any()):
                continue
            parts += 1
            for gf, gr in zip(fake_grams, real_grams, strict=True):
                diff = gf[fake_ids == part].mean(0) - gr[real_ids == part].mean(0)
                total = total + diff.norm()
        return total / max(parts, 1)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        n = self.nets
        state = {
            "step": self.step,
            "config": self.cfg.to_json(),
            "generator": unwrap(n.generator).state_dict(),
            "reverse": unwrap(n.reverse).state_dict(),
            "disc_style": unwrap(n.disc_style).state_dict(),
            "ema": self.ema.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
        }
        if n.disc_photo is not None:
            state["disc_photo"] = unwrap(n.disc_photo).state_dict()
        if n.disc_local is not None:
            state["disc_local"] = unwrap(n.disc_local).state_dict()
        if self.teacher_identity is not None:
            state["teacher_sha256"] = self.teacher_identity["sha256"]
        if self.photo_palette is not None:
            state["photo_palette"] = self.photo_palette.to_dict()
        return state

    def load_state_dict(self, state: dict[str, Any], teacher_named: bool = False) -> None:
        """Restore a resume checkpoint. A distillation run continues only with the teacher file it
        saved the hash of; a run saved without one (before teachers were hashed) only when the caller
        names the teacher explicitly (``teacher_named``: ``--set data.teacher=PATH``), because a name
        can have come to mean another file since."""
        saved_teacher = state.get("teacher_sha256")
        if saved_teacher and (self.teacher_identity is None or self.teacher_identity["sha256"] != saved_teacher):
            now = "no teacher" if self.teacher_identity is None else repr(self.cfg.data.teacher)
            raise CheckpointError(
                f"this run distils the teacher with SHA-256 {saved_teacher[:12]}..., and data.teacher is now "
                f"{now}, another file: point it at that file (--set data.teacher=PATH)"
            )
        if self.teacher_identity is not None and not saved_teacher and not teacher_named:
            raise CheckpointError(
                f"this run was saved without its teacher's hash, so {self.cfg.data.teacher!r} may not be the "
                "teacher it began with (a bundled name can come to mean another model in a later release); name "
                "the teacher file explicitly: --set data.teacher=PATH"
            )
        saved_palette = state.get("photo_palette")
        if saved_palette is not None and self.photo_palette is not None:
            current = self.photo_palette.to_dict()
            drift = max(
                abs(a - b) for key in ("mean", "std") for a, b in zip(current[key], saved_palette[key], strict=True)
            )
            if drift > PHOTO_PALETTE_TOLERANCE:
                raise CheckpointError(
                    f"the photo set's palette this run's targets were moved by has changed (by {drift:.2f} Lab "
                    "levels): the prepared photos are not the ones it began with; resume it on those, or start a new run"
                )
        n = self.nets
        unwrap(n.generator).load_state_dict(state["generator"])
        unwrap(n.reverse).load_state_dict(state["reverse"])
        unwrap(n.disc_style).load_state_dict(state["disc_style"])
        if n.disc_photo is not None:
            unwrap(n.disc_photo).load_state_dict(state["disc_photo"])
        if n.disc_local is not None:
            unwrap(n.disc_local).load_state_dict(state["disc_local"])
        self.ema.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.step = int(state["step"])

    def save_resume(self) -> None:
        if self.dist.is_main:
            ckpt.save_resume(self.run_dir / "resume.pt", self.state_dict())

    def save_release(self, path: Path | None = None) -> Path:
        path = path or self.run_dir / f"model-{self.step:06d}.safetensors"
        if self.dist.is_main:
            g = self.ema.model
            ckpt.save_release(
                path,
                g,
                arch=self.cfg.model.generator,
                arch_kwargs=self.release_arch_kwargs,
                geometry=self.aligner.geometry.to_dict(),
                resolution=self.photos.resolution,
                config=self.cfg.to_dict(),
                extra={
                    "step": self.step,
                    "zoom": self.photos.zoom,
                    "strength": self.aligner.strength,
                    # Evaluation leaves these out of its held-out sets by default.
                    "trained_on": {"photos": self.photos.stems, "styles": self.styles.stems},
                    "target": self.cfg.data.target,
                    # The photo set's statistics a "set" palette moved the targets by.
                    **({"photo_palette": self.photo_palette.to_dict()} if self.photo_palette is not None else {}),
                    **({"teacher": self.teacher_identity} if self.teacher_identity is not None else {}),
                    # What train.precision resolved to on the machine that trained it.
                    "precision": "bf16" if self.autocast_dtype is not None else "fp32",
                    **(
                        {"default_strength": self.cfg.geometry.inference_strength}
                        if self.cfg.geometry.inference_strength > 0
                        else {}
                    ),
                    **self.release_extra,  # the preset's drawings (eyes, outline) and face shape
                },
            )
        return path

    def quick_eval_scope(self) -> str:
        """Which of the run's own training files its quick evaluations keep: "" (none), "photos",
        "styles" or "all". A user's own folders often leave nothing of one kind out of training (a
        preset trains on up to 1,000 photos and 50 exemplars); an evaluation with nothing held out
        would only fail in its log, so it judges the training files of that kind and its report says so."""
        # Only sources the dataset prepared count: a photo with no face found is no held-out photo.
        no_photos = not set(self.photos.prepared_stems) - set(self.photos.stems)
        no_styles = not set(self.styles.prepared_stems) - set(self.styles.stems)
        return {(False, False): "", (True, False): "photos", (False, True): "styles", (True, True): "all"}[
            (no_photos, no_styles)
        ]

    def palette_note(self) -> str | None:
        """Advice for a run whose few exemplars set the target's colours, or None. A whole-image
        palette transfer ("set", "reinhard") moves every face toward the exemplars' mean colour, and
        with a few exemplars that is their hair's and backgrounds' as much as their skin's: one
        green-haired exemplar painted 67 % of held-out cheeks greener than grey, the cheek-anchored
        transfer 21 % (docs/training.md, "One and three exemplars")."""
        dc = self.cfg.data
        if dc.target != "cartoon" or dc.target_palette not in ("set", "reinhard") or len(self.styles) >= FEW_EXEMPLARS:
            return None
        return (
            f"{len(self.styles)} exemplar(s) set the target's colours: their hair and background tint every face "
            "under data.target_palette=" + dc.target_palette + "; --set data.target_palette=skin anchors the colours "
            "at the skin of both sets"
        )

    def quick_eval_blocker(self) -> str | None:
        """Why this run's quick evaluations cannot run, or None: KID compares two sets of images, so
        a style folder of one image (a one-shot style) has nothing to compare the outputs with."""
        style_src = self.styles.source_dir
        if style_src is not None and len(list_images(style_src)) < 2:
            return f"{style_src} holds fewer than 2 style images, and KID needs 2"
        return None

    def quick_evaluate(self, release: Path) -> subprocess.Popen | None:
        """Start ``geostyle evaluate`` of ``release`` on a few photos the run does not train on, in
        the background at low priority (the trainer does not wait; its log is beside the report).
        Where every photo or exemplar of the run's folders is trained on, those are judged instead
        (:meth:`quick_eval_scope`)."""
        n = self.cfg.train.quick_eval_photos
        photo_src, style_src = self.photos.source_dir, self.styles.source_dir
        if n <= 0 or photo_src is None or style_src is None or self.quick_eval_blocker() is not None:
            return None
        out = self.run_dir / "eval" / release.stem
        out.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "geostyle.cli.main", "evaluate", "--model", str(release)]
        cmd += ["--photos", str(photo_src), "--styles", str(style_src), "--n", str(n)]
        cmd += ["--out", str(out), "--threads", "1", "--speed-repeats", "0", "--no-progress"]
        if self.cfg.data.pairs:
            cmd += ["--pairs", self.cfg.data.pairs]
        scope = self.quick_eval_scope()
        if scope:
            cmd += ["--include-trained", scope]
        cmd += ["--max-styles", "50"]  # a quick look: KID against 50 held-out style images at most
        with open(out / "evaluate.log", "w") as log:
            proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
                preexec_fn=lambda: os.nice(10),
                start_new_session=True,
            )
        self.quick_evals.append((out, proc))
        return proc

    def finished_quick_evals(self) -> list[str]:
        """One line for each quick evaluation that ended since the last call: where its report is, or
        why it failed (the last line of its log). Those still running stay listed."""
        lines, running = [], []
        for out, proc in self.quick_evals:
            code = proc.poll()
            if code is None:
                running.append((out, proc))
            elif code == 0:
                lines.append(f"quick evaluation: {out / 'report.md'}")
            else:
                log = out / "evaluate.log"
                tail = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()][-1:] if log.exists() else []
                lines.append(f"quick evaluation of {out.name} failed ({tail[0] if tail else f'exit {code}'}); log: {log}")
        self.quick_evals = running
        return lines

    # ------------------------------------------------------------------ pictures
    @torch.no_grad()
    def save_samples(self, path: Path) -> None:
        n = min(self.cfg.train.num_samples, len(self.photos))
        x = self.photos.batch(torch.arange(n))
        ys = self.styles.batch(torch.arange(n) % len(self.styles))
        geo = self.aligner.pair(x.points, x.mask, ys.points, ys.mask, True)
        geo = geo.to(self.device)
        x_images, y_images = x.images.to(self.device), ys.images.to(self.device)
        g = self.ema.model
        fake = g(x_images, geo.target_from_photo)
        warped = warped_photo(x_images, geo)
        aligned = (
            warp_image(y_images, geo.exemplar_on_target) if geo.exemplar_on_target is not None else y_images
        )
        rec = unwrap(self.nets.reverse).eval()(fake, geo.photo_from_target)
        unwrap(self.nets.reverse).train()
        cols = [to_uint8(t) for t in (x.images, warped, fake, rec, ys.images, aligned)]
        rows = []
        for i in range(n):
            row = [c[i] for c in cols]
            row[0] = draw_points(row[0], x.points[i].numpy(), x.mask[i].numpy())
            row[1] = draw_points(row[1], geo.photo_target[i].cpu().numpy(), x.mask[i].numpy(), (255, 64, 64))
            row[4] = draw_points(row[4], ys.points[i].numpy(), ys.mask[i].numpy(), (64, 128, 255))
            rows.append(row)
        save_grid(
            path,
            rows,
            ["photo p", "photo warped to t", "G_ema(photo)", "F(G) cycle", "exemplar s", "exemplar on t"],
        )

    # ------------------------------------------------------------------ loop
    def run(self) -> Path | None:
        tc = self.cfg.train
        if self.dist.is_main:
            save_config(self.cfg, self.run_dir / "config.yaml")
        writer = StatsWriter(self.run_dir) if self.dist.is_main else None
        bar = tqdm(
            total=tc.steps,
            initial=self.step,
            disable=not (self.progress and self.dist.is_main),
            unit="step",
            dynamic_ncols=True,
        )
        release = None
        t0, s0 = time.time(), self.step
        sources = self.photos.source_dir is not None and self.styles.source_dir is not None
        if self.dist.is_main and tc.quick_eval_photos > 0 and sources:
            scope, blocker = self.quick_eval_scope(), self.quick_eval_blocker()
            if blocker is not None:
                tqdm.write(f"note: no quick evaluations in this run: {blocker}", file=sys.stderr)
            elif scope:
                what = {"photos": "photo", "styles": "style image", "all": "photo and style image"}[scope]
                tqdm.write(
                    f"note: every {what} of this run's folders is trained on; its quick evaluations judge "
                    "those, not held-out ones (their reports say so)",
                    file=sys.stderr,
                )
        palette_note = self.palette_note()
        if self.dist.is_main and palette_note is not None:
            tqdm.write(f"note: {palette_note}", file=sys.stderr)
        try:
            while self.step < tc.steps:
                stats = self.train_step(self.step)
                self.step += 1
                bar.update(1)
                if self.step % tc.log_every == 0 or self.step == tc.steps:
                    stats = average_scalars(stats, self.dist)
                    stats["time/steps_per_s"] = (self.step - s0) / max(1e-9, time.time() - t0)
                    if writer is not None:
                        writer.write(self.step, stats)
                    bar.set_postfix(g=f"{stats['g/total']:.2f}", d=f"{stats['d/style']:.2f}")
                if self.dist.is_main and (self.step % tc.sample_every == 0 or self.step == tc.steps):
                    self.save_samples(self.run_dir / "samples" / f"step-{self.step:06d}.png")
                if self.step % tc.checkpoint_every == 0 or self.step == tc.steps:
                    self.save_resume()
                if self.step % tc.release_every == 0 or self.step == tc.steps:
                    release = self.save_release()
                    if self.dist.is_main:
                        for line in self.finished_quick_evals():
                            tqdm.write(line, file=sys.stderr)
                        self.quick_evaluate(release)
                barrier(self.dist)
        finally:
            bar.close()
            if writer is not None:
                writer.close()
        if self.dist.is_main:
            for line in self.finished_quick_evals():
                tqdm.write(line, file=sys.stderr)
            for out, _ in self.quick_evals:
                tqdm.write(f"quick evaluation of {out.name} goes on in the background: {out / 'report.md'}", file=sys.stderr)
        if self.dist.is_main and release is not None:
            final = self.run_dir / "model.safetensors"
            final.write_bytes(Path(release).read_bytes())
            return final
        return release


def _to(value: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    return None if value is None else value.to(device)


def _batch_to(batch, device: torch.device):
    return dataclasses.replace(
        batch, images=batch.images.to(device), points=batch.points.to(device), mask=batch.mask.to(device)
    )


def teacher_palette(name_or_path: str) -> Palette | None:
    """The photo set's palette a teacher's targets were moved by (its release's ``extra.photo_palette``;
    None where it was trained per crop). Raises :class:`ConfigError` where it is malformed."""
    from geostyle.nets.release import read_release_metadata, resolve_model
    from geostyle.train.targets import Palette

    try:
        saved = read_release_metadata(resolve_model(name_or_path))["extra"].get("photo_palette")
    except CheckpointError as exc:
        raise ConfigError(f"data.teacher: {exc}") from exc
    if saved is None:
        return None
    try:
        return Palette.from_dict(saved)
    except ValueError as exc:
        raise ConfigError(f"data.teacher {name_or_path!r}: extra.photo_palette is malformed ({exc})") from exc


def load_teacher(
    name_or_path: str,
    device: torch.device,
    channels: int,
    styles: list[str],
    ink: float = 0.0,
    dark_colour: float = 0.0,
    dark_depth: float = 0.0,
    lift_cap: float = 0.0,
    clear_marks: float = 0.0,
    ink_grain: float = INK_GRAIN,
) -> tuple[torch.nn.Module, dict[str, str]]:
    """The frozen generator of release model ``name_or_path`` (bundled name or path) on ``device``,
    for ``data.target=teacher``, and its identity (name, file, SHA-256: names can come to mean other
    files, the hash cannot). Refused where it draws another number of channels than the student, or
    where it was trained on other style images than ``styles`` (the student would learn the
    teacher's style, not these). The teacher draws with the student's ``ink``, not its own: the
    target and the student's output then carry the same lines, and a student without ink learns
    the teacher's drawing alone. Its ``ink_grain``, ``dark_colour``, ``dark_depth``, ``lift_cap``
    and ``clear_marks`` likewise (the bundled anime models carry the dark colour and depth and the
    cleared marks' setting, and the default grain). Its ``smooth_head`` stays its own: it changes
    the teacher's residual, not a filter the student's output shares, so a teacher released with it
    (the bundled ``anime_large`` since it was set) hands the student targets without the head's
    checkerboard."""
    import hashlib

    from geostyle.nets.release import load_release, resolve_model

    if not name_or_path:
        raise ConfigError("data.target=teacher needs data.teacher (a bundled model name or a .safetensors path)")
    try:
        path = resolve_model(name_or_path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        release = load_release(path)
        # Hashed before and after loading: a teacher run still writing releases replaces the file.
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise CheckpointError(f"{path}: changed while it was being read; try again")
    except (CheckpointError, OSError) as exc:
        raise ConfigError(f"data.teacher: {exc}") from exc
    teacher = release.generator
    if int(getattr(teacher, "channels", 3)) != channels:
        raise ConfigError(
            f"data.teacher {name_or_path!r} draws {getattr(teacher, 'channels', 3)} channels, the generator {channels}"
        )
    learnt = (release.metadata.get("extra", {}).get("trained_on") or {}).get("styles")
    if learnt is not None:
        # Releases store stems (a stem may hold dots: "face.001"); older lists may hold file names.
        known = {str(s) for s in learnt} | {Path(str(s)).stem for s in learnt}
        missing = sorted(set(styles) - known)
        if missing:
            raise ConfigError(
                f"data.teacher {name_or_path!r} did not train on {len(missing)} of the {len(styles)} style "
                f"images here (e.g. {missing[0]!r}): a student learns its teacher's style. Train a teacher "
                "on these styles first (e.g. --preset anime) and pass it: --set data.teacher=RUN/model.safetensors"
            )
    teacher.requires_grad_(False)
    # Ink, the dark colour and depth, the lift cap and the cleared marks are fixed filters after the
    # residual, nothing to learn: the target carries what the student's own output carries (none
    # by default), whatever the teacher's release says.
    for setter, value in (
        ("set_ink", ink),
        ("set_ink_grain", ink_grain),
        ("set_dark_colour", dark_colour),
        ("set_dark_depth", dark_depth),
        ("set_lift_cap", lift_cap),
        ("set_clear_marks", clear_marks),
    ):
        set_filter = getattr(teacher, setter, None)
        if set_filter is not None:
            set_filter(value)
    # The file's name, not its local path: releases travel.
    identity = {"model": str(name_or_path), "file": path.name, "sha256": digest}
    return teacher.to(device).eval(), identity


def _cartoon_base(generator: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The generator's own cartoon base of ``images`` (its levels and line strength)."""
    return generator.draw_base(images)  # type: ignore[operator]


def critic_passes(
    critic: torch.nn.Module, inputs: list[torch.Tensor], parts: list[torch.Tensor] | None = None
) -> list[list[torch.Tensor]]:
    """``critic`` over several batches (real, fake, hard negatives) in one pass: per batch, its
    logit maps (one per scale). The critics have no batch statistics (per-sample norms only), so
    this is what separate passes give, to float rounding, except that spectral norm's power
    iteration steps once per pass in training (the style critic's: twice a step, with the
    generator's pass, instead of three to four times; its estimate carries over between steps).
    Logits come back in float32. One pass of 3 x 8 images at 128 px in bfloat16 and channels-last
    took 29 ms, three passes 35 ms. ``parts``: the local critic's part ids, one tensor per batch."""
    sizes = [int(t.shape[0]) for t in inputs]
    if parts is None:
        out = critic(torch.cat(inputs))
    else:
        out = critic(torch.cat(inputs), torch.cat(parts))
    maps = [m.split(sizes) for m in f32(out)]
    return [[scale[i] for scale in maps] for i in range(len(inputs))]


def f32(out: torch.Tensor | list[torch.Tensor] | tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """Network outputs (a tensor or a list, e.g. a critic's logit maps per scale or perceptual
    features per layer) as a list of float32 tensors: under bfloat16 autocast the losses are
    computed in float32 from them."""
    return [o.float() for o in (out if isinstance(out, (list, tuple)) else [out])]


def due(step: int, every: int) -> bool:
    """Whether a term computed every ``every``-th step runs at ``step``: the last step of each group
    of ``every``, so that the logged steps (multiples of ``train.log_every``, counted after the step)
    show the term whenever ``every`` divides the logging interval."""
    return (step + 1) % every == 0


def warped_photo(images: torch.Tensor, geo) -> torch.Tensor:
    """The photos resampled into their target geometry (unchanged when the TPS ablation is on):
    what G(x) is compared with by the content and colour terms."""
    return warp_image(images, geo.target_from_photo) if geo.target_from_photo is not None else images


def _resize(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def build_trainer(
    config: Config, run_dir: str | Path, dist_info: DistInfo | None = None, progress: bool = True
) -> Trainer:
    """Build datasets, geometry, networks and losses from a config."""
    from geostyle.nets.discriminator import LocalPatchDiscriminator, MultiScalePatchDiscriminator
    from geostyle.nets.registry import create_model
    from geostyle.warp.geometry import GeometryModel

    dc, gc, mc, tc = config.data, config.geometry, config.model, config.train
    # Device and precision first: a bad name fails before the datasets load.
    device = resolve_device(tc.device, dist_info or DistInfo())
    resolve_precision(tc.precision, device)
    if not dc.photos or not dc.styles:
        raise ConfigError("data.photos and data.styles must name prepared datasets (geostyle prepare)")
    if tc.threads > 0:
        torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)  # network initialisation
    np.random.seed(tc.seed)
    photos = FaceSet(dc.photos, dc.resolution, limit=dc.max_photos, exclude=dc.holdout)
    styles = FaceSet(dc.styles, dc.resolution, limit=dc.max_styles, exclude=dc.holdout)
    geometry = GeometryModel.fit(photos.landmarks_nan(), styles.landmarks_nan())
    # Inference must crop photos the way the training sets were cropped.
    geometry.meta.update({"zoom": photos.zoom, "photo_dir": str(dc.photos), "style_dir": str(dc.styles)})
    aligner = BatchAligner(
        geometry,
        dc.resolution,
        strength=gc.strength,
        per_part=gc.per_part,
        regularization=gc.regularization,
        grid_resolution=gc.grid_resolution,
        anchors_per_side=gc.anchors_per_side,
        enabled=gc.tps_alignment,
    )
    g_kwargs = {"feature_warp": gc.feature_warp, **mc.generator_kwargs}
    nets = Networks(
        generator=create_model(mc.generator, **g_kwargs).to(device),
        reverse=create_model(
            mc.reverse_generator, **{"feature_warp": gc.feature_warp, **mc.reverse_generator_kwargs}
        ).to(device),
        disc_style=MultiScalePatchDiscriminator(**mc.discriminator_kwargs).to(device),
        disc_photo=MultiScalePatchDiscriminator(**mc.discriminator_kwargs).to(device)
        if config.loss.reverse_adversarial > 0
        else None,
        disc_local=LocalPatchDiscriminator(**mc.local_discriminator_kwargs).to(device)
        if config.loss.local_adversarial > 0
        else None,
    )
    if tc.channels_last:
        for net in (nets.generator, nets.reverse, nets.disc_style, nets.disc_photo, nets.disc_local):
            if net is not None:
                net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    perceptual = None
    lc = config.loss
    if lc.content > 0 or lc.style > 0 or lc.style_local > 0 or lc.target_perceptual > 0:
        from geostyle.nets.perceptual import PerceptualLoss

        perceptual = PerceptualLoss().to(device)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return Trainer(config, run_dir, photos, styles, nets, aligner, perceptual, dist_info, progress)
