"""Loihi 2 CUBA-LIF fixed-point arithmetic as lava-dl netx 0.6 / lava-nc 0.10 implement it.

Sources (read in ``.lava-venv/lib/python3.10/site-packages/lava``):

* ``lib/dl/netx/hdf5.py::Network.get_neuron_params`` — a netx ``CUBA`` neuron becomes a Lava
  ``LIF`` with ``vth = vThMant``, ``du = iDecay - 1``, ``dv = vDecay``, ``bias_mant = bias``,
  ``bias_exp = 6`` (fixed).
* ``proc/lif/models.py::AbstractPyLifModelFixed.subthr_dynamics`` (``ds_offset = 1``,
  ``dm_offset = 0``, 12-bit decays, 24-bit state, ``act_shift = 6``)::

      u[t] = trunc0(u[t-1] * (4096 - (du + 1)) / 4096) + (a_in[t] << 6)     (wraps at ±2^23)
      v[t] = clip(trunc0(v[t-1] * (4096 - dv) / 4096) + u[t] + (bias_mant << 6), ±(2^23 - 1))
      s[t] = v[t] > (vth << 6);   v[t] = 0 where s[t]

  so with ``du = iDecay - 1`` the current keeps ``(4096 - iDecay)/4096`` of itself per step:
  ``iDecay = 4096`` means "current = this step's input" and ``vDecay = 4096·(1 - β)``.
* ``lib/dl/netx/utils.py::optimize_weight_bits`` — the reader turns the integer weights stored in
  the ``.net`` file into an 8-bit mantissa and a shared per-layer exponent; the Dense synapse
  (``proc/dense/models.py``) right-shifts its accumulated sum by that exponent again, so for
  binary spikes a stored integer weight ``W`` adds exactly ``W << 6`` to ``u``: stored weights,
  ``bias`` and ``vThMant`` are all integers on ONE scale (the "layer scale" below).

Quantisation used by the mapper (:func:`quantize_synapse`): choose a per-layer scale ``s`` (float
units → integer units) as large as the hardware fields allow:

    s = min(254 / max(w⁺), 256 / max(w⁻), 131071 / θ, 4095 / max(b⁺), 4096 / max(b⁻))

then an 8-bit signed weight mantissa with a shared exponent ``e ∈ {0, 1}``:
``m = clip(round(w·s / 2^e), -128, 127)``, ``W = m·2^e`` (``e = 1`` only when ``max|w·s| > 127.5``;
``[-256, 254]`` is the range ``optimize_weight_bits`` accepts without clipping), ``vThMant =
round(θ·s)`` (17 bit), ``bias = clip(round(b·s), -4096, 4095)`` (13-bit mantissa, exponent fixed to
6 by the netx reader). Dequantised weights are ``W / s``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DECAY_UNITY = 4096            # 12-bit decays: 4096 = full decay per step
VTH_MANT_MAX = 2**17 - 1      # unsigned 17-bit threshold mantissa
BIAS_MANT_MIN, BIAS_MANT_MAX = -(2**12), 2**12 - 1   # signed 13-bit bias mantissa
BIAS_EXP = 6                  # fixed by netx's reader (hdf5.py get_neuron_params)
STATE_SHIFT = 6               # vth << 6, a_in << 6, bias << 6
UV_MAX = 2**23 - 1            # 24-bit signed u / v
W_STORED_MIN, W_STORED_MAX = -256, 254   # what netx optimize_weight_bits takes unclipped
MANT_MIN, MANT_MAX = -128, 127


def decay_from_beta(beta: float) -> int:
    """12-bit decay constant for a multiplicative leak ``beta``: ``round(4096·(1-β))`` in [0, 4096]."""
    if not np.isfinite(beta):
        raise ValueError(f"leak factor {beta} is not finite")
    return int(np.clip(np.rint(DECAY_UNITY * (1.0 - float(beta))), 0, DECAY_UNITY))


def beta_from_decay(decay: int) -> float:
    """Inverse of :func:`decay_from_beta`: the leak factor a 12-bit decay really applies."""
    return 1.0 - int(decay) / DECAY_UNITY


def decay_step(x: np.ndarray, decay: int) -> np.ndarray:
    """``trunc0(x·(4096 - decay)/4096)`` with sign-magnitude rounding, as Lava's LIF does."""
    prod = np.asarray(x, dtype=np.int64) * (DECAY_UNITY - int(decay))
    return (np.sign(prod) * (np.abs(prod) >> 12)).astype(np.int64)


