"""Speed references: the generators of two published stylizers, rebuilt from their layer lists.

SPEED REFERENCES ONLY: random weights, never trained, never used to stylize anything. They exist so
that ``benchmarks/pipeline_speed.py`` can time geostyle's generator beside theirs at the same size,
runtime and thread count.

* :class:`AnimeGANv2Generator` — the layer list of ``G_net`` in TachibanaYoshino/AnimeGANv2
  ``net/generator.py``: blocks A-E of reflect-padded convolutions with layer norm and leaky ReLU,
  four inverted residual blocks (expansion 2, 256 channels) at 1/4 resolution, resize-then-convolve
  upsampling, a 1x1 output convolution and tanh.
* :class:`WhiteBoxGenerator` — ``unet_generator`` in SystemErrorWang/White-box-Cartoonization
  ``test_code/network.py`` (channel 32, 4 residual blocks): a U-Net with biased convolutions and
  leaky ReLU, bilinear upsampling and additive skips (the guided filter applied after it is left
  out).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _ConvNormLReLU(nn.Module):
    """Reflect padding as the original's ``Conv2D`` (stride 2 pads bottom/right only), no bias,
    layer norm over (C, H, W), leaky ReLU 0.2; ``act=False`` leaves out the activation."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, act: bool = True):
        super().__init__()
        self.pad = (0, 1, 0, 1) if stride == 2 else (k // 2,) * 4
        self.conv = nn.Conv2d(cin, cout, k, stride, groups=groups, bias=groups > 1)
        self.norm = nn.GroupNorm(1, cout)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.conv(F.pad(x, self.pad, mode="reflect")))
        return F.leaky_relu(x, 0.2) if self.act else x


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, expansion: int = 2):
        super().__init__()
        hidden = cin * expansion
        self.expand = _ConvNormLReLU(cin, hidden, 1)
        self.depthwise = _ConvNormLReLU(hidden, hidden, 3, groups=hidden)
        self.project = nn.Conv2d(hidden, cout, 1, bias=False)
        self.norm = nn.GroupNorm(1, cout)
        self.residual = cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.project(self.depthwise(self.expand(x))))
        return x + y if self.residual else y


class AnimeGANv2Generator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        c = _ConvNormLReLU
        self.a = nn.Sequential(c(3, 32, 7), c(32, 64, stride=2), c(64, 64))
        self.b = nn.Sequential(c(64, 128, stride=2), c(128, 128))
        self.c = nn.Sequential(
            c(128, 128),
            _InvertedResidual(128, 256),
            _InvertedResidual(256, 256),
            _InvertedResidual(256, 256),
            _InvertedResidual(256, 256),
            c(256, 128),
        )
        self.d_up, self.d = c(128, 128), c(128, 128)
        self.e_up, self.e = c(128, 64), nn.Sequential(c(64, 64), c(64, 32, 7))
        self.out = nn.Conv2d(32, 3, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.c(self.b(self.a(x)))
        x = self.d(self.d_up(F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)))
        x = self.e(self.e_up(F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)))
        return torch.tanh(self.out(x))


class _ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.leaky_relu(self.conv1(x), 0.2))


class WhiteBoxGenerator(nn.Module):
    def __init__(self, channel: int = 32, num_blocks: int = 4) -> None:
        super().__init__()
        ch = channel
        self.conv0 = nn.Conv2d(3, ch, 7, padding=3)
        self.down1 = nn.Conv2d(ch, ch, 3, 2, padding=1)
        self.conv1 = nn.Conv2d(ch, ch * 2, 3, padding=1)
        self.down2 = nn.Conv2d(ch * 2, ch * 2, 3, 2, padding=1)
        self.conv2 = nn.Conv2d(ch * 2, ch * 4, 3, padding=1)
        self.blocks = nn.Sequential(*[_ResBlock(ch * 4) for _ in range(num_blocks)])
        self.conv3 = nn.Conv2d(ch * 4, ch * 2, 3, padding=1)
        self.up1a = nn.Conv2d(ch * 2, ch * 2, 3, padding=1)
        self.up1b = nn.Conv2d(ch * 2, ch, 3, padding=1)
        self.up2a = nn.Conv2d(ch, ch, 3, padding=1)
        self.out = nn.Conv2d(ch, 3, 7, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
        x0 = act(self.conv0(x))
        x1 = act(self.conv1(act(self.down1(x0))))
        x2 = self.blocks(act(self.conv2(act(self.down2(x1)))))
        x2 = act(self.conv3(x2))
        x3 = F.interpolate(x2, scale_factor=2.0, mode="bilinear", align_corners=False)
        x3 = act(self.up1b(act(self.up1a(x3 + x1))))
        x4 = F.interpolate(x3, scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.out(act(self.up2a(x4 + x0)))


PEERS = {"AnimeGANv2": AnimeGANv2Generator, "White-box Cartoonization": WhiteBoxGenerator}
