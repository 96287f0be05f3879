"""Fixed-point-aware training: the student's deployed path computed with Loihi 2's integer weights.

Why: the deploy stage's mapper (``hardware/lowering/nir_to_loihi.py``) rounds every layer to 8-bit weight mantissas with a
shared exponent, 13-bit biases and a rounded threshold (:mod:`ckd_toolchain.loihi2.quantization`). A student
trained in float loses accuracy to that rounding (on the N-Digits demo the ckd student lost 1.7
points, almost all of it rounding; which layer mattered changed from sample to sample). lava-dl's
own SLAYER blocks train through quantised weights for the same reason (``pre_hook_fx`` with
``quantize``). This module does the same for our students, in the last epochs of a run
(``train.fixed_point_epochs``):

* BatchNorm is frozen (eval statistics) and folded into its conv (:mod:`ckd_toolchain.ckd_train.models.bn_fold`):
  ``W' = γ/√(σ²+ε)·W``, ``b' = β - γ·μ/√(σ²+ε)``;
* the folded ``(W', b')`` of every conv and of ``head_dvs`` are replaced in the forward pass by
  :func:`ckd_toolchain.loihi2.quantization.on_loihi_grid` — exactly the values the mapper reproduces without
  rounding (threshold rounding moved into the weights, thermometer pools of the default
  ``--pool-mode thermometer`` accounted for);
* gradients pass straight through the rounding (STE, Bengio et al. 2013): ``W_q = W' + sg(grid(W') - W')``.

:func:`bake_fixed_point` writes those grid values into the student's parameters (BN becomes
``y + b``: γ = 1, μ = 0, σ² = 1, ε = 0), so the exported NIR/ONNX graph is the network that was
trained and evaluated, and the Loihi mapping of it has no rounding error left
(``tests/ckd_train/test_fixed_point_training.py``). Only VGG-style students (Conv2d + BatchNorm2d + LIF,
AvgPool2d, Flatten) can be deployed to netx, so only those are supported.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ckd_toolchain.ckd_train.models.bn_fold import fold, to_float64_numpy
from ckd_toolchain.ckd_train.models.lif import MultiStepLIF
from ckd_toolchain.loihi2.quantization import on_loihi_grid

# Recorded in checkpoints ("fixed_point": {"grid": ...}) and in the exported NIR metadata: kept verbatim
# (it names the rule's former module) so that checkpoints and exports stay byte-identical to earlier runs.
GRID_NAME = "loihi2-netx-8bit (hardware.fixed_point.on_loihi_grid, pool mode thermometer)"


@dataclass(frozen=True)
class GridLayer:
    """One synaptic layer of the deployed path: ``features[conv]`` (+ ``features[bn]``) or the head."""

    conv: int | None          # index in features; None = head_dvs
    bn: int | None
    threshold: float | None   # the LIF threshold after it; None = read-out (head)
    pool_window: int          # n of the average pool right before it (1 = none)


def _pool_window(mods: list[nn.Module], i: int) -> int:
    """Input count of the AvgPool2d feeding position ``i`` (through a Flatten), else 1."""
    j = i - 1
    if j >= 0 and isinstance(mods[j], nn.Flatten):
        j -= 1
    if j < 0 or not isinstance(mods[j], nn.AvgPool2d):
        return 1
    k = mods[j].kernel_size
    kh, kw = (k, k) if isinstance(k, int) else k
    return int(kh) * int(kw)


def grid_plan(student: nn.Module) -> list[GridLayer]:
    """The synaptic layers of ``student.features`` + ``head_dvs`` in order; ValueError if the
    student has a module fixed-point training does not handle (ResNet blocks, other pools)."""
    mods = list(student.features)
    plan, i = [], 0
    while i < len(mods):
        m = mods[i]
        if isinstance(m, nn.Conv2d):
            bn = i + 1 if i + 1 < len(mods) and isinstance(mods[i + 1], nn.BatchNorm2d) else None
            nxt = (bn if bn is not None else i) + 1
            if nxt >= len(mods) or not isinstance(mods[nxt], MultiStepLIF):
                raise ValueError(f"features[{i}]: a Conv2d must be followed by [BatchNorm2d +] MultiStepLIF")
            plan.append(GridLayer(i, bn, float(mods[nxt].threshold), _pool_window(mods, i)))
            i = nxt + 1
            continue
        if not isinstance(m, (MultiStepLIF, nn.AvgPool2d, nn.Flatten)):
            raise ValueError(f"features[{i}] ({type(m).__name__}): fixed-point training supports Conv2d, "
                             "BatchNorm2d, MultiStepLIF, AvgPool2d and Flatten (the netx-deployable students)")
        i += 1
    plan.append(GridLayer(None, None, None, _pool_window(mods, len(mods))))
    return plan


def _folded(student: nn.Module, layer: GridLayer, **to):
    """Folded ``(weight, bias)`` of ``layer`` (:func:`ckd_toolchain.ckd_train.models.bn_fold.fold`, BN with its
    running statistics): differentiable tensors, or float64 arrays with ``to=to_float64_numpy``."""
    if layer.conv is None:
        return fold(student.head_dvs.weight, student.head_dvs.bias, None, **to)
    bn = student.features[layer.bn] if layer.bn is not None else None
    conv = student.features[layer.conv]
    return fold(conv.weight, conv.bias, bn, **to)


def grid_values(student: nn.Module, layer: GridLayer) -> tuple[np.ndarray, np.ndarray]:
    """float64 ``(weight, bias)`` of ``layer`` on the Loihi grid (folded exactly as the exporter folds)."""
    w, b = _folded(student, layer, to=to_float64_numpy)
    return on_loihi_grid(w, b, layer.threshold, layer.pool_window)


def grid_parameters(student: nn.Module, plan: list[GridLayer]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per layer ``(W_q, b_q)``: exactly the grid values forward (``x - x.detach()`` is 0),
    straight-through gradients backward."""
    out = []
    for layer in plan:
        w, b = _folded(student, layer)
        wq, bq = grid_values(student, layer)
        wq_t = torch.as_tensor(wq, dtype=w.dtype, device=w.device)
        bq_t = torch.as_tensor(bq, dtype=b.dtype, device=b.device)
        out.append((wq_t + (w - w.detach()), bq_t + (b - b.detach())))
    return out


