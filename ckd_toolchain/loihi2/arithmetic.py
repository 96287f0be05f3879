"""Loihi 2 CUBA-LIF integer arithmetic as lava-dl netx 0.6 / lava-nc 0.10 compute it.

Sources (read in ``.lava-venv/lib/python3.10/site-packages/lava``):

* ``lib/dl/netx/hdf5.py::Network.get_neuron_params`` — a netx ``CUBA`` neuron becomes a Lava
  ``LIF`` with ``vth = vThMant``, ``du = iDecay - 1``, ``dv = vDecay``, ``bias_mant = bias``,
  ``bias_exp = 6`` (fixed).
* ``proc/lif/models.py::AbstractPyLifModelFixed.subthr_dynamics`` with ``PyLifModelBitAcc``
  (``ds_offset = 1``, ``dm_offset = 0``, 12-bit decays, 24-bit state, ``act_shift = vth_shift =
  6``) and ``PyLifResetModelBitAcc``. One time step, for a neuron with synaptic input ``a`` (int32,
  as it arrives on Lava's int32 channel)::

      u' = wrap24( int32( trunc0(u * (4096 - iDecay) / 4096) + int32(a << 6) ) )
      v' = clip( int32( trunc0(v * (4096 - vDecay) / 4096) + u' + (bias_mant << 6) ),
                 -(2^23 - 1), 2^23 - 1 )
      s  = v' > (vThMant << 6)
      v' = 0 where s

  (``4096`` = :data:`~.constants.DECAY_UNITY`, ``6`` = :data:`~.constants.STATE_SHIFT`,
  ``2^23`` = :data:`~.constants.UV_WRAP`, ``2^23 - 1`` = :data:`~.constants.UV_MAX`.)

* ``trunc0(x * f / 4096)`` is Lava's ``sign(x*f) * (|x*f| >> 12)`` (rounding toward zero).
* netx passes ``du = iDecay - 1`` and Lava adds its ``ds_offset = 1`` back, so the current keeps
  ``(4096 - iDecay)/4096`` of itself per step (``iDecay = 4096``: "current = this step's input");
  voltage has ``dm_offset = 0`` so it keeps ``(4096 - vDecay)/4096`` (``vDecay = 4096·(1 - β)``).
* ``wrap24`` is Lava's exact rule, not a true modulo: ``w = x - 2^24 if x > 2^23 else x``,
  then ``w = x + 2^24 if w <= -2^23``. So ``+2^23`` is kept, and values beyond ±2^24 (only
  reachable with int32 overflow) are not folded back into 24 bits.
* ``int32(...)``: Lava computes in numpy int32, so ``a << 6`` and the sums wrap modulo 2^32.
* With a ``reset_interval`` R netx builds ``LIFReset``; layer k (0-based, in block order)
  zeroes u and v at the START of every step t (t = 1, 2, ...) with ``t % R == (k + 1) % R``,
  before the update above (:func:`reset_due`).
* ``lib/dl/netx/utils.py::optimize_weight_bits`` (:mod:`.weight_bits`) and the Dense synapse
  (``proc/dense/models.py``) shift the stored weights and the accumulated sum back, so for binary
  spikes a stored integer weight ``W`` adds exactly ``W << 6`` to ``u``: stored weights, ``bias``
  and ``vThMant`` are all integers on ONE scale (the layer scale of :mod:`.quantization`).

Three forms of the same step:

* numpy reference (:func:`decay_step`, :func:`lif_step_fixed`): int64 arithmetic written as Lava
  writes it, without the int32 wrap emulation (equal to Lava while :func:`wrap_free` holds,
  e.g. ``|a| < 2^18``); used by the tests to hand-check the formulas and the mapper;
* torch (:func:`decay`, :func:`lif_step`, :class:`LifKernel`, :func:`wrap_int32`,
  :func:`lava_wrap24`, :func:`effective_bias`): int64 tensors holding the int32 Lava values,
  with the int32 wrap emulated; the fast simulator's CUDA path (``ckd_toolchain.simulators.loihi``);
* compiled (:mod:`.lif_scan`): a whole layer over all steps in numba, the fast simulator's CPU path.
  ``tests/core/test_loihi2_arithmetic.py`` checks the first two against each other,
  ``tests/core/test_loihi2_lif_scan.py`` the compiled one against :func:`lif_step`.
"""
from __future__ import annotations

