"""Optimiser parameter groups: no weight decay on 1-D parameters and biases (``train.no_decay_1d``).

He et al. build AdamW with ``timm.optim.create_optimizer(args, model)`` (Brain-Cog-Lab/Transfer-for-DVS
``main_transfer.py:555``), whose ``filter_bias_and_bn`` path (timm ``optim_factory.add_weight_decay``)
puts every parameter with ``len(param.shape) == 1`` or a name ending in ``.bias`` into a group with
``weight_decay = 0``: BatchNorm weights/biases, Linear biases and the per-step coefficients
``theta_t`` (``model.coefficient``, shape ``[1]``; ours ``theta [T]``). The rule here is the same::

    no decay  <=>  p.ndim <= 1  or  name.endswith(".bias")

``no_decay_1d: false`` decays every parameter (this toolchain's behaviour before issue 12).
"""
from __future__ import annotations

from torch import nn


def is_no_decay(name: str, p) -> bool:
    return p.ndim <= 1 or name.endswith(".bias")


def weight_decay_groups(module: nn.Module, weight_decay: float, no_decay_1d: bool = True) -> list[dict]:
    """``[{"params": decayed, "weight_decay": wd}, {"params": rest, "weight_decay": 0.0}]``."""
    params = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    if not no_decay_1d:
        return [{"params": [p for _, p in params], "weight_decay": float(weight_decay)}]
    decay = [p for n, p in params if not is_no_decay(n, p)]
    rest = [p for n, p in params if is_no_decay(n, p)]
    return [{"params": decay, "weight_decay": float(weight_decay)}, {"params": rest, "weight_decay": 0.0}]
