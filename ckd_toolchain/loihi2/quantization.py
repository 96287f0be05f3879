"""Float → Loihi 2 integers: the rules the mapper applies and fixed-point-aware training reproduces.

Stored weights, ``bias`` and ``vThMant`` of a netx layer are integers on ONE scale (binary spikes
add ``W << 6`` to ``u``, the bias adds ``bias << 6`` to ``v``, the threshold is ``vThMant << 6``;
see :mod:`ckd_toolchain.loihi2.arithmetic`). Quantisation used by the mapper
(:func:`quantize_synapse`): choose a per-layer scale ``s`` (float units → integer units) as large
as the hardware fields allow (:func:`layer_scale`)::

    s = min(254 / max(w⁺), 256 / max(w⁻), (2^17 - 1) / θ, (2^12 - 1) / max(b⁺), 2^12 / max(b⁻))

then an 8-bit signed weight mantissa with a shared exponent ``e ∈ {0, 1}``
(:func:`mantissa_exponent`): ``m = clip(round(w·s / 2^e), -128, 127)``, ``W = m·2^e`` (``e = 1``
only when ``max|w·s| > 127.5``; ``[-256, 254]`` is the range netx's ``optimize_weight_bits``
accepts without clipping, :mod:`ckd_toolchain.loihi2.weight_bits`), ``vThMant = round(θ·s)``
(17 bit, :func:`threshold_mantissa`), ``bias = clip(round(b·s), -2^12, 2^12 - 1)`` (13-bit
mantissa, exponent fixed to 6 by the netx reader, :func:`bias_mantissa`). Dequantised weights
are ``W / s``. Field limits: :mod:`ckd_toolchain.loihi2.constants`.

Leaks: a multiplicative leak β becomes the 12-bit decay ``round(2^12·(1 - β))``
(:func:`decay_from_beta`; the current's ``iDecay`` and the voltage's ``vDecay`` alike).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ckd_toolchain.loihi2.constants import (BIAS_MANT_MAX, BIAS_MANT_MIN, DECAY_UNITY, VTH_MANT_MAX,
                                            W_STORED_MAX, W_STORED_MIN, WEIGHT_MANT_MAX, WEIGHT_MANT_MIN)
from ckd_toolchain.loihi2.weight_bits import optimize_weight_bits


def decay_from_beta(beta: float) -> int:
    """12-bit decay constant for a multiplicative leak ``beta``: ``round(2^12·(1-β))`` in [0, 2^12]."""
    if not np.isfinite(beta):
        raise ValueError(f"leak factor {beta} is not finite")
    return int(np.clip(np.rint(DECAY_UNITY * (1.0 - float(beta))), 0, DECAY_UNITY))


def beta_from_decay(decay: int) -> float:
    """Inverse of :func:`decay_from_beta`: the leak factor a 12-bit decay really applies."""
    return 1.0 - int(decay) / DECAY_UNITY


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
    """Round weights that read a thermometer code (see :mod:`ckd_toolchain.hardware.lowering.pool_as_conv`) so that every
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


def bias_mantissa(b: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray]:
    """``(clip(round(b·s), -2^12, 2^12 - 1), round(b·s))``: the signed 13-bit bias mantissas (as
    floats) and the unclipped values they came from (to count saturations)."""
    b_raw = np.rint(b * s)
    return np.clip(b_raw, BIAS_MANT_MIN, BIAS_MANT_MAX), b_raw


def on_loihi_grid(weight: np.ndarray, bias: np.ndarray | None, threshold: float | None,
                  pool_window: int = 1) -> tuple[np.ndarray, np.ndarray | None]:
    """The float weights/bias the mapper turns into integers WITHOUT rounding: what fixed-point-
    aware training (``ckd_train.models.fixed_point_training``) uses in its forward pass and what a
    fixed-point-trained student exports.

    ``pool_window = n > 1``: the layer reads an ``n``-input average pool, which the default
    ``--pool-mode thermometer`` maps as ``n`` thermometer channels each weighted ``w/n``
    (:mod:`ckd_toolchain.hardware.lowering.pool_as_conv`); the scale ``s`` is then fixed by ``w/n``. With
    ``quantize_synapse``'s rule (``s``, exponent ``e``)::

        W = clip(round(w·s / (n·2^e)), -128, 127) · 2^e          stored integer per (thermometer) synapse
        w_grid = c · W·n / s,   b_grid = c · clip(round(b·s), -2^12, 2^12 - 1) / s,
        c = θ·s / (vThMant + 1/128),   vThMant = round(θ·s)

    ``c`` moves the threshold rounding into the weights: a LIF with reset to 0 is unchanged when
    its input and threshold scale together, so a network with weights ``w_grid`` and threshold
    ``θ`` spikes as the integer one (``c = 1`` for a read-out layer, ``threshold=None``). The
    ``+ 1/128`` puts the float threshold half an integer unit of ``v`` (``v`` counts in 1/64 of a
    weight unit) above ``vThMant << 6``: Loihi's test ``v > vThMant << 6`` is strict, and sums of
    grid weights hit it exactly quite often; with the half-unit margin float rounding (~1e-7 of
    ``v``) cannot turn such a tie into a spike. ``quantize_synapse`` maps ``(w_grid/n, b_grid, θ)``
    back to the same ``W``, bias and ``vThMant`` (its scale becomes ``s/c``), so the mapped
    layer's quantisation error is 0 up to float rounding (``tests/ckd_train/test_fixed_point_training.py``)."""
    n = int(pool_window)
    if n < 1:
        raise ValueError(f"pool window {pool_window} must be >= 1")
    w = np.asarray(weight, dtype=np.float64)
    b = None if bias is None else np.asarray(bias, dtype=np.float64)
    s, _ = layer_scale(w / n, b, threshold)
    e = mantissa_exponent(w * (s / n))
    W = np.clip(np.rint(w * (s / n) / 2**e), WEIGHT_MANT_MIN, WEIGHT_MANT_MAX) * 2**e
    c = 1.0
    if threshold is not None:
        c = float(threshold) * s / (threshold_mantissa(threshold, s) + 1.0 / 128)
    w_grid = W * (n * c / s)
    b_grid = None if b is None else bias_mantissa(b, s)[0] * (c / s)
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
    q, _ = quantize_groups([weight], bias, threshold, fixed_scale, [thermometer])
    return q