import numpy as np
import torch

from ckd_toolchain.loihi2.constants import (CONV_OUT_BITS, DECAY_SHIFT, DECAY_UNITY, STATE_SHIFT, UV_MAX,
                                            UV_WRAP)

_TWO32 = 1 << 32
_TWO31 = 1 << 31


def reset_due(step: int, layer_index: int, reset_interval: int | None, reset_offset: int = 0) -> bool:
    """netx ``LIFReset`` phase: layer k resets at step t (1-based) iff t % R == (offset+1+k) % R."""
    if reset_interval is None:
        return False
    r = int(reset_interval)
    return step % r == (reset_offset + 1 + layer_index) % r


# ----------------------------------------------------------------------------------------------
# numpy reference form
# ----------------------------------------------------------------------------------------------

def decay_step(x: np.ndarray, decay: int) -> np.ndarray:
    """``trunc0(x·(4096 - decay)/4096)`` with sign-magnitude rounding, as Lava's LIF does."""
    prod = np.asarray(x, dtype=np.int64) * (DECAY_UNITY - int(decay))
    return (np.sign(prod) * (np.abs(prod) >> DECAY_SHIFT)).astype(np.int64)


def lif_step_fixed(u, v, a_in, i_decay: int, v_decay: int, bias_mant, vth_mant: int):
    """One Loihi CUBA-LIF step in netx units (Lava PyLifModelBitAcc with du = iDecay - 1).

    Returns ``(spikes, u, v)``; ``a_in`` is the synaptic sum in stored-weight units. int64
    arithmetic without Lava's int32 wrap (see the module docstring); the simulator uses
    :func:`lif_step`.
    """
    u = decay_step(u, i_decay) + (np.asarray(a_in, dtype=np.int64) << STATE_SHIFT)
    u = np.where(u > UV_WRAP, u - 2 * UV_WRAP, u)
    u = np.where(u <= -UV_WRAP, u + 2 * UV_WRAP, u)
    v = decay_step(v, v_decay) + u + (np.asarray(bias_mant, dtype=np.int64) << STATE_SHIFT)
    v = np.clip(v, -UV_MAX, UV_MAX)
    s = v > (int(vth_mant) << STATE_SHIFT)
    v = np.where(s, 0, v)
    return s, u, v


# ----------------------------------------------------------------------------------------------
# torch form (int64 tensors holding Lava's int32 values)
# ----------------------------------------------------------------------------------------------

def wrap_int32(x: torch.Tensor) -> torch.Tensor:
    """Value of ``x`` after numpy's int32 wrap-around (two's complement)."""
    return torch.remainder(x + _TWO31, _TWO32) - _TWO31


def signed_clamp24(x: torch.Tensor) -> torch.Tensor:
    """lava-nc ``proc/conv/utils.py::signed_clamp(x, bits=24)``, applied by ``PyConvModelFixed`` to
    the convolution output: ``(x + 2^23) % 2^24 - 2^23``, a true 24-bit two's-complement wrap
    (unlike :func:`lava_wrap24` of the neuron current)."""
    half = 1 << (CONV_OUT_BITS - 1)
    return torch.remainder(x + half, 2 * half) - half


