"""Pooling on Loihi 2 through netx, which has no pool layer (``hdf5.Network.create_pool`` raises).

Three mappings of an ``AvgPool2d`` / ``SumPool2d`` NIR node:

**"conv" (`--pool-mode conv`; lossy):** the pool becomes its own netx ``conv`` layer —
a grouped (``groups = C``) strided convolution whose kernel is all ones — followed by a neuron
group, because every netx layer is synapse + CUBA-LIF. The neuron must turn a window count
``n ∈ {0..k²}`` of input spikes into ONE output spike per step, so the float average ``n/k²``
(what the next layer sees in the float model) is replaced by a binary value. Rule used
("round half up", memoryless)::

    stored weight 2 per input,  vThMant = k² - 1,  iDecay = vDecay = 2^12 (no state)
    spike  ⇔  2n·64 > (k² - 1)·64  ⇔  n/k² ≥ 1/2

and a spike stands for the value 1.0 (an average pool of all-ones) in the next layer (for a
``SumPool2d`` it stands for ``k²``, so the next synapse is scaled by ``k²``). This is lossy:
averages 1/4 become 0 and 3/4 become 1; the report gives the accuracy it costs. An integrating
("rate") neuron was not chosen: Loihi resets v to 0 on a spike, which throws away the residual,
and the integration adds latency the float model does not have.

**"thermometer" (default; exact):** still a grouped (``groups = C``) strided
convolution + a memoryless neuron layer, but each input channel ``c`` gets ``n = kh·kw`` output
channels ``c·n + j - 1`` (``j = 1..n``), neuron ``j`` spiking iff ``k ≥ j`` where ``k ∈ {0..n}`` is the
number of spikes in its window this step (a thermometer code of ``k``)::

    stored weight 2 per input,  bias_j = 2 - 2j (per output channel),  vThMant = 1,
    iDecay = vDecay = 2^12 (u = this step's input, nothing of v carried over)
    v = (2k + 2 - 2j)·64  >  1·64   ⇔   k ≥ j            (Lava PyLifModelBitAcc, bias_exp = 6)

(float view: weight 1, bias 1 - j, threshold 1/2, scale 2). Since ``Σ_j [k ≥ j] = k``, the NEXT
synaptic layer reads each thermometer channel with the original weight / n (×1 for a SumPool2d),
replicated over the ``n`` channels of the original channel (:func:`expand_for_thermometer`):
``Σ_j (w/n)·[k ≥ j] = w·k/n = w·avg`` exactly. The bias alone (``≤ 0``) never exceeds the
threshold, so the one-step-per-layer delay transient produces no spike. Costs ``n``× the pool
neurons and ``n``× the input synapses of the next layer. Because exactly neurons ``1..k`` fire, the
next layer's integer weights are rounded per prefix sum (:func:`ckd_toolchain.loihi2.quantization.thermometer_round`):
the input of ``k`` window spikes is ``round(k·w·s/n)``, one rounding at a scale ``s`` fixed by the
per-synapse ``w/n`` — about ``log2 n`` more bits for the pooled value than rounding ``w`` itself.

**"fold" (``--pool-mode fold``; exact in float):** pooling is linear, so a pool with kernel =
stride ``s`` and no padding followed by a synaptic layer is folded into that layer::

    conv(k, stride c, pad p) ∘ avgpool(s)  =  conv(k·s, stride c·s, pad p·s),
    W'[o, i, m, n] = W[o, i, ⌊m/s⌋, ⌊n/s⌋] / s²

(with ``pooled[y] = s⁻² Σ_{a<s} x[s·y + a]`` substitute into the conv sum and set ``m = s·j + a``).
For a Flatten + Affine after the pool the same holds with the affine viewed as a conv whose kernel
covers the whole map. No extra layer, no extra delay, no binarisation; costs s² more synapses.
"""
from __future__ import annotations

import numpy as np

from ckd_toolchain.geometry import conv_output_size
from ckd_toolchain.loihi2.constants import DECAY_UNITY

POOL_WEIGHT = 2   # stored integer weight of each pool synapse ("round half up" rule above)


def pool_layer_params(kernel: tuple[int, int]) -> dict:
    """Float and fixed-point parameters of the pool-as-conv neuron layer (rule in module doc)."""
    area = int(kernel[0]) * int(kernel[1])
    scale = POOL_WEIGHT * area                     # integer units per float unit
    return {
        "weight_float_value": 1.0 / area,          # float view: window average
        "threshold_float": (area - 1) / scale,     # vThMant = area - 1
        "scale": float(scale),
        "i_decay": DECAY_UNITY, "v_decay": DECAY_UNITY,
    }


