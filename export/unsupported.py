"""The error raised for a layer the NIR exporter cannot map, with what to use instead.

The exporter walks ``model.features`` (an ``nn.Sequential``) and ``model.head_dvs`` (ARCHITECTURE.md
"Student network"); any module outside the contract's list becomes an
:class:`~ckd_toolchain.errors.InputError` naming the layer type, its position (``features[3]``,
``features[5].shortcut[0]``) and the replacement, so ``ckd-export`` prints one line and exits 2.
"""
from __future__ import annotations

import os

from torch import nn

from ckd_toolchain.errors import InputError

#: what to use instead, by module class name
ADVICE = {
    "MaxPool2d": "use nn.AvgPool2d(2) (exported as NIR AvgPool2d; spiking max-pooling has no NIR/Loihi primitive)",
    "MaxPool1d": "use average pooling (nn.AvgPool2d)",
    "AdaptiveMaxPool2d": "use nn.AdaptiveAvgPool2d(1)",
    "RLeaky": "recurrent neurons are not exported; use ckd_train.models.lif.MultiStepLIF",
    "RSynaptic": "recurrent neurons are not exported; use ckd_train.models.lif.MultiStepLIF",
    "Synaptic": "use ckd_train.models.lif.MultiStepLIF (a current-based neuron is not in the export contract)",
    "Leaky": "use ckd_train.models.lif.MultiStepLIF (the multi-step, hard-reset wrapper of snnTorch Leaky)",
    "LSTM": "recurrent layers are not exported; use MultiStepLIF layers",
    "GRU": "recurrent layers are not exported; use MultiStepLIF layers",
    "RNN": "recurrent layers are not exported; use MultiStepLIF layers",
    "Dropout": "remove it before export (it is the identity at inference)",
    "Dropout2d": "remove it before export (it is the identity at inference)",
    "ReLU": "use MultiStepLIF: the deployed network must be spiking",
    "BatchNorm1d": "put BatchNorm2d directly after a Conv2d (it is folded into the conv)",
    "BatchNorm2d": "put BatchNorm2d directly after a Conv2d (it is folded into the conv's weight and bias)",
}
DEFAULT_ADVICE = ("use only Conv2d, BatchNorm2d (after a Conv2d), MultiStepLIF, AvgPool2d, "
                  "AdaptiveAvgPool2d(1), Flatten and SpikingBasicBlock in model.features")


def unsupported_layer(path: str | os.PathLike | None, position: str, module: nn.Module,
                      why: str = "is not supported by the NIR exporter") -> InputError:
    """``InputError`` naming ``module``'s type, its ``position`` and the replacement."""
    name = type(module).__name__
    advice = ADVICE.get(name, DEFAULT_ADVICE)
    return InputError(path, f"layer {position} ({name}) {why}; {advice}")