def decay(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Lava's ``sign(x*f) * (|x*f| >> 12)`` with ``f = 4096 - decay`` (truncation toward zero).

    Computed as ``(p + ((p >> 63) & 4095)) >> 12`` (adding 4095 to negative products turns the
    arithmetic shift's floor into truncation), with the identities ``f = 0`` and ``f = 4096``
    short-cut.
    """
    factor = int(factor)
    if factor == 0:
        return torch.zeros_like(x)
    if factor == DECAY_UNITY:
        return x.clone()
    prod = x * factor
    return (prod + ((prod >> 63) & (DECAY_UNITY - 1))) >> DECAY_SHIFT


def lava_wrap24(x: torch.Tensor) -> torch.Tensor:
    """Lava's 24-bit overflow handling of the current ``u`` (see module docstring).

    ``where(x > M, x - 2M, x)`` followed by ``where(w <= -M, x + 2M, w)`` equals
    ``x - 2M [x > M] + 2M [x <= -M]`` because ``x > M`` implies ``x - 2M > -M``.
    """
    if x.numel() == 0 or int(x.abs().max()) < UV_WRAP:
        return x
    return x - (x > UV_WRAP).to(x.dtype) * (2 * UV_WRAP) + (x <= -UV_WRAP).to(x.dtype) * (2 * UV_WRAP)


def wrap_free(max_abs_input: int, i_decay: int) -> bool:
    """True when no int32 intermediate of :func:`lif_step` can wrap, for every step, whatever the
    history, given ``|a| <= max_abs_input`` on every step (then ``wrap=False`` is exact).

    Proof. (1) ``iDecay = 4096``: ``u' = wrap24(a << 6)`` with no memory; ``|a| < 2^24`` keeps
    ``|a << 6| < 2^30``, so ``|u'| < 2^30`` and ``|v' + u' + bias| < 2^23 + 2^30 + 2^21 < 2^31``.
    (2) any ``iDecay``: if ``|u| <= 2^23`` and ``|a| < 2^18`` then ``|decay(u) + a << 6| <
    2^23 + 2^24``, which Lava's wrap24 maps back into ``[-2^23, 2^23]``; by induction from
    ``u = 0`` u stays 24-bit and every sum stays below ``2^23 + 2^23 + 2^21 < 2^31``.
    Beyond these bounds a slow current decay lets ``u`` grow past ``2^24`` (wrap24 subtracts
    ``2^24`` only once per step) up to the int32 wrap: e.g. 2000 inputs x weight 254 every step
    with iDecay 0 reaches it at step 136 — that run needs the emulation.
    """
    if int(i_decay) == DECAY_UNITY:
        return int(max_abs_input) < (1 << 24)
    return int(max_abs_input) < (1 << 18)


def u_in_range(max_abs_input: int, i_decay: int) -> bool:
    """True when the 24-bit wrap of ``u`` is idle: ``iDecay = 4096`` makes ``u = a << 6``, inside
    ``(-2^23, 2^23)`` when ``|a| < 2^17``."""
    return int(i_decay) == DECAY_UNITY and int(max_abs_input) < (UV_WRAP >> STATE_SHIFT)


def effective_bias(bias_mant: torch.Tensor) -> torch.Tensor:
    """``bias_mant << bias_exp`` with netx's bias_exp = 6 (int16 mantissa, int32 result)."""
    return wrap_int32(bias_mant << STATE_SHIFT)


def lif_step(u: torch.Tensor, v: torch.Tensor, a_in: torch.Tensor, bias_eff: torch.Tensor | int,
             vth: int, i_decay: int, v_decay: int, wrap: bool = True, u_in_range: bool = False
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One ``PyLifModelBitAcc.run_spk``: returns new ``(u, v, s)`` with ``s`` boolean.

    ``a_in`` is the int32 synaptic input of this step (before Lava's ``<< 6``), as int64.
    ``wrap=False`` skips the int32 wrap emulation; callers use it only when :func:`wrap_free`
    has proven that no intermediate value can leave int32.
    ``u_in_range=True`` skips the 24-bit wrap check; callers pass it only when
    ``|u * (4096 - iDecay) / 4096 + a << 6| < 2^23`` is guaranteed (e.g. iDecay = 4096 and
    |a| < 2^17). Inputs are not modified.
    """
    x = a_in << STATE_SHIFT
    if wrap:
        x = wrap_int32(x)
    if DECAY_UNITY - i_decay != 0:
        x = x + decay(u, DECAY_UNITY - i_decay)
    if wrap:
        x = wrap_int32(x)
    u_new = x if u_in_range else lava_wrap24(x)
    v_sum = u_new + bias_eff
    if DECAY_UNITY - v_decay != 0:
        v_sum = v_sum + decay(v, DECAY_UNITY - v_decay)
    if wrap:
        v_sum = wrap_int32(v_sum)
    v_new = torch.clamp(v_sum, -UV_MAX, UV_MAX)
    s = v_new > (int(vth) << STATE_SHIFT)
    v_new.masked_fill_(s, 0)
    return u_new, v_new, s


class LifKernel:
    """In-place, allocation-free form of :func:`lif_step` for the fast back end.

    Holds ``u``, ``v`` and scratch buffers of one layer (int64, shape [B, *neurons]); every
    step writes into them with ``out=`` / in-place ops, so no multi-megabyte temporaries are
    allocated per step. Falls back to :func:`lif_step` when the int32 wrap emulation is needed.
    Equality with :func:`lif_step` is tested in ``tests/core/test_loihi2_traces.py``.
    """

    def __init__(self, shape, device, bias_eff, vth: int, i_decay: int, v_decay: int):
        z = lambda: torch.zeros(shape, dtype=torch.int64, device=device)  # noqa: E731
        self.u, self.v, self.x, self.y, self.z = z(), z(), z(), z(), z()
        self.s = torch.zeros(shape, dtype=torch.bool, device=device)
        self.bias = bias_eff
        self.vth_eff = int(vth) << STATE_SHIFT
        self.fu, self.fv = DECAY_UNITY - int(i_decay), DECAY_UNITY - int(v_decay)
        self.i_decay, self.v_decay, self.vth = int(i_decay), int(v_decay), int(vth)

    def reset(self) -> None:
        self.u.zero_()
        self.v.zero_()

    def _decay_into(self, src: torch.Tensor, factor: int, out: torch.Tensor) -> None:
        torch.mul(src, factor, out=out)
        torch.bitwise_right_shift(out, 63, out=self.z)
        self.z.bitwise_and_(DECAY_UNITY - 1)
        out.add_(self.z)
        out.bitwise_right_shift_(DECAY_SHIFT)

    def step(self, a_in: torch.Tensor, wrap: bool, u_in_range: bool) -> torch.Tensor:
        """Advance one step with int32 input ``a_in``; returns the spike tensor (a view)."""
        if wrap:
            u, v, s = lif_step(self.u, self.v, a_in.to(torch.int64), self.bias, self.vth,
                               self.i_decay, self.v_decay, wrap=True)
            self.u.copy_(u)
            self.v.copy_(v)
            self.s.copy_(s)
            return self.s
        x, y = self.x, self.y
        x.copy_(a_in)
        x.bitwise_left_shift_(STATE_SHIFT)
        if self.fu == DECAY_UNITY:
            x.add_(self.u)
        elif self.fu != 0:
            self._decay_into(self.u, self.fu, y)
            x.add_(y)
        if not u_in_range:
            x = lava_wrap24(x)
        self.u.copy_(x)
        if self.fv == DECAY_UNITY:
            y.copy_(self.v)
        elif self.fv != 0:
            self._decay_into(self.v, self.fv, y)
        else:
            y.zero_()
        y.add_(self.u)
        if not isinstance(self.bias, int) or self.bias != 0:
            y.add_(self.bias)
        y.clamp_(-UV_MAX, UV_MAX)
        torch.gt(y, self.vth_eff, out=self.s)
        y.masked_fill_(self.s, 0)
        self.v, self.y = y, self.v
        return self.s
