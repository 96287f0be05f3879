"""Float (torch) implementations of the NIR 1.0.8 primitives, one small module per node type.

Every module here runs one NIR node over a whole input sequence ``x[T, B, *shape]`` (``shape`` is
the node's unbatched NIR shape) and returns ``y[T, B, *out_shape]``:

* stateless nodes (Conv1d/Conv2d, Affine, Linear, Scale, Flatten, AvgPool2d, SumPool2d, Threshold)
  run once on the flattened ``[T*B, ...]`` tensor;
* neuron nodes (LIF, IF, LI, I, CubaLIF, CubaLI) hold state and loop over ``T``.

Neuron dynamics are NIR's ODEs (``nir/ir/neuron.py`` docstrings) integrated with forward Euler
with step ``dt``, exactly as Norse does it (``norse/torch/functional/lif_box.py``):

* ``LIF``:  ``tau dv/dt = (v_leak - v) + r I``  →  ``v ← v + dt/tau (v_leak - v + r I)``; then
  ``z = H(v - v_threshold)`` (strictly greater), ``v ← v_reset`` where ``z = 1``.
* ``LI``: the same without spike/reset; its output is ``v``.
* ``IF``: ``dv/dt = r I`` → ``v ← v + dt r I``; spike/reset as LIF.
* ``I``: ``dv/dt = r I`` → ``v ← v + dt r I``; output ``v``.
* ``CubaLIF`` / ``CubaLI``: synaptic current first, ``I ← I + dt/tau_syn (-I + w_in S)``, then the
  membrane with the *updated* ``I`` as ``LIF``/``LI`` (the order Norse's ``CubaLIF`` wrapper uses).

The Euler step (:func:`ckd_toolchain.simulators.neuron_float.leaky_integrate`, spikes and reset
:func:`~ckd_toolchain.simulators.neuron_float.fire`) is evaluated in the algebraically identical form ``v ← a v + b I + c`` with
``a = 1 - dt/tau``, ``b = dt r / tau``, ``c = dt v_leak / tau`` (coefficients computed in float64,
then cast to the run dtype). For the exported students (``dt = 1``, ``tau = 1/(1-beta)``,
``r = tau``, ``v_leak = 0``) this gives ``a = beta``, ``b = 1``, ``c = 0``, i.e. ``v ← beta v + I``
with the *same float rounding* as snnTorch's ``Leaky`` (``beta * mem + input``), so spikes match
bit for bit (see :mod:`ckd_toolchain.export.lif_to_nir`).

Pooling: ``AvgPool2d`` is ``torch.nn.functional.avg_pool2d`` (``count_include_pad=True``, torch's
default, which is also what nirtorch maps it to); ``SumPool2d`` is the same window sum without the
division (``divisor_override=1``). ``Flatten`` has NIR's unbatched ``start_dim``/``end_dim``: the
batch axis is added in front here.
"""
from __future__ import annotations

from typing import Any

import nir
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ckd_toolchain.geometry import pair
from ckd_toolchain.simulators.neuron_float import fire, leaky_integrate


def _t(a: Any, dtype: torch.dtype) -> torch.Tensor:
    return torch.as_tensor(np.array(a, dtype=np.float64), dtype=dtype)  # a copy: h5py arrays are read-only


def _padding(v: Any, ndim: int):
    if isinstance(v, (bytes, np.bytes_)):
        v = v.decode()
    if isinstance(v, str):
        return v
    a = np.asarray(v).reshape(-1)
    if a.size == 1:
        return tuple(int(a[0]) for _ in range(ndim))
    return tuple(int(x) for x in a[:ndim])


class SeqNode(nn.Module):
    """Base: ``forward(x[T, B, ...]) -> y[T, B, ...]``. Stateless nodes implement ``frame``."""

    stateful = False

    def frame(self, x: torch.Tensor) -> torch.Tensor:  # [N, ...] -> [N, ...]
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B = x.shape[:2]
        y = self.frame(x.reshape(T * B, *x.shape[2:]))
        return y.reshape(T, B, *y.shape[1:])


