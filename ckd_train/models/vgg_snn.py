"""VGGSNN (TET, Deng et al. ICLR 2022; as used by He et al. AAAI 2024 for N-Caltech101).

conv3x3 (no bias) + BN + LIF blocks ``64, 128, AP, 256, 256, AP, 512, 512, AP, 512, 512, AP``
(AP = 2x2 average pool), input ``2 x 48 x 48`` → ``512 x 3 x 3``, Flatten, then two heads
``Linear(512*3*3, classes)``. ``width`` scales every channel count (``max(1, round(c*width))``).
"""
from __future__ import annotations

from torch import nn

from ckd_toolchain.ckd_train.models.lif import MultiStepLIF
from ckd_toolchain.ckd_train.models.student import SpikingStudent, scaled
from ckd_toolchain.geometry import conv_output_size

VGG_PLAN = (64, 128, "AP", 256, 256, "AP", 512, 512, "AP", 512, 512, "AP")


def build_vgg_snn(num_classes: int, in_channels: int = 2, input_size: int = 48, width: float = 1.0,
                  beta: float = 0.5, threshold: float = 1.0, alpha: float = 2.0,
                  cfg: dict | None = None) -> SpikingStudent:
    layers: list[nn.Module] = []
    c_in, size = in_channels, input_size
    for item in VGG_PLAN:
        if item == "AP":
            layers.append(nn.AvgPool2d(2))
            size = conv_output_size(size, 2, 2)
        else:
            c_out = scaled(item, width)
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                       MultiStepLIF(beta, threshold, alpha)]
            c_in = c_out
    if size < 1:
        raise ValueError(f"input_size {input_size} too small for VGGSNN (4 pools)")
    layers.append(nn.Flatten())
    return SpikingStudent(nn.Sequential(*layers), c_in * size * size, num_classes, cfg or {},
                          cka_source="membrane")