def run_head(z: torch.Tensor, params) -> torch.Tensor:
    """``head_dvs`` on its grid values, in float32 (no autocast: bf16 would leave the grid)."""
    w, b = params[-1]
    with torch.autocast(z.device.type, enabled=False):
        return F.linear(z.float(), w.float(), b.float())


def run_features(student: nn.Module, frames: torch.Tensor, plan: list[GridLayer], params) -> torch.Tensor:
    """``student.features`` with every conv (+BN) replaced by its grid convolution, in float32
    (autocast off: a bf16 convolution would round the grid weights away)."""
    with torch.autocast(frames.device.type, enabled=False):
        return _run_features(student, frames.float(), plan, params)


def _run_features(student, frames, plan, params):
    mods = list(student.features)
    by_conv = {layer.conv: (layer, p) for layer, p in zip(plan, params) if layer.conv is not None}
    x, i = frames, 0
    while i < len(mods):
        if i in by_conv:
            layer, (w, b) = by_conv[i]
            conv = mods[i]
            x = F.conv2d(x, w, b, conv.stride, conv.padding, conv.dilation, conv.groups)
            i = (layer.bn if layer.bn is not None else i) + 1   # the BN is folded in
            continue
        x = mods[i](x)
        i += 1
    return x


def freeze_batchnorm(student: nn.Module) -> None:
    """BatchNorm layers to eval mode (running statistics used and no longer updated)."""
    for m in student.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


@torch.no_grad()
def bake_fixed_point(student: nn.Module) -> nn.Module:
    """Write the grid values into ``student`` in place (see module docstring) and return it."""
    plan = grid_plan(student)
    for layer in plan:
        wq, bq = grid_values(student, layer)
        if layer.conv is None:
            head = student.head_dvs
            head.weight.copy_(torch.from_numpy(wq))
            if head.bias is None:
                raise ValueError("head_dvs has no bias to hold the fixed-point bias")
            head.bias.copy_(torch.from_numpy(bq))
            continue
        conv = student.features[layer.conv]
        conv.weight.copy_(torch.from_numpy(wq))
        if layer.bn is not None:
            bn = student.features[layer.bn]
            bn.weight.fill_(1.0)
            bn.bias.copy_(torch.from_numpy(bq))
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0)
            bn.eps = 0.0
            if conv.bias is not None:
                conv.bias.zero_()
        elif conv.bias is not None:
            conv.bias.copy_(torch.from_numpy(bq))
        else:
            raise ValueError(f"features[{layer.conv}]: a Conv2d without bias or BatchNorm cannot hold the bias")
    student.fixed_point = False
    return student
