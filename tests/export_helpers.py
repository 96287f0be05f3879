"""Small students for the exporter tests (hand-built ``features`` on the contract's module types)."""
from __future__ import annotations

import torch
from torch import nn

from ckd_toolchain.ckd_train.models import build_student
from ckd_toolchain.ckd_train.models.lif import MultiStepLIF
from ckd_toolchain.ckd_train.models.student import SpikingStudent


def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial eval statistics so that folding BN actually changes the conv weights."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)
            m.running_var.copy_(torch.rand(n, generator=g) * 0.8 + 0.2)
            m.weight.data.copy_(torch.rand(n, generator=g) * 2 + 1)
            m.bias.data.copy_(torch.rand(n, generator=g) * 0.5)
    return model.eval()


def tiny(features: list[nn.Module], feat_dim: int, classes: int = 4, seed: int = 0) -> SpikingStudent:
    torch.manual_seed(seed)
    return randomize_bn(SpikingStudent(nn.Sequential(*features), feat_dim, classes, {}, "pooled"), seed)


def lif() -> MultiStepLIF:
    return MultiStepLIF(0.5, 1.0)


def small_student(arch: str, T: int = 4, classes: int = 4, seed: int = 0) -> SpikingStudent:
    torch.manual_seed(seed)
    cfg = {"arch": arch, "width": 0.125, "num_classes": classes, "T": T, "in_channels": 2, "input_size": 48}
    return randomize_bn(build_student(cfg), seed)


def spikes(shape, p=0.2, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=g) < p).float()
