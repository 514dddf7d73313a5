"""Perceptual features, loss and LPIPS distance from the shift-tolerant AlexNet of ``stlpips-pytorch``.

The ``stlpips-pytorch`` wheel (BSD-2) carries ImageNet-trained, shift-tolerant ("anti-aliased") AlexNet
and VGG16 backbones together with their LPIPS linear heads, as plain state dicts. Its own Python
modules do not import (they need torchvision, IPython and torchsummary), so this module never imports
the package: it only locates the weight file inside the installed package and loads it with
``torch.load(weights_only=True)`` into :class:`ShiftTolerantAlexNet`, a re-implementation of the
backbone's layer structure. Nothing is downloaded, ever.

Why the shift-tolerant AlexNet: it is the cheapest backbone that ships offline with calibrated LPIPS
heads (about 4.9 GMACs for one 256x256 image, ~5x less than VGG16), and the blur-pooled layers make the
content loss tolerate the 1-2 px misalignments a TPS warp leaves between a stylised output and its
warped photo.

Backbone (``relu1`` .. ``relu5``, strides relative to the input)::

    conv11x11/1 (64)  -> blur-pool/2 -> ReLU                      relu1  (1/2)
    maxpool3/1 -> blur-pool/2 -> conv5x5 (192) -> ReLU             relu2  (1/4)
    maxpool3/1 -> blur-pool/2 -> conv3x3 (384) -> ReLU             relu3  (1/8)
    conv3x3 (256) -> ReLU                                          relu4  (1/8)
    conv3x3 (256) -> ReLU                                          relu5  (1/8)

Blur-pool: reflection pad 2, depthwise 3x3 binomial ``[1, 2, 1]^T [1, 2, 1] / 16`` filter, stride 2.
Inputs are images in ``[-1, 1]``; they are normalised with the ImageNet statistics stored in the
weight file (``(x - shift) / scale``, the ``[-1, 1]`` form of mean ``(0.485, 0.456, 0.406)``, std
``(0.229, 0.224, 0.225)``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from geostyle.errors import GeostyleError

__all__ = [
    "LAYERS",
    "PerceptualWeightsError",
    "stlpips_weights_path",
    "ShiftTolerantAlexNet",
    "PerceptualLoss",
    "LPIPS",
    "lpips_distance",
]

LAYERS: tuple[str, ...] = ("relu1", "relu2", "relu3", "relu4", "relu5")
_CHANNELS = (64, 192, 384, 256, 256)
_PACKAGE = "stlpips_pytorch"
_ALEX_FILE = Path("weights") / "vST0.0" / "alex_shift_tolerant.pth"

# weight-file key prefix -> our module name (the file stores torchvision-style Sequential indices).
_KEY_MAP = {
    "scaling_layer.shift": "shift",
    "scaling_layer.scale": "scale",
    "net.slice1.0.": "conv1.",
    "net.slice1.1.": "blur1.",
    "net.slice2.4.": "blur2.",
    "net.slice2.5.": "conv2.",
    "net.slice3.8.": "blur3.",
    "net.slice3.9.": "conv3.",
    "net.slice4.11.": "conv4.",
    "net.slice5.13.": "conv5.",
}


class PerceptualWeightsError(GeostyleError):
    """The perceptual backbone's weights are not installed or do not match the expected layout."""


def stlpips_weights_path() -> Path:
    """Path of the shift-tolerant AlexNet + LPIPS weight file inside the installed ``stlpips-pytorch``.

    Raises :class:`PerceptualWeightsError` with the install command if the package is missing.
    """
    spec = importlib.util.find_spec(_PACKAGE)  # finds the package without running its broken imports
    if spec is None or not spec.submodule_search_locations:
        raise PerceptualWeightsError(
            "the perceptual loss needs the weights shipped in the 'stlpips-pytorch' package; "
            "install it with: pip install stlpips-pytorch --no-deps"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _ALEX_FILE
    if not path.is_file():
        raise PerceptualWeightsError(f"'stlpips-pytorch' is installed but has no weight file {path}")
    return path


def _load_state(path: Path | None) -> dict[str, torch.Tensor]:
    path = stlpips_weights_path() if path is None else Path(path)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or truncated file
        raise PerceptualWeightsError(f"cannot read perceptual weights {path}: {exc}") from exc
    state: dict[str, torch.Tensor] = {}
    for key, value in raw.items():
        if key.startswith("lin"):  # "lin{k}.model.1.weight" -> "lins.{k}.weight"
            state[f"lins.{key[3]}.weight"] = value
            continue
        for prefix, name in _KEY_MAP.items():
            if key.startswith(prefix):
                state[name + key[len(prefix) :]] = value
                break
        else:
            raise PerceptualWeightsError(f"unexpected key {key!r} in {path}")
    return state


class _BlurPool(nn.Module):
    """Anti-aliased stride-2 downsampling: reflection pad 2, fixed depthwise 3x3 binomial filter."""

    filt: torch.Tensor

    def __init__(self, channels: int) -> None:
        super().__init__()
        a = torch.tensor([1.0, 2.0, 1.0])
        kernel = a[:, None] * a[None, :]
        self.register_buffer("filt", (kernel / kernel.sum()).expand(channels, 1, 3, 3).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), self.filt, stride=2, groups=x.shape[1])


