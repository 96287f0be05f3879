"""Which samples a training BatchNorm normalises together (``method.bn_stats``, issue 12 item 3).

The student runs every stateless layer once over the flattened ``[T*B, C, H, W]`` frames
(row ``t*B + b`` = step ``t``, sample ``b``; :mod:`ckd_toolchain.ckd_train.models.student`), so
a plain ``nn.BatchNorm2d`` in training mode normalises with the statistics of all ``T*B`` rows.
Modes:

* ``mixed``: both streams in one ``[T, 2B, ...]`` pass: batch statistics over both domains and all
  ``T`` steps, one running-statistics update per batch (this toolchain's behaviour before issue 12);
* ``per-stream``: one pass per stream, batch statistics over that stream's ``T*B`` rows
  (the earlier ``method.separate_bn: true``);
* ``per-stream-per-step``: one pass per stream and, inside it, every BN layer normalises each time
  step's ``B`` rows with their own statistics and updates its running statistics once per step
  (``T`` updates per stream and batch). This is what He et al.'s code does: ``Transfer_VGG_SNN.forward``
  runs ``self.feature(inputs[t])`` for ``t in range(self.step)``, first the RGB stream, then
  ``self.reset()`` and the DVS stream (Brain-Cog-Lab/Transfer-for-DVS
  braincog/model_zoo/vgg_snn.py:257-276; ``layer_by_layer`` is off by default, main_transfer.py:311),
  and every ``BaseConvModule`` holds one ``nn.BatchNorm2d`` (braincog/model_zoo/base_module.py:94,105);
  ``Transfer_ResNet`` likewise (braincog/model_zoo/resnet.py).

Running statistics (what evaluation and the exported, BN-folded network use), with momentum
``m = 0.1`` and ``s_t`` the step-``t`` batch statistic (unbiased variance), per step::

    r <- (1 - m) r + m s_t

He et al. update them ``2T`` times per batch: ``T`` static-stream steps, then ``T`` DVS steps, so
their eval-mode statistics are an exponential average over both domains in which each batch's DVS
steps carry ``1 - (1 - m)^T`` of the weight (0.65 at T = 10, 0.47 at T = 6) and its static steps
``(1 - m)^T (1 - (1 - m)^T)``. ``method.bn_running`` picks ours for the two-pass modes: ``both``
(He et al.'s order and updates: static pass first, then DVS) or ``dvs`` (only the DVS pass updates
them: the static pass runs with momentum 0, so the deployed network is normalised with DVS-only
statistics). In ``mixed`` there is one pass and one update over both streams.
Evaluation (``model.eval()``) and fixed-point-aware epochs (BN frozen, ``freeze_batchnorm``)
use the running statistics in every mode: :func:`per_step_batchnorm` changes training-mode BN only.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

BN_STATS_MODES = ("mixed", "per-stream", "per-stream-per-step")
BN_RUNNING_MODES = ("dvs", "both")


def batchnorm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def _per_step_forward(bn: nn.modules.batchnorm._BatchNorm, steps: int):
    plain = type(bn).forward

    def forward(x: torch.Tensor) -> torch.Tensor:
        if not bn.training or steps <= 1:
            return plain(bn, x)
        if x.shape[0] % steps:
            raise ValueError(f"per-step BatchNorm: {x.shape[0]} rows are not T = {steps} equal steps")
        # one call of the layer per step, in step order: the baseline's per-step BN (module docstring)
        return torch.cat([plain(bn, x_t) for x_t in x.chunk(steps, dim=0)], dim=0)

    return forward


@contextlib.contextmanager
def per_step_batchnorm(model: nn.Module, steps: int):
    """Inside the block every training-mode BN layer of ``model`` normalises each of the ``steps``
    equal row blocks of its ``[steps*B, ...]`` input separately (module docstring)."""
    layers = batchnorm_layers(model)
    for bn in layers:
        bn.forward = _per_step_forward(bn, int(steps))
    try:
        yield
    finally:
        for bn in layers:
            del bn.forward


@contextlib.contextmanager
def frozen_running_stats(model: nn.Module):
    """Inside the block training-mode BN layers normalise with batch statistics but leave their
    running statistics and ``num_batches_tracked`` unchanged (momentum 0, counter restored)."""
    layers = batchnorm_layers(model)
    saved = [(m.momentum, m.num_batches_tracked.clone()) for m in layers]
    for m in layers:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, (mom, nbt) in zip(layers, saved):
            m.momentum = mom
            m.num_batches_tracked.copy_(nbt)


def resolve_bn_stats(method_cfg: dict) -> str:
    """``method.bn_stats``, or when it is null the earlier switch: ``per-stream`` if
    ``method.separate_bn`` else ``mixed``."""
    mode = method_cfg.get("bn_stats")
    if mode is None:
        return "per-stream" if method_cfg.get("separate_bn", False) else "mixed"
    return str(mode)
