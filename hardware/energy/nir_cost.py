"""The GPU reference of a NIR graph: what one inference costs when the float graph runs densely.

The GPU reference is the graph as exported (``simulators.nir_float``, the float reference every
target runs), never the network as mapped to Loihi (pool layers there may be thermometer or
one-neuron-per-window convolutions, and the Loihi run has ``T + L`` steps). Per time step, from
the shapes one forward pass of a ``[1, 1, *input_shape]`` zero input shows each node:

- ``Conv1d``/``Conv2d``: ``MACs = N_out * (C_in / groups) * prod(kernel)`` (the weight's
  ``[C_out, C_in / groups, *kernel]`` shape; padding zeros included, as a GPU computes them);
- ``Affine``/``Linear``: ``MACs = N_out * N_in``;
- ``AvgPool2d``/``SumPool2d``: ``N_out * k_h * k_w`` window accumulates, counted as MACs (the
  same rule as :func:`ckd_toolchain.hardware.energy.op_counts.dense_macs` for pool layers);
- neuron nodes (LIF, LI, IF, I, CubaLIF, CubaLI): ``N_out`` neuron updates.

An inference of ``T`` steps: ``MACs = T * MACs_step``, ``FLOPs = 2 T MACs_step + 4 T neurons``
(:func:`ckd_toolchain.hardware.energy.gpu_energy.student_dense_flops`).
"""
from __future__ import annotations

import math

import torch

from ckd_toolchain.hardware.energy.gpu_energy import student_dense_flops


def graph_cost(graph, input_shape, dt: float | None = None) -> dict:
    """``{"macs_per_step", "neurons", "per_node": [{name, type, macs, neurons}]}`` of a NIR graph."""
    from ckd_toolchain.simulators.nir_float import NIRFloatModel
    from ckd_toolchain.simulators.nir_nodes import AffineNode, ConvNode, MembraneNode, PoolNode

    model = NIRFloatModel(graph, dt=dt)
    per_node: list[dict] = []
    hooks = []

    def hook(name):
        def fn(mod, inputs, out):
            n_out = out[0, 0].numel()                       # [T=1, B=1, ...]
            macs = neurons = 0
            if isinstance(mod, ConvNode):
                macs = n_out * math.prod(mod.weight.shape[1:])
            elif isinstance(mod, AffineNode):
                macs = n_out * int(mod.weight.shape[-1])
            elif isinstance(mod, PoolNode):
                macs = n_out * math.prod(mod.kernel)
            elif isinstance(mod, MembraneNode):
                neurons = n_out
            if macs or neurons:
                per_node.append({"name": name, "type": type(graph.nodes[name]).__name__,
                                 "macs": int(macs), "neurons": int(neurons)})
        return fn

    for name in model.order:
        hooks.append(model.module(name).register_forward_hook(hook(name)))
    try:
        with torch.no_grad():
            model(torch.zeros((1, 1, *[int(s) for s in input_shape])))
    finally:
        for h in hooks:
            h.remove()
    return {"macs_per_step": int(sum(n["macs"] for n in per_node)),
            "neurons": int(sum(n["neurons"] for n in per_node)), "per_node": per_node}


def gpu_reference(graph, input_shape, T: int, dt: float | None = None) -> dict:
    """The raw ``gpu_reference`` record of a deploy run: the graph's cost over ``T`` steps."""
    c = graph_cost(graph, input_shape, dt)
    return {"source": "NIR graph (float reference)", "steps": int(T), "macs_per_step": c["macs_per_step"],
            "neurons": c["neurons"], "macs": c["macs_per_step"] * int(T),
            "flops": student_dense_flops(c["macs_per_step"], c["neurons"], int(T))}
