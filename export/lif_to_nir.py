r"""snnTorch/``MultiStepLIF`` neuron → ``nir.LIF`` with an explicit time step ``dt``.

The student's neuron (``ckd_train.models.lif``, snnTorch 1.0 ``Leaky`` with
``reset_mechanism="zero"``) is, with ``R[t] = H(U[t-1] - V_th)`` computed from the previous
(pre-reset) membrane::

    U[t] = beta (1 - R[t]) U[t-1] + X[t],      S[t] = H(U[t] - V_th)     (H(x) = 1 iff x > 0)

NIR's LIF (``nir/ir/neuron.py``) is ``tau dv/dt = (v_leak - v) + r I``, spike ``z = H(v - v_th)``,
then ``v = v_reset`` where ``z = 1``. We export

    tau = dt / (1 - beta),   r = tau / dt,   v_leak = 0,   v_threshold = V_th,   v_reset = 0.

**Why forward Euler with that dt reproduces snnTorch exactly.** One forward-Euler step of length
``dt`` (what Norse's ``lif_box_feed_forward_step`` and our :mod:`ckd_toolchain.simulators.nir_float` do) is::

    v ← v + (dt/tau) (v_leak - v + r I) = (1 - dt/tau) v + (dt r / tau) I + (dt/tau) v_leak
      = beta v + 1 · I + 0                     (dt/tau = 1 - beta, dt r/tau = 1, v_leak = 0)

which is snnTorch's ``U[t] = beta U[t-1] + X[t]``. ``r = tau/dt`` exactly cancels the ``dt/tau``
input gain of the Euler step, so the input current ``I`` enters with weight 1 and the preceding
layer's weights need no rescaling. Any ``dt`` gives the same discrete map; we store ``dt = 1``
(one time step = one frame bin) in the graph metadata, which makes all coefficients exact binary
fractions for ``beta = 0.5`` (``tau = 2``, ``r = 2``): our interpreter then reproduces snnTorch's
float32 rounding bit for bit (it evaluates ``a v + b I + c`` with ``a = 1 - dt/tau = beta``,
``b = 1``, ``c = 0``).

**How the hard reset is represented.** NIR resets *in the step that spikes*: after ``z = 1`` the
stored ``v`` is ``v_reset = 0``, so the next step starts from ``beta · 0 + I``. snnTorch instead
keeps the pre-reset ``U[t]`` and zeroes the *decayed* term one step later through
``R[t+1] = H(U[t] - V_th) = S[t]``: ``U[t+1] = beta (1 - S[t]) U[t] + X[t+1] = X[t+1]`` after a
spike — the same value. The spike trains are therefore identical; only the *recorded* membrane
differs in the spiking step (snnTorch shows the pre-reset value, NIR the reset value 0).
"""
from __future__ import annotations

from typing import Sequence

import nir
import numpy as np

DEFAULT_DT = 1.0


def lif_parameters(beta: float, threshold: float, dt: float = DEFAULT_DT) -> dict[str, float]:
    """Scalar NIR LIF parameters for snnTorch ``beta``/``threshold`` (see module docstring)."""
    beta = float(beta)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1) for a leaky neuron, got {beta}")
    tau = dt / (1.0 - beta)
    return {"tau": tau, "r": tau / dt, "v_leak": 0.0, "v_threshold": float(threshold), "v_reset": 0.0}


def lif_node(beta: float, threshold: float, shape: Sequence[int], dt: float = DEFAULT_DT) -> nir.LIF:
    """A ``nir.LIF`` over ``shape`` (unbatched, e.g. ``(C, H, W)``), parameters as float32 arrays."""
    p = lif_parameters(beta, threshold, dt)
    shape = tuple(int(s) for s in shape)
    full = {k: np.full(shape, v, dtype=np.float32) for k, v in p.items()}
    return nir.LIF(tau=full["tau"], r=full["r"], v_leak=full["v_leak"],
                   v_threshold=full["v_threshold"], v_reset=full["v_reset"])