class IdentityNode(SeqNode):
    """``Input`` / ``Output``: pass the data through."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class ConvNode(SeqNode):
    """``Conv1d`` / ``Conv2d``: ``torch.nn.functional.conv{1,2}d`` with the node's parameters."""

    def __init__(self, node, dtype):
        super().__init__()
        self.ndim = 2 if isinstance(node, nir.Conv2d) else 1
        self.register_buffer("weight", _t(node.weight, dtype))
        bias = node.bias if node.bias is not None else np.zeros(node.weight.shape[0])
        self.register_buffer("bias", _t(np.broadcast_to(np.asarray(bias), (node.weight.shape[0],)), dtype))
        if self.ndim == 2:
            self.stride, self.dilation = pair(node.stride), pair(node.dilation)
        else:
            self.stride, self.dilation = int(np.asarray(node.stride).reshape(-1)[0]), int(
                np.asarray(node.dilation).reshape(-1)[0])
        self.padding = _padding(node.padding, self.ndim)
        self.groups = int(np.asarray(node.groups).reshape(-1)[0])

    def frame(self, x):
        fn = F.conv2d if self.ndim == 2 else F.conv1d
        return fn(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class AffineNode(SeqNode):
    """``Affine``: ``y = W x + b``; ``Linear``: ``y = W x``."""

    def __init__(self, node, dtype):
        super().__init__()
        self.register_buffer("weight", _t(node.weight, dtype))
        bias = getattr(node, "bias", None)
        self.register_buffer("bias", None if bias is None else _t(bias, dtype))

    def frame(self, x):
        return F.linear(x, self.weight, self.bias)


class ScaleNode(SeqNode):
    """``Scale``: ``y = x ⊙ s`` (``s`` broadcast over the batch)."""

    def __init__(self, node, dtype):
        super().__init__()
        self.register_buffer("scale", _t(node.scale, dtype))

    def frame(self, x):
        return x * self.scale


class ThresholdNode(SeqNode):
    """``Threshold``: ``z = H(x - thr)`` (strictly greater)."""

    def __init__(self, node, dtype):
        super().__init__()
        self.register_buffer("threshold", _t(node.threshold, dtype))

    def frame(self, x):
        return (x > self.threshold).to(x.dtype)


class FlattenNode(SeqNode):
    """``Flatten`` over NIR's unbatched dims ``start_dim..end_dim`` (a batch axis is prepended)."""

    def __init__(self, node):
        super().__init__()
        s, e = int(node.start_dim), int(node.end_dim)
        self.start = s + 1 if s >= 0 else s
        self.end = e + 1 if e >= 0 else e

    def frame(self, x):
        return torch.flatten(x, self.start, self.end)


class PoolNode(SeqNode):
    """``AvgPool2d`` (window mean, ``count_include_pad=True``) / ``SumPool2d`` (window sum)."""

    def __init__(self, node):
        super().__init__()
        self.kernel = pair(node.kernel_size)
        self.stride = pair(node.stride)
        self.padding = pair(node.padding)
        self.sum = isinstance(node, nir.SumPool2d)

    def frame(self, x):
        if self.sum:
            return F.avg_pool2d(x, self.kernel, self.stride, self.padding, divisor_override=1)
        return F.avg_pool2d(x, self.kernel, self.stride, self.padding)


def _euler_coefficients(tau, r, v_leak, dt: float):
    """Forward-Euler ``v ← v + dt/tau (v_leak - v + r I)`` as ``v ← a v + b I + c`` (float64)."""
    tau = np.asarray(tau, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    v_leak = np.asarray(v_leak, dtype=np.float64)
    k = dt / tau
    return 1.0 - k, k * r, k * v_leak


class MembraneNode(SeqNode):
    """Base of the neuron nodes: a spiking node emits ``v > v_threshold`` and resets ``v`` to
    ``v_reset`` (NIR's hard reset); a non-spiking one outputs ``v`` itself."""

    stateful = True

    def _init_membrane(self, tau, r, v_leak, dt: float, dtype) -> None:
        """Buffers ``a, b, c`` of the leaky membrane update ``v ← a v + b I + c``."""
        for name, value in zip("abc", _euler_coefficients(tau, r, v_leak, dt)):
            self.register_buffer(name, _t(value, dtype))

    def _init_output(self, node, dtype, spiking: bool) -> None:
        self.spiking = spiking
        if spiking:
            self.register_buffer("v_th", _t(node.v_threshold, dtype))
            self.register_buffer("v_reset", _t(node.v_reset, dtype))

    def _emit(self, v, out: list):
        """Append this step's output to ``out``; return ``v`` after the reset."""
        if not self.spiking:
            out.append(v)
            return v
        z, v_after = fire(v, self.v_th, self.v_reset.expand_as(v))
        out.append(z.to(v.dtype))
        return v_after


class LeakyNeuronNode(MembraneNode):
    """``LIF`` (spiking) and ``LI`` (non-spiking, outputs ``v``); state ``v`` starts at 0."""

    def __init__(self, node, dtype, dt: float):
        super().__init__()
        self._init_membrane(node.tau, node.r, node.v_leak, dt, dtype)
        self._init_output(node, dtype, isinstance(node, nir.LIF))

    def forward(self, x):
        v = torch.zeros_like(x[0])
        out = []
        for t in range(x.shape[0]):
            v = leaky_integrate(v, self.a, self.b * x[t], self.c)
            v = self._emit(v, out)
        return torch.stack(out)


class IntegratorNode(MembraneNode):
    """``IF`` (``v ← v + dt r I``, spike ``v > v_threshold``, reset to ``v_reset``) and ``I``."""

    def __init__(self, node, dtype, dt: float):
        super().__init__()
        self.register_buffer("b", _t(dt * np.asarray(node.r, dtype=np.float64), dtype))
        self._init_output(node, dtype, isinstance(node, nir.IF))

    def forward(self, x):
        v = torch.zeros_like(x[0])
        out = []
        for t in range(x.shape[0]):
            v = leaky_integrate(v, None, self.b * x[t])
            v = self._emit(v, out)
        return torch.stack(out)


class CubaNode(MembraneNode):
    """``CubaLIF`` / ``CubaLI``: synapse ``I ← I + dt/tau_syn (-I + w_in S)``, then the membrane."""

    def __init__(self, node, dtype, dt: float):
        super().__init__()
        k_syn = dt / np.asarray(node.tau_syn, dtype=np.float64)
        self.register_buffer("syn_a", _t(1.0 - k_syn, dtype))
        self.register_buffer("syn_b", _t(k_syn * np.asarray(node.w_in, dtype=np.float64), dtype))
        self._init_membrane(node.tau_mem, node.r, node.v_leak, dt, dtype)
        self._init_output(node, dtype, isinstance(node, nir.CubaLIF))

    def forward(self, x):
        i = torch.zeros_like(x[0])
        v = torch.zeros_like(x[0])
        out = []
        for t in range(x.shape[0]):
            i = leaky_integrate(i, self.syn_a, self.syn_b * x[t])
            v = leaky_integrate(v, self.a, self.b * i, self.c)
            v = self._emit(v, out)
        return torch.stack(out)


#: NIR node types that need ``dt`` (their dynamics are ODEs).
TIME_CONSTANT_NODES = (nir.LIF, nir.LI, nir.IF, nir.I, nir.CubaLIF, nir.CubaLI)

SUPPORTED = ("Input", "Output", "Conv1d", "Conv2d", "Affine", "Linear", "Scale", "Threshold",
             "Flatten", "AvgPool2d", "SumPool2d", "LIF", "LI", "IF", "I", "CubaLIF", "CubaLI")


def build_node(node: nir.NIRNode, dtype: torch.dtype, dt: float | None) -> SeqNode | None:
    """Torch module for one NIR node, or ``None`` when the type is not supported."""
    if isinstance(node, (nir.Input, nir.Output)):
        return IdentityNode()
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        return ConvNode(node, dtype)
    if isinstance(node, (nir.Affine, nir.Linear)):
        return AffineNode(node, dtype)
    if isinstance(node, nir.Scale):
        return ScaleNode(node, dtype)
    if isinstance(node, nir.Threshold):
        return ThresholdNode(node, dtype)
    if isinstance(node, nir.Flatten):
        return FlattenNode(node)
    if isinstance(node, (nir.AvgPool2d, nir.SumPool2d)):
        return PoolNode(node)
    if isinstance(node, (nir.LIF, nir.LI)):
        return LeakyNeuronNode(node, dtype, dt)
    if isinstance(node, (nir.IF, nir.I)):
        return IntegratorNode(node, dtype, dt)
    if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
        return CubaNode(node, dtype, dt)
    return None
