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
