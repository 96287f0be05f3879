"""MACs and FLOPs of any ``nn.Module`` counted from the shapes its layers see (forward hooks).

One forward pass of a dummy input records every leaf layer's input/output shapes; the counts
follow from those shapes only (no profiler, no timing):

- ``nn.Conv2d``: ``MACs = N_out_elements * (C_in / groups) * k_h * k_w`` (+ one add per output
  for a bias), FLOPs = 2 MACs (+ bias adds).
- ``nn.Linear``: ``MACs = N_out_elements * in_features``, FLOPs = 2 MACs (+ bias adds).
- ``nn.BatchNorm*``: 2 FLOPs per element (inference: scale and shift), no MACs.
- ``nn.AvgPool2d``/``nn.AdaptiveAvgPool2d``: one add per input element in a window + one
  multiply per output; ``nn.MaxPool2d``: ``k_h k_w - 1`` compares per output.
- ``nn.ReLU`` and other activations: 1 FLOP per element.

Counts are per sample (divided by the batch size of the dummy input). The well-known sanity
check: ResNet-18 at 224x224 is about 1.82 GMACs.

:func:`resnet_cost` gives the same totals for the ANN teacher (torchvision's ResNets, as built by
``ckd_train.models.build_teacher``) from its architecture description alone, with no model built:
the report stage counts the teacher's FLOPs without the training package
(``tests/hardware/test_teacher_flops.py`` checks it against :func:`count_module` on the built teacher).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ckd_toolchain.geometry import pair

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.GELU, nn.SiLU, nn.Hardtanh)


@dataclass
class LayerFlops:
    name: str
    type: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    macs: float
    flops: float


def layer_cost(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(MACs, FLOPs) of one call of ``m`` mapping ``x`` to ``y`` (whole batch)."""
    if isinstance(m, nn.Conv2d):
        kh, kw = pair(m.kernel_size)
        macs = y.numel() * (m.in_channels // m.groups) * kh * kw
        return float(macs), float(2 * macs + (y.numel() if m.bias is not None else 0))
    if isinstance(m, nn.Linear):
        macs = y.numel() * m.in_features
        return float(macs), float(2 * macs + (y.numel() if m.bias is not None else 0))
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        return 0.0, float(2 * y.numel())
    if isinstance(m, nn.AvgPool2d):
        kh, kw = pair(m.kernel_size)
        return 0.0, float(y.numel() * kh * kw)
    if isinstance(m, nn.AdaptiveAvgPool2d):
        return 0.0, float(x.numel() + y.numel())
    if isinstance(m, nn.MaxPool2d):
        kh, kw = pair(m.kernel_size)
        return 0.0, float(y.numel() * (kh * kw - 1))
    if isinstance(m, ACTIVATIONS):
        return 0.0, float(y.numel())
    return 0.0, 0.0


def count_module(model: nn.Module, input_shape: tuple[int, ...], batch: int = 1) -> list[LayerFlops]:
    """Per-layer MACs/FLOPs per sample for ``model`` on an input of ``[batch, *input_shape]``."""
    records: list[LayerFlops] = []
    hooks = []

    def hook(name):
        def fn(m, inputs, output):
            x = inputs[0] if inputs else None
            if not isinstance(output, torch.Tensor) or not isinstance(x, torch.Tensor):
                return
            macs, flops = layer_cost(m, x, output)
            if macs or flops:
                records.append(LayerFlops(name, type(m).__name__, tuple(x.shape[1:]), tuple(output.shape[1:]),
                                          macs / batch, flops / batch))
        return fn

    for name, m in model.named_modules():
        if len(list(m.children())) == 0:
            hooks.append(m.register_forward_hook(hook(name)))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((batch, *input_shape)))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return records


def total_macs(records: list[LayerFlops]) -> float:
    return float(sum(r.macs for r in records))


def total_flops(records: list[LayerFlops]) -> float:
    return float(sum(r.flops for r in records))


#: The teacher ResNets (``ckd_train/models/teacher_resnet.py``, torchvision v1.5): residual block,
#: blocks per stage, width per group.
RESNET_ARCHS = {
    "resnet18": ("basic", (2, 2, 2, 2), 64),
    "resnet34": ("basic", (3, 4, 6, 3), 64),
    "resnet50": ("bottleneck", (3, 4, 6, 3), 64),
    "wide_resnet50_2": ("bottleneck", (3, 4, 6, 3), 128),
    "wide_resnet101_2": ("bottleneck", (3, 4, 23, 3), 128),
}


