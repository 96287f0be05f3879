"""Our own float NIR interpreter: the float reference for exported graphs (CPU or CUDA, batched).

``run_nir(graph_or_path, x[B, T, *input_shape]) -> y[B, T, *output_shape]`` runs a NIR 1.0.8 graph
(``nir.read``-able file or ``nir.NIRGraph``) in torch float32 (or another dtype). The per-node
semantics are in :mod:`ckd_toolchain.simulators.nir_nodes` (forward Euler with step ``dt``, NIR's ODEs). Edges
are identity connections; a node with several incoming edges receives their **sum** (NIR's fan-in
rule, also what nirtorch's executor does with ``torch.stack(inputs).sum(0)``).

Evaluation order: the graph must be a DAG (no recurrent edges, no ``Delay``); nodes are evaluated
in topological order (Kahn's algorithm, ties broken by the order nodes appear in the graph).
Instead of stepping every node once per time step, each node processes its *whole* input
sequence ``[T, B, ...]`` before the next node runs. In a DAG without delays the value of node
``n`` at step ``t`` depends only on its inputs at step ``t`` and its own state from ``t-1``, so
both orders compute identical numbers; layer-by-layer lets the stateless nodes (convolutions, the
bulk of the work) run once on ``[T*B, ...]`` instead of ``T`` small calls (fewer kernel launches
and better-filled GEMMs on GPU), and only the cheap elementwise neuron updates loop over ``T``.

``dt`` comes from the caller, else ``graph.metadata["dt"]``; it is only required when the graph
has neuron nodes (LIF, LI, IF, I, CubaLIF, CubaLI). Anything not supported (Delay, nested
subgraphs, cycles, unknown types) raises :class:`ckd_toolchain.errors.InputError` naming the node.

For the deploy stage: ``NIRFloatModel(graph).to(device)`` is an ``nn.Module`` holding the graph's
parameters as buffers; ``model(x, record=("node", ...))`` also returns those nodes' outputs.
"""
from __future__ import annotations

import os
from collections import defaultdict
from typing import Iterable, Sequence

import nir
import numpy as np
import torch
from torch import nn

from ckd_toolchain.errors import InputError
from ckd_toolchain.nir_graph import graph_dt, load_graph, topological_order
from ckd_toolchain.simulators.nir_nodes import SUPPORTED, TIME_CONSTANT_NODES, build_node


class NIRFloatModel(nn.Module):
    """A NIR graph as a torch module: ``forward(x[B, T, *in_shape]) -> y[B, T, *out_shape]``.

    Arguments:
        graph: a ``nir.NIRGraph`` or a path to a ``.nir`` file.
        dt: Euler step; default ``graph.metadata["dt"]``; needed only for neuron nodes.
        dtype: parameter/computation dtype (float32 default; float64 for reference runs).
    """

    def __init__(self, graph: nir.NIRGraph | str | os.PathLike, dt: float | None = None,
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        where = None
        if not isinstance(graph, nir.NIRGraph):
            where = os.fspath(graph)
            graph = load_graph(graph)
        self.where = where
        self.graph = graph
        self.dt = dt if dt is not None else graph_dt(graph)
        self.order = topological_order(graph, where)
        self.inputs_of: dict[str, list[str]] = defaultdict(list)
        for src, dst in graph.edges:
            self.inputs_of[dst].append(src)
        self.input_names = [n for n in self.order if isinstance(graph.nodes[n], nir.Input)]
        self.output_names = [n for n in self.order if isinstance(graph.nodes[n], nir.Output)]
        if len(self.input_names) != 1:
            raise InputError(where, f"the float interpreter needs exactly one Input node, found {self.input_names}")
        if not self.output_names:
            raise InputError(where, "the graph has no Output node")
        self.nodes = nn.ModuleDict()
        self._key = {}
        for i, name in enumerate(self.order):
            node = graph.nodes[name]
            if isinstance(node, TIME_CONSTANT_NODES) and self.dt is None:
                raise InputError(where, f"node {name!r} ({type(node).__name__}) needs a time step: the graph has no metadata 'dt', pass dt=")
            mod = build_node(node, dtype, self.dt)
            if mod is None:
                raise InputError(where, f"node {name!r} of type {type(node).__name__} is not supported by the float interpreter (supported: {', '.join(SUPPORTED)})")
            self._key[name] = f"n{i}"  # ModuleDict keys may not contain '.'
            self.nodes[f"n{i}"] = mod
        shape = graph.nodes[self.input_names[0]].input_type["input"]
        self.input_shape = None if shape is None else tuple(int(s) for s in np.asarray(shape).reshape(-1))

    def module(self, name: str) -> nn.Module:
        return self.nodes[self._key[name]]

    def forward(self, x: torch.Tensor, record: Iterable[str] | bool = ()):
        """Run ``x[B, T, *input_shape]``; returns ``y[B, T, ...]`` (the single Output; a dict
        name → tensor when the graph has several Outputs). With ``record`` (node names, or
        ``True`` for all), returns ``(y, {name: [B, T, ...]})``."""
        if x.dim() < 2:
            raise InputError(self.where, f"input must be [B, T, *shape], got shape {tuple(x.shape)}")
        if self.input_shape is not None and len(self.input_shape) and tuple(x.shape[2:]) != self.input_shape:
            # NIR shapes of 1-element inputs are sometimes stored as (1,) for scalars
            if int(np.prod(x.shape[2:])) != int(np.prod(self.input_shape)):
                raise InputError(self.where, f"input shape {tuple(x.shape[2:])} does not match the graph's Input shape {self.input_shape}")
            x = x.reshape(*x.shape[:2], *self.input_shape)
        rec = set(self.order) if record is True else set(record or ())
        unknown = rec - set(self.order)
        if unknown:
            raise InputError(self.where, f"cannot record unknown nodes {sorted(unknown)}")
        seq = x.transpose(0, 1)  # [T, B, ...]
        values: dict[str, torch.Tensor] = {}
        consumers = defaultdict(int)
        for src, _dst in self.graph.edges:
            consumers[src] += 1
        recorded = {}
        for name in self.order:
            srcs = self.inputs_of.get(name, [])
            if name in self.input_names:
                inp = seq
            elif not srcs:
                raise InputError(self.where, f"node {name!r} has no incoming edge")
            else:
                inp = values[srcs[0]]
                for s in srcs[1:]:
                    inp = inp + values[s]
            out = self.nodes[self._key[name]](inp)
            values[name] = out
            if name in rec:
                recorded[name] = out.transpose(0, 1)
            for s in srcs:  # free intermediate sequences as soon as their consumers ran
                consumers[s] -= 1
                if consumers[s] == 0 and s not in self.output_names:
                    values.pop(s, None)
        outs = {n: values[n].transpose(0, 1) for n in self.output_names}
        y = outs[self.output_names[0]] if len(outs) == 1 else outs
        return (y, recorded) if (record is True or record) else y


def run_nir(graph: nir.NIRGraph | str | os.PathLike, x: torch.Tensor | np.ndarray, dt: float | None = None,
            dtype: torch.dtype = torch.float32, device: str | torch.device | None = None,
            record: Sequence[str] | bool = ()):
    """Simulate ``graph`` on ``x[B, T, *input_shape]``; returns ``[B, T, ...]`` (see
    :class:`NIRFloatModel`). ``device`` defaults to ``x``'s device."""
    x = torch.as_tensor(x)
    device = x.device if device is None else torch.device(device)
    model = NIRFloatModel(graph, dt=dt, dtype=dtype).to(device)
    with torch.no_grad():
        return model(x.to(device=device, dtype=dtype), record=record)
