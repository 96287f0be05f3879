r"""NIR export profiles: the same network written so that a given importer runs the file *as written*.

``ckd-export --to nir --nir-profile spec|snntorch|norse`` (default ``spec``). Every profile is the
same discrete-time network; a profile only changes how it is *spelled* in NIR so that one
importer's fixed conventions (read from the installed sources, cited below) give the right numbers.
``spec`` is the graph of :mod:`ckd_toolchain.export.nir_from_student` unchanged (and its file
byte-identical to what ``ckd-export`` wrote before profiles existed; it carries no ``nir_profile``
metadata key); the other profiles are rewrites of it by :func:`profile_graph`, which records
``nir_profile`` and the profile's ``dt`` in ``graph.metadata``.

===========  ======================================================================================
profile      what changes (and why)
===========  ======================================================================================
``spec``     nothing: LIF ``dt = 1``, ``tau = 1/(1-beta)``, ``r = tau/dt``; ``AvgPool2d``;
             ``Flatten(start_dim=0)`` over NIR's unbatched ``(C, H, W)``.
``snntorch`` ``dt = 1e-4``: ``snntorch/import_nir.py`` (snnTorch 1.0.0) hard-codes ``dt = 1e-4`` and
             maps LIF to ``Leaky(beta = 1 - dt/tau)`` with the input gain ``r dt/tau`` (which must be
             1; it is: ``r = tau/dt``). ``tau`` is rescaled to ``dt/(1-beta)`` (stored in float64
             so that ``dt/tau`` is exactly ``1 - beta`` for ``beta = 0.5``). ``Flatten`` dims are
             counted from the end (``start_dim = -3``): snnTorch and nirtorch map NIR ``Flatten`` to
             ``torch.nn.Flatten(start_dim, end_dim)`` on *batched* tensors, so ``start_dim = 0``
             would flatten the batch; a negative dim means the same axis with and without a batch.
``norse``    ``dt = 1e-3`` (``norse.torch.from_nir``'s default ``dt``, norse 1.1.0
             ``norse/torch/utils/import_nir.py``), ``tau`` rescaled as above. Norse ignores LIF's
             ``r`` (it warns "expected r = 1"), so ``r`` is multiplied into the weights and bias of
             every node feeding the LIF (an identity edge, e.g. a residual shortcut, gets a 1x1
             ``Conv2d`` with weight ``r·I``) and set to 1. Norse has no ``AvgPool2d`` nor ``Scale``
             mapping (a ``KeyError``), only ``SumPool2d`` (as ``LPPool2d(norm_type=1)``, no
             padding): the pool becomes a ``SumPool2d`` and its ``1/(kH·kW)`` is multiplied into
             the weights (not the bias) of the synaptic layer(s) it feeds, through ``Flatten``.
             ``Flatten`` as for snnTorch. Graphs with fan-in (ResNet) are refused:
             ``from_nir`` runs nirtorch's legacy ``GraphExecutor``, which evaluates the residual
             LIF before one of its inputs (see :data:`ckd_toolchain.export.verify.NORSE_FROM_NIR_FAN_IN`).
===========  ======================================================================================

Why the rewrites are exact: the forward-Euler LIF step is ``v ← (1 - dt/tau) v + (dt r/tau) I``
(:mod:`ckd_toolchain.export.lif_to_nir`), so scaling ``tau`` and ``dt`` together changes nothing; a
LIF driven by ``r·(W x + b)`` with ``r = 1`` is the one driven by ``W x + b`` with gain ``r``;
``W (s·x) = (s W) x`` for the pool's ``s = 1/(kH·kW)`` (zero padding stays zero); and
``Flatten(-3, -1)`` of ``(C, H, W)`` is ``Flatten(0, -1)``. Scaling by ``r = 2`` and ``s = 1/4`` is
exact in binary floating point, so only the importer's own arithmetic order differs from ours.
"""
from __future__ import annotations

import copy
import json
import os

import nir
import numpy as np

from ckd_toolchain.errors import InputError
from ckd_toolchain.nir_graph import graph_dt, topological_order