def lif_step_fixed(u, v, a_in, i_decay: int, v_decay: int, bias_mant, vth_mant: int):
    """One Loihi CUBA-LIF step in netx units (Lava PyLifModelBitAcc with du = iDecay - 1).

    Returns ``(spikes, u, v)``; ``a_in`` is the synaptic sum in stored-weight units.
    Only used by the tests to hand-check the formulas; the simulator lives in simulators/loihi.
    """
    u = decay_step(u, i_decay) + (np.asarray(a_in, dtype=np.int64) << STATE_SHIFT)
    u = np.where(u > 2**23, u - 2**24, u)
    u = np.where(u <= -(2**23), u + 2**24, u)
    v = decay_step(v, v_decay) + u + (np.asarray(bias_mant, dtype=np.int64) << BIAS_EXP)
    v = np.clip(v, -UV_MAX, UV_MAX)
    s = v > (int(vth_mant) << STATE_SHIFT)
    v = np.where(s, 0, v)
    return s, u, v


def optimize_weight_bits(weight: np.ndarray) -> tuple[np.ndarray, int, int, int]:
    """Port of ``lava.lib.dl.netx.utils.optimize_weight_bits`` (lava-dl 0.6).

    Returns ``(weight << scale_bits, num_weight_bits, weight_exponent, sign_mode)`` with
    ``sign_mode`` 1 mixed, 2 excitatory, 3 inhibitory; ``weight_exponent = -scale_bits``.
    Used to report the exponent Lava will use; the test suite checks it against the original.
    """
    weight = np.asarray(weight, dtype=np.float64)
    max_w, min_w = float(np.max(weight)), float(np.min(weight))
    if max_w > 254 and min_w < 0 or min_w < -256 and max_w > 0:
        weight = np.clip(weight, -256, 254)
        max_w, min_w = float(np.max(weight)), float(np.min(weight))
    if max_w < 0:
        sign_mode, is_signed, scale = 3, 0, -256 / min_w
    elif min_w >= 0:
        if max_w == 0:
            raise ValueError("an all-zero weight matrix crashes netx's optimize_weight_bits")
        sign_mode, is_signed, scale = 2, 0, 255 / max_w
    else:
        sign_mode, is_signed, scale = 1, 1, min(127 / max_w, -128 / min_w)
    scale_bits = int(np.floor(np.log2(scale))) + is_signed
    n = 8
    while n > 0 and np.sum(np.abs(weight / 2**n - np.round(weight / 2**n))) != 0:
        n -= 1
    n -= is_signed
    num_weight_bits = 8 - scale_bits - n
    shifted = np.left_shift(weight.astype(np.int32), scale_bits) if scale_bits >= 0 else \
        np.right_shift(weight.astype(np.int32), -scale_bits)
    return shifted.astype(np.int64), int(num_weight_bits), int(-scale_bits), sign_mode


@dataclass
class QuantizedSynapse:
    """Integer weights/bias/threshold on one layer scale, with the error statistics."""

    weight: np.ndarray            # stored integers W = mantissa · 2^mant_exp, in [-256, 254]
    bias: np.ndarray | None       # 13-bit bias mantissas (netx bias_exp = 6)
    vth_mant: int                 # threshold mantissa
    scale: float                  # integer units per float unit
    mant_exp: int                 # 0 or 1: shared exponent of the 8-bit mantissas
    netx_weight_exponent: int     # exponent netx's optimize_weight_bits derives from `weight`
    netx_weight_bits: int
    quant_error_rms: float        # float weights vs W/s, in float weight units
    quant_error_max: float
    weight_rel_error_rms: float   # rms error / rms weight
    bias_error_max: float
    threshold_error: float        # |θ - vThMant/s|
    saturated_weights: int        # weights clipped at the mantissa range
    saturated_biases: int
    scale_limited_by: str         # which field fixed s


