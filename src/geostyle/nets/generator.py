"""The geometry-aware mobile generator: a small encoder-decoder that warps its features.

Architecture (``GeoGenerator``), resolutions relative to the ``H x W`` input, default
``warp_level=2``::

    x ─stem s2─> (1/2, w0) ─conv s2─> e2 (1/4, w1) ──warp──> e2' ─conv s2─> (1/8, w2) ─ body (N IR blocks)
                                                              │ skip                         │
    base ─2x2 conv s2─> detail (1/2, w0) ─ skip ─> up1 <─────── up2 <────────────────────────┘
    (warped photo)                                  │
    y = tanh(atanh(base) + r) <── r ── 2x2 transposed conv (head)

* Early downsampling: three stride-2 convs reach 1/8 resolution. At full resolution only the 2x2
  stride-2 input conv, the 2x2 transposed output conv and the element-wise output run: full-resolution
  layers dominate mobile/CPU latency.
* Body: ``num_blocks`` MobileNetV2 inverted residual blocks at 1/8 resolution.
* Decoder: project at low resolution, bilinear upsample, add the skip, depthwise-separable refine.
  The 1/4 skip is the (warped) encoder feature map; the 1/2 skip is the *base* photo itself read by a
  2x2 stride-2 conv (a pixel-unshuffle followed by a 1x1 conv): it sees every full-resolution pixel
  and, the photo being warped in pixel space anyway, needs no resampling of its own.
* Head: a 2x2 stride-2 transposed conv (== 1x1 conv + pixel shuffle, but one fast ONNX node)
  predicts an RGB residual ``r`` from the 1/2-resolution features. Output
  ``y = tanh(atanh(base) + r)``: with ``r = 0`` the generator is the identity (cycle and content
  losses start near zero), and the output stays in ``(-1, 1)`` with gradients everywhere (unlike a
  clamp). Computed as ``(b + tanh r) / (1 + b tanh r)``, the tanh addition theorem; above 384 px a
  cartoon base is drawn on a reduced copy and the decode is ``tanh(upsampled atanh(b) + r)`` instead
  (one full-size resize, add and tanh; see ``GeoGenerator._decode_on_reduced_base``).

Geometry (the paper's TPS-in-the-generator): ``forward(x, grid)`` takes a backward sampling field
``grid (B, Hg, Wg, 2)`` (normalised frame, ``align_corners=False``, any resolution), resized to each
map's resolution (:func:`geostyle.warp.grid.resize_grid`).

* ``feature_warp=True``: the *original* photo is encoded, so the first convolutions see it without
  resampling blur; the encoder features are resampled in feature space by the field and the rest
  of the network works in the target geometry. ``warp_level=2`` warps the 1/4-resolution features
  (the 1/8 features are computed from them); ``warp_level=3`` encodes down to 1/8 and warps both the
  1/4 skip and the 1/8 features (about twice the resampling work). The photo itself is warped in
  pixel space (``base``) for the 1/2 skip and the residual output.
* ``feature_warp=False`` (ablation: pixel-space warp only): the warped photo is encoded.
* ``grid=None`` (ablation: TPS off): no warp.

Resampling is the costliest operation of the warped path in ONNX Runtime (its GridSample runs at
~20 ns per output value and thread, see docs/networks.md), hence the thin warp level, the
Gather-based warp used in exported graphs (:func:`geostyle.nets.blocks.warp_gather`) and the
optional ``warped`` input that lets an inference pipeline supply the pixel-space warp it gets almost
for free when it resamples the aligned crop.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from geostyle.nets.blocks import (
    CARTOON_LEVELS,
    CARTOON_LINES,
    CARTOON_PASSES,
    INK_GRAIN,
    ConvNormAct,
    InvertedResidual,
    UpBlock,
    base_reduction,
    cap_lift,
    cartoon_base,
    clear_light_marks,
    identity_grid,
    ink_lines,
    keep_dark_colour,
    luma,
    pencil_dodge,
    reduced_cartoon_base,
    smooth_checkerboard,
    warp,
    warp_gather,
)
from geostyle.nets.registry import register_model

__all__ = [
    "GeoGenerator",
    "geo_mobile_s",
    "geo_mobile",
    "geo_mobile_l",
    "export_generator_onnx",
    "DEFAULT_GENERATOR",
]

# Input clamp of the residual output: keeps 1 + b*t >= 1e-3 (atanh(1 - 1e-3) ~= 3.8).
_BASE_LIMIT = 1.0 - 1e-3
MAX_INK_GRAIN = 64.0  # levels: past this the smoothing flattens whole features, not grain


class GeoGenerator(nn.Module):
    """Mobile encoder-decoder generator with feature-space warping.

    Args:
        channels: image channels (input and output; the output is a residual on the input).
        widths: feature widths ``(w0, w1, w2)`` at 1/2, 1/4 and 1/8 resolution.
        num_blocks: inverted residual blocks at 1/8 resolution.
        expansion: hidden-width factor of the inverted residual blocks.
        norm: ``"none"``, ``"instance"`` or ``"batch"`` (see docs/networks.md for the trade-off).
        act: ``"relu"``, ``"leaky_relu"`` or ``"silu"``.
        feature_warp: warp the encoder features (True) or only the input pixels (False) when a grid
            is given.
        warp_level: 2 = warp the 1/4-resolution features; 3 = warp the 1/4 skip and the 1/8 features.
        padding_mode: ``grid_sample`` padding where the field reads outside the frame.
        residual_init: initial scale of the residual branches and of the output head.
        monochrome: one lightness for all channels of the output (pencil, ink): the residual is
            averaged over channels and added to the base photo's luma, so no colour can leak in.
        pencil_sigma: with ``monochrome``, > 0 makes the residual's base the colour-dodge pencil
            sketch of the luma (blur ``pencil_sigma`` x the shorter side, as the classical pencil
            filter) instead of the luma: the network starts from a drawing, strokes and all, and
            learns what the artist does differently, instead of drawing strokes from a photo.
        cartoon_base: the residual's base is the classical cartoon filter of the (warped) photo,
            computed in the graph (:func:`geostyle.nets.blocks.cartoon_base`: flat colour, quantised
            lightness, dark line art): the network starts from flat colour and lines and learns what
            the exemplars do differently (palette, eyes, line style) instead of having to cancel
            photographic texture through its half-resolution residual.
        base_levels, base_lines, base_passes: with ``cartoon_base``, the filter's lightness levels
            (0 = smooth shading, for painted styles), line strength (0-1) and edge-preserving
            smoothing passes (1 is cheaper at inference).
        ink: the output darkened toward black by up to this share (0-1) along the warped photo's
            own line art (:func:`geostyle.nets.blocks.ink_lines`), after the residual: lines the
            network cannot blur or blotch away. A fixed filter with no weights, so it can be set on
            a trained release (:func:`geostyle.nets.release.update_release_arch_kwargs`); the
            bundled anime models got it that way. Training with it (a teacher's or cartoon target
            then carries the same ink) measured no better than ink set after training
            (docs/training.md, "Ink").
        ink_grain: the lightness the ink is drawn from is first smoothed of variation under this
            many levels (of 255; :func:`geostyle.nets.blocks.smooth_grain`), so a noisy photo's
            blotches are not drawn as dots; 0 draws the ink from the photo as it is. Weight-free
            like ``ink``; the config and a release carry it only when it differs from
            :data:`geostyle.nets.blocks.INK_GRAIN`, the default (docs/training.md, "Ink on noisy
            photos").
        dark_colour: where the warped photo is dark, the output given the photo's hue by up to
            this share (0-1), its lightness and saturation kept (:func:`geostyle.nets.blocks.keep_dark_colour`):
            black hair and clothes come out a lifted grey of their own hue instead of the green or
            blue the anime residual tints them. Like ``ink``, a fixed filter without weights, set on
            trained releases (docs/training.md, "Dark colours").
        dark_depth: where the warped photo is dark, the output's lightness moved this share (0-1)
            of the way to the photo's, only ever darker (``depth`` of ``keep_dark_colour``): black
            hair comes out dark, dark skin keeps its depth. Fixed and weight-free, as ``dark_colour``.
        lift_cap: where the output is more than this many levels (of 255) lighter than the warped
            photo, 0.6 of the excess taken back (a soft cap, :func:`geostyle.nets.blocks.cap_lift`,
            after the dark colour): darker faces keep nearer their own skin tone instead of being
            painted toward the exemplars' pale one. 0: off. Fixed and weight-free, as ``dark_colour``.
        clear_marks: thin light marks the warped photo does not have (the anime students' white
            dashes) cleared by up to this share (0-1; :func:`geostyle.nets.blocks.clear_light_marks`),
            first of the filters after the residual. Fixed and weight-free, as ``dark_colour``.
        smooth_head: the residual the head draws moved this share (0-1) of the way to itself
            filtered by :func:`geostyle.nets.blocks.smooth_checkerboard`: the head is a 2x2
            stride-2 transposed convolution, whose four trained kernels draw a two-pixel
            checkerboard (seen as blocky texture on the anime models' eyelids and glasses); the
            filter removes that period exactly. Fixed and weight-free, as ``ink``
            (docs/training.md, "The head's checkerboard").

    ``forward(x, grid=None, warped=None, drawn=None)``: ``x (B, C, H, W)`` in ``[-1, 1]`` with
    ``H, W`` multiples of 8; ``grid (B, Hg, Wg, 2)`` or None; ``warped (B, C, H, W)``: optionally the
    photo already warped by ``grid`` (e.g. by the cropping step of an inference pipeline, which
    resamples the frame anyway), used instead of warping ``x`` inside the network; ``drawn``:
    optionally the cartoon base of the warped photo (training shares the one it computes for the
    dense target; above 384 px it is not used: the decode draws its own reduced base). Returns
    ``(B, C, H, W)`` in ``(-1, 1)``.
    """

    # Weight-free filters' settings (set_ink, set_ink_grain, set_dark_colour, set_dark_depth,
    # set_lift_cap, set_clear_marks, set_smooth_head).
    ink: float
    ink_grain: float
    dark_colour: float
    dark_depth: float
    lift_cap: float
    clear_marks: float
    smooth_head: float

    def __init__(
        self,
        channels: int = 3,
        widths: tuple[int, int, int] | list[int] = (16, 16, 64),
        num_blocks: int = 6,
        expansion: int = 2,
        norm: str = "none",
        act: str = "relu",
        feature_warp: bool = True,
        warp_level: int = 2,
        padding_mode: str = "border",
        residual_init: float = 0.1,
        monochrome: bool = False,
        pencil_sigma: float = 0.0,
        cartoon_base: bool = False,
        base_levels: int = CARTOON_LEVELS,
        base_lines: float = CARTOON_LINES,
        base_passes: int = CARTOON_PASSES,
        ink: float = 0.0,
        ink_grain: float = INK_GRAIN,
        dark_colour: float = 0.0,
        dark_depth: float = 0.0,
        lift_cap: float = 0.0,
        clear_marks: float = 0.0,
        smooth_head: float = 0.0,
    ) -> None:
        super().__init__()
        if len(widths) != 3:
            raise ValueError(f"widths must have 3 entries (1/2, 1/4, 1/8 resolution), got {widths}")
        widths = (int(widths[0]), int(widths[1]), int(widths[2]))
        if warp_level not in (2, 3):
            raise ValueError(f"warp_level must be 2 or 3, got {warp_level}")
        if padding_mode not in ("border", "zeros", "reflection"):
            raise ValueError(f"unknown padding_mode {padding_mode!r}")
        if pencil_sigma < 0 or (pencil_sigma > 0 and not monochrome):
            raise ValueError(f"pencil_sigma must be >= 0 and needs monochrome=True, got {pencil_sigma}")
        self.config: dict[str, Any] = {
            "channels": channels,
            "widths": list(widths),
            "num_blocks": num_blocks,
            "expansion": expansion,
            "norm": norm,
            "act": act,
            "feature_warp": feature_warp,
            "warp_level": warp_level,
            "padding_mode": padding_mode,
            "residual_init": residual_init,
            "monochrome": monochrome,
        }
        if pencil_sigma > 0:  # only when used: older releases' configs stay as they were
            self.config["pencil_sigma"] = float(pencil_sigma)
        if cartoon_base and monochrome:
            raise ValueError("cartoon_base is a colour base; it cannot be combined with monochrome")
        if cartoon_base:
            self.config["cartoon_base"] = True
        if (base_levels, base_lines) != (CARTOON_LEVELS, CARTOON_LINES):
            # Only when not the defaults: older releases' configs stay as they were.
            if not cartoon_base:
                raise ValueError("base_levels and base_lines shape the cartoon base; set cartoon_base=True")
            if int(base_levels) < 0 or not 0.0 <= float(base_lines) <= 1.0:
                raise ValueError(f"base_levels must be >= 0 and base_lines in [0, 1], got {base_levels}, {base_lines}")
            self.config["base_levels"], self.config["base_lines"] = int(base_levels), float(base_lines)
        if int(base_passes) != CARTOON_PASSES:
            if not cartoon_base or int(base_passes) < 1:
                raise ValueError(f"base_passes (>= 1) shapes the cartoon base; set cartoon_base=True, got {base_passes}")
            self.config["base_passes"] = int(base_passes)
        self.channels = channels
        self.set_ink(ink)
        self.set_ink_grain(ink_grain)
        self.base_levels, self.base_lines = int(base_levels), float(base_lines)
        self.base_passes = int(base_passes)
        self.cartoon_base = bool(cartoon_base)
        self.monochrome = monochrome
        self.set_dark_colour(dark_colour)
        self.set_dark_depth(dark_depth)
        self.set_lift_cap(lift_cap)
        self.set_clear_marks(clear_marks)
        self.set_smooth_head(smooth_head)
        self.pencil_sigma = float(pencil_sigma)
        self.feature_warp = feature_warp
        self.warp_level = warp_level
        self.padding_mode = padding_mode
        # Inference-graph switches, not architecture (not in config): see export_generator_onnx.
        self.gather_feature_warp = False
        self.gather_pixel_warp = False
        w0, w1, w2 = widths

        self.stem = ConvNormAct(channels, w0, 3, stride=2, norm=norm, act=act)
        self.down2 = ConvNormAct(w0, w1, 3, stride=2, norm=norm, act=act)
        self.down3 = ConvNormAct(w1, w2, 3, stride=2, norm=norm, act=act)
        self.body = nn.Sequential(
            *[
                InvertedResidual(w2, expansion, norm=norm, act=act, residual_init=residual_init)
                for _ in range(num_blocks)
            ]
        )
        self.up2 = UpBlock(w2, w1, norm=norm, act=act)
        # A 2x2 stride-2 conv == pixel-unshuffle + 1x1 conv, exported as one Conv node.
        self.detail = ConvNormAct(channels, w0, 2, stride=2, norm=norm, act=act)
        self.up1 = UpBlock(w1, w0, norm=norm, act=act)
        self.head = nn.ConvTranspose2d(w0, channels, 2, stride=2)
        with torch.no_grad():
            # Same kernel for the four sub-pixels: the initial residual has no 2x2 checkerboard.
            self.head.weight.copy_(self.head.weight[:, :, :1, :1].expand_as(self.head.weight) * residual_init)
            assert self.head.bias is not None
            self.head.bias.zero_()

    def decode(
        self, base: torch.Tensor, e2: torch.Tensor, e3: torch.Tensor, drawn: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Skip ``e2 (B, w1, H/4, W/4)``, deep features ``e3 (B, w2, H/8, W/8)`` and the base photo
        ``(B, C, H, W)``, all already in the output geometry -> ``(B, C, H, W)``; ``drawn``: the
        cartoon base of ``base`` when the caller has it already."""
        h = self.up2(self.body(e3), e2)
        h = self.up1(h, self.detail(base))
        if self.cartoon_base:
            sub = base_reduction(int(base.shape[2]), int(base.shape[3]))
            if sub > 1:
                # Draws its own reduced base: a full-size ``drawn`` (the upsampled drawing) is not
                # used here, so the output is the same with or without one (test).
                reduced = self._decode_on_reduced_base(base, h, sub)
                return self.draw_ink(self.apply_photo_tone(reduced, base), base, sub)
        photo = base
        t = torch.tanh(self.residual(h))
        # The bases are fixed filters: drawn in float32 also where training autocasts the network
        # (the pencil base's blur is a convolution, which bfloat16 autocast would round).
        with _full_precision(base):
            if self.cartoon_base:
                if drawn is None:
                    # No gradient goes through it (its box filters' backward, needed only in the
                    # cycle's pass over F's output, was about 5 % of an anime v8 step in a profile);
                    # the input still gets gradients through the encoder and the detail skip.
                    with torch.no_grad():
                        drawn = self.draw_base(_float32(base))
                base = drawn
            if self.monochrome and self.channels == 3:
                # ITU-R BT.601 luma of the base; the same lightness change for all three channels.
                lightness = luma(_float32(base))
                if self.pencil_sigma > 0:
                    lightness = pencil_dodge(lightness, self.pencil_sigma)
                base, t = lightness.expand_as(base), t.mean(dim=1, keepdim=True).expand_as(t)
        # tanh(atanh(b) + r) by the addition theorem (ONNX opset 17 export has no atanh).
        b = base.clamp(-_BASE_LIMIT, _BASE_LIMIT)
        return self.draw_ink(self.apply_photo_tone((b + t) / (1 + b * t), photo), photo)

    def set_ink(self, ink: float) -> None:
        """Set ``ink`` (0-1, an RGB generator only), here and in ``config``; it carries no weights, so
        a loaded release can take another value (a stylizer's override, a teacher's target)."""
        ink = float(ink)
        if not 0.0 <= ink <= 1.0 or (ink and self.channels != 3):
            raise ValueError(f"ink darkens an RGB output by up to that share along the photo's lines: in [0, 1], got {ink}")
        self._set_filter("ink", ink)

    def set_ink_grain(self, levels: float) -> None:
        """Set ``ink_grain`` (levels of 255, 0 to :data:`MAX_INK_GRAIN`; 0 draws the ink from the
        photo as it is), here and in ``config``, where it is written only when it differs from the
        default :data:`~geostyle.nets.blocks.INK_GRAIN` (a release without it draws with the
        default). Weight-free, as :meth:`set_ink`."""
        levels = float(levels)
        if not 0.0 <= levels <= MAX_INK_GRAIN:
            raise ValueError(
                f"ink_grain smooths the photo's lightness of variation under that many levels before the ink is "
                f"drawn: 0 (off) to {MAX_INK_GRAIN:g}, got {levels}"
            )
        self.ink_grain = levels
        if levels != INK_GRAIN:
            self.config["ink_grain"] = levels
        else:
            self.config.pop("ink_grain", None)

    def set_smooth_head(self, share: float) -> None:
        """Set ``smooth_head`` (0-1), here and in ``config`` (weight-free, as :meth:`set_ink`)."""
        share = float(share)
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"smooth_head moves the head's residual that share of the way to its smoothed self: in [0, 1], got {share}")
        self._set_filter("smooth_head", share)

    def residual(self, h: torch.Tensor) -> torch.Tensor:
        """The head's output for the decoded features ``h``, its checkerboard smoothed by ``smooth_head``."""
        r = self.head(h)
        if self.smooth_head:
            r = r + self.smooth_head * (smooth_checkerboard(r) - r)
        return r

    def set_dark_colour(self, share: float) -> None:
        """Set ``dark_colour`` (0-1, an RGB generator only), here and in ``config`` (weight-free, as
        :meth:`set_ink`)."""
        self._set_colour_filter("dark_colour", share, 1.0, "gives a colour output the photo's hue in its darks: in [0, 1]")

    def set_dark_depth(self, share: float) -> None:
        """Set ``dark_depth`` (0-1, an RGB generator only), here and in ``config`` (weight-free, as
        :meth:`set_ink`)."""
        self._set_colour_filter("dark_depth", share, 1.0, "gives a colour output the photo's darkness back: in [0, 1]")

    def set_lift_cap(self, levels: float) -> None:
        """Set ``lift_cap`` (levels of 255, 0 = off; an RGB generator only), here and in ``config``
        (weight-free, as :meth:`set_ink`)."""
        self._set_colour_filter(
            "lift_cap",
            levels,
            255.0,
            "limits how much lighter than the photo a colour output comes out: 0 (off) to 255 levels",
        )

    def set_clear_marks(self, share: float) -> None:
        """Set ``clear_marks`` (0-1, an RGB generator only), here and in ``config`` (weight-free, as
        :meth:`set_ink`)."""
        self._set_colour_filter(
            "clear_marks", share, 1.0, "clears thin light marks the photo does not have from a colour output: in [0, 1]"
        )

    def _set_colour_filter(self, name: str, value: float, top: float, what: str) -> None:
        """A filter of the output's colour (0 to ``top``), refused on a generator that draws one
        lightness or one channel; ``what`` says what it does and its range, for the refusal."""
        value = float(value)
        if not 0.0 <= value <= top or (value and not self.draws_colour):
            raise ValueError(
                f"{name} {what}, and 0 for a generator that draws one lightness or one channel; got {value}"
            )
        self._set_filter(name, value)

    @property
    def draws_colour(self) -> bool:
        """Whether the output has colour of its own (three channels, not one lightness for all)."""
        return self.channels == 3 and not self.monochrome

    def _set_filter(self, name: str, value: float) -> None:
        """A weight-free filter's setting, here and in ``config``."""
        setattr(self, name, value)
        if value:  # only when used: older releases' configs stay as they were
            self.config[name] = value
        else:
            self.config.pop(name, None)

    def apply_photo_tone(self, y: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
        """``y`` with thin light marks the photo lacks cleared (``clear_marks``), the photo's hue
        (``dark_colour``) and darkness (``dark_depth``) in its darks and its lift over the photo
        capped (``lift_cap``; ``photo`` the warped photo in the output's geometry), as
        :meth:`decode` applies them before the ink; ``y`` itself when all are 0."""
        if not (self.clear_marks or self.dark_colour or self.dark_depth or self.lift_cap):
            return y
        with _full_precision(photo):  # a filter like the ink's, but the output keeps its gradient
            kept, warped = _float32(y), _float32(photo)
            # First: the marks are the residual's, and the dark filters below would carry them.
            kept = clear_light_marks(kept, warped, self.clear_marks)
            if self.dark_colour or self.dark_depth:
                kept = keep_dark_colour(kept, warped, self.dark_colour, self.dark_depth)
            return cap_lift(kept, warped, self.lift_cap).to(y.dtype)

    def draw_ink(self, y: torch.Tensor, photo: torch.Tensor, sub: int | None = None) -> torch.Tensor:
        """``y`` with the photo's line art drawn in (``ink``): darkened toward black by up to ``ink``
        along :func:`ink_lines` of ``photo`` (the warped photo, in the output's geometry). A fixed
        filter of the input like the cartoon base: no gradient goes through the lines. With ``sub``
        > 1 (above 384 px, where the cartoon base is drawn reduced) the lines are drawn on the photo
        average-pooled by ``sub`` and upsampled: as wide, relative to the picture, as at the
        training size, and a quarter of the full-size work (about half of ink's cost in a 512 px
        face graph). ``sub`` None: as :meth:`decode` picks it for a picture of ``photo``'s size, so a
        caller inking something else (a training target) gets the output's lines."""
        if not self.ink:
            return y
        if sub is None:
            sub = base_reduction(int(photo.shape[2]), int(photo.shape[3])) if self.cartoon_base else 1
        with _full_precision(photo), torch.no_grad():
            if sub > 1:
                size = (int(photo.shape[2]), int(photo.shape[3]))
                lines = ink_lines(F.avg_pool2d(_float32(photo), sub), grain=self.ink_grain)
                lines = F.interpolate(lines, size=size, mode="bilinear", align_corners=False)
            else:
                lines = ink_lines(_float32(photo), grain=self.ink_grain)
            keep = 1.0 - self.ink * lines
        return (y + 1.0) * keep.to(y.dtype) - 1.0

    def _decode_on_reduced_base(self, base: torch.Tensor, h: torch.Tensor, sub: int) -> torch.Tensor:
        """Above 384 px the cartoon base is drawn on a reduced copy (:func:`cartoon_base`). The
        decode is ``tanh(atanh(b) + r)`` (below); here ``atanh(b)`` is taken on the reduced drawing
        and upsampled once, so the only full-size operations left are a resize, an add and a tanh
        (the addition formula costs five more full-size passes; about 0.3 ms of a 512 px face graph
        in ONNX Runtime). Differs from upsampling ``b`` itself only where the base changes within a
        pixel of the reduced copy, but there by up to ~1.3 (interpolating atanh values between a
        near-white 3.8 and a line's -1.1 leans toward the extreme one): on the 512 px portrait,
        anime v20 0.0072 on average, 1.5 % of pixels by more than 0.1 (v11 0.0065, 1.2 %). Tried and
        measured no faster there: the head and the upsampling as sub-pixel convolutions added at
        half size and one pixel shuffle (DepthToSpace alone 0.77 ms against 0.93 for resize,
        transposed convolution and add), or as one 4x4 transposed convolution (several ms)."""
        with _full_precision(base), torch.no_grad():
            small = reduced_cartoon_base(
                _float32(base), sub, levels=self.base_levels, line_strength=self.base_lines, passes=self.base_passes
            )
            b = small.clamp(-_BASE_LIMIT, _BASE_LIMIT)
            size = (int(base.shape[2]), int(base.shape[3]))
            lifted = F.interpolate(0.5 * torch.log((1 + b) / (1 - b)), size=size, mode="bilinear", align_corners=False)
        return torch.tanh(lifted + _float32(self.residual(h)))

    def draw_base(self, warped: torch.Tensor) -> torch.Tensor:
        """The cartoon base of ``warped`` (the photo in the output geometry) as this generator draws it."""
        return cartoon_base(warped, levels=self.base_levels, line_strength=self.base_lines, passes=self.base_passes)

    def forward(
        self,
        x: torch.Tensor,
        grid: torch.Tensor | None = None,
        warped: torch.Tensor | None = None,
        drawn: torch.Tensor | None = None,
    ) -> torch.Tensor:
        torch._assert(x.dim() == 4, "x must be (B, C, H, W)")
        batch, channels, height, width = x.shape
        torch._assert(channels == self.channels, "x must have `channels` channels")
        torch._assert(height % 8 == 0 and width % 8 == 0, "H and W must be multiples of 8")
        if drawn is not None:
            if not self.cartoon_base:
                raise ValueError("`drawn` is the cartoon base; this generator has none")
            torch._assert(drawn.shape == x.shape, "drawn must have the shape of x")
        if grid is None:
            if warped is not None:
                raise ValueError("`warped` is the photo warped by `grid`: pass the grid too")
            e2 = self.down2(self.stem(x))
            return self.decode(x, e2, self.down3(e2), drawn)
        torch._assert(grid.dim() == 4 and grid.shape[-1] == 2, "grid must be (B, Hg, Wg, 2)")
        torch._assert(grid.shape[0] == batch, "grid and x must have the same batch size")
        if warped is not None:
            torch._assert(warped.shape == x.shape, "warped must have the shape of x")
        base = self._warp(x, grid, self.gather_pixel_warp) if warped is None else warped
        if not self.feature_warp:
            e2 = self.down2(self.stem(base))
            return self.decode(base, e2, self.down3(e2), drawn)
        e2 = self.down2(self.stem(x))
        if self.warp_level == 2:
            e2 = self._warp(e2, grid, self.gather_feature_warp)
            return self.decode(base, e2, self.down3(e2), drawn)
        e3 = self.down3(e2)
        return self.decode(
            base,
            self._warp(e2, grid, self.gather_feature_warp),
            self._warp(e3, grid, self.gather_feature_warp),
            drawn,
        )

    def _warp(self, features: torch.Tensor, grid: torch.Tensor, gather: bool) -> torch.Tensor:
        if gather and self.padding_mode == "border":
            return warp_gather(features, grid)
        return warp(features, grid, self.padding_mode)


def _float32(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float32, with no conversion where it already is: an exported graph then has no
    no-op Cast on its inputs (OpenVINO renames an input that feeds one)."""
    return x if x.dtype == torch.float32 else x.float()


def _full_precision(like: torch.Tensor):
    """No autocast inside (where one is active on ``like``'s device): the generator's fixed bases."""
    kind = like.device.type
    try:
        active = torch.is_autocast_enabled(kind)
    except RuntimeError:  # a device type autocast does not know (meta tensors while counting FLOPs)
        active = False
    return torch.autocast(device_type=kind, enabled=False) if active else contextlib.nullcontext()


# Sizes. MACs/latency at 512x512 are measured by benchmarks/generator_speed.py (see docs/networks.md).
_SIZES: dict[str, dict[str, Any]] = {
    "geo_mobile_s": {"widths": (16, 16, 48), "num_blocks": 4, "expansion": 2},
    "geo_mobile": {"widths": (16, 16, 64), "num_blocks": 6, "expansion": 2},
    "geo_mobile_l": {"widths": (24, 24, 96), "num_blocks": 4, "expansion": 2},
}

DEFAULT_GENERATOR = "geo_mobile"


@register_model("geo_mobile_s", kind="generator")
def geo_mobile_s(**kwargs: Any) -> GeoGenerator:
    """Smallest size: for slow devices or very high frame rates."""
    return GeoGenerator(**{**_SIZES["geo_mobile_s"], **kwargs})


@register_model("geo_mobile", kind="generator")
def geo_mobile(**kwargs: Any) -> GeoGenerator:
    """Default size: 60+ fps at 512x512 in ONNX Runtime on 2 CPU threads without a grid or with the
    warped photo as input (benchmarks/generator_speed.py)."""
    return GeoGenerator(**{**_SIZES["geo_mobile"], **kwargs})


@register_model("geo_mobile_l", kind="generator")
def geo_mobile_l(**kwargs: Any) -> GeoGenerator:
    """Larger size: more capacity for hard styles when speed matters less."""
    return GeoGenerator(**{**_SIZES["geo_mobile_l"], **kwargs})


class _ExportWrapper(nn.Module):
    """Fixes which optional inputs the exported graph has (ONNX inputs are positional)."""

    def __init__(self, generator: nn.Module, with_grid: bool, warped_input: bool) -> None:
        super().__init__()
        self.generator = generator
        self.with_grid = with_grid
        self.warped_input = warped_input

    def forward(self, image: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
        if not self.with_grid:
            return self.generator(image)
        if self.warped_input:
            return self.generator(image, extra[0], extra[1])
        return self.generator(image, extra[0])


def export_generator_onnx(
    generator: nn.Module,
    path: str | Path,
    height: int = 512,
    width: int = 512,
    grid_size: tuple[int, int] | None = None,
    with_grid: bool = True,
    warped_input: bool = False,
    gather_warp: bool = True,
    opset_version: int = 17,
) -> Path:
    """Export a generator to ONNX (TorchScript path) with fixed input sizes; returns ``path``.

    Inputs: ``image (1, C, height, width)``; with ``with_grid``, ``grid (1, Hg, Wg, 2)`` (``grid_size``
    defaults to the image size; a coarser field is resized inside the graph); with ``warped_input``
    also ``warped (1, C, height, width)``, the photo already resampled by the grid outside the
    network (saves the full-resolution GridSample, the most expensive node of the warped graph).
    Output: ``stylized (1, C, height, width)``. ``gather_warp`` builds the warps from Gather and
    element-wise ops (:func:`geostyle.nets.blocks.warp_gather`, ``padding_mode="border"`` only) instead
    of ``GridSample``: same output to ~1e-6, ~10 % less time for the warped graphs in ONNX Runtime.
    Exported in eval mode; the module's mode and switches are restored.
    """
    path = Path(path)
    was_training = generator.training
    switches = {
        k: getattr(generator, k)
        for k in ("gather_feature_warp", "gather_pixel_warp")
        if hasattr(generator, k)
    }
    for key in switches:
        setattr(generator, key, gather_warp)
    generator.eval()
    channels = int(getattr(generator, "channels", 3))
    image = torch.zeros(1, channels, height, width)
    args: tuple[torch.Tensor, ...] = (image,)
    names = ["image"]
    if with_grid:
        hg, wg = grid_size or (height, width)
        args += (identity_grid(1, hg, wg).contiguous(),)
        names.append("grid")
        if warped_input:
            args += (torch.zeros(1, channels, height, width),)
            names.append("warped")
    try:
        with torch.no_grad():
            torch.onnx.export(
                _ExportWrapper(generator, with_grid, warped_input),
                args,
                str(path),
                dynamo=False,
                opset_version=opset_version,
                input_names=names,
                output_names=["stylized"],
            )
    finally:
        generator.train(was_training)
        for key, value in switches.items():
            setattr(generator, key, value)
    return path
