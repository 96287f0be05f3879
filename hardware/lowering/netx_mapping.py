"""``hardware.lowering.netx_mapping`` (the ARCHITECTURE.md entry point): NIR graph → lava-dl netx ``.net``.

``nir_to_netx(graph_or_path, out_path, pool_mode="thermometer", dt=None, num_steps=None, where=None)``
maps the graph (:func:`ckd_toolchain.hardware.lowering.nir_to_loihi.map_graph`), writes the file
(:func:`write_mapped`) and returns the :class:`~ckd_toolchain.hardware.lowering.loihi_layer.MappedNetwork`
(layers with their quantisation).
``where`` names the file a graph object was read from (errors, and the ``.net``'s ``source``
attribute); for a path it is the path itself.

``write_mapped(net, path, num_steps=None, source="", input_neuron=True)`` writes an already mapped
network: :meth:`MappedNetwork.to_netx` (the file's model, with the pass-through input neuron and
the provenance attributes) written by :func:`ckd_toolchain.netx.write_netx`. The format and the
timing scheme it enables (``T + L`` steps, ``reset_interval = T + L``) are in
``ckd_toolchain/netx/README.md``.
"""
from __future__ import annotations

import os

import nir

from ckd_toolchain.hardware.lowering.loihi_layer import MappedNetwork
from ckd_toolchain.hardware.lowering.nir_to_loihi import map_graph
from ckd_toolchain.netx import write_netx


def write_mapped(net: MappedNetwork, path: str | os.PathLike, num_steps: int | None = None,
                 source: str = "", input_neuron: bool = True) -> str:
    """Write ``net`` to ``path`` atomically as a netx ``.net``; returns the path.

    ``input_neuron=True`` gives layer 0 a pass-through neuron, which is what lets
    ``reset_interval`` align every layer's reset with the arrival of its first input."""
    return write_netx(net.to_netx(source=source, input_neuron=input_neuron), path, num_steps=num_steps)


def nir_to_netx(graph_or_path: nir.NIRGraph | str | os.PathLike, out_path: str | os.PathLike,
                pool_mode: str = "thermometer", dt: float | None = None,
                num_steps: int | None = None, where: str | os.PathLike | None = None) -> MappedNetwork:
    if not isinstance(graph_or_path, nir.NIRGraph):
        from ckd_toolchain.nir_graph import load_graph
        where = graph_or_path
        graph_or_path = load_graph(graph_or_path)
    net = map_graph(graph_or_path, pool_mode=pool_mode, dt=dt, where=where)
    write_mapped(net, out_path, num_steps=num_steps, source=os.fspath(where) if where else "")
    return net
