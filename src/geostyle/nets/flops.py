"""Parameter and FLOP counting with ``torch.utils.flop_counter.FlopCounterMode``.

Units: we report **MACs** (multiply-accumulates) and **FLOPs = 2 x MACs**, the convention of
``FlopCounterMode`` (which counts a convolution as ``2 * B * prod(out_spatial) * prod(weight.shape)``).
Because ``weight.shape`` of a grouped conv is ``(C_out, C_in / groups, k, k)``, depthwise and grouped
convs are counted correctly (a 3x3 depthwise conv costs ``9 * C`` MACs per output pixel, not
``9 * C^2``); :func:`conv_macs` gives the textbook formula the tests compare against.

``FlopCounterMode`` only counts matmul/conv-like ops. We add the resampling ops the generators use
(``grid_sample``: 4 taps per output value; bilinear ``interpolate``: 4 taps), reported separately as
``resample_macs``; element-wise ops (activations, adds, normalisation) are not counted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["FlopReport", "count_parameters", "count_flops", "conv_macs"]

aten = torch.ops.aten


@dataclass
class FlopReport:
    """Counts for one forward pass. ``macs``/``flops`` cover conv and matmul ops; ``resample_macs``
    covers grid_sample and bilinear upsampling (4 multiply-adds per output value)."""

    params: int
    macs: int
    flops: int
    resample_macs: int
    by_module: dict[str, int]

    @property
    def gflops(self) -> float:
        return self.flops / 1e9

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (buffers such as fixed blur filters are not parameters)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def conv_macs(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    out_height: int,
    out_width: int,
    groups: int = 1,
    batch: int = 1,
) -> int:
    """Textbook MACs of a 2-D convolution: ``B * H_out * W_out * C_out * (C_in / groups) * k^2``."""
    return batch * out_height * out_width * out_channels * (in_channels // groups) * kernel_size**2


def _resample_flops(*args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    # 4 taps x 2 flops per output element; the flop counter halves nothing, so report FLOPs here.
    numel = 1
    for size in out_shape:
        numel *= int(size)
    return 2 * 4 * numel


_RESAMPLE_OPS = [aten.grid_sampler_2d, aten.upsample_bilinear2d]


def count_flops(model: nn.Module, *inputs: Any, **kwargs: Any) -> FlopReport:
    """Run ``model(*inputs, **kwargs)`` once under ``torch.no_grad`` and count its operations.

    Model and inputs may live on the ``meta`` device: the count needs only shapes, and no arithmetic
    runs (a 512x512 generator is counted in well under a second).
    """
    mapping = {op: _resample_flops for op in _RESAMPLE_OPS}
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        model(*inputs, **kwargs)
    counts = counter.get_flop_counts()
    resample_packets = set(_RESAMPLE_OPS)
    per_op = counts.get("Global", {})
    resample = sum(v for op, v in per_op.items() if op in resample_packets)
    total = sum(v for op, v in per_op.items() if op not in resample_packets)
    by_module = {}
    for name, ops in counts.items():
        if name.count(".") == 1:  # direct children of the root module: "<Root>.<child>"
            by_module[name.split(".", 1)[1]] = (
                sum(v for op, v in ops.items() if op not in resample_packets) // 2
            )
    return FlopReport(
        params=count_parameters(model),
        macs=int(total) // 2,
        flops=int(total),
        resample_macs=int(resample) // 2,
        by_module=by_module,
    )
