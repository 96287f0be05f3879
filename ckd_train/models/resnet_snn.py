"""Spiking ResNet-18 (He et al. AAAI 2024 variant for 48x48 DVS frames).

Stem conv3x3 (2→64, stride 1, no bias) + BN + LIF, no max-pool; BasicBlocks ``[2, 2, 2, 2]`` at
``64/128/256/512`` channels, strides ``1/2/2/2``; AdaptiveAvgPool2d(1), Flatten, two linear heads.

:class:`SpikingBasicBlock` (contract in ARCHITECTURE.md): ``lif2(bn2(conv2(lif1(bn1(conv1(x))))) +
shortcut(x))`` where ``shortcut`` is an ``nn.Sequential`` (empty = identity, else conv1x1 + BN).
"""
from __future__ import annotations

import torch
from torch import nn

from ckd_toolchain.ckd_train.models.lif import MultiStepLIF
from ckd_toolchain.ckd_train.models.student import SpikingStudent, scaled


class SpikingBasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int = 1, beta: float = 0.5,
                 threshold: float = 1.0, alpha: float = 2.0):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.lif1 = MultiStepLIF(beta, threshold, alpha)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(c_out))
        else:
            self.shortcut = nn.Sequential()
        self.lif2 = MultiStepLIF(beta, threshold, alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.lif1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out)) + self.shortcut(x)
        return self.lif2(out)


def build_resnet18_snn(num_classes: int, in_channels: int = 2, input_size: int = 48,
                       width: float = 1.0, beta: float = 0.5, threshold: float = 1.0,
                       alpha: float = 2.0, cfg: dict | None = None) -> SpikingStudent:
    c = [scaled(v, width) for v in (64, 128, 256, 512)]
    layers: list[nn.Module] = [nn.Conv2d(in_channels, c[0], 3, padding=1, bias=False),
                               nn.BatchNorm2d(c[0]), MultiStepLIF(beta, threshold, alpha)]
    c_in = c[0]
    for c_out, stride in zip(c, (1, 2, 2, 2)):
        for i in range(2):
            layers.append(SpikingBasicBlock(c_in, c_out, stride if i == 0 else 1, beta, threshold, alpha))
            c_in = c_out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return SpikingStudent(nn.Sequential(*layers), c_in, num_classes, cfg or {}, cka_source="pooled")