class ShiftTolerantAlexNet(nn.Module):
    """Shift-tolerant AlexNet feature extractor with the LPIPS linear heads (``lins``), weights loaded offline.

    ``forward(x, upto)`` takes images ``(B, 3, H, W)`` in ``[-1, 1]`` and returns the list of ReLU
    feature maps ``relu1 .. relu{upto}`` (``upto`` in 1..5; later layers are not computed).
    Parameters are frozen and the module stays in eval mode.
    """

    shift: torch.Tensor
    scale: torch.Tensor

    def __init__(self, weights: str | Path | None = None) -> None:
        super().__init__()
        self.register_buffer("shift", torch.zeros(1, 3, 1, 1))
        self.register_buffer("scale", torch.ones(1, 3, 1, 1))
        self.conv1 = nn.Conv2d(3, 64, 11, stride=1, padding=2)
        self.blur1 = _BlurPool(64)
        self.blur2 = _BlurPool(64)
        self.conv2 = nn.Conv2d(64, 192, 5, padding=2)
        self.blur3 = _BlurPool(192)
        self.conv3 = nn.Conv2d(192, 384, 3, padding=1)
        self.conv4 = nn.Conv2d(384, 256, 3, padding=1)
        self.conv5 = nn.Conv2d(256, 256, 3, padding=1)
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in _CHANNELS)
        state = _load_state(None if weights is None else Path(weights))
        expected = self.state_dict()
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        if missing or unexpected:
            raise PerceptualWeightsError(
                f"weight file layout mismatch: missing {missing}, unexpected {unexpected}"
            )
        for key, tensor in state.items():
            if tensor.shape != expected[key].shape:
                raise PerceptualWeightsError(
                    f"weight {key!r} has shape {tuple(tensor.shape)}, expected {tuple(expected[key].shape)}"
                )
        self.load_state_dict(state)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> ShiftTolerantAlexNet:
        # Frozen backbone: always evaluated in eval mode, whatever the surrounding model does.
        return super().train(False)

    def forward(self, x: torch.Tensor, upto: int = 5) -> list[torch.Tensor]:
        torch._assert(x.dim() == 4 and x.shape[1] == 3, "x must be (B, 3, H, W) in [-1, 1]")
        h = (x - self.shift) / self.scale
        feats = []
        h = F.relu(self.blur1(self.conv1(h)))
        feats.append(h)
        if upto >= 2:
            h = F.relu(self.conv2(self.blur2(F.max_pool2d(h, 3, stride=1))))
            feats.append(h)
        if upto >= 3:
            h = F.relu(self.conv3(self.blur3(F.max_pool2d(h, 3, stride=1))))
            feats.append(h)
        if upto >= 4:
            h = F.relu(self.conv4(h))
            feats.append(h)
        if upto >= 5:
            h = F.relu(self.conv5(h))
            feats.append(h)
        return feats


