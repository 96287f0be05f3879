"""Pre-activation Spiking ResNet-18: He et al.'s ``Transfer_ResNet18``, the CKD paper's CEP-DVS student.

Reference (Brain-Cog-Lab/Transfer-for-DVS ``braincog/model_zoo/resnet.py``):

* stem ``conv3x3(2 -> 64)``, no BN/LIF after it, no max-pool (:513-519, forward :695-700);
* :class:`PreActBasicBlock` (``BasicBlock`` :50-113)::

      out = conv2(lif2(bn2(conv1(lif1(bn1(x)))))) + shortcut(x)       (no LIF after the add)
      shortcut = identity, or  BN -> LIF -> conv1x1(stride)             (``_make_layer`` :623-636)

* layers ``[2, 2, 2, 2]`` at ``64/128/256/512`` (scaled by ``width``), strides ``1/2/2/2``;
* a final ``BatchNorm2d`` before ``AdaptiveAvgPool2d(1)`` (``self.bn1`` :590, forward :703-704), Flatten,
  the two linear heads. The pooled real-valued features (after the final BN) are the CKA features
  (``outputs_*_feature`` :708), ``cka_source="pooled"``;
* conv init ``kaiming_normal_(mode="fan_out", nonlinearity="relu")``, BN weight 1 / bias 0 (:603-609).

The block is a contract layer type (ARCHITECTURE.md "Student network"); the exporter maps it to NIR
(``export/nir_from_student.py``: BN without a preceding conv becomes a diagonal 1x1 ``Conv2d``, the
residual add an explicit identity 1x1 ``Conv2d`` junction). The post-activation variant of this
toolchain stays available as ``arch: resnet18-post`` (:mod:`.resnet_snn`).
"""
from __future__ import annotations

import torch
from torch import nn

from ckd_toolchain.ckd_train.models.lif import MultiStepLIF
from ckd_toolchain.ckd_train.models.student import SpikingStudent, scaled


class PreActBasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int = 1, beta: float = 0.5,
                 threshold: float = 1.0, alpha: float = 2.0):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.lif1 = MultiStepLIF(beta, threshold, alpha)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.lif2 = MultiStepLIF(beta, threshold, alpha)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.BatchNorm2d(c_in), MultiStepLIF(beta, threshold, alpha),
                                          nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False))
        else:
            self.shortcut = nn.Sequential()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.lif1(self.bn1(x)))
        out = self.conv2(self.lif2(self.bn2(out)))
        return out + self.shortcut(x)


def build_preact_resnet18_snn(num_classes: int, in_channels: int = 2, input_size: int = 48,
                              width: float = 1.0, beta: float = 0.5, threshold: float = 1.0,
                              alpha: float = 2.0, cfg: dict | None = None) -> SpikingStudent:
    c = [scaled(v, width) for v in (64, 128, 256, 512)]
    layers: list[nn.Module] = [nn.Conv2d(in_channels, c[0], 3, padding=1, bias=False)]
    c_in = c[0]
    for c_out, stride in zip(c, (1, 2, 2, 2)):
        for i in range(2):
            layers.append(PreActBasicBlock(c_in, c_out, stride if i == 0 else 1, beta, threshold, alpha))
            c_in = c_out
    layers += [nn.BatchNorm2d(c_in), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    features = nn.Sequential(*layers)
    for m in features.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return SpikingStudent(features, c_in, num_classes, cfg or {}, cka_source="pooled")
