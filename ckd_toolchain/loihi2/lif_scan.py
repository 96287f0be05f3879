"""Compiled (numba) form of :func:`ckd_toolchain.loihi2.arithmetic.lif_step`: a whole layer, all steps.

The rules are those of :mod:`ckd_toolchain.loihi2.arithmetic` (derivation and Lava sources there),
written per neuron as scalar int64 code with Lava's numpy-int32 wrap-around ALWAYS emulated
(``w32(x) = ((x + 2^31) mod 2^32) - 2^31``, a few integer instructions per neuron in compiled
code, so no bound has to be proven to skip it)::

    x  = w32((a << 6) + trunc0(u * (D - iDecay) / D))        # D = DECAY_UNITY = 2^12
    u' = x - 2^24 if x > 2^23 else (x + 2^24 if x <= -2^23 else x)   # Lava's wrap24
    y  = w32(u' + bias_eff + trunc0(v * (D - vDecay) / D))
    v' = clip(y, -(2^23 - 1), 2^23 - 1);  s = v' > vth << 6;  v' = 0 where s

(one wrap after a sum equals a wrap after each term: the int32 wrap is modular, and no int64
intermediate can overflow).

``trunc0(p / D)`` is computed as ``(p + ((p >> 63) & (D - 1))) >> 12`` (arithmetic shift, so
adding D - 1 to negative products turns floor into truncation toward zero), as in
:func:`~ckd_toolchain.loihi2.arithmetic.decay`. ``tests/core/test_loihi2_lif_scan.py`` checks
this kernel bit-equal to ``lif_step`` (with the wrap emulation) on random and extreme inputs.

Layout: the layer's synaptic input of every step ``a`` is ``[T, B, N]`` (C-contiguous, any
physical neuron order: the update is element-wise); spikes come back as ``uint8`` 0/1 in the same
layout, ``u``/``v`` recorded as int32 when asked. ``reset[t]`` zeroes ``u`` and ``v`` before step
t (netx ``LIFReset``, :func:`~ckd_toolchain.loihi2.arithmetic.reset_due`).
"""
from __future__ import annotations

import numba
import numpy as np

from ckd_toolchain.loihi2.constants import DECAY_SHIFT, DECAY_UNITY, STATE_SHIFT, UV_MAX, UV_WRAP

_TWO31 = 1 << 31
_MASK32 = (1 << 32) - 1
_FRAC = DECAY_UNITY - 1


@numba.njit(inline="always")
def _w32(x):
    return ((x + _TWO31) & _MASK32) - _TWO31


@numba.njit(inline="always")
def _decay(x, f):
    p = x * f
    return (p + ((p >> 63) & _FRAC)) >> DECAY_SHIFT


@numba.njit(inline="always")
def _row_step(a_row, has_input, u, v, bias_row, s_row, vth_eff, fu, fv):
    """One step of one sample's neurons (1-D rows; branch-free body so that it vectorizes).
    Wrapping once after a sum equals wrapping after each term (int32 wrap is modular and no
    int64 intermediate can overflow: |a << 6| < 2^38, decayed states < 2^31)."""
    for n in range(u.shape[0]):
        x = _decay(u[n], fu)
        if has_input:
            x += np.int64(a_row[n]) << STATE_SHIFT
        x = _w32(x)
        x = x - (x > UV_WRAP) * (2 * UV_WRAP) + (x <= -UV_WRAP) * (2 * UV_WRAP)  # Lava's wrap24
        u[n] = x
        y = _w32(x + bias_row[n] + _decay(v[n], fv))
        y = min(max(y, -UV_MAX), UV_MAX)
        spk = y > vth_eff
        v[n] = y * (1 - spk)
        s_row[n] = spk


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _scan(a, offset, bias, bias_batched, reset, vth_eff, fu, fv, s_out, u_rec, v_rec, record_u,
          record_v):
    T, B, N = s_out.shape
    u = np.zeros((B, N), dtype=np.int64)
    v = np.zeros((B, N), dtype=np.int64)
    for t in range(T):
        if reset[t]:
            u[:] = 0
            v[:] = 0
        ta = t - offset
        for b in range(B):
            _row_step(a[max(ta, 0), b], ta >= 0, u[b], v[b], bias[b if bias_batched else 0],
                      s_out[t, b], vth_eff, fu, fv)
            if record_u:
                u_rec[t, b] = u[b]
            if record_v:
                v_rec[t, b] = v[b]


def lif_scan(a: np.ndarray, bias_eff: np.ndarray | None, vth: int, i_decay: int, v_decay: int,
             reset: np.ndarray | None = None, record_u: bool = False, record_v: bool = False,
             num_steps: int | None = None):
    """Run every step of one CUBA-LIF layer. Returns ``(s uint8, u int32 | None, v int32 | None)``.

    ``a``: ``[T_a, B, N]`` synaptic inputs (int32 values; any integer dtype, or float32/float64
    holding exact integers, as the convolutions return them) of the LAST ``T_a`` of ``num_steps``
    steps (default ``T_a``): the first ``num_steps - T_a`` steps get no input (a netx synapse
    delivers nothing in step 1), so no zero-padded copy is needed; ``bias_eff``: effective bias (``bias_mant << 6`` wrapped to int32,
    :func:`~ckd_toolchain.loihi2.arithmetic.effective_bias`) ``[B, N]`` or ``[1, N]`` or None;
    ``reset``: bool ``[T]`` or None. State starts at zero.
    """
    a = np.ascontiguousarray(a)
    if a.dtype.kind not in "iuf" or a.dtype.itemsize > 8 or a.dtype == np.uint64:
        raise ValueError(f"synaptic input dtype {a.dtype} not supported")
    T_a, B, N = a.shape
    T = T_a if num_steps is None else int(num_steps)
    if T < T_a:
        raise ValueError(f"{T_a} input steps for a run of {T}")
    if bias_eff is None:
        bias = np.zeros((1, N), dtype=np.int64)
    else:
        bias = np.ascontiguousarray(np.asarray(bias_eff, dtype=np.int64).reshape(-1, N))
    if bias.shape[0] not in (1, B):
        raise ValueError(f"bias has {bias.shape[0]} rows for a batch of {B}")
    reset = np.zeros(T, dtype=np.bool_) if reset is None else np.ascontiguousarray(reset, dtype=np.bool_)
    if T_a == 0:  # no input at all: a zero row stands in (never read as input)
        a = np.zeros((1, B, N), dtype=np.int32)
    s = np.empty((T, B, N), dtype=np.uint8)
    empty = np.empty((0, 0, 0), dtype=np.int32)
    u_rec = np.empty((T, B, N), dtype=np.int32) if record_u else empty
    v_rec = np.empty((T, B, N), dtype=np.int32) if record_v else empty
    _scan(a, T - T_a, bias, bias.shape[0] > 1, reset, np.int64(int(vth) << STATE_SHIFT),
          np.int64(DECAY_UNITY - int(i_decay)), np.int64(DECAY_UNITY - int(v_decay)),
          s, u_rec, v_rec, bool(record_u), bool(record_v))
    return s, (u_rec if record_u else None), (v_rec if record_v else None)
