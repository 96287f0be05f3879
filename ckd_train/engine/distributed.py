"""DDP set-up for ``torchrun`` (NCCL on CUDA, gloo on CPU) and the BN running-statistics rule.

BatchNorm semantics across processes: each process normalises with the statistics of its own
per-process batch (plain BN, not SyncBN). One process reproduces this exactly with
``train.micro_batches = W`` (the global batch is split into ``W`` chunks, gradients accumulated
and averaged — what DDP's all-reduce computes). BN *running* statistics are made equal too: every
chunk/rank updates them from the same starting value and the results are averaged
(:func:`average_bn_buffers`); the momentum update is linear, so both paths give
``(1 - m) * r + m * mean_k(stat_k)``.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


_OWN_GROUP = False  # True when init_distributed created the process group (and so ends it)


def init_distributed(device: torch.device) -> tuple[int, int]:
    """Initialise the process group when launched by torchrun; returns ``(rank, world_size)``."""
    global _OWN_GROUP
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        _OWN_GROUP = True
    return dist.get_rank(), dist.get_world_size()


def shutdown_distributed() -> None:
    """Destroy the process group :func:`init_distributed` created (a gloo group left alive at
    interpreter exit can abort the process: "terminate called without an active exception")."""
    global _OWN_GROUP
    if _OWN_GROUP and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    _OWN_GROUP = False


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def bn_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


def bn_buffers(model: nn.Module) -> list[torch.Tensor]:
    out = []
    for m in bn_modules(model):
        out += [m.running_mean, m.running_var]
    return out


def average_bn_buffers(model: nn.Module) -> None:
    """All-reduce (mean) the BN running statistics across ranks."""
    if not is_distributed():
        return
    bufs = bn_buffers(model)
    if not bufs:
        return
    flat = torch.cat([b.reshape(-1) for b in bufs])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    off = 0
    for b in bufs:
        n = b.numel()
        b.copy_(flat[off:off + n].view_as(b))
        off += n


def all_mean(value: float, device: torch.device) -> float:
    if not is_distributed():
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return (t / dist.get_world_size()).item()