PROFILES = ("spec", "snntorch", "norse")
PROFILE_DT = {"spec": 1.0, "snntorch": 1e-4, "norse": 1e-3}
PROFILE_KEY = "nir_profile"
SYNAPSES = (nir.Conv2d, nir.Affine, nir.Linear)

DESCRIPTION = {
    "spec": "the NIR spec graph (dt 1, AvgPool2d, Flatten over unbatched dims)",
    "snntorch": "dt 1e-4 (snnTorch's import_from_nir), Flatten dims counted from the end",
    "norse": "dt 1e-3 (norse.torch.from_nir's default), r folded into the weights, AvgPool2d as "
             "SumPool2d with 1/(kH*kW) folded into the next layer, Flatten dims counted from the end",
}


def graph_profile(graph: nir.NIRGraph) -> str:
    """The profile a graph was written with (``"spec"`` when the metadata has no ``nir_profile``)."""
    v = (getattr(graph, "metadata", None) or {}).get(PROFILE_KEY, "spec")
    if isinstance(v, np.ndarray):  # nir.read gives 0-d arrays for scalars
        v = v.item()
    return (v.decode() if isinstance(v, bytes) else str(v)) or "spec"


def _copy(graph: nir.NIRGraph) -> tuple[dict, list, dict]:
    return ({k: copy.deepcopy(v) for k, v in graph.nodes.items()}, list(graph.edges),
            dict(getattr(graph, "metadata", None) or {}))


def _rescale_tau(nodes: dict, ratio: float) -> None:
    for node in nodes.values():
        if isinstance(node, nir.LIF):
            node.tau = np.asarray(node.tau, dtype=np.float64) * ratio
        elif isinstance(node, nir.CubaLIF):
            node.tau_mem = np.asarray(node.tau_mem, dtype=np.float64) * ratio
            node.tau_syn = np.asarray(node.tau_syn, dtype=np.float64) * ratio


def _flatten_from_end(nodes: dict) -> None:
    for name, node in list(nodes.items()):
        if not isinstance(node, nir.Flatten):
            continue
        shape = node.input_type.get("input")
        if shape is None:
            continue
        nd = len(np.asarray(shape).reshape(-1))
        s, e = int(node.start_dim), int(node.end_dim)
        nodes[name] = nir.Flatten(input_type=node.input_type, start_dim=s - nd if s >= 0 else s,
                                  end_dim=e - nd if e >= 0 else e)


def _consumers(edges: list, name: str) -> list[str]:
    return [d for s, d in edges if s == name]


def _scale_synapses_after(nodes: dict, edges: list, name: str, s: float, where) -> None:
    """Multiply ``s`` into the weights of every synaptic layer reached from ``name`` (through Flatten)."""
    for dst in _consumers(edges, name):
        node = nodes[dst]
        if isinstance(node, nir.Flatten):
            _scale_synapses_after(nodes, edges, dst, s, where)
        elif isinstance(node, SYNAPSES):
            node.weight = (np.asarray(node.weight, dtype=np.float64) * s).astype(np.asarray(node.weight).dtype)
        else:
            raise InputError(where, f"--nir-profile norse: the pool before node {dst!r} ({type(node).__name__}) "
                                    "cannot be written for Norse (its 1/(kH*kW) must go into a Conv2d/Affine after it)")


def _avgpool_to_sumpool(nodes: dict, edges: list, where) -> None:
    for name, node in list(nodes.items()):
        if not isinstance(node, nir.AvgPool2d):
            continue
        k = np.asarray(node.kernel_size).reshape(-1)
        if np.any(np.asarray(node.padding) != 0):
            raise InputError(where, f"--nir-profile norse: node {name!r} pads; Norse's SumPool2d has no padding")
        _scale_synapses_after(nodes, edges, name, 1.0 / float(np.prod(k[:2] if k.size > 1 else [k[0], k[0]])), where)
        nodes[name] = nir.SumPool2d(kernel_size=node.kernel_size, stride=node.stride, padding=node.padding)