def thermometer_layer_params(channels: int, kernel: tuple[int, int]) -> dict:
    """Float weight ``(C·n, 1, kh, kw)``, per-channel bias ``(C·n,)``, threshold and scale of the
    thermometer pool layer (rule in module doc): weight 1, bias ``1 - j``, θ = 1/2, scale 2, so the
    stored integers are weight 2, bias ``2 - 2j``, vThMant 1."""
    kh, kw = int(kernel[0]), int(kernel[1])
    n = kh * kw
    j = np.arange(1, n + 1, dtype=np.float64)
    return {
        "n": n,
        "weight": np.ones((int(channels) * n, 1, kh, kw)),
        "bias": np.tile(1.0 - j, int(channels)),
        "threshold_float": 0.5, "scale": float(POOL_WEIGHT),
        "i_decay": DECAY_UNITY, "v_decay": DECAY_UNITY,
    }


def expand_for_thermometer(weight: np.ndarray, n: int, factor: float) -> np.ndarray:
    """Weights over ``C`` input channels (axis 1: conv ``(O, C/g, kh, kw)`` or dense map
    ``(O, C, H, W)``) → over the ``C·n`` thermometer channels ``c·n + j``: each column repeated
    ``n`` times and multiplied by ``factor`` (``1/n`` after an average pool, 1 after a sum pool).
    Channel groups stay contiguous, so a grouped conv keeps its ``groups``."""
    return np.repeat(np.asarray(weight, dtype=np.float64), int(n), axis=1) * float(factor)


def pool_conv_weight(channels: int, kernel: tuple[int, int]) -> np.ndarray:
    """Float kernel ``(C, 1, kh, kw)`` of the grouped (groups = C) average-pool convolution."""
    area = int(kernel[0]) * int(kernel[1])
    return np.full((channels, 1, int(kernel[0]), int(kernel[1])), 1.0 / area)


def fold_pool_into_conv(weight: np.ndarray, stride, padding, dilation, pool_stride,
                        pooled_hw, in_hw) -> tuple[np.ndarray, tuple, tuple]:
    """Fold an average pool (kernel = stride = ``pool_stride``, no padding) into the conv after it.

    ``weight`` (O, I, kh, kw) acts on the pooled map of size ``pooled_hw``; returns the kernel,
    stride and padding that act on the un-pooled map of size ``in_hw`` (exact, module doc).
    Raises ValueError when the fold is not exact (dilation, remainder rows reaching the padding).
    """
    sh, sw = (int(pool_stride[0]), int(pool_stride[1]))
    if tuple(int(d) for d in dilation) != (1, 1):
        raise ValueError("cannot fold a pool into a dilated convolution")
    kh, kw = weight.shape[2], weight.shape[3]
    new_w = np.repeat(np.repeat(weight, sh, axis=2), sw, axis=3) / (sh * sw)
    new_stride = (int(stride[0]) * sh, int(stride[1]) * sw)
    new_pad = (int(padding[0]) * sh, int(padding[1]) * sw)
    for ax, (hin, hp, s, p, k, c) in enumerate(zip(in_hw, pooled_hw, (sh, sw), padding,
                                                    (kh, kw), stride)):
        if hin % s and int(p) > 0:
            raise ValueError(f"map size {hin} is not a multiple of the pool stride {s}: with padding "
                             "the folded convolution would read the rows the pool drops")
        out_pooled = conv_output_size(hp, k, int(c), int(p))
        out_fold = conv_output_size(hin, k * s, int(c) * s, int(p) * s)
        if out_pooled != out_fold:
            raise ValueError("folded convolution would change the output size")
    return new_w, new_stride, new_pad


def fold_pool_into_dense_map(weight_map: np.ndarray, pool_stride, in_hw) -> np.ndarray:
    """Dense weights viewed as ``(O, C, Hp, Wp)`` over a pooled map → ``(O, C, H, W)`` over the
    un-pooled map (rows/columns the pool drops get weight 0)."""
    sh, sw = int(pool_stride[0]), int(pool_stride[1])
    o, c, hp, wp = weight_map.shape
    big = np.repeat(np.repeat(weight_map, sh, axis=2), sw, axis=3) / (sh * sw)
    out = np.zeros((o, c, int(in_hw[0]), int(in_hw[1])), dtype=big.dtype)
    out[:, :, :hp * sh, :wp * sw] = big
    return out
