"""netx's ``optimize_weight_bits``: how lava-dl 0.6 turns stored integer weights into a synapse.

Source: lava-dl 0.6 ``lib/dl/netx/utils.py::optimize_weight_bits`` (read in
``.lava-venv/lib/python3.10/site-packages/lava``), called by ``netx.hdf5.Network.create_dense``
on the integer weights of a ``.net`` file. With ``M = max(W)``, ``m = min(W)``::

    clip W to [-256, 254]            only for mixed signs: when M > 254 and m < 0, or m < -256 and M > 0
    sign mode  INHIBITORY (3) if M < 0,  EXCITATORY (2) if m >= 0,  else MIXED (1, signed)
    scale      -256/m  |  255/M  |  min(127/M, -128/m)                      (in that order)
    scale_bits = floor(log2(scale)) + signed
    n          = the largest n <= 8 with every W divisible by 2^n, minus ``signed``
    returns    (W << scale_bits, num_weight_bits = 8 - scale_bits - n, weight_exponent = -scale_bits,
                sign mode)

Two callers read it, ONE port serves both:

* the mapper (:func:`ckd_toolchain.loihi2.quantization.quantize_synapse`) reports the exponent and
  bit count netx will derive from the stored weights (in ``[-256, 254]``, so ``scale_bits >= 0``);
* the fast simulator's Dense synapse (``simulators/loihi/synapses.py::lava_dense_weights``) uses the
  shifted weights and the exponent exactly as ``PyDenseModelBitAcc`` receives them.

The clipping is Lava's own two-step test (max first, then min), written once; the two earlier ports
spelled it differently (one combined condition vs Lava's two steps) but computed the same. The
arithmetic follows Lava literally, numpy scalars included: ``M = 0 < -m`` is MIXED with ``127/0 =
inf`` (so ``scale = -128/m``), and a negative ``scale_bits`` (excitatory ``M > 510`` or inhibitory
``m < -512``, only reachable from a hand-written file) goes through ``np.left_shift`` with a
negative count as in Lava, which numpy defines as 0. Differences from the original: the warnings
Lava prints on clipping are dropped, and an all-zero matrix (on which netx crashes taking
``log2`` of infinity) raises :class:`ValueError`. ``tests/hardware/test_mapping_fixed_point.py`` and
``tests/core/test_loihi2_weight_bits.py`` compare it with the original.
"""
from __future__ import annotations

import numpy as np

from ckd_toolchain.loihi2.constants import W_STORED_MAX, W_STORED_MIN

MIXED, EXCITATORY, INHIBITORY = 1, 2, 3   # lava.lib.dl.netx.utils.SYNAPSE_SIGN_MODE values


def optimize_weight_bits(weight: np.ndarray) -> tuple[np.ndarray, int, int, int]:
    """Port of ``lava.lib.dl.netx.utils.optimize_weight_bits`` (lava-dl 0.6; rule in module doc).

    Returns ``(weight << scale_bits, num_weight_bits, weight_exponent, sign_mode)`` with
    ``sign_mode`` 1 mixed, 2 excitatory, 3 inhibitory; ``weight_exponent = -scale_bits``.
    """
    weight = np.asarray(weight)
    max_weight = np.max(weight)
    min_weight = np.min(weight)
    if max_weight == 0 and min_weight == 0:
        raise ValueError("an all-zero weight matrix crashes netx's optimize_weight_bits")
    if max_weight > W_STORED_MAX and min_weight < 0:
        weight = np.clip(weight, W_STORED_MIN, W_STORED_MAX)
        max_weight = np.max(weight)
    if min_weight < W_STORED_MIN and max_weight > 0:
        weight = np.clip(weight, W_STORED_MIN, W_STORED_MAX)
        min_weight = np.min(weight)
    if max_weight < 0:
        sign_mode, is_signed = INHIBITORY, 0
    elif min_weight >= 0:
        sign_mode, is_signed = EXCITATORY, 0
    else:
        sign_mode, is_signed = MIXED, 1
    with np.errstate(divide="ignore"):
        if sign_mode == MIXED:
            scale = np.min([127 / max_weight, -128 / min_weight])
        elif sign_mode == INHIBITORY:
            scale = -256 / min_weight
        else:
            scale = 255 / max_weight
    scale_bits = np.floor(np.log2(scale)) + is_signed
    n = 8
    while n > 0:
        if np.sum(np.abs(weight / (2 ** n) - np.round(weight / (2 ** n)))) == 0:
            break
        n -= 1
    n -= is_signed
    num_weight_bits = 8 - scale_bits - n
    weight_exponent = -scale_bits
    weight = np.left_shift(weight.astype(np.int32), int(scale_bits))
    return weight.astype(np.int64), int(num_weight_bits), int(weight_exponent), sign_mode