def quantize_groups(weights: list[np.ndarray], bias: np.ndarray | None, threshold: float | None,
                    fixed_scale: float | None = None,
                    thermometers: list[tuple[int, int] | None] | None = None
                    ) -> tuple[QuantizedSynapse, list[np.ndarray]]:
    """Quantise the synapse groups into ONE neuron layer on one shared scale.

    A neuron sums all its groups before its threshold, so every group's weights, the bias and
    ``vThMant`` are integers on the same scale ``s`` (module docstring; ``s`` and the shared
    mantissa exponent are taken over all groups' weights together). Each ``weights[g]`` is
    ``(O, ...)``; ``thermometers[g]`` is that group's ``(n, block)`` when it reads a thermometer
    pool. Returns the layer's :class:`QuantizedSynapse` (``weight``: the first group's integers,
    statistics over all groups) and every group's stored integers."""
    ws = [np.asarray(w, dtype=np.float64) for w in weights]
    therm = list(thermometers or [None] * len(ws))
    flat = np.concatenate([w.reshape(w.shape[0], -1) for w in ws], axis=1) if len(ws) > 1 else ws[0]
    b = None if bias is None else np.asarray(bias, dtype=np.float64)
    s, limited_by = layer_scale(flat, b, threshold, fixed_scale)
    mant_exp = mantissa_exponent(flat * s)
    stored, errs, sq, sat_w = [], [], [], 0
    for w, th in zip(ws, therm):
        scaled = w * s / 2**mant_exp
        m_raw = np.rint(scaled) if th is None else thermometer_round(scaled, *th)
        m = np.clip(m_raw, WEIGHT_MANT_MIN, WEIGHT_MANT_MAX)
        sat_w += int(np.count_nonzero(m != m_raw))
        W = (m * 2**mant_exp).astype(np.int64)
        stored.append(W)
        errs.append((w - W / s).ravel())
        sq.append((w**2).ravel())
    err, w2 = np.concatenate(errs), np.concatenate(sq)
    rms_w = float(np.sqrt(np.mean(w2))) if w2.size else 0.0
    qb, sat_b, b_err = None, 0, 0.0
    if b is not None:
        qb_f, b_raw = bias_mantissa(b, s)
        sat_b = int(np.count_nonzero(qb_f != b_raw))
        qb = qb_f.astype(np.int64)
        b_err = float(np.max(np.abs(b - qb / s))) if b.size else 0.0
    if threshold is None:
        vth, th_err = VTH_MANT_MAX, 0.0
    else:
        vth = threshold_mantissa(threshold, s)
        th_err = abs(float(threshold) - vth / s)
    W0 = stored[0]
    if np.any(W0 != 0):
        _, nbits, nexp, _ = optimize_weight_bits(W0)
    else:
        nbits, nexp = 0, 0
    q = QuantizedSynapse(
        weight=W0, bias=qb, vth_mant=vth, scale=float(s), mant_exp=mant_exp,
        netx_weight_exponent=nexp, netx_weight_bits=nbits,
        quant_error_rms=float(np.sqrt(np.mean(err**2))) if err.size else 0.0,
        quant_error_max=float(np.max(np.abs(err))) if err.size else 0.0,
        weight_rel_error_rms=(float(np.sqrt(np.mean(err**2))) / rms_w) if rms_w > 0 else 0.0,
        bias_error_max=b_err, threshold_error=th_err,
        saturated_weights=sat_w, saturated_biases=sat_b, scale_limited_by=limited_by)
    return q, stored


def grid_groups(weights: list[np.ndarray], bias: np.ndarray | None, threshold: float | None
                ) -> tuple[list[np.ndarray], np.ndarray | None]:
    """:func:`on_loihi_grid` for a neuron layer fed by several synapse groups (graph lowering):
    the values :func:`quantize_groups` maps without rounding, i.e. ``c · W_g / s`` for every group's
    stored integers ``W_g`` and ``c · bias / s`` (``s`` the shared scale, ``c = θ·s / (vThMant +
    1/128)`` moving the threshold rounding into the weights as in :func:`on_loihi_grid`; ``c = 1``
    for a read-out). What fixed-point-aware training of ResNets computes with
    (``ckd_train.models.fixed_point_resnet``)."""
    q, stored = quantize_groups(weights, bias, threshold)
    c = 1.0 if threshold is None else float(threshold) * q.scale / (q.vth_mant + 1.0 / 128)
    grids = [W * (c / q.scale) for W in stored]
    return grids, None if q.bias is None else q.bias * (c / q.scale)