def _unit_normalize(feat: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    return feat / (feat.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


def _resize_to(x: torch.Tensor, size: int | None) -> torch.Tensor:
    if size is None or max(x.shape[-2:]) <= size:
        return x
    scale = size / max(x.shape[-2:])
    out = (max(1, round(x.shape[-2] * scale)), max(1, round(x.shape[-1] * scale)))
    return F.interpolate(x, size=out, mode="bilinear", align_corners=False, antialias=True)


class PerceptualLoss(nn.Module):
    """Feature-matching loss on the shift-tolerant AlexNet: ``sum_l w_l * mean(|phi_l(x) - phi_l(y)|^p)``.

    Features are unit-normalised along channels first (as in LPIPS), so every layer contributes on a
    comparable scale and the loss is insensitive to global contrast.

    Args:
        layers: names from :data:`LAYERS`; layers deeper than the deepest requested one are skipped.
        weights: one weight per layer (default: all 1).
        distance: ``"l2"`` (squared difference, LPIPS-like) or ``"l1"``.
        max_size: if set, inputs whose longer side exceeds it are downsampled (antialiased) to it
            first; the cost scales with the pixel count (256 -> 128 is 4x cheaper).
        weights_path: explicit weight file (default: the one inside ``stlpips-pytorch``).

    Shapes: ``x, y (B, 3, H, W)`` in ``[-1, 1]`` -> scalar tensor (mean over the batch). Gradients
    flow into both inputs; the backbone is frozen.
    """

    def __init__(
        self,
        layers: Sequence[str] = ("relu1", "relu2", "relu3", "relu4"),
        weights: Sequence[float] | None = None,
        distance: str = "l2",
        max_size: int | None = None,
        weights_path: str | Path | None = None,
    ) -> None:
        super().__init__()
        layers = tuple(layers)
        unknown = [name for name in layers if name not in LAYERS]
        if unknown or not layers:
            raise ValueError(f"unknown perceptual layers {unknown}; choose from {LAYERS}")
        weights = tuple(float(w) for w in weights) if weights is not None else (1.0,) * len(layers)
        if len(weights) != len(layers):
            raise ValueError("weights must have one entry per layer")
        if distance not in ("l1", "l2"):
            raise ValueError(f"distance must be 'l1' or 'l2', got {distance!r}")
        self.layers = layers
        self.layer_weights = weights
        self.indices = tuple(LAYERS.index(name) for name in layers)
        self.upto = max(self.indices) + 1  # backbone depth computed for the requested layers
        self.distance = distance
        self.max_size = max_size
        self.backbone = ShiftTolerantAlexNet(weights_path)

    def features(self, x: torch.Tensor, first: int | None = None) -> list[torch.Tensor]:
        """Unit-normalised features of the requested layers, in ``self.layers`` order; ``first=n``
        keeps (and computes) only the first ``n`` of them, e.g. for small crops the deep layers
        would reduce to a pixel."""
        indices = self.indices if first is None else self.indices[:first]
        depth = self.upto if first is None else max(indices) + 1
        feats = self.backbone(_resize_to(x, self.max_size), depth)
        return [_unit_normalize(feats[i]) for i in indices]

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if y.requires_grad:
            pairs = [f.chunk(2, dim=0) for f in self.features(torch.cat([x, y], dim=0))]
            return self.feature_distance([p[0] for p in pairs], [p[1] for p in pairs])
        # A fixed target (the usual case) needs no backward pass: ~1/3 less work per step.
        with torch.no_grad():
            targets = self.features(y)
        return self.feature_distance(self.features(x), targets)

    def feature_distance(
        self, x_features: Sequence[torch.Tensor], y_features: Sequence[torch.Tensor]
    ) -> torch.Tensor:
        """The loss from features already computed by :meth:`features` (lets callers reuse one pass)."""
        total = x_features[0].new_zeros(())
        pairs = zip(x_features, y_features, strict=True)
        for (fx, fy), weight in zip(pairs, self.layer_weights, strict=True):
            diff = (fx - fy).abs() if self.distance == "l1" else (fx - fy).pow(2)
            # Sum over channels (unit-normalised vectors), mean over positions and batch.
            total = total + weight * diff.sum(dim=1).mean()
        return total


class LPIPS(nn.Module):
    """Shift-tolerant LPIPS distance (ST-LPIPS, AlexNet): ``d(x, y) = sum_l mean_hw(w_l . (n(phi_l x) - n(phi_l y))^2)``.

    Shapes: ``x, y (B, 3, H, W)`` in ``[-1, 1]`` -> ``(B,)`` distances (0 for identical images,
    roughly 0.1 for mild degradations, 0.3-0.7 between different faces).
    """

    def __init__(self, weights_path: str | Path | None = None) -> None:
        super().__init__()
        self.backbone = ShiftTolerantAlexNet(weights_path)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(torch.cat([x, y], dim=0), 5)
        total = x.new_zeros(x.shape[0])
        for feat, lin in zip(feats, self.backbone.lins, strict=True):
            fx, fy = _unit_normalize(feat).chunk(2, dim=0)
            total = total + lin((fx - fy).pow(2)).mean(dim=(1, 2, 3))
        return total


_LPIPS_CACHE: dict[str, LPIPS] = {}


def lpips_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """ST-LPIPS distance ``(B,)`` between image batches in ``[-1, 1]`` (a cached :class:`LPIPS` on x's device)."""
    key = str(x.device)
    if key not in _LPIPS_CACHE:
        _LPIPS_CACHE[key] = LPIPS().to(x.device)
    return _LPIPS_CACHE[key](x, y)
