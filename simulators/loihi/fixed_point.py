"""Pure integer state updates of Lava's bit-accurate CUBA-LIF (``PyLifModelBitAcc``).

Source: lava-nc 0.10 ``lava/proc/lif/models.py`` (``AbstractPyLifModelFixed.subthr_dynamics``,
``PyLifModelBitAcc``, ``PyLifResetModelBitAcc``). One time step, for a neuron with synaptic
input ``a`` (int32, as it arrives on Lava's int32 channel)::

    u' = wrap24( int32( trunc0(u * (4096 - iDecay) / 4096) + int32(a << 6) ) )
    v' = clip( int32( trunc0(v * (4096 - vDecay) / 4096) + u' + (bias_mant << 6) ),
               -(2^23 - 1), 2^23 - 1 )
    s  = v' > (vThMant << 6)
    v' = 0 where s

* ``trunc0(x * f / 4096)`` is Lava's ``sign(x*f) * (|x*f| >> 12)`` (rounding toward zero).
* netx passes ``du = iDecay - 1`` and Lava adds its ``ds_offset = 1`` back, so the current
  decays by ``4096 - iDecay``; voltage has ``dm_offset = 0`` so it decays by ``4096 - vDecay``.
* ``wrap24`` is Lava's exact rule, not a true modulo: ``w = x - 2^24 if x > 2^23 else x``,
  then ``w = x + 2^24 if w <= -2^23``. So ``+2^23`` is kept, and values beyond +-2^24 (only
  reachable with int32 overflow) are not folded back into 24 bits.
* ``int32(...)``: Lava computes in numpy int32, so ``a << 6`` and the sums wrap modulo 2^32.
  :func:`wrap_int32` reproduces that in int64 arithmetic.
* ``bias_exp`` is 6 for every netx layer (``Network.get_neuron_params``).
* With a ``reset_interval`` R netx builds ``LIFReset``; layer k (0-based, in block order)
  zeroes u and v at the START of every step t (t = 1, 2, ...) with ``t % R == (k + 1) % R``,
  before the update above.

All functions take and return int64 torch tensors (the values are the int32 Lava values).
"""
from __future__ import annotations

import torch

UV_BITS = 24
MAX_UV = 1 << (UV_BITS - 1)  # 2^23
DECAY_SHIFT = 12
DECAY_UNITY = 1 << DECAY_SHIFT
ACT_SHIFT = 6
VTH_SHIFT = 6
BIAS_EXP = 6
V_LIMIT = MAX_UV - 1
_TWO32 = 1 << 32
_TWO31 = 1 << 31


def wrap_int32(x: torch.Tensor) -> torch.Tensor:
    """Value of ``x`` after numpy's int32 wrap-around (two's complement)."""
    return torch.remainder(x + _TWO31, _TWO32) - _TWO31


def decay(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Lava's ``sign(x*f) * (|x*f| >> 12)`` with ``f = 4096 - decay``."""
    prod = x * int(factor)
    return torch.sign(prod) * (torch.abs(prod) >> DECAY_SHIFT)


def lava_wrap24(x: torch.Tensor) -> torch.Tensor:
    """Lava's 24-bit overflow handling of the current ``u`` (see module docstring)."""
    w = torch.where(x > MAX_UV, x - 2 * MAX_UV, x)
    return torch.where(w <= -MAX_UV, x + 2 * MAX_UV, w)


def effective_bias(bias_mant: torch.Tensor) -> torch.Tensor:
    """``bias_mant << bias_exp`` with netx's bias_exp = 6 (int16 mantissa, int32 result)."""
    return wrap_int32(bias_mant << BIAS_EXP)


def lif_step(u: torch.Tensor, v: torch.Tensor, a_in: torch.Tensor, bias_eff: torch.Tensor | int,
             vth: int, i_decay: int, v_decay: int, wrap: bool = True
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One ``PyLifModelBitAcc.run_spk``: returns ``(u, v, s)`` with ``s`` boolean.

    ``a_in`` is the int32 synaptic input of this step (before Lava's ``<< 6``). ``wrap=False``
    skips the int32 wrap emulation; callers use it only when they have proven that no
    intermediate value can leave int32 (|a| < 2^24 keeps every sum below 2^31).
    """
    du = decay(u, DECAY_UNITY - i_decay)
    act = a_in << ACT_SHIFT
    if wrap:
        u_new = lava_wrap24(wrap_int32(du + wrap_int32(act)))
    else:
        u_new = lava_wrap24(du + act)
    dv = decay(v, DECAY_UNITY - v_decay)
    v_sum = dv + u_new + bias_eff
    if wrap:
        v_sum = wrap_int32(v_sum)
    v_new = torch.clamp(v_sum, -V_LIMIT, V_LIMIT)
    s = v_new > (int(vth) << VTH_SHIFT)
    v_new = torch.where(s, torch.zeros((), dtype=v_new.dtype, device=v_new.device), v_new)
    return u_new, v_new, s


def reset_due(step: int, layer_index: int, reset_interval: int | None, reset_offset: int = 0) -> bool:
    """netx ``LIFReset`` phase: layer k resets at step t (1-based) iff t % R == (offset+1+k) % R."""
    if reset_interval is None:
        return False
    r = int(reset_interval)
    return step % r == (reset_offset + 1 + layer_index) % r
