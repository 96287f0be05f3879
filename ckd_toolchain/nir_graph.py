"""Reading a NIR graph and walking it: the one graph representation every stage uses.

* :func:`load_graph` -- ``nir.read`` with a fallback for older writers, one-line errors.
* :func:`topological_order` -- the evaluation order of a NIR DAG (Kahn's algorithm, ties broken by
  the order nodes appear in the graph). The float interpreter (:mod:`ckd_toolchain.simulators.nir_float`) and the
  Loihi mapper (:mod:`ckd_toolchain.hardware.lowering.nir_to_loihi`) walk graphs in this order; a chain is a special case.
* :func:`graph_dt` -- the ``dt`` a graph declares in its metadata (NIR 1.0 has no global ``dt``).
"""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import nir
import numpy as np

from ckd_toolchain.errors import InputError


def load_graph(path: str | os.PathLike) -> nir.NIRGraph:
    """``nir.read`` with ``type_check=True``; graphs from older writers whose stored types do not
    line up (e.g. Rockpool's ``lif_rockpool.nir``: Output shape ``[1,1,1]`` after a 1-neuron LIF)
    are re-read with ``type_check=False``. Unreadable files raise ``InputError``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such NIR file")
    try:
        graph = nir.read(path, type_check=True)
    except (ValueError, AssertionError, NotImplementedError, KeyError, TypeError):
        graph = None  # types don't line up: the structure may still be fine
    except OSError as exc:
        raise InputError(path, f"not a readable NIR (HDF5) file: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - h5py on a structurally corrupt file (RuntimeError, ...)
        raise InputError(path, f"corrupt NIR (HDF5) file: {_describe(exc)}") from None
    if graph is None:
        try:
            graph = nir.read(path, type_check=False)
        except Exception as exc:  # noqa: BLE001 - any failure here means a malformed file
            raise InputError(path, f"malformed NIR graph: {_describe(exc)}") from None
    check_graph_values(graph, path)
    return graph


#: largest magnitude a NIR parameter may have: float32 state driven by larger weights overflows
#: within a few steps, and no trained network has such values (a bit flip in an exponent does)
MAX_ABS_PARAM = 1e9


def check_graph_values(graph: nir.NIRGraph, where) -> None:
    """Every numeric parameter of every node is finite and of magnitude <= :data:`MAX_ABS_PARAM`
    (nested sub-graphs included); raises ``InputError`` naming the node and the parameter."""
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            check_graph_values(node, where)
            continue
        for key, value in vars(node).items():
            if key in ("input_type", "output_type", "metadata") or isinstance(value, (str, bool)) or value is None:
                continue
            try:
                arr = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                continue
            if arr.size and not np.all(np.isfinite(arr)):
                raise InputError(where, f"node {name!r}: parameter '{key}' holds NaN/Inf")
            if arr.size and np.max(np.abs(arr)) > MAX_ABS_PARAM:
                raise InputError(where, f"node {name!r}: parameter '{key}' has a value of magnitude "
                                        f"{np.max(np.abs(arr)):.3g} > {MAX_ABS_PARAM:g} (corrupt?)")


def _describe(exc: BaseException) -> str:
    """``Type: message`` on one line; an empty message (a bare ``assert``) says where it was raised."""
    msg = " ".join(str(exc).split())
    if not msg:
        import traceback

        tb = traceback.extract_tb(exc.__traceback__)
        msg = f"failed check in {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "no message"
    return f"{type(exc).__name__}: {msg[:200]}"


def topological_order(graph: nir.NIRGraph, where: str | None = None) -> list[str]:
    """Node names in an evaluation order (Kahn's algorithm, ties in the graph's node order).

    Raises ``InputError`` for edges naming missing nodes and for cycles (recurrent graphs)."""
    names = list(graph.nodes)
    index = {n: i for i, n in enumerate(names)}
    indeg = {n: 0 for n in names}
    succ: dict[str, list[str]] = defaultdict(list)
    for src, dst in graph.edges:
        for end in (src, dst):
            if end not in index:
                raise InputError(where, f"edge ({src!r}, {dst!r}) names a node {end!r} that is not in the graph")
        succ[src].append(dst)
        indeg[dst] += 1
    ready = sorted((n for n in names if indeg[n] == 0), key=index.get)
    order: list[str] = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for m in succ[n]:
            indeg[m] -= 1
            if indeg[m] == 0:
                ready.append(m)
                ready.sort(key=index.get)
    if len(order) != len(names):
        cyc = sorted(set(names) - set(order), key=index.get)
        raise InputError(where, f"the graph has a cycle through {cyc} (recurrent graphs are not supported by the float interpreter nor the Loihi mapper)")
    return order


def graph_dt(graph: nir.NIRGraph) -> float | None:
    meta = getattr(graph, "metadata", None) or {}
    if "dt" in meta:
        return float(np.asarray(meta["dt"]).reshape(-1)[0])
    return None
