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

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from geostyle.data.contact_sheet import save_grid
from geostyle.data.dataset import EpochSampler, FaceSet, step_generator
from geostyle.data.images import to_uint8
from geostyle.errors import ConfigError
from geostyle.train import checkpoint as ckpt
from geostyle.train import losses as L
from geostyle.train.augment import DiffAugment
from geostyle.train.config import Config, save_config
from geostyle.train.distributed import DistInfo, average_scalars, barrier, unwrap, wrap
from geostyle.train.ema import EMA
from geostyle.train.samples import draw_points
from geostyle.train.stats import StatsWriter
from geostyle.warp.alignment import BatchAligner, compose_fields
from geostyle.warp.grid import random_tps_grid, warp_image
from geostyle.warp.local import crop_parts

if TYPE_CHECKING:
    from geostyle.nets.perceptual import PerceptualLoss

PART_CROP = 32  # local discriminator crop size at 256 px training resolution, scaled with it


@dataclass
class Networks:
    generator: torch.nn.Module  # G: photo -> style
    reverse: torch.nn.Module  # F: style -> photo
    disc_style: torch.nn.Module  # global, style domain
    disc_photo: torch.nn.Module | None  # global, photo domain (for F)
    disc_local: torch.nn.Module | None  # eyes / nose / mouth crops, style domain


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
        self.aligner = aligner
        self.perceptual = perceptual
        tc = config.train
        self.ema = EMA(nets.generator, tc.ema_decay, tc.ema_start)
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
        self.photo_sampler = EpochSampler(
            len(photos), tc.batch_size, tc.seed, self.dist.rank, self.dist.world
        )
        self.style_sampler = EpochSampler(
            len(styles), tc.batch_size, tc.seed + 1, self.dist.rank, self.dist.world
        )
        self.step = 0
        self.part_crop = max(16, int(round(PART_CROP * photos.resolution / 256)))

    # ------------------------------------------------------------------ one step
    def batches(self, step: int):
        """The (photo, exemplar) batches of ``step``: a function of (seed, step, rank) only."""
        g = step_generator(self.cfg.train.seed, step, self.dist.rank, stream=0)
        b = self.cfg.train.batch_size
        flips = (torch.rand(2, b, generator=g) < 0.5) if self.cfg.data.hflip else None
        x = self.photos.batch(self.photo_sampler.indices(step), flips[0] if flips is not None else None)
        y = self.styles.batch(self.style_sampler.indices(step), flips[1] if flips is not None else None)
        return x, y

    def train_step(self, step: int) -> dict[str, float]:
        cfg, lc = self.cfg, self.cfg.loss
        G, Fr, Dy, Dx, Dl = (
            self.nets.generator,
            self.nets.reverse,
            self.nets.disc_style,
            self.nets.disc_photo,
            self.nets.disc_local,
        )
        x, y = self.batches(step)
        geo = self.aligner.pair(x.points, x.mask, y.points, y.mask, cfg.geometry.align_exemplars)
        rng = step_generator(cfg.train.seed, step, self.dist.rank, stream=1)
        stats: dict[str, float] = {}

        y_real, y_real_pts, y_real_mask = self.real_exemplars(y, geo, rng)

        # ---------------- generator step
        self.opt_g.zero_grad(set_to_none=True)
        fake_y = G(x.images, geo.target_from_photo)
        warped_x = warped_photo(x.images, geo)
        terms = self.style_path_terms(x, fake_y, warped_x, (y_real, y_real_pts, y_real_mask), geo, rng)
        fake_x = Fr(y.images, geo.style_target_from_style)
        rec_y = G(fake_x, geo.style_from_style_target)
        terms["g/cycle_style"] = F.l1_loss(rec_y, y.images)
        if Dx is not None and lc.reverse_adversarial > 0:
            terms["g/adv_photo"] = self.adversarial.g_loss(Dx(self.augment(fake_x, generator=rng)))
        weights = self.term_weights()
        loss_g = torch.zeros(())
        for key, value in terms.items():
            loss_g = loss_g + weights[key] * value
            stats[key] = value.item()
        # How far the output has moved from the (warped) photo: 0 at initialisation, grows as texture is learnt.
        stats["g/change"] = F.l1_loss(fake_y.detach(), warped_x).item()
        loss_g.backward()
        self.opt_g.step()
        stats["g/total"] = loss_g.item()

        # ---------------- discriminator step
        self.opt_d.zero_grad(set_to_none=True)
        fake_y_d, fake_x_d = fake_y.detach(), fake_x.detach()
        real_in = y_real.detach().requires_grad_(lc.r1 > 0)
        real_out = Dy(self.augment(real_in, generator=rng))
        loss_d = self.adversarial.d_loss(real_out, Dy(self.augment(fake_y_d, generator=rng)))
        stats["d/style"] = loss_d.item()
        if lc.r1 > 0:
            r1 = L.r1_penalty(real_out, real_in)
            loss_d = loss_d + lc.r1 * r1
            stats["d/r1"] = r1.item()
        if Dl is not None and lc.local_adversarial > 0:
            real_crops, real_ids = crop_parts(y_real.detach(), y_real_pts, y_real_mask, self.part_crop)
            fake_crops, fake_ids = crop_parts(
                fake_y_d, geo.photo_target, geo.photo_target_mask, self.part_crop
            )
            d_local = self.adversarial.d_loss(
                Dl(self.augment_parts(real_crops, generator=rng), real_ids),
                Dl(self.augment_parts(fake_crops, generator=rng), fake_ids),
            )
            loss_d = loss_d + lc.local_adversarial * d_local
            stats["d/local"] = d_local.item()
        if Dx is not None and lc.reverse_adversarial > 0:
            d_photo = self.adversarial.d_loss(
                Dx(self.augment(x.images, generator=rng)), Dx(self.augment(fake_x_d, generator=rng))
            )
            loss_d = loss_d + lc.reverse_adversarial * d_photo
            stats["d/photo"] = d_photo.item()
        loss_d.backward()
        self.opt_d.step()
        self.ema.update(unwrap(G), step)
        for k, v in stats.items():
            if not math.isfinite(v):
                raise FloatingPointError(
                    f"step {step}: {k} is {v}; lower the learning rates or check the data"
                )
        return stats

    def term_weights(self) -> dict[str, float]:
        """Config weight of each generator loss term, keyed like the stats."""
        lc = self.cfg.loss
        return {
            "g/adv": lc.adversarial,
            "g/adv_local": lc.local_adversarial,
            "g/cycle": lc.cycle,
            "g/content": lc.content,
            "g/style": lc.style,
            "g/style_local": lc.style_local,
            "g/color": lc.color,
            "g/deform_inv": lc.deformation_invariance,
            "g/cycle_style": lc.cycle,
            "g/adv_photo": lc.reverse_adversarial,
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

    def style_path_terms(
        self, x, fake_y: torch.Tensor, warped_x: torch.Tensor, real, geo, rng: torch.Generator
    ) -> dict[str, torch.Tensor]:
        """Unweighted generator loss terms of the photo -> style path that depend on ``fake_y = G(x)``
        (keyed like the stats; weights in :meth:`term_weights`). ``warped_x`` is
        :func:`warped_photo` of the batch, ``real`` what :meth:`real_exemplars` returned. Shared by the training step and :mod:`geostyle.train.balance`."""
        lc = self.cfg.loss
        G, Fr, Dy, Dl = self.nets.generator, self.nets.reverse, self.nets.disc_style, self.nets.disc_local
        y_real, y_real_pts, y_real_mask = real
        terms: dict[str, torch.Tensor] = {}
        terms["g/adv"] = self.adversarial.g_loss(Dy(self.augment(fake_y, generator=rng)))
        if Dl is not None and lc.local_adversarial > 0:
            crops, part_ids = crop_parts(fake_y, geo.photo_target, geo.photo_target_mask, self.part_crop)
            terms["g/adv_local"] = self.adversarial.g_loss(
                Dl(self.augment_parts(crops, generator=rng), part_ids)
            )
        terms["g/cycle"] = F.l1_loss(Fr(fake_y, geo.photo_from_target), x.images)
        if self.perceptual is not None and (lc.content > 0 or lc.style > 0):
            # One backbone pass over G(x) serves both the content and the texture term.
            size = lc.content_resolution
            fake_features = self.perceptual.features(_resize(fake_y, size))
            if lc.content > 0:
                with torch.no_grad():
                    photo_features = self.perceptual.features(_resize(warped_x, size))
                terms["g/content"] = self.perceptual.feature_distance(fake_features, photo_features)
            if lc.style > 0:
                with torch.no_grad():
                    exemplar_features = self.perceptual.features(_resize(y_real, size))
                terms["g/style"] = L.style_texture_loss(fake_features, exemplar_features)
        if self.perceptual is not None and lc.style_local > 0:
            terms["g/style_local"] = self._part_texture_loss(
                fake_y, geo.photo_target, geo.photo_target_mask, y_real, y_real_pts, y_real_mask
            )
        if lc.color > 0:
            terms["g/color"] = F.l1_loss(_resize(fake_y, 16), _resize(warped_x, 16))
        if lc.deformation_invariance > 0:
            w_grid = random_tps_grid(
                x.images.shape[0],
                fake_y.shape[-2],
                fake_y.shape[-1],
                strength=lc.deformation_strength,
                generator=rng,
            ).grid
            inner = (
                geo.target_from_photo
                if geo.target_from_photo is not None
                else self.aligner.identity(x.images.shape[0])
            )
            fake_w = G(x.images, compose_fields(w_grid, inner))  # stylize with the deformation folded in
            terms["g/deform_inv"] = F.l1_loss(fake_w, warp_image(fake_y, w_grid))
        return terms

    def _part_texture_loss(self, fake, fake_points, fake_mask, real, real_points, real_mask) -> torch.Tensor:
        """Texture of each facial part of G(x) (cut at the target landmarks) against the same part of
        the exemplars (cut at their own): Gram matrices averaged per part over the batch, so a part
        missing in one sample does not unbalance the pairing."""
        assert self.perceptual is not None
        size = self.part_crop
        # Two layers: deeper ones reduce a part crop to a few pixels (strokes and shading live here).
        fake_crops, fake_ids = crop_parts(fake, fake_points, fake_mask, size)
        with torch.no_grad():
            real_crops, real_ids = crop_parts(real, real_points, real_mask, size)
            real_grams = [L.gram_matrix(f) for f in self.perceptual.features(real_crops, first=2)]
        fake_grams = [L.gram_matrix(f) for f in self.perceptual.features(fake_crops, first=2)]
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
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
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
                arch_kwargs=dict(getattr(g, "config", {})),
                geometry=self.aligner.geometry.to_dict(),
                resolution=self.photos.resolution,
                config=self.cfg.to_dict(),
                extra={
                    "step": self.step,
                    "zoom": self.photos.zoom,
                    "strength": self.aligner.strength,
                },
            )
        return path

    # ------------------------------------------------------------------ pictures
    @torch.no_grad()
    def save_samples(self, path: Path) -> None:
        n = min(self.cfg.train.num_samples, len(self.photos))
        x = self.photos.batch(torch.arange(n))
        ys = self.styles.batch(torch.arange(n) % len(self.styles))
        geo = self.aligner.pair(x.points, x.mask, ys.points, ys.mask, True)
        g = self.ema.model
        fake = g(x.images, geo.target_from_photo)
        warped = warped_photo(x.images, geo)
        aligned = (
            warp_image(ys.images, geo.exemplar_on_target) if geo.exemplar_on_target is not None else ys.images
        )
        rec = unwrap(self.nets.reverse).eval()(fake, geo.photo_from_target)
        unwrap(self.nets.reverse).train()
        cols = [to_uint8(t) for t in (x.images, warped, fake, rec, ys.images, aligned)]
        rows = []
        for i in range(n):
            row = [c[i] for c in cols]
            row[0] = draw_points(row[0], x.points[i].numpy(), x.mask[i].numpy())
            row[1] = draw_points(row[1], geo.photo_target[i].numpy(), x.mask[i].numpy(), (255, 64, 64))
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
                barrier(self.dist)
        finally:
            bar.close()
            if writer is not None:
                writer.close()
        if self.dist.is_main and release is not None:
            final = self.run_dir / "model.safetensors"
            final.write_bytes(Path(release).read_bytes())
            return final
        return release


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
        generator=create_model(mc.generator, **g_kwargs),
        reverse=create_model(
            mc.reverse_generator, **{"feature_warp": gc.feature_warp, **mc.reverse_generator_kwargs}
        ),
        disc_style=MultiScalePatchDiscriminator(**mc.discriminator_kwargs),
        disc_photo=MultiScalePatchDiscriminator(**mc.discriminator_kwargs)
        if config.loss.reverse_adversarial > 0
        else None,
        disc_local=LocalPatchDiscriminator(**mc.local_discriminator_kwargs)
        if config.loss.local_adversarial > 0
        else None,
    )
    perceptual = None
    if config.loss.content > 0 or config.loss.style > 0 or config.loss.style_local > 0:
        from geostyle.nets.perceptual import PerceptualLoss

        perceptual = PerceptualLoss()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return Trainer(config, run_dir, photos, styles, nets, aligner, perceptual, dist_info, progress)
