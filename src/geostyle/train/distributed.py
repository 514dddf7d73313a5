"""Multi-process training through PyTorch's own engine: ``torchrun`` + DistributedDataParallel.

One code path: a plain ``geostyle train`` is a world of size 1; under ``torchrun`` the environment
variables it sets (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT) start a process group. CPU runs use
the gloo backend, CUDA runs NCCL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def init_distributed() -> DistInfo:
    """Start the process group if launched by torchrun; otherwise a single-process world."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return DistInfo(rank, world, local_rank)


def resolve_device(name: str, info: DistInfo) -> torch.device:
    """The device of this rank: ``auto`` = this rank's GPU when CUDA is available, else the CPU;
    ``cpu``; ``cuda`` (this rank's GPU, an error without one)."""
    from geostyle.errors import ConfigError

    if name not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"train.device: {name!r} is not one of auto, cpu, cuda")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError("train.device=cuda but this machine has no CUDA device")
    torch.cuda.set_device(info.local_rank)
    return torch.device("cuda", info.local_rank)


PRECISIONS = ("fp32", "bf16", "auto")


def resolve_precision(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of the networks' passes: None (float32) or ``torch.bfloat16``. ``auto``
    picks bfloat16 only where the device computes it natively (emulated, it is slower than float32)."""
    from geostyle.errors import ConfigError

    if name not in PRECISIONS:
        raise ConfigError(f"train.precision: {name!r} is not one of {', '.join(PRECISIONS)}")
    if name == "fp32":
        return None
    if name == "bf16":
        return torch.bfloat16
    return torch.bfloat16 if native_bf16(device) else None


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively (CPU: AVX512-BF16 or AMX instructions; oneDNN
    also runs bfloat16 on plain AVX512 by conversion, which is not faster; CUDA: the GPU's support)."""
    if device.type == "cuda":
        # Ampere and later (is_bf16_supported() also counts emulation, and asks the current device).
        return torch.cuda.get_device_capability(device) >= (8, 0)
    if device.type == "cpu":
        cpu = torch.cpu
        return bool(cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported())
    return False


def wrap(module: torch.nn.Module, info: DistInfo) -> torch.nn.Module:
    """DDP-wrap a module in a multi-process world; identity otherwise."""
    if not info.enabled:
        return module
    from torch.nn.parallel import DistributedDataParallel

    on_gpu = next(module.parameters()).device.type == "cuda"
    device_ids = [info.local_rank] if on_gpu else None
    return DistributedDataParallel(module, device_ids=device_ids, broadcast_buffers=False)


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    inner = getattr(module, "module", module)  # DistributedDataParallel keeps the network in .module
    assert isinstance(inner, torch.nn.Module)
    return inner


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def average_scalars(values: dict[str, float], info: DistInfo) -> dict[str, float]:
    """Mean of logged scalars over ranks (for logs only; gradients are reduced by DDP)."""
    if not info.enabled or not values:
        return values
    keys = sorted(values)
    # NCCL reduces only GPU tensors; gloo takes CPU ones.
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return {k: float(v) / info.world for k, v in zip(keys, t)}


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
