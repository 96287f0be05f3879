"""``hardware.netx_mapping`` (the ARCHITECTURE.md entry point): NIR graph → lava-dl netx ``.net``.

``nir_to_netx(graph_or_path, out_path, pool_mode="thermometer", dt=None, num_steps=None, where=None)`` maps the graph
(:func:`ckd_toolchain.hardware.nir_to_loihi.map_graph`), writes the file (:func:`ckd_toolchain.hardware.netx_writer.write_netx`)
and returns the :class:`~ckd_toolchain.hardware.nir_to_loihi.MappedNetwork` (layers with their quantisation).
``where`` names the file a graph object was read from (errors, and the ``.net``'s ``source``
attribute); for a path it is the path itself.
"""
from __future__ import annotations

import os

import nir

from ckd_toolchain.hardware.netx_writer import write_netx
from ckd_toolchain.hardware.nir_to_loihi import MappedNetwork, map_graph


def nir_to_netx(graph_or_path: nir.NIRGraph | str | os.PathLike, out_path: str | os.PathLike,
                pool_mode: str = "thermometer", dt: float | None = None,
                num_steps: int | None = None, where: str | os.PathLike | None = None) -> MappedNetwork:
    if not isinstance(graph_or_path, nir.NIRGraph):
        from ckd_toolchain.nir_graph import load_graph
        where = graph_or_path
        graph_or_path = load_graph(graph_or_path)
    net = map_graph(graph_or_path, pool_mode=pool_mode, dt=dt, where=where)
    write_netx(net, out_path, num_steps=num_steps, source=os.fspath(where) if where else "")
    return net
