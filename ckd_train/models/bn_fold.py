"""Fold an eval-mode BatchNorm2d into the preceding Conv2d (weight and bias).

BatchNorm in eval mode is the per-channel affine map (PyTorch ``nn.BatchNorm2d``)::

    BN(y) = gamma * (y - running_mean) / sqrt(running_var + eps) + beta

so with ``s = gamma / sqrt(running_var + eps)`` and the conv ``y = W * x + b``::

    BN(conv(x)) = (s W) * x + (s (b - running_mean) + beta)

i.e. ``W'[o] = s[o] W[o]``, ``b'[o] = s[o] (b[o] - mean[o]) + beta[o]``. Computed and *stored*
in float64 (``dtype``): a float64 simulation of the NIR file then equals a float64 run of the
unfolded student up to ~1e-16 relative, so spikes agree exactly (``export.verify``); float32
consumers (Norse, our float32 run, the Loihi quantiser) cast once. In float32 the folded and
unfolded forms round differently by a few ulps, which flips the rare spikes whose membrane lands
within that distance of the threshold (numbers in ``export.verify``).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


def bn_scale_shift(bn: nn.BatchNorm2d) -> tuple[np.ndarray, np.ndarray]:
    """``(s, t)`` with ``BN(y) = s y + t`` per channel, float64 (eval statistics)."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("BatchNorm2d has no running statistics (track_running_stats=False)")
    mean = bn.running_mean.detach().double().cpu().numpy()
    var = bn.running_var.detach().double().cpu().numpy()
    gamma = bn.weight.detach().double().cpu().numpy() if bn.weight is not None else np.ones_like(mean)
    beta = bn.bias.detach().double().cpu().numpy() if bn.bias is not None else np.zeros_like(mean)
    s = gamma / np.sqrt(var + float(bn.eps))
    return s, beta - s * mean


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d | None, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Folded ``(weight[C_out, C_in/groups, kH, kW], bias[C_out])`` as numpy arrays of ``dtype``."""
    w = conv.weight.detach().double().cpu().numpy()
    b = conv.bias.detach().double().cpu().numpy() if conv.bias is not None else np.zeros(w.shape[0])
    if bn is None:
        return w.astype(dtype), b.astype(dtype)
    if bn.num_features != w.shape[0]:
        raise ValueError(f"BatchNorm2d has {bn.num_features} channels, the conv before it {w.shape[0]}")
    s, t = bn_scale_shift(bn)
    return (w * s[:, None, None, None]).astype(dtype), (s * b + t).astype(dtype)


def folded_conv_module(conv: nn.Conv2d, bn: nn.BatchNorm2d | None) -> nn.Conv2d:
    """A torch ``Conv2d`` (with bias) holding the folded parameters (used by tests/ONNX)."""
    w, b = fold_conv_bn(conv, bn, np.float32)
    out = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                    conv.padding, conv.dilation, conv.groups, bias=True)
    with torch.no_grad():
        out.weight.copy_(torch.from_numpy(w))
        out.bias.copy_(torch.from_numpy(b))
    return out
