"""FLOP and parameter counting."""

from __future__ import annotations

import torch
from torch import nn

from geostyle.nets.blocks import identity_grid
from geostyle.nets.flops import conv_macs, count_flops, count_parameters


def test_depthwise_conv_is_counted_per_group():
    conv = nn.Conv2d(16, 16, 3, padding=1, groups=16)
    report = count_flops(conv, torch.zeros(2, 16, 8, 8))
    assert report.macs == conv_macs(16, 16, 3, 8, 8, groups=16, batch=2) == 2 * 8 * 8 * 16 * 9
    assert report.flops == 2 * report.macs


def test_dense_and_strided_conv_and_linear():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.Flatten(), nn.Linear(8 * 4 * 4, 5))
    report = count_flops(model, torch.zeros(1, 3, 8, 8))
    assert report.macs == conv_macs(3, 8, 3, 4, 4) + 8 * 4 * 4 * 5
    assert report.params == count_parameters(model) == 3 * 8 * 9 + 8 + 128 * 5 + 5
    assert report.resample_macs == 0


def test_resampling_is_reported_separately():
    class Warp(nn.Module):
        def forward(self, x, grid):
            return nn.functional.grid_sample(x, grid, align_corners=False)

    report = count_flops(Warp(), torch.zeros(1, 3, 8, 8), identity_grid(1, 4, 4))
    assert report.macs == 0 and report.resample_macs == 4 * 3 * 4 * 4


def test_meta_device_counts_like_real_tensors():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1, groups=8))
    real = count_flops(model, torch.zeros(1, 3, 16, 16))
    meta = count_flops(model.to("meta"), torch.zeros(1, 3, 16, 16, device="meta"))
    assert real.macs == meta.macs == conv_macs(3, 8, 3, 16, 16) + conv_macs(8, 8, 3, 16, 16, groups=8)
    assert set(real.by_module) == {"0", "2"}