def _fold_r(nodes: dict, edges: list, where) -> list:
    """``r`` of every LIF into the layers feeding it (module docstring); returns the new edge list."""
    for name, node in list(nodes.items()):
        if not isinstance(node, nir.LIF) or np.allclose(node.r, 1.0):
            continue
        r = np.asarray(node.r, dtype=np.float64)
        per_ch = r.reshape(r.shape[0], -1)
        if r.ndim not in (1, 3) or not np.allclose(per_ch, per_ch[:, :1]):
            raise InputError(where, f"--nir-profile norse: node {name!r}: r is not one value per channel; cannot fold it")
        rc = per_ch[:, 0]
        for src in [s for s, d in edges if d == name]:
            pre = nodes[src]
            if isinstance(pre, SYNAPSES) and len(_consumers(edges, src)) == 1:
                dt = np.asarray(pre.weight).dtype
                pre.weight = (np.asarray(pre.weight, np.float64) * rc.reshape((-1,) + (1,) * (pre.weight.ndim - 1))).astype(dt)
                if getattr(pre, "bias", None) is not None:
                    pre.bias = (np.asarray(pre.bias, np.float64) * rc).astype(np.asarray(pre.bias).dtype)
                continue
            scale = f"{src}__x_r__{name}"
            if r.ndim == 3:  # an identity edge: a 1x1 convolution with weight r·I
                w = np.zeros((rc.size, rc.size, 1, 1), np.float32)
                w[np.arange(rc.size), np.arange(rc.size), 0, 0] = rc
                nodes[scale] = nir.Conv2d(input_shape=tuple(int(v) for v in r.shape[1:]), weight=w, stride=1, padding=0,
                                          dilation=1, groups=1, bias=np.zeros(rc.size, np.float32))
            else:
                nodes[scale] = nir.Affine(weight=np.diag(rc).astype(np.float32), bias=np.zeros(rc.size, np.float32))
            edges = [e for e in edges if e != (src, name)] + [(src, scale), (scale, name)]
        node.r = np.ones_like(np.asarray(node.r))
    return edges


def has_fan_in(graph: nir.NIRGraph) -> bool:
    dst = [d for _, d in graph.edges]
    return len(dst) != len(set(dst))


def profile_graph(graph: nir.NIRGraph, profile: str, where: str | os.PathLike | None = None,
                  allow_fan_in: bool = False) -> nir.NIRGraph:
    """``graph`` (any profile: its ``dt`` is read from the metadata) rewritten for ``profile``.

    ``allow_fan_in`` lets the ``norse`` rewrite through for residual graphs (for running Norse's
    node modules with ``nirtorch.nir_to_torch``, not ``from_nir``)."""
    if profile not in PROFILES:
        raise InputError(where, f"unknown NIR profile {profile!r} (choose from {', '.join(PROFILES)})")
    src = graph_profile(graph)
    if profile == src:
        return graph
    if profile == "spec":
        raise InputError(where, f"cannot rewrite a --nir-profile {src} graph as spec (export the checkpoint again)")
    dt = graph_dt(graph)
    if dt is None:
        raise InputError(where, "the graph has no metadata 'dt'; cannot rescale its time constants")
    if profile == "norse" and has_fan_in(graph) and not allow_fan_in:
        raise InputError(where, "--nir-profile norse: the graph has fan-in (a residual network); norse.torch.from_nir's "
                                "executor runs a node with two inputs before one of them, so the file cannot run there "
                                "as written. Export --nir-profile spec and load it with nirtorch.nir_to_torch and "
                                "Norse's node mapping (see README, 'Known importer issues')")
    nodes, edges, meta = _copy(graph)
    _rescale_tau(nodes, PROFILE_DT[profile] / dt)
    _flatten_from_end(nodes)
    if profile == "norse":
        _avgpool_to_sumpool(nodes, edges, where)
        edges = _fold_r(nodes, edges, where)
    meta["dt"] = PROFILE_DT[profile]
    meta[PROFILE_KEY] = profile
    if "node_order" in meta:  # the rewrite may add nodes (r on an identity edge)
        meta["node_order"] = json.dumps(topological_order(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), where))
    try:
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=True)
    except (ValueError, AssertionError) as exc:  # a bug in this rewrite, not in the user's input
        raise RuntimeError(f"the --nir-profile {profile} graph fails nir type checking: {exc}") from exc