class _Counter:
    """Running MACs/FLOPs of a network walked layer by layer (the rules of :func:`layer_cost`)."""

    def __init__(self, channels: int, h: int, w: int):
        self.c, self.h, self.w = channels, h, w
        self.macs = self.flops = 0

    def conv(self, c_in: int, c_out: int, k: int, stride: int, pad: int, h: int, w: int) -> tuple[int, int]:
        """A bias-free square convolution of a ``c_in x h x w`` input; returns its output ``(h, w)``."""
        ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
        if ho < 1 or wo < 1:
            raise ValueError(f"a {k}x{k} convolution (stride {stride}, padding {pad}) leaves no output "
                             f"of a {h}x{w} input")
        macs = c_out * ho * wo * c_in * k * k
        self.macs += macs
        self.flops += 2 * macs
        return ho, wo

    def bn_relu(self, c: int, h: int, w: int, relu: bool = True) -> None:
        self.flops += (3 if relu else 2) * c * h * w   # BN: scale and shift; ReLU: 1 per element

    def stem(self, c_out: int) -> None:
        """conv 7x7/2 pad 3, BN, ReLU, max-pool 3x3/2 pad 1."""
        h, w = self.conv(self.c, c_out, 7, 2, 3, self.h, self.w)
        self.bn_relu(c_out, h, w)
        self.h, self.w = (h - 1) // 2 + 1, (w - 1) // 2 + 1
        self.flops += c_out * self.h * self.w * (3 * 3 - 1)
        self.c = c_out

    def basic_block(self, planes: int, stride: int) -> None:
        c_in, h, w = self.c, self.h, self.w
        ho, wo = self.conv(c_in, planes, 3, stride, 1, h, w)
        self.bn_relu(planes, ho, wo)
        self.conv(planes, planes, 3, 1, 1, ho, wo)
        self.bn_relu(planes, ho, wo)               # bn2, then the ReLU after the sum
        self._shortcut(c_in, planes, stride, h, w)
        self.c, self.h, self.w = planes, ho, wo

    def bottleneck(self, planes: int, stride: int, base_width: int) -> None:
        c_in, h, w = self.c, self.h, self.w
        mid, c_out = int(planes * (base_width / 64.0)), planes * 4
        self.conv(c_in, mid, 1, 1, 0, h, w)
        self.bn_relu(mid, h, w)
        ho, wo = self.conv(mid, mid, 3, stride, 1, h, w)
        self.bn_relu(mid, ho, wo)
        self.conv(mid, c_out, 1, 1, 0, ho, wo)
        self.bn_relu(c_out, ho, wo)                # bn3, then the ReLU after the sum
        self._shortcut(c_in, c_out, stride, h, w)
        self.c, self.h, self.w = c_out, ho, wo

    def _shortcut(self, c_in: int, c_out: int, stride: int, h: int, w: int) -> None:
        if stride != 1 or c_in != c_out:           # downsample: conv 1x1/stride + BN
            ho, wo = self.conv(c_in, c_out, 1, stride, 0, h, w)
            self.bn_relu(c_out, ho, wo, relu=False)

    def head(self, num_classes: int) -> None:
        """Global average pool, then ``Linear(c, num_classes)`` with a bias."""
        self.flops += self.c * self.h * self.w + self.c
        macs = num_classes * self.c
        self.macs += macs
        self.flops += 2 * macs + num_classes


def _scaled(channels: int, width: float) -> int:
    """The teacher's width multiplier: ``max(1, round(channels * width))``."""
    return max(1, int(round(channels * float(width))))


def resnet_cost(arch: str, num_classes: int, width: float = 1.0,
                input_shape: tuple[int, ...] = (3, 224, 224)) -> tuple[float, float]:
    """``(MACs, FLOPs)`` per sample of the teacher ResNet ``arch`` on an input ``[C, H, W]``:
    :func:`total_macs` / :func:`total_flops` of :func:`count_module` on that network."""
    if arch not in RESNET_ARCHS:
        raise ValueError(f"unknown teacher arch {arch!r}; choose from {sorted(RESNET_ARCHS)}")
    if len(input_shape) != 3 or int(input_shape[0]) != 3:
        raise ValueError(f"the teacher takes a [3, H, W] image, not {list(input_shape)}")
    block, blocks, base_width = RESNET_ARCHS[arch]
    planes = [_scaled(p, width) for p in (64, 128, 256, 512)]
    net = _Counter(*(int(v) for v in input_shape))
    net.stem(planes[0])
    for stage, (p, n) in enumerate(zip(planes, blocks)):
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            if block == "basic":
                net.basic_block(p, stride)
            else:
                net.bottleneck(p, stride, base_width)
    net.head(int(num_classes))
    return float(net.macs), float(net.flops)