def thermometer_round(x: np.ndarray, n: int, block: int) -> np.ndarray:
    """Round weights that read a thermometer code (see :mod:`ckd_toolchain.hardware.pool_as_conv`) so that every
    prefix sum is rounded once: ``x`` viewed as ``(O, G, n, block)`` (axis 2 = the ``n`` thermometer
    neurons ``j`` of one pooled channel), ``m_j = round(Σ_{i≤j} x_i) - round(Σ_{i<j} x_i)``.

    A thermometer pool fires exactly neurons ``1..k`` for ``k`` window spikes, so the next layer
    receives ``Σ_{j≤k} m_j = round(Σ_{j≤k} x_j)``: one rounding of the pooled value instead of ``k``
    (error ≤ 1/2 unit instead of ≤ k/2); each ``m_j`` is the floor or ceiling of ``x_j``."""
    o = x.shape[0]
    v = np.asarray(x, dtype=np.float64).reshape(o, -1, int(n), int(block))
    c = np.rint(np.cumsum(v, axis=2))
    m = np.diff(c, axis=2, prepend=0.0)
    return m.reshape(x.shape)


def layer_scale(w: np.ndarray, b: np.ndarray | None, threshold: float | None,
                fixed_scale: float | None = None) -> tuple[float, str]:
    """The layer scale ``s`` of the module docstring and the field that fixed it."""
    if not np.all(np.isfinite(w)) or (b is not None and not np.all(np.isfinite(b))):
        raise ValueError("weights or biases are not finite")
    limits: dict[str, float] = {}
    if fixed_scale is not None:
        limits["fixed"] = float(fixed_scale)
    else:
        wpos, wneg = float(max(w.max(initial=0.0), 0.0)), float(max(-w.min(initial=0.0), 0.0))
        if wpos > 0:
            limits["weight"] = W_STORED_MAX / wpos
        if wneg > 0:
            limits["weight_neg"] = -W_STORED_MIN / wneg
        if threshold is not None and threshold > 0:
            limits["vThMant"] = VTH_MANT_MAX / float(threshold)
        if b is not None and b.size:
            if b.max() > 0:
                limits["bias"] = BIAS_MANT_MAX / float(b.max())
            if b.min() < 0:
                limits["bias_neg"] = -BIAS_MANT_MIN / float(-b.min())
    if not limits:
        raise ValueError("layer has only zero weights and no threshold: no scale to choose")
    limited_by = min(limits, key=limits.get)
    return float(limits[limited_by]), limited_by


def mantissa_exponent(ws: np.ndarray) -> int:
    """Shared exponent of the 8-bit mantissas for weights ``ws`` in integer units: 1 iff any
    ``|ws| > 127.5`` (then the stored weights are even numbers in [-256, 254])."""
    return 1 if ws.size and float(np.max(np.abs(ws))) > 127.5 else 0


def threshold_mantissa(threshold: float, s: float) -> int:
    """``vThMant = round(θ·s)`` within the unsigned 17-bit field."""
    return int(np.clip(np.rint(float(threshold) * s), 0, VTH_MANT_MAX))


def on_loihi_grid(weight: np.ndarray, bias: np.ndarray | None, threshold: float | None,
                  pool_window: int = 1) -> tuple[np.ndarray, np.ndarray | None]:
    """The float weights/bias the mapper turns into integers WITHOUT rounding: what fixed-point-
    aware training (``ckd_train.models.fixed_point_training``) uses in its forward pass and what a
    fixed-point-trained student exports.

    ``pool_window = n > 1``: the layer reads an ``n``-input average pool, which the default
    ``--pool-mode thermometer`` maps as ``n`` thermometer channels each weighted ``w/n``
    (:mod:`ckd_toolchain.hardware.pool_as_conv`); the scale ``s`` is then fixed by ``w/n``. With
    ``quantize_synapse``'s rule (``s``, exponent ``e``)::

        W = clip(round(w·s / (n·2^e)), -128, 127) · 2^e          stored integer per (thermometer) synapse
        w_grid = c · W·n / s,   b_grid = c · clip(round(b·s), -4096, 4095) / s,
        c = θ·s / (vThMant + 1/128),   vThMant = round(θ·s)

    ``c`` moves the threshold rounding into the weights: a LIF with reset to 0 is unchanged when
    its input and threshold scale together, so a network with weights ``w_grid`` and threshold
    ``θ`` spikes as the integer one (``c = 1`` for a read-out layer, ``threshold=None``). The
    ``+ 1/128`` puts the float threshold half an integer unit of ``v`` (``v`` counts in 1/64 of a
    weight unit) above ``vThMant << 6``: Loihi's test ``v > vThMant << 6`` is strict, and sums of
    grid weights hit it exactly quite often; with the half-unit margin float rounding (~1e-7 of
    ``v``) cannot turn such a tie into a spike. ``quantize_synapse`` maps ``(w_grid/n, b_grid, θ)``
    back to the same ``W``, bias and ``vThMant`` (its scale becomes ``s/c``), so the mapped
    layer's quantisation error is 0 up to float rounding (``tests/test_fixed_point_training.py``)."""
    n = int(pool_window)
    if n < 1:
        raise ValueError(f"pool window {pool_window} must be >= 1")
    w = np.asarray(weight, dtype=np.float64)
    b = None if bias is None else np.asarray(bias, dtype=np.float64)
    s, _ = layer_scale(w / n, b, threshold)
    e = mantissa_exponent(w * (s / n))
    W = np.clip(np.rint(w * (s / n) / 2**e), MANT_MIN, MANT_MAX) * 2**e
    c = 1.0
    if threshold is not None:
        c = float(threshold) * s / (threshold_mantissa(threshold, s) + 1.0 / 128)
    w_grid = W * (n * c / s)
    b_grid = None if b is None else np.clip(np.rint(b * s), BIAS_MANT_MIN, BIAS_MANT_MAX) * (c / s)
    return w_grid, b_grid


