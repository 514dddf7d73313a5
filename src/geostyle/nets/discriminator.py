"""Patch discriminators: a global multi-scale one for whole faces, a local one for part crops.

Both return a **list** of patch-logit maps ``(B, 1, h, w)`` (one per scale; the local one has a single
scale), which the adversarial losses in :mod:`geostyle.train.losses` average over. Logits are raw
(no sigmoid): least-squares and hinge losses both take them as they are.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from geostyle.faces.landmarks import PARTS
from geostyle.nets.registry import register_model

__all__ = ["PatchDiscriminator", "MultiScalePatchDiscriminator", "LocalPatchDiscriminator", "PART_NAMES"]

#: Part order of ``LocalPatchDiscriminator`` part ids (``PART_NAMES.index("nose")`` is the nose id).
PART_NAMES: tuple[str, ...] = tuple(PARTS)


def _maybe_sn(module: nn.Module, enabled: bool) -> nn.Module:
    return _spectral_norm(module) if enabled else module


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "none":
        return nn.Identity()
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    raise ValueError(f"unknown discriminator norm {kind!r}; expected 'none' or 'instance'")


def _trunk_kwargs(
    base_channels: int, max_channels: int, num_layers: int, spectral_norm: bool, norm: str
) -> dict[str, Any]:
    """The PatchGAN trunk settings both discriminators pass on and record in their ``config``."""
    return {
        "base_channels": base_channels,
        "max_channels": max_channels,
        "num_layers": num_layers,
        "spectral_norm": spectral_norm,
        "norm": norm,
    }


class PatchDiscriminator(nn.Module):
    """PatchGAN trunk: ``num_layers`` stride-2 4x4 convs, one stride-1 4x4 conv, then a 4x4 logit conv.

    Shapes: ``(B, C, H, W) -> features (B, F, H/2^n - 1, W/2^n - 1)``; :meth:`forward` adds the
    logit conv and returns ``(B, 1, H/2^n - 2, W/2^n - 2)`` (``n = num_layers``, ``H, W`` multiples of
    ``2^n``). One logit sees a 70 px patch for ``num_layers=3``, 34 px for ``num_layers=2``.
    """

    def __init__(
        self,
        channels: int = 3,
        base_channels: int = 32,
        max_channels: int = 256,
        num_layers: int = 3,
        spectral_norm: bool = True,
        norm: str = "none",
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            _maybe_sn(nn.Conv2d(channels, base_channels, 4, 2, 1), spectral_norm),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        width = base_channels
        for i in range(1, num_layers + 1):
            out = min(base_channels * 2**i, max_channels)
            stride = 2 if i < num_layers else 1
            layers += [
                _maybe_sn(nn.Conv2d(width, out, 4, stride, 1, bias=norm == "none"), spectral_norm),
                _norm(norm, out),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            width = out
        self.features = nn.Sequential(*layers)
        self.out_channels = width
        self.logits = _maybe_sn(nn.Conv2d(width, 1, 4, 1, 1), spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(self.features(x))


class MultiScalePatchDiscriminator(nn.Module):
    """Global discriminator: one PatchGAN per scale, scale ``k`` seeing the image downsampled ``2^k`` times.

    Coarse scales judge the overall face layout and colour; the full-resolution scale judges texture
    (strokes, lines, shading).

    Args:
        channels: image channels.
        num_scales: number of scales (2-3).
        base_channels, max_channels, num_layers, spectral_norm, norm: per-scale PatchGAN settings.

    Shapes: ``x (B, C, H, W)`` -> list of ``num_scales`` maps ``(B, 1, h_k, w_k)``, finest first.
    """

    def __init__(
        self,
        channels: int = 3,
        num_scales: int = 2,
        base_channels: int = 32,
        max_channels: int = 256,
        num_layers: int = 3,
        spectral_norm: bool = True,
        norm: str = "none",
    ) -> None:
        super().__init__()
        trunk = _trunk_kwargs(base_channels, max_channels, num_layers, spectral_norm, norm)
        self.config: dict[str, Any] = {"channels": channels, "num_scales": num_scales, **trunk}
        if num_scales < 1:
            raise ValueError("num_scales must be >= 1")
        self.channels = channels
        self.scales = nn.ModuleList(PatchDiscriminator(channels, **trunk) for _ in range(num_scales))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        torch._assert(x.dim() == 4 and x.shape[1] == self.channels, "x must be (B, C, H, W)")
        outputs = []
        for k, net in enumerate(self.scales):
            if k > 0:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outputs.append(net(x))
        return outputs


class LocalPatchDiscriminator(nn.Module):
    """Local discriminator for facial-part crops (eyes, nose, mouth), one network shared by all parts.

    Why shared: with 10-100 exemplars each part has only 10-100 crops (eyes twice that); one trunk sees
    all of them (4x the data of a per-part network), the parts share their low-level statistics (line
    style, shading, colour), and all parts go through one batched forward pass, which is what the CPU
    budget needs. A learned part embedding conditions the logits by projection (as in projection
    discriminators): ``logit = w.h + <embed(part), h>`` per patch, so each part still gets its own
    decision boundary. ``num_parts=0`` disables the embedding (then build one network per part).

    Args:
        channels: image channels.
        num_parts: number of part ids (default: ``len(PART_NAMES)``: right_eye, left_eye, nose, mouth).
        base_channels, max_channels, num_layers, spectral_norm, norm: PatchGAN trunk settings; the
            default (2 stride-2 layers, receptive field 34 px) fits 32-64 px crops.

    Shapes: ``crops (B, C, S, S)``, ``part (B,)`` int64 ids -> ``[(B, 1, s, s)]`` (a one-item list),
    ``s = S/4 - 2`` for the default (6x6 logits for 32 px crops, 14x14 for 64 px).
    """

    def __init__(
        self,
        channels: int = 3,
        num_parts: int = len(PART_NAMES),
        base_channels: int = 32,
        max_channels: int = 128,
        num_layers: int = 2,
        spectral_norm: bool = True,
        norm: str = "none",
    ) -> None:
        super().__init__()
        trunk = _trunk_kwargs(base_channels, max_channels, num_layers, spectral_norm, norm)
        self.config: dict[str, Any] = {"channels": channels, "num_parts": num_parts, **trunk}
        self.channels = channels
        self.num_parts = num_parts
        self.trunk = PatchDiscriminator(channels, **trunk)
        self.embed = (
            _maybe_sn(nn.Embedding(num_parts, self.trunk.out_channels), spectral_norm)
            if num_parts > 0
            else None
        )
        if self.embed is not None:
            nn.init.normal_(self._embedding_weight(), std=0.02)

    def _embedding_weight(self) -> torch.Tensor:
        assert self.embed is not None
        # Under spectral norm the trainable tensor is the parametrization's original weight.
        holder = getattr(self.embed, "parametrizations", None)
        weight = holder.weight.original if holder is not None else self.embed.weight
        assert isinstance(weight, torch.Tensor)
        return weight

    def forward(self, crops: torch.Tensor, part: torch.Tensor | None = None) -> list[torch.Tensor]:
        torch._assert(crops.dim() == 4 and crops.shape[1] == self.channels, "crops must be (B, C, S, S)")
        h = self.trunk.features(crops)
        logits = self.trunk.logits(h)
        if self.embed is None:
            return [logits]
        if part is None:
            raise ValueError("part ids are required when num_parts > 0")
        torch._assert(part.shape == (crops.shape[0],), "part must be (B,) int64 ids")
        # Project at the logit conv's resolution: average h over the 4x4 windows the logit conv sees.
        pooled = F.avg_pool2d(h, 4, stride=1, padding=1, count_include_pad=False)
        projection = (pooled * self.embed(part)[:, :, None, None]).sum(dim=1, keepdim=True)
        return [logits + projection]


@register_model("patch_multiscale", kind="discriminator")
def patch_multiscale(**kwargs: Any) -> MultiScalePatchDiscriminator:
    """Global multi-scale PatchGAN (default: 2 scales, 32 base channels, spectral norm)."""
    return MultiScalePatchDiscriminator(**kwargs)


@register_model("patch_local", kind="discriminator")
def patch_local(**kwargs: Any) -> LocalPatchDiscriminator:
    """Shared local PatchGAN with a part embedding, for 32-64 px eye/nose/mouth crops."""
    return LocalPatchDiscriminator(**kwargs)
