"""Building blocks shared by the generators and discriminators, and the grid helpers they warp with.

Convention (grids)
------------------
A sampling grid is a *backward* map ``(B, H, W, 2)``: ``grid[b, i, j] = (x, y)`` is the source
location read for output pixel ``(i, j)``, in the normalised frame of
``grid_sample(..., align_corners=False)`` (``-1``/``+1`` are the outer *edges* of the border
pixels). The frame does not depend on resolution, so one field can warp an image and every feature map
computed from it once it is resized with :func:`resize_grid`.

Every function here is export-safe (ONNX opset 17, TorchScript tracing): no data-dependent control
flow, shapes only from static sizes.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from geostyle.warp.grid import identity_grid, resize_grid

__all__ = [
    "NORMS",
    "ACTIVATIONS",
    "make_norm",
    "make_act",
    "ConvNormAct",
    "DepthwiseSeparable",
    "InvertedResidual",
    "UpBlock",
    "identity_grid",
    "resize_grid",
    "warp",
    "warp_gather",
    "compose_grids",
    "luma",
    "keep_dark_colour",
    "cap_lift",
    "LIFT_CAP_SHARE",
    "clear_light_marks",
    "box_mean",
    "pooled_box_filters",
    "guided_smooth",
    "cartoon_base",
]

NORMS = ("none", "batch", "instance")
ACTIVATIONS = ("relu", "leaky_relu", "silu")


def make_norm(kind: str, channels: int) -> nn.Module:
    """A normalisation layer by name: ``"none"`` (identity), ``"batch"`` or ``"instance"`` (affine)."""
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    raise ValueError(f"unknown norm {kind!r}; expected one of {NORMS}")


def make_act(kind: str) -> nn.Module:
    """An activation by name. ``relu`` and ``leaky_relu`` fuse into the preceding conv in ONNX Runtime."""
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "leaky_relu":
        return nn.LeakyReLU(0.2, inplace=True)
    if kind == "silu":
        return nn.SiLU(inplace=True)
    raise ValueError(f"unknown activation {kind!r}; expected one of {ACTIVATIONS}")


class ConvNormAct(nn.Sequential):
    """``Conv2d -> norm -> act``. Shapes: ``(B, C_in, H, W) -> (B, C_out, ceil(H/s), ceil(W/s))``.

    The conv has a bias only when no normalisation follows it. ``act=None`` leaves it linear.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        norm: str = "none",
        act: str | None = "relu",
    ) -> None:
        conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=(kernel_size - 1) // 2,
            groups=groups,
            bias=norm == "none",
        )
        layers: list[nn.Module] = [conv, make_norm(norm, out_channels)]
        if act is not None:
            layers.append(make_act(act))
        super().__init__(*layers)


