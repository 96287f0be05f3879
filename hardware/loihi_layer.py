"""One mapped netx layer: a synapse (conv or dense) + a CUBA-LIF neuron group, float and fixed point.

Float view (what the mapper derived from the NIR graph, after folding gains/thresholds/pools)::

    u[t] = (1 - iDecay/2^12)·u[t-1] + W_f · s_in[t]          (iDecay = 2^12: u = this step's input)
    v[t] = beta_v·v[t-1] + u[t] + b_f;   s[t] = v[t] > theta_f;   v[t] = 0 where s[t]

Fixed-point view: the same with integer ``weight``/``bias``/``vth_mant`` on the layer scale and the
12-bit decays (see :mod:`ckd_toolchain.loihi2.quantization`). ``kind`` is ``"conv"``, ``"pool"`` (a pooling node
mapped to a grouped strided convolution with its own neuron group: ``C`` or, in thermometer mode,
``C·kh·kw`` output channels, see :mod:`ckd_toolchain.hardware.pool_as_conv`) or ``"dense"``; a layer with
``spiking = False`` is the read-out layer (never spikes: ``vThMant`` max, logits read from ``v``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ckd_toolchain.loihi2.quantization import QuantizedSynapse


@dataclass
class LoihiLayer:
    name: str
    kind: str                              # "conv" | "pool" | "dense"
    nir_nodes: list[str]
    in_shape: tuple[int, ...]              # (C, H, W) or (N,)
    out_shape: tuple[int, ...]
    weight_float: np.ndarray               # conv (O, I/g, kh, kw); dense (O, N)
    bias_float: np.ndarray | None          # (O,) per output channel / neuron
    threshold_float: float | None          # None: read-out layer
    beta_u: float                          # float current decay factor (0: no current state)
    beta_v: float                          # float voltage leak factor
    i_decay: int
    v_decay: int
    quant: QuantizedSynapse
    kernel: tuple[int, int] | None = None
    stride: tuple[int, int] | None = None
    padding: tuple[int, int] | None = None
    dilation: tuple[int, int] | None = None
    groups: int = 1
    flatten_before: bool = False           # dense layer fed by a (C, H, W) layer: netx `flatten`
    notes: list[str] = field(default_factory=list)

    @property
    def spiking(self) -> bool:
        return self.threshold_float is not None

    @property
    def weight(self) -> np.ndarray:
        return self.quant.weight

    @property
    def bias(self) -> np.ndarray | None:
        return self.quant.bias

    @property
    def vth_mant(self) -> int:
        return self.quant.vth_mant

    @property
    def neurons(self) -> int:
        return int(np.prod(self.out_shape))
