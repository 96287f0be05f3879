"""The float leaky integrate-and-fire update shared by the float simulators.

Two pure tensor steps; the callers apply them over time:

* :func:`leaky_integrate`: ``v ← a·v + drive (+ c)`` (``a = None``: no leak, ``v ← v + drive``);
* :func:`fire`: ``z = v > v_th`` (strictly greater), then the hard reset ``v ← v_reset`` where ``z``.

Users: the NIR float interpreter's neuron nodes (:mod:`ckd_toolchain.simulators.nir_nodes`: LIF,
LI, IF, I, CubaLIF, CubaLI, where ``drive = b·I`` and ``c = dt·v_leak/tau``) and the float view of
the mapped Loihi layers (:mod:`ckd_toolchain.simulators.loihi.float_layers`: CUBA current
``u ← beta_u·u + W·s`` and voltage ``v ← beta_v·v + u + bias``). The operations are evaluated in
exactly this order (``(a·v + drive) + c``), so every caller keeps its float rounding.

The training LIF (``ckd_train/models/lif.py``) is snnTorch's formulation with the reset delayed by
one step and hand-fused kernels for BPTT; it stays in the training package (which never imports
the simulators).
"""
from __future__ import annotations

import torch


def leaky_integrate(v: torch.Tensor, a, drive: torch.Tensor, c=None) -> torch.Tensor:
    """``a·v + drive (+ c)``; ``a is None`` integrates without leak (``v + drive``)."""
    v = v + drive if a is None else a * v + drive
    return v if c is None else v + c


def fire(v: torch.Tensor, v_th, v_reset: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(z, v)``: the spikes ``v > v_th`` (bool) and ``v`` hard-reset to ``v_reset`` where they fired."""
    z = v > v_th
    return z, torch.where(z, v_reset, v)