def quantize_synapse(weight: np.ndarray, bias: np.ndarray | None, threshold: float | None,
                     fixed_scale: float | None = None,
                     thermometer: tuple[int, int] | None = None) -> QuantizedSynapse:
    """Quantise one synaptic layer (see module docstring for the rule).

    ``threshold=None`` is the non-spiking output layer (vThMant = max, scale from weights/bias).
    ``fixed_scale`` forces ``s`` (used for pool-as-conv layers whose weights are exact integers).
    ``thermometer=(n, block)``: the layer reads a thermometer pool; its mantissas are rounded with
    :func:`thermometer_round` (prefix sums rounded once) instead of one by one.
    """
    w = np.asarray(weight, dtype=np.float64)
    b = None if bias is None else np.asarray(bias, dtype=np.float64)
    s, limited_by = layer_scale(w, b, threshold, fixed_scale)
    ws = w * s
    mant_exp = mantissa_exponent(ws)
    m_raw = np.rint(ws / 2**mant_exp) if thermometer is None else \
        thermometer_round(ws / 2**mant_exp, *thermometer)
    m = np.clip(m_raw, MANT_MIN, MANT_MAX)
    sat_w = int(np.count_nonzero(m != m_raw))
    W = (m * 2**mant_exp).astype(np.int64)
    err = w - W / s
    rms_w = float(np.sqrt(np.mean(w**2))) if w.size else 0.0
    qb, sat_b, b_err = None, 0, 0.0
    if b is not None:
        b_raw = np.rint(b * s)
        qb_f = np.clip(b_raw, BIAS_MANT_MIN, BIAS_MANT_MAX)
        sat_b = int(np.count_nonzero(qb_f != b_raw))
        qb = qb_f.astype(np.int64)
        b_err = float(np.max(np.abs(b - qb / s))) if b.size else 0.0
    if threshold is None:
        vth, th_err = VTH_MANT_MAX, 0.0
    else:
        vth = threshold_mantissa(threshold, s)
        th_err = abs(float(threshold) - vth / s)
    if np.any(W != 0):
        _, nbits, nexp, _ = optimize_weight_bits(W)
    else:
        nbits, nexp = 0, 0
    return QuantizedSynapse(
        weight=W, bias=qb, vth_mant=vth, scale=float(s), mant_exp=mant_exp,
        netx_weight_exponent=nexp, netx_weight_bits=nbits,
        quant_error_rms=float(np.sqrt(np.mean(err**2))) if err.size else 0.0,
        quant_error_max=float(np.max(np.abs(err))) if err.size else 0.0,
        weight_rel_error_rms=(float(np.sqrt(np.mean(err**2))) / rms_w) if rms_w > 0 else 0.0,
        bias_error_max=b_err, threshold_error=th_err,
        saturated_weights=sat_w, saturated_biases=sat_b, scale_limited_by=limited_by)