class DepthwiseSeparable(nn.Sequential):
    """Depthwise 3x3 (optionally strided) then pointwise 1x1, MobileNetV1 style.

    Shapes: ``(B, C_in, H, W) -> (B, C_out, ceil(H/s), ceil(W/s))``. Cost per output pixel is
    ``9*C_in + C_in*C_out`` MACs instead of ``9*C_in*C_out`` for a full 3x3 conv.
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, norm: str = "none", act: str = "relu"
    ) -> None:
        super().__init__(
            ConvNormAct(in_channels, in_channels, 3, stride, groups=in_channels, norm=norm, act=act),
            ConvNormAct(in_channels, out_channels, 1, norm=norm, act=act),
        )


class InvertedResidual(nn.Module):
    """MobileNetV2 block with an identity shortcut: ``x + s * project(dw3x3(expand(x)))``.

    Shapes: ``(B, C, H, W) -> (B, C, H, W)``. ``residual_init`` scales the initial weights of the
    projection so that a deep stack starts close to the identity (stable GAN training without
    normalisation) while every parameter still receives a gradient (the weights are not zero).
    """

    def __init__(
        self,
        channels: int,
        expansion: int = 4,
        norm: str = "none",
        act: str = "relu",
        residual_init: float = 0.1,
    ) -> None:
        super().__init__()
        hidden = channels * expansion
        self.expand = ConvNormAct(channels, hidden, 1, norm=norm, act=act)
        self.depthwise = ConvNormAct(hidden, hidden, 3, groups=hidden, norm=norm, act=act)
        self.project = ConvNormAct(hidden, channels, 1, norm=norm, act=None)
        conv = self.project[0]
        assert isinstance(conv, nn.Conv2d)
        with torch.no_grad():
            conv.weight.mul_(residual_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(self.depthwise(self.expand(x)))


class UpBlock(nn.Module):
    """Decoder step: project to the skip's width at low resolution, upsample bilinearly to the skip's
    size, add the skip, refine with a depthwise-separable conv.

    Shapes: ``x (B, C_in, h, w)``, ``skip (B, C_out, H, W)`` -> ``(B, C_out, H, W)``. Projecting before
    upsampling keeps the 1x1 conv at the low resolution, where it is 4x cheaper.
    """

    def __init__(self, in_channels: int, out_channels: int, norm: str = "none", act: str = "relu") -> None:
        super().__init__()
        self.project = ConvNormAct(in_channels, out_channels, 1, norm=norm, act=act)
        self.refine = DepthwiseSeparable(out_channels, out_channels, norm=norm, act=act)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(self.project(x), size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.refine(x + skip)


# ----------------------------------------------------------------------------------------- grids
# identity_grid and resize_grid live in geostyle.warp.grid (one definition of the frame and of
# resampling a field); re-exported here for the networks.


def warp(features: torch.Tensor, grid: torch.Tensor, padding_mode: str = "border") -> torch.Tensor:
    """Bilinearly resample ``features (B, C, H, W)`` with a backward map of any resolution.

    The grid is resized to ``(H, W)`` first (:func:`resize_grid`); the output is ``(B, C, H, W)``.
    ``padding_mode="border"`` repeats edge values where the field reads outside the image, which
    suits portraits (background, hair) better than zeros.
    """
    grid = resize_grid(grid, int(features.shape[-2]), int(features.shape[-1]))
    return F.grid_sample(features, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


def warp_gather(features: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """:func:`warp` with ``padding_mode="border"``, written with Gather and element-wise ops only.

    Same result as ``grid_sample(bilinear, border, align_corners=False)`` up to float rounding
    (~1e-6), for inference graphs: ONNX Runtime's ``GridSample`` kernel costs ~20 ns per output value
    and thread, this formulation about half of that on feature maps. The feature map is laid out
    as a channel-last table with one row per pixel, so four ``Gather`` rows per output pixel fetch
    its 2x2 neighbourhood in all channels. Shapes as :func:`warp`. Not meant for training (``grid_sample``
    is faster in PyTorch and has a fused backward).
    """
    batch, channels, height, width = (int(v) for v in features.shape)
    grid = resize_grid(grid, height, width)
    # Un-normalise (align_corners=False) and clamp to the border, as grid_sample does.
    ix = (((grid[..., 0] + 1) * width - 1) * 0.5).clamp(0, width - 1)
    iy = (((grid[..., 1] + 1) * height - 1) * 0.5).clamp(0, height - 1)
    x0, y0 = ix.floor(), iy.floor()
    fx, fy = (ix - x0).reshape(-1, 1), (iy - y0).reshape(-1, 1)  # (B H W, 1)
    # The right and lower neighbours clamped to the border (where they are cut off, the weight on
    # them is 0): the same taps as an edge-replicated map, without padding it. Unpadded, the
    # features' transpose to channel-last directly follows the convolution that makes them, and
    # ONNX Runtime folds it into that convolution's layout reorder (the 512 px face graph: one Pad
    # and one Transpose fewer; the product path 0.2-0.35 ms faster side by side, docs/inference.md;
    # exact: indices < 2^24).
    x1, y1 = (x0 + 1).clamp(max=width - 1), (y0 + 1).clamp(max=height - 1)
    top, bottom, left, right = (y0 * width).long(), (y1 * width).long(), x0.long(), x1.long()
    if batch > 1:
        offset = (torch.arange(batch, device=features.device) * (height * width)).view(batch, 1, 1)
        top, bottom = top + offset, bottom + offset
    table = features.permute(0, 2, 3, 1).reshape(batch * height * width, channels)
    t00, t01 = table[(top + left).reshape(-1)], table[(top + right).reshape(-1)]
    t10, t11 = table[(bottom + left).reshape(-1)], table[(bottom + right).reshape(-1)]
    upper = t00 + (t01 - t00) * fx
    lower = t10 + (t11 - t10) * fx
    out = upper + (lower - upper) * fy
    return out.reshape(batch, height, width, channels).permute(0, 3, 1, 2)


def compose_grids(first: torch.Tensor, then: torch.Tensor) -> torch.Tensor:
    """Backward map of "warp by ``first``, then warp the result by ``then``".

    ``warp(warp(img, first), then) ~= warp(img, compose_grids(first, then))`` (equal up to the
    resampling of the intermediate image). ``then`` sets the output size; ``first`` is read at the
    locations ``then`` points to. Both ``(B, H*, W*, 2)`` in the normalised frame.
    """
    field = first.permute(0, 3, 1, 2)
    # Outside the frame, extend the displacement (not the position) so a translation stays exact.
    displacement = field - identity_grid(
        int(first.shape[0]), int(first.shape[1]), int(first.shape[2]), first.dtype, first.device
    ).permute(0, 3, 1, 2)
    sampled = F.grid_sample(displacement, then, mode="bilinear", padding_mode="border", align_corners=False)
    return then + sampled.permute(0, 2, 3, 1)


def smooth_checkerboard(image: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` filtered by the separable binomial kernel ``[1, 2, 1] / 4`` each way (reflected
    borders): its response at the two-pixel period is exactly 0, so the checkerboard a 2x2 stride-2
    transposed convolution leaves (each output pixel of a 2x2 block drawn by its own kernel) is
    removed, while detail of four pixels and coarser keeps half or more of its contrast."""
    channels = int(image.shape[1])
    kernel = torch.tensor([0.25, 0.5, 0.25], dtype=image.dtype, device=image.device)
    horizontal = kernel.view(1, 1, 1, 3).expand(channels, 1, 1, 3)
    vertical = kernel.view(1, 1, 3, 1).expand(channels, 1, 3, 1)
    out = F.conv2d(F.pad(image, (1, 1, 0, 0), mode="reflect"), horizontal, groups=channels)
    return F.conv2d(F.pad(out, (0, 0, 1, 1), mode="reflect"), vertical, groups=channels)


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(B, C, H, W)`` with reflected borders; ``sigma`` in pixels.

    The kernel reaches 3 sigma (at most to one pixel short of the smaller side, which reflection
    padding needs).
    """
    channels, height, width = image.shape[1], image.shape[2], image.shape[3]
    radius = max(1, min(int(3.0 * sigma + 0.5), int(height) - 1, int(width) - 1))
    offsets = torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device)
    kernel = torch.exp(-0.5 * (offsets / max(float(sigma), 1e-3)) ** 2)
    kernel = kernel / kernel.sum()
    horizontal = kernel.view(1, 1, 1, -1).expand(int(channels), 1, 1, -1)
    vertical = kernel.view(1, 1, -1, 1).expand(int(channels), 1, -1, 1)
    out = F.conv2d(F.pad(image, (radius, radius, 0, 0), mode="reflect"), horizontal, groups=int(channels))
    return F.conv2d(F.pad(out, (0, 0, radius, radius), mode="reflect"), vertical, groups=int(channels))


def pencil_dodge(luma: torch.Tensor, sigma_fraction: float, white: float = 0.9) -> torch.Tensor:
    """Colour-dodge pencil sketch of a ``(B, 1, H, W)`` luma in ``[-1, 1]``, the photo editors' filter
    (and ``geostyle.eval.baselines.pencil``): the luma divided by its blurred inverse.

    ``sigma_fraction`` is the blur in units of the shorter side, so the drawing is the same at every
    resolution. The result is capped at ``white`` (in ``[-1, 1]``): a base at paper white (1) would
    saturate the generator's residual, which then could not draw on it.
    """
    y = (luma + 1.0) * 0.5
    sigma = float(sigma_fraction) * float(min(int(luma.shape[2]), int(luma.shape[3])))
    denominator = (1.0 - gaussian_blur(1.0 - y, max(sigma, 1.0))).clamp_min(1e-3)
    return ((y / denominator) * 2.0 - 1.0).clamp(-1.0, white)


LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601: ink_lines, luma, the anime eyes, the losses

INK_MARGIN = 0.005  # lightness steps below this are skin and paper grain, not lines
INK_GAIN = 80.0
INK_GRAIN = 8.0  # levels (of 255): a window's lightness spread under this is grain, smoothed before the lines
INK_GRAIN_RADIUS = 2  # that window: 5x5 pixels


def smooth_grain(lightness: torch.Tensor, levels: float = INK_GRAIN, radius: int = INK_GRAIN_RADIUS) -> torch.Tensor:
    """``lightness (B, 1, H, W)`` in ``[-1, 1]`` with its grain smoothed away: a guided filter
    guided by itself (He, Sun, Tang 2010), so each ``(2 radius + 1)^2`` window whose spread is well
    under ``levels`` (of 255) takes its mean, and one whose spread is well over keeps its edges.
    Sensor noise and JPEG blotches in a dim photo are a few levels; the eyes, brows, glasses and
    outlines ink draws stand out by tens. :func:`guided_smooth` of the one channel (its guide is the
    channel itself); box filters only: exports to ONNX. ``levels`` 0: the lightness itself."""
    if levels <= 0:
        return lightness
    return guided_smooth(lightness, radius, (float(levels) / 127.5) ** 2)


def ink_lines(
    image: torch.Tensor, margin: float = INK_MARGIN, gain: float = INK_GAIN, grain: float = INK_GRAIN
) -> torch.Tensor:
    """Dark line art ``(B, 1, H, W)`` in ``[0, 1)`` of an RGB ``(B, 3, H, W)`` image in ``[-1, 1]``: a
    difference of two blurs of its lightness, soft-thresholded on its dark side (the XDoG form of
    Winnemoeller et al.): 0 on flat regions, toward 1 along the dark side of an edge, about a pixel
    wide at any resolution. The lines are the photo's own (eyes, brows, glasses, outlines), so they
    draw the person, not the style's faces. ``margin``: lightness steps (0-1) below it draw no line;
    ``gain``: how steeply the line darkens past it (the defaults are the generator's); ``grain``:
    the lightness is first smoothed by :func:`smooth_grain` at that many levels (0: not at all).

    Why the grain is smoothed: the margin is a step of 1.3 levels, so that faint lines on dim and
    dark faces are drawn; in a noisy photo (a dim room, a night webcam) the noise passes it too and
    the face is peppered with black dots a few pixels across. The guided filter flattens variation
    of a few levels and keeps the edges the lines are drawn on (docs/training.md, "Ink on noisy
    photos").

    The blurs are box filters applied twice (3x3 then 3x3, and 5x5 then 3x3: standard deviations
    1.15 and 1.63 px), not Gaussians of 1 and 1.6 px: the same lines (mean ink 0.069 against 0.068
    on 21 photos at 256 px, mean difference 0.008) at a quarter to a fifth of the cost in ONNX
    Runtime, where on a 512 px image the four separable Gaussian passes took 13.5-16.6 ms and the
    four poolings 3.2 ms (one thread, the machine busy)."""
    # -gain x the lightness (luma + 1) / 2 with its offset dropped (a difference of blurs of a
    # constant is 0): the sign and the gain folded in after the smoothing, which needs the luma.
    dark = smooth_grain(luma(image), grain) * (-0.5 * gain)
    dog = box_mean(box_mean(dark, 1), 1) - box_mean(box_mean(dark, 2), 1)
    return torch.tanh(torch.relu(dog - margin * gain))


def luma(image: torch.Tensor) -> torch.Tensor:
    """ITU-R BT.601 luma ``(B, 1, H, W)`` of an RGB ``(B, 3, H, W)`` image (the classical filters'
    lightness, as :func:`geostyle.eval.baselines.luma`)."""
    r, g, b = LUMA_WEIGHTS
    return r * image[:, 0:1] + g * image[:, 1:2] + b * image[:, 2:3]


DARK_RAMP = (50.0 / 255.0, 110.0 / 255.0)  # the photo's lightness: its hue fully kept below, none above
DARK_CHROMA_LIMIT = 2.0  # the most the photo's colour is strengthened to reach the output's saturation
DARK_COLOUR_REDUCTION = 2  # the hue is worked out at half size, as 4:2:0 video carries colour


def keep_dark_colour(
    output: torch.Tensor, photo: torch.Tensor, share: float, depth: float = 0.0
) -> torch.Tensor:
    """``output`` (RGB ``(B, 3, H, W)`` in ``[-1, 1]``, ``H, W`` even) with, where ``photo`` (the same
    picture before stylizing, in the output's geometry) is dark, the photo's hue, by up to
    ``share`` (0-1). The anime generators lift black hair, clothes and backgrounds to a mid-dark
    grey and tint them green or blue (their residual: the exemplars have few large dark areas; the
    cartoon base keeps black black); this keeps the lift and gives back the hue.

    A pixel's colour is its offset from its own luma. On 2x2 averages (below) the output keeps its
    luma and its saturation (the offset's length) but takes the photo's direction; the photo's
    offset is strengthened by at most :data:`DARK_CHROMA_LIMIT` to reach that length, so black and
    grey (a short offset) stay nearly grey, a dark brown or navy becomes the output's saturation of
    brown or navy, and no 2x2 average comes out more saturated than the network drew it (dark skin
    keeps its saturation and takes the photo's own hue); a single pixel keeps its own variation
    about its block's colour. At ``depth`` 0 the luma is kept up to the final clamp to [-1, 1]. The
    weight ramps from 1 at the photo's lightness :data:`DARK_RAMP` [0] to 0 at [1]: skin in light,
    most backgrounds and everything lit stay as the network drew them.

    The change is worked out on both pictures averaged over 2x2 pixels and upsampled (at ``depth``
    0 the lightness stays full size: the change has none): a quarter of the full-size work, which
    in a 512 px face graph in ONNX Runtime was 1.23x the graph's time at full size (one thread), at
    the price of colour that may reach up to two pixels past a dark edge. No weights; export-safe.

    ``depth`` (0-1) gives back the photo's darkness too: on the same ramp, the 2x2 averages' luma
    moves that share of the way to the photo's, only ever darker; a grey shift, so the hue above is
    untouched up to the final clamp, and like the colour it may reach two pixels past a dark edge.
    The generators lift black to a mid-dark grey; with it black hair comes out dark and dark skin
    keeps its depth instead of a lift toward grey, while a lit face does not change. Measured:
    identity up on selfies and HELEN at 0.6 (docs/training.md, "Dark colours")."""
    low, high = DARK_RAMP
    height, width = int(output.shape[2]), int(output.shape[3])
    sub = DARK_COLOUR_REDUCTION
    luma_out, tint_out = _luma_and_tint(F.avg_pool2d(output, sub))
    luma_photo, tint_photo = _luma_and_tint(F.avg_pool2d(photo, sub))
    ramp = ((high - (luma_photo + 1.0) * 0.5) / (high - low)).clamp(0.0, 1.0)
    reach = (_length(tint_out) / (_length(tint_photo) + 2e-3)).clamp(max=DARK_CHROMA_LIMIT)
    change = share * ramp * (reach * tint_photo - tint_out)
    if depth:
        # The same shift on all three channels moves the luma by it (the weights sum to 1) and leaves
        # the offsets (the hue) as they are.
        change = change + depth * ramp * (luma_photo - luma_out).clamp(max=0.0)
    change = F.interpolate(change, size=(height, width), mode="bilinear", align_corners=False)
    return (output + change).clamp(-1.0, 1.0)


LIFT_CAP_SHARE = 0.6  # how much of a lift beyond the cap is taken back


def cap_lift(output: torch.Tensor, photo: torch.Tensor, levels: float) -> torch.Tensor:
    """``output`` (RGB ``(B, 3, H, W)`` in ``[-1, 1]``, ``H, W`` even) with part of its lift over
    ``photo`` (the same picture before stylizing, in the output's geometry) beyond ``levels`` (of
    255) taken back: on 2x2 averages, where the output's luma is more than ``levels`` above the
    photo's, :data:`LIFT_CAP_SHARE` of the excess goes, so a lift L comes out at levels + 0.4 (L -
    levels) (a soft cap). A grey shift (the hue stays, up to the final clamp), worked out at half
    size and upsampled as :func:`keep_dark_colour`, which it follows. The anime generators paint
    faces toward their exemplars' pale tone, darker ones the most: on 150 HELEN faces the shipped
    ``anime`` (dark colour and depth) lifts cheeks at a luma of 80-120 by +44 levels and those
    above 160 by +24 (``benchmarks/skin_tone.py``). With a cap of 32 a face lifted less does not
    change, while a darker face, a dark background or a white highlight painted over mid-tone
    skin keeps nearer its own lightness. ``levels`` 0 or less: ``output`` itself. No weights;
    export-safe."""
    if levels <= 0:
        return output
    height, width = int(output.shape[2]), int(output.shape[3])
    sub = DARK_COLOUR_REDUCTION
    luma_out, _ = _luma_and_tint(F.avg_pool2d(output, sub))
    luma_photo, _ = _luma_and_tint(F.avg_pool2d(photo, sub))
    excess = (luma_out - luma_photo - 2.0 * levels / 255.0).clamp(min=0.0)
    change = F.interpolate(-LIFT_CAP_SHARE * excess, size=(height, width), mode="bilinear", align_corners=False)
    return (output + change).clamp(-1.0, 1.0)


MARK_WIDTH = 5  # light marks narrower than this many pixels, across, are cleared (the dashes: 1-3 px)
MARK_RAMP = (16.0, 32.0)  # levels (of 255) a mark stands out more than the photo's: none cleared below, all above


def _row_erosion(image: torch.Tensor) -> torch.Tensor:
    """Each channel's minimum over :data:`MARK_WIDTH` pixels along the row (``max_pool2d`` pads
    with -inf, so the frame's edge adds nothing)."""
    return -F.max_pool2d(-image, (1, MARK_WIDTH), stride=1, padding=(0, MARK_WIDTH // 2))


def _row_opening(image: torch.Tensor) -> torch.Tensor:
    """Grey-level opening along rows (the erosion, then a dilation, over :data:`MARK_WIDTH`
    pixels): every light structure narrower than that across takes its neighbours' value; wider
    ones and everything dark stay."""
    return F.max_pool2d(_row_erosion(image), (1, MARK_WIDTH), stride=1, padding=(0, MARK_WIDTH // 2))


def clear_light_marks(output: torch.Tensor, photo: torch.Tensor, share: float) -> torch.Tensor:
    """``output`` (RGB ``(B, 3, H, W)`` in ``[-1, 1]``) with thin light marks that ``photo`` (the
    same picture before stylizing, in the output's geometry) does not have cleared, by up to
    ``share`` (0-1). The anime students draw short white vertical dashes, one to three pixels
    wide, across dark hair, shadowed skin and dark backgrounds, and beside the eyes
    (docs/training.md, "White dashes"); a photo has its own thin light structures (a strand of
    hair in light, a glint on glasses), which stay.

    A mark is the output's white top-hat along rows (its luma above its :func:`_row_opening`);
    the photo's, widened by a pixel each way so a warp's or the residual's half-pixel shift does
    not count, is taken off it. Where the rest stands out by more than :data:`MARK_RAMP` [0]
    levels the pixel moves toward the darkest of its row neighbours within :data:`MARK_WIDTH`
    (each channel: across a mark, the colour around it), all the way from [1] levels on. Dark
    lines, flat colour and anything :data:`MARK_WIDTH` pixels wide or more do not change; marks
    along a row (horizontal streaks) are not looked for: rows only, at half the cost of both
    directions (the filter is one of the product path's larger passes). No weights; export-safe
    (max-pooling only)."""
    if share <= 0:
        return output
    low, high = (2.0 * level / 255.0 for level in MARK_RAMP)
    luma_out, luma_photo = luma(output), luma(photo)
    stands_out = luma_out - _row_opening(luma_out)
    photo_marks = F.max_pool2d(luma_photo - _row_opening(luma_photo), 3, stride=1, padding=1)
    weight = share * ((stands_out - photo_marks - low) / (high - low)).clamp(0.0, 1.0)
    return output + weight * (_row_erosion(output) - output)


def _luma_and_tint(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """BT.601 luma ``(B, 1, H, W)`` of an RGB image in the [-1, 1] scale and each pixel's offset from
    it (its colour; offsets and their ratios do not depend on the scale's offset). Channel slices,
    not a 1x1 convolution or a channel reduction: in ONNX Runtime (one thread, 512 px, measured by
    hand) they took :func:`keep_dark_colour` from 3.98 to 3.24 ms, the same numbers to float32
    rounding (at most 3e-7)."""
    r, g, b = LUMA_WEIGHTS
    luma_of = r * image[:, 0:1] + g * image[:, 1:2] + b * image[:, 2:3]
    return luma_of, image - luma_of


def _length(offset: torch.Tensor) -> torch.Tensor:
    """The length of each pixel's three-channel ``offset`` (``(B, 1, H, W)``), from channel slices.
    The 1e-12 under the root keeps its gradient finite (zero) at a zero offset, where a pure grey or
    a clipped white block would otherwise give NaN, as ``torch.linalg.vector_norm`` defines it; it
    moves a length of 0.01 by 5e-11."""
    x, y, z = offset[:, 0:1], offset[:, 1:2], offset[:, 2:3]
    return (x * x + y * y + z * z + 1e-12).sqrt()


def box_mean(image: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the ``(2 radius + 1)^2`` window around each pixel of ``(B, C, H, W)``; windows are
    cut at the border (not zero-padded), so flat images stay flat up to the edge.

    Four implementations of the same numbers (to float32 rounding, tested to 2e-6 against a float64
    loop): in PyTorch, sums of shifted views for small windows and running sums for large ones; in
    exported graphs, one square average pooling up to radius 15 and a row pass and a column pass
    beyond; in the PyTorch runtime, the two passes. Why: on PyTorch's CPU, one thread, 8x3x128x128
    (medians, near-idle machine), running sums cost 2.4-2.9 ms at any radius, shifted
    sums 0.4 ms at radius 1, 0.9 at 4, 1.4 at 8 and 2.0 at 12, ``avg_pool2d`` with a tall or wide
    window 4.0-9.1 ms; the box filters are most of the cartoon base that anime models run in their
    training target and generator passes. ONNX Runtime is the other way round (AveragePool 0.32 ms
    vs CumSum 0.73 ms at 3x256x256), and there one square window is cheaper than a row pass and a
    column pass (one node and one pass over memory: 0.32 vs 0.46 ms at 8x256x256, radius 4;
    0.08 vs 0.12 ms at 1x256x256, radius 5; 2 threads), up to a window of 31: from 33 on ONNX
    Runtime's square pooling is 14-16x slower than the two passes (1x4x256x256, one thread: radius
    15 0.83 vs 1.11 ms, 16 119 vs 8.7 ms). Such windows come from a cartoon base drawn on a
    reduced copy of 768 px or more (a frame graph with no working size on a large photo).
    Within :func:`pooled_box_filters` (the PyTorch runtime) the pooling is separable, the same
    numbers to float32 rounding: PyTorch's square pooling is the slower of the two from radius 4."""
    r = int(radius)
    k = 2 * r + 1
    exporting = torch.onnx.is_in_onnx_export() or torch.jit.is_tracing() or torch.jit.is_scripting()
    if exporting and k <= _SQUARE_POOL_MAX:
        # Exact, also at the border: the pool counts only the pixels inside the picture.
        return F.avg_pool2d(image, k, stride=1, padding=r, count_include_pad=False)
    if exporting or getattr(_POOLING, "on", False):
        # Separable (rows, then columns): exact, also at the border, where the window's pixel count
        # is the product of its row and column counts.
        rows = F.avg_pool2d(image, (k, 1), stride=1, padding=(r, 0), count_include_pad=False)
        return F.avg_pool2d(rows, (1, k), stride=1, padding=(0, r), count_include_pad=False)
    if r <= _SHIFTED_MAX_RADIUS:
        return _shifted_sum(_shifted_sum(image, r, 2), r, 3) / _window_counts(image, r)
    return _window_sum(_window_sum(image, r, 2), r, 3) / _window_counts(image, r)


# The widest window exported as one square AveragePool (see box_mean: ONNX Runtime slows down ~15x
# from 33).
_SQUARE_POOL_MAX = 31

# Up to this radius a window sum is fastest as 2r additions of shifted views (see box_mean for the
# measured costs); the cartoon base's windows at the 128-256 px training sizes are r 1-5.
_SHIFTED_MAX_RADIUS = 8


_POOLING = threading.local()


@contextmanager
def pooled_box_filters() -> Iterator[None]:
    """Within this block (this thread), :func:`box_mean` pools, as exported graphs do (in two
    separable passes; the graphs mostly in one square pass: the same means to float32 rounding):
    the reference an exported graph is compared with. (The cartoon base has hard thresholds; float32
    rounding differences of 1e-7 flip a few pixels across them, and running sums flip more than
    pooling.)"""
    before = getattr(_POOLING, "on", False)
    _POOLING.on = True
    try:
        yield
    finally:
        _POOLING.on = before


def _shifted_sum(x: torch.Tensor, r: int, dim: int) -> torch.Tensor:
    """Sum over ``[i - r, i + r]`` (cut at the border) along ``dim``: the map plus itself shifted by
    ``1..r`` each way, added in place into the overlapping parts (no running totals, so no rounding
    that grows with the line's length; no zero-padded copy, which a training step allocated, filled
    and copied for every box filter: 1.14 -> 0.86 ms at 8x8x128x128, radius 2, one thread; the
    training step as a whole did not measurably change)."""
    n = x.shape[dim]
    total = x.clone()
    for k in range(1, min(r, n - 1) + 1):
        total.narrow(dim, k, n - k).add_(x.narrow(dim, 0, n - k))
        total.narrow(dim, 0, n - k).add_(x.narrow(dim, k, n - k))
    return total


def _window_sum(x: torch.Tensor, r: int, dim: int) -> torch.Tensor:
    """Sum over ``[i - r, i + r]`` (cut at the border) along ``dim``, by a difference of running sums.

    The running sums are of ``x`` minus its mean along ``dim`` (added back per window): a positive
    map such as the guided filter's ``g * g`` would otherwise grow them to the line's length, and
    their float32 rounding, amplified by the filter's division by a small variance, flips 7x more
    pixels across the cartoon base's thresholds (real selfies; 0.024 % of values vs the pooled
    reference this way)."""
    n = x.shape[dim]
    mean = x.mean(dim, keepdim=True)
    pad = [0, 0, 0, 0]
    pad[2 * (3 - dim)] = r + 1  # F.pad lists the last dimension first: (W left, W right, H top, H bottom)
    pad[2 * (3 - dim) + 1] = r
    running = F.pad(x - mean, pad).cumsum(dim)
    shape = [1, 1, 1, 1]
    shape[dim] = n
    return running.narrow(dim, 2 * r + 1, n) - running.narrow(dim, 0, n) + _counts(n, r, x).view(shape) * mean


def _counts(n: int, r: int, like: torch.Tensor) -> torch.Tensor:
    """``(n,)`` pixel counts of the windows ``[i - r, i + r]`` cut at ``[0, n)``."""
    i = torch.arange(n, device=like.device)
    return ((i + r).clamp(max=n - 1) - (i - r).clamp(min=0) + 1).to(like.dtype)


def _window_counts(x: torch.Tensor, r: int) -> torch.Tensor:
    """``(H, W)`` pixel counts of the border-cut windows of :func:`box_mean`."""
    return _counts(int(x.shape[2]), r, x)[:, None] * _counts(int(x.shape[3]), r, x)[None, :]


def guided_smooth(image: torch.Tensor, radius: int, eps: float, subsample: int = 1) -> torch.Tensor:
    """Edge-preserving smoothing of ``(B, C, H, W)`` in ``[-1, 1]``: a guided filter (He, Sun, Tang
    2010) whose guide is the image's own luma, so every channel flattens where the lightness is flat
    and keeps its edges where the lightness has them (no colour fringes). ``eps`` is the variance
    (in ``[-1, 1]`` units squared) below which detail counts as texture and is smoothed away.

    ``subsample`` > 1 is the fast guided filter (He, Sun 2015): the linear coefficients are solved
    on a copy ``subsample`` times smaller (window radius divided alike) and upsampled, then applied to
    the full-resolution guide; ``H`` and ``W`` must be multiples of it. Box filters, average pooling
    and bilinear resizing only: exports to ONNX."""
    s = int(subsample)
    if image.shape[1] == 3:
        guide = luma(image)
    else:
        guide = image.mean(dim=1, keepdim=True)
    g, p = (guide, image) if s == 1 else (F.avg_pool2d(guide, s), F.avg_pool2d(image, s))
    r = max(1, int(radius) // s)
    c = int(p.shape[1])
    # The window means of the four maps in one box filter (channels are filtered independently:
    # the same numbers as four filters; in exported graphs 2 pooling nodes instead of 8).
    mean_g, mean_p, mean_gp, mean_gg = box_mean(torch.cat([g, p, g * p, g * g], 1), r).split([1, c, c, 1], 1)
    cov = mean_gp - mean_g * mean_p
    var = mean_gg - mean_g * mean_g
    a = cov / (var + eps)
    b = mean_p - a * mean_g
    mean_a, mean_b = box_mean(torch.cat([a, b], 1), r).split([c, c], 1)
    if s > 1:
        size = (int(image.shape[2]), int(image.shape[3]))
        mean_a = F.interpolate(mean_a, size=size, mode="bilinear", align_corners=False)
        mean_b = F.interpolate(mean_b, size=size, mode="bilinear", align_corners=False)
    return mean_a * guide + mean_b


# The classical cartoon filter's lightness levels, line strength and smoothing passes (cartoon_base's defaults).
CARTOON_LEVELS, CARTOON_LINES, CARTOON_PASSES = 10, 0.85, 2


def base_reduction(height: int, width: int) -> int:
    """By how much :func:`cartoon_base` reduces a ``height x width`` image before drawing it (1: not
    at all, below 384 px): about 256 px on the shorter side, a factor that divides both sides."""
    sub = max(1, round(min(height, width) / 256))
    while sub > 1 and (height % sub or width % sub):
        sub -= 1
    return sub


def reduced_cartoon_base(
    image: torch.Tensor,
    sub: int,
    levels: int = CARTOON_LEVELS,
    line_strength: float = CARTOON_LINES,
    line_margin: float = 0.06,
    smooth_eps: float = 0.01,
    passes: int = CARTOON_PASSES,
) -> torch.Tensor:
    """The drawing :func:`cartoon_base` upsamples for a large image: the exact filter of ``image``
    average-pooled by ``sub`` (see :func:`base_reduction`), ``(B, 3, H / sub, W / sub)``."""
    small = F.avg_pool2d(image, sub) if sub > 1 else image
    return cartoon_base(small, levels, line_strength, line_margin, smooth_eps, exact=True, passes=passes)


def cartoon_base(
    image: torch.Tensor,
    levels: int = CARTOON_LEVELS,
    line_strength: float = CARTOON_LINES,
    line_margin: float = 0.06,
    smooth_eps: float = 0.01,
    exact: bool = False,
    passes: int = CARTOON_PASSES,
    soft_levels: float = 0.0,
) -> torch.Tensor:
    """The classical cartoon filter of ``(B, 3, H, W)`` in ``[-1, 1]``, in the graph: flat colour
    (``passes`` passes of :func:`guided_smooth`; one is about a third cheaper in an exported graph
    and leaves a little more shading for the quantisation to band), lightness quantised to ``levels`` (all channels shifted by
    the luma change, so hue is kept; ``levels`` 0: smooth shading, not quantised), and dark line art
    where the luma is darker than its local mean by more than ``line_margin`` (an adaptive threshold, softened over a quarter of the margin).
    Window sizes follow the shorter side (tuned on 128-512 px face crops), so the drawing is the
    same at every resolution. Depends on the image only (no gradient is needed through it): a
    generator with this base learns what its exemplars do differently from the filter.
    ``exact=True`` never uses the reduced copy (the reference the reduced path is measured against:
    ``benchmarks/base_speed.py``). ``soft_levels`` K > 0 crosses each boundary between levels in a
    tanh ramp of sharpness K instead of a step (the hard step is the limit): steadier in video and
    kinder to likeness, but further from the anime set by KID; measured by
    ``benchmarks/soft_levels.py``, not used by the shipped models (docs/inference.md)."""
    side = min(int(image.shape[2]), int(image.shape[3]))
    height, width = int(image.shape[2]), int(image.shape[3])
    if int(passes) < 1:
        raise ValueError(f"passes must be >= 1, got {passes}")
    # Exact below 384 px (so at the 128 and 256 px training sizes and the 256 px face crop). Above,
    # the whole filter runs on a copy reduced by a whole factor to near 256 px on the shorter side
    # (192-352 px: window sizes follow its side, as they do for a crop of that size) and is
    # upsampled once: about the drawing the generator was trained on, and at 512 px nothing but one
    # resize at full size. Measured by benchmarks/base_speed.py (time, and distance to the exact
    # filter at full size) and benchmarks/pipeline_speed.py (the face graph). Shorter sides from
    # about 640 px (where the factor also divides the other side) are reduced by 3 or more, and
    # their lines come out softer for it.
    # Rounded, not floored: a 480 px frame is reduced by 2 too (floored, it ran the exact filter at
    # 480 px: 23-25 ms for the frame pass of a 480 px video against 16 ms at 512).
    sub = 1 if exact else base_reduction(height, width)
    if sub > 1:
        drawn = reduced_cartoon_base(image, sub, levels, line_strength, line_margin, smooth_eps, passes)
        return F.interpolate(drawn, size=(height, width), mode="bilinear", align_corners=False)
    r_smooth = max(1, side // 64)
    # A little blur first (lines at structure, not pores), then how much darker than its
    # surroundings each pixel is.
    r_gray, r_local = max(1, side // 128), max(2, side // 48)
    flat = image
    for _ in range(passes):
        flat = guided_smooth(flat, r_smooth, smooth_eps)
    gray = box_mean(luma(image), r_gray)
    darker = box_mean(gray, r_local) - gray
    if levels > 0:
        lightness = luma(flat)
        step = 2.0 / levels
        if soft_levels > 0:
            # Soft quantisation: a tanh ramp across each boundary between levels, flat inside them.
            boundary = torch.round((lightness + 1.0) / step) * step - 1.0
            k = float(soft_levels)
            quantised = boundary + (0.5 * step / math.tanh(k)) * torch.tanh((lightness - boundary) * (2.0 * k / step))
        else:
            quantised = torch.floor((lightness + 1.0) / step) * step + (step / 2.0 - 1.0)
        flat = (flat + (quantised - lightness)).clamp(-1.0, 1.0)
    line = ((darker - line_margin) / (0.25 * line_margin)).clamp(0.0, 1.0) * line_strength
    dark = -0.8  # about 25 of 255, the line colour of the classical filter
    return flat * (1.0 - line) + dark * line
