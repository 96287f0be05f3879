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

from typing import Callable

import numpy as np
import torch
from torch import nn


def to_float64_numpy(t: torch.Tensor) -> np.ndarray:
    """The converter :func:`fold_conv_bn` uses: a float64 numpy copy outside autograd."""
    return t.detach().double().cpu().numpy()


def fold(weight: torch.Tensor, bias: torch.Tensor | None, bn: nn.BatchNorm2d | None,
         to: Callable = lambda t: t):
    """Folded ``(W', b')`` — ``s = gamma / sqrt(running_var + eps)``, ``W' = s W``,
    ``b' = s b + (beta - s mean)`` — with ``to`` applied to every parameter and statistic first:
    :func:`to_float64_numpy` gives numpy float64 arrays (the exporter), the default keeps torch
    tensors differentiable in ``weight``, ``bias``, ``gamma``, ``beta`` (fixed-point-aware
    training). A missing bias counts as 0; ``weight`` may have any rank (a Linear's ``[out, in]``)."""
    w = to(weight)
    xp = np if isinstance(w, np.ndarray) else torch
    if bias is not None:
        b = to(bias)
    else:
        b = np.zeros(w.shape[0]) if xp is np else torch.zeros(w.shape[0], dtype=w.dtype, device=w.device)
    if bn is None:
        return w, b
    if bn.num_features != w.shape[0]:
        raise ValueError(f"BatchNorm2d has {bn.num_features} channels, the conv before it {w.shape[0]}")
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("BatchNorm2d has no running statistics (track_running_stats=False)")
    mean, var = to(bn.running_mean), to(bn.running_var)
    gamma = to(bn.weight) if bn.weight is not None else xp.ones_like(mean)
    beta = to(bn.bias) if bn.bias is not None else xp.zeros_like(mean)
    s = gamma / xp.sqrt(var + float(bn.eps))
    return w * s.reshape((-1,) + (1,) * (w.ndim - 1)), s * b + (beta - s * mean)


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d | None, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Folded ``(weight[C_out, C_in/groups, kH, kW], bias[C_out])`` as numpy arrays of ``dtype``
    (computed in float64)."""
    w, b = fold(conv.weight, conv.bias, bn, to_float64_numpy)
    return w.astype(dtype), b.astype(dtype)
