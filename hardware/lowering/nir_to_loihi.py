"""NIR graph → list of Loihi 2 fixed-point netx layers (:class:`ckd_toolchain.hardware.lowering.loihi_layer.LoihiLayer`).

The graph is walked as a DAG in the float interpreter's evaluation order
(:func:`graph_walk`, :func:`ckd_toolchain.nir_graph.topological_order`), each node reading the
output shape of its predecessor. Accepted graphs: one chain ``Input → … → Output`` (netx networks
are sequential; a chain is the special case of a DAG the walk accepts today) built of

* synapses: ``Conv2d`` (stride, padding, dilation, groups, bias), ``Affine``, ``Linear``;
* neurons after each synapse: ``LIF``, ``IF``, ``CubaLIF`` (forward Euler with ``dt``, the
  semantics of :mod:`ckd_toolchain.simulators.nir_nodes`); the LAST synapse may have no neuron: it becomes the
  non-spiking read-out layer;
* between a neuron and the next synapse: ``AvgPool2d`` / ``SumPool2d`` (see
  :mod:`ckd_toolchain.hardware.lowering.pool_as_conv` for ``pool_mode`` "conv" | "thermometer" | "fold"), ``Scale``,
  ``Flatten``. In "thermometer" mode the pool layer has ``n = kh·kw`` output channels per input
  channel and the next synapse's input channels are expanded ×n (weights / n, replicated) while
  the NIR-side shapes stay those of the graph.

Neuron → CUBA-LIF (Lava ``PyLifModelBitAcc``; float Euler step ``v ← a v + g I + c``)::

    LIF:      a = 1 - dt/τ,  g = dt·r/τ                       iDecay = 2^12 (u = input of the step)
    IF:       a = 1,         g = dt·r                         vDecay = round(2^12·(1 - a))
    CubaLIF:  u = g_m·I with I ← a_s I + (dt/τ_s) w_in x:     iDecay = round(2^12·dt/τ_s),
              weights × g_m·(dt/τ_s)·w_in,  a = 1 - dt/τ_m,   g_m = dt·r/τ_m

The gain ``g`` and a per-channel threshold θ are folded into the synapse rows (``W ← W·g/θ``,
``b ← b·g/θ``, θ → 1; when θ is uniform only ``g`` is folded and θ kept). Netx has ONE ``vThMant``,
``iDecay`` and ``vDecay`` per layer, so what cannot be expressed raises
:class:`ckd_toolchain.errors.InputError` naming the node: ``v_leak ≠ 0`` (Loihi's leak decays towards 0;
netx has no rest potential), ``v_reset ≠ 0`` (Loihi resets to 0), leak/threshold/gain varying per
neuron where they cannot be folded (across space in a conv, or any leak variation), a bias before a
CubaLIF (it would enter I, Loihi's bias enters v), branches/residual sums, two synapses without a
neuron between them, nodes of other types.
"""
from __future__ import annotations

import os

import nir
import numpy as np

from ckd_toolchain.errors import InputError
from ckd_toolchain.geometry import conv_output_hw, pair
from ckd_toolchain.loihi2.constants import DECAY_UNITY, STATE_SHIFT, UV_MAX
from ckd_toolchain.loihi2.quantization import decay_from_beta, quantize_synapse, beta_from_decay
from ckd_toolchain.hardware.lowering.loihi_layer import LoihiLayer, MappedNetwork
from ckd_toolchain.hardware.lowering import pool_as_conv as pac
from ckd_toolchain.netx.model import LayerSpec, NeuronSpec
from ckd_toolchain.nir_graph import topological_order

POOL_MODES = ("conv", "thermometer", "fold")
NEURON_TYPES = (nir.LIF, nir.IF, nir.CubaLIF)
SYNAPSE_TYPES = (nir.Conv2d, nir.Affine, nir.Linear)
PASS_TYPES = (nir.AvgPool2d, nir.SumPool2d, nir.Scale, nir.Flatten)


def graph_walk(graph: nir.NIRGraph, where=None) -> tuple[list[str], dict[str, list[str]]]:
    """The NIR graph as a DAG: node names in evaluation order (:func:`ckd_toolchain.nir_graph.topological_order`,
    the float interpreter's order) and each node's predecessors, starting at the one Input node.

    The mapper's restrictions are checked here, node by node in that order (one-line
    ``InputError`` naming the node): one Input; no node with several inputs (a residual sum) or
    several outputs (a branch); every node on the way from the Input to an Output.
    netx networks are sequential, so what passes is a chain: the walk is then the chain's order."""
    order = topological_order(graph, where)   # unknown nodes in edges, cycles
    nodes = graph.nodes
    pred: dict[str, list[str]] = {n: [] for n in nodes}
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for src, dst in graph.edges:
        succ[src].append(dst)
        pred[dst].append(src)
    inputs = [n for n, node in nodes.items() if isinstance(node, nir.Input)]
    if len(inputs) != 1:
        raise InputError(where, f"the mapper needs exactly one Input node, found {len(inputs)}")
    reached = {inputs[0]}
    for name in order:
        node = nodes[name]
        if name not in reached:
            continue
        if len(pred[name]) > 1:
            raise InputError(where, f"node {name!r} ({type(node).__name__}) has {len(pred[name])} incoming edges: "
                                    "branches/residual sums cannot be mapped (netx layers form a single chain)")
        if isinstance(node, nir.Output):
            continue   # what follows an Output is not reached: reported below
        if len(succ[name]) != 1:
            raise InputError(where, f"node {name!r} ({type(node).__name__}) has {len(succ[name])} outgoing edges: "
                                    "netx layers form a single chain from Input to Output")
        reached.update(succ[name])
    extra = [n for n in order if n not in reached]
    if extra:
        raise InputError(where, f"nodes {sorted(extra)} are not on the Input→Output chain")
    return order, pred


def _branches(graph: nir.NIRGraph) -> bool:
    """True when some node has several incoming or outgoing edges (not a chain)."""
    ins: dict[str, int] = {}
    outs: dict[str, int] = {}
    for src, dst in graph.edges:
        outs[src] = outs.get(src, 0) + 1
        ins[dst] = ins.get(dst, 0) + 1
    return any(v > 1 for v in ins.values()) or any(v > 1 for v in outs.values())


def _input_shape(graph: nir.NIRGraph, name: str, where) -> tuple[int, ...]:
    meta = getattr(graph, "metadata", None) or {}
    if "input_shape" in meta:
        shp = tuple(int(v) for v in np.asarray(meta["input_shape"]).ravel())
    else:
        shp = tuple(int(v) for v in np.asarray(graph.nodes[name].input_type["input"]).ravel())
        while len(shp) > 3 and shp[0] == 1:
            shp = shp[1:]
    if len(shp) not in (1, 3) or min(shp) <= 0:
        raise InputError(where, f"node {name!r}: input shape {shp} is neither (C, H, W) nor (N,)")
    return shp


class _Syn:
    """A float synapse in conv form (O, I/g, kh, kw) or dense form (O, N), being built."""

    def __init__(self, name, kind, weight, bias, in_shape, out_shape, stride=None, padding=None,
                 dilation=None, groups=1):
        self.names = [name]
        self.kind, self.w = kind, np.asarray(weight, dtype=np.float64)
        self.b = None if bias is None else np.asarray(bias, dtype=np.float64).ravel().copy()
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.flatten_before = False
        self.map_form = False    # dense weights held as (O, C, H, W) while folding pools/scales
        self.thermometer = None  # (n, block): reads a thermometer pool (quantization.thermometer_round)
        self.notes: list[str] = []


def _conv_syn(name, node: nir.Conv2d, shape, where) -> _Syn:
    if len(shape) != 3:
        raise InputError(where, f"node {name!r} (Conv2d) needs a (C, H, W) input, got {shape}")
    w = np.asarray(node.weight, dtype=np.float64)
    if w.ndim != 4:
        raise InputError(where, f"node {name!r} (Conv2d): weight must be 4-D (O, I/g, kh, kw), got {w.shape}")
    groups = int(np.asarray(node.groups).ravel()[0]) if node.groups is not None else 1
    k = (w.shape[2], w.shape[3])
    s, d = pair(node.stride), pair(node.dilation)
    if isinstance(node.padding, str):
        if node.padding == "valid":
            p = (0, 0)
        elif node.padding == "same" and all(s_ == 1 for s_ in s) and all((d[i] * (k[i] - 1)) % 2 == 0 for i in range(2)):
            p = tuple(d[i] * (k[i] - 1) // 2 for i in range(2))
        else:
            raise InputError(where, f"node {name!r} (Conv2d): padding {node.padding!r} cannot be expressed as symmetric netx padding")
    else:
        p = pair(node.padding)
    if shape[0] != w.shape[1] * groups or w.shape[0] % groups:
        raise InputError(where, f"node {name!r} (Conv2d): weight {w.shape} with groups={groups} does not fit "
                                f"{shape[0]} input channels")
    out_hw = conv_output_hw(shape[1:], k, s, p, d)
    if min(out_hw) <= 0:
        raise InputError(where, f"node {name!r} (Conv2d): output would be empty for input {shape}")
    bias = None
    if node.bias is not None and np.size(node.bias):
        bias = np.broadcast_to(np.asarray(node.bias, dtype=np.float64).ravel(), (w.shape[0],))
    return _Syn(name, "conv", w, bias, shape, (w.shape[0], *out_hw), s, p, d, groups)


def _dense_syn(name, node, shape, where) -> _Syn:
    w = np.asarray(node.weight, dtype=np.float64)
    n_in = int(np.prod(shape))
    if w.ndim != 2 or w.shape[1] != n_in or len(shape) != 1:
        raise InputError(where, f"node {name!r} ({type(node).__name__}): weight {w.shape} does not fit its input of shape "
                                f"{shape} (a (C, H, W) map must go through a Flatten node first)")
    bias = None
    if isinstance(node, nir.Affine) and node.bias is not None and np.size(node.bias):
        bias = np.broadcast_to(np.asarray(node.bias, dtype=np.float64).ravel(), (w.shape[0],))
    return _Syn(name, "dense", w, bias, shape, (w.shape[0],))


def _apply_pending(syn: _Syn, pending: list, where) -> None:
    """Fold Scale / Flatten / (fold-mode) pool ops, nearest first, into the synapse after them."""
    for op in reversed(pending):
        kind = op[0]
        if kind == "flatten":
            _, name, pre_shape = op
            if len(pre_shape) == 3 and syn.kind == "dense" and not syn.map_form:
                syn.w = syn.w.reshape(syn.w.shape[0], *pre_shape)
                syn.map_form = True
                syn.flatten_before = True
            syn.in_shape = tuple(pre_shape)
            syn.names.insert(0, name)
        elif kind == "scale":
            _, name, scale, shape_at = op
            sc = np.asarray(scale, dtype=np.float64)
            if sc.size > 1 and np.all(sc == sc.ravel()[0]):
                sc = sc.ravel()[:1]
            elif len(shape_at) == 3 and sc.size == int(np.prod(shape_at)):
                per = sc.reshape(shape_at[0], -1)
                if np.all(per == per[:, :1]):
                    sc = per[:, 0]
            if sc.size == 1:
                syn.w = syn.w * float(sc.ravel()[0])
            elif syn.kind == "dense" and not syn.map_form and sc.size == syn.w.shape[1]:
                syn.w = syn.w * sc.ravel()[None, :]
            elif syn.map_form and sc.size in (syn.w.shape[1], int(np.prod(syn.w.shape[1:]))):
                syn.w = syn.w * (sc.reshape(1, -1, 1, 1) if sc.size == syn.w.shape[1] else sc.reshape(1, *syn.w.shape[1:]))
            elif syn.kind == "conv" and syn.groups == 1 and sc.size == syn.w.shape[1]:
                syn.w = syn.w * sc.reshape(1, -1, 1, 1)
            else:
                raise InputError(where, f"node {name!r} (Scale): a scale of shape {sc.shape} cannot be folded into "
                                        f"{syn.names[-1]!r} (only scalar or per-channel scales)")
            syn.names.insert(0, name)
        elif kind == "thermo":
            _, name, n, factor, logical_shape, expanded_shape = op
            if syn.map_form or syn.kind == "conv":
                syn.w = pac.expand_for_thermometer(syn.w, n, factor)
            else:
                raise InputError(where, f"node {name!r}: a thermometer pool must be followed by a convolution "
                                        "or Flatten + Affine/Linear")
            syn.in_shape = tuple(expanded_shape)
            syn.thermometer = (n, int(np.prod(syn.w.shape[2:])))
            syn.notes.append(f"reads the thermometer code of pool {name!r}: input channels x{n}, "
                             f"weights x{factor:g} replicated over each channel's {n} thermometer neurons")
        elif kind == "pool":
            _, name, k, s, p, is_sum, pre_shape, post_shape = op
            if k != s or p != (0, 0):
                raise InputError(where, f"node {name!r}: --pool-mode fold needs kernel = stride and no padding "
                                        f"(got kernel {k}, stride {s}, padding {p}); use --pool-mode conv")
            factor = float(k[0] * k[1]) if is_sum else 1.0
            try:
                if syn.map_form:
                    syn.w = pac.fold_pool_into_dense_map(syn.w, s, pre_shape[1:]) * factor
                elif syn.kind == "conv":
                    syn.w, syn.stride, syn.padding = pac.fold_pool_into_conv(
                        syn.w, syn.stride, syn.padding, syn.dilation, s, post_shape[1:], pre_shape[1:])
                    syn.w = syn.w * factor
                else:
                    raise ValueError("a pool must be followed by a convolution or Flatten + Affine")
            except ValueError as exc:
                raise InputError(where, f"node {name!r}: cannot fold the pool into {syn.names[-1]!r}: {exc}; "
                                        "use --pool-mode conv") from None
            syn.in_shape = tuple(pre_shape)
            syn.names.insert(0, name)
            syn.notes.append(f"pool {name!r} folded into this layer (kernel {syn.w.shape[2:] if syn.kind == 'conv' else 'dense'})")
    pending.clear()
    if syn.map_form:
        syn.w = syn.w.reshape(syn.w.shape[0], -1)
        syn.map_form = False


def _per_channel(arr, out_shape, what: str, name: str, where, node_type: str) -> np.ndarray:
    """Broadcast a neuron parameter to ``out_shape`` and reduce it to one value per channel/neuron."""
    a = np.asarray(arr, dtype=np.float64)
    n = int(np.prod(out_shape))
    if a.size == n:
        full = a.reshape(out_shape)
    elif a.size == 1:
        full = np.full(out_shape, float(a.ravel()[0]))
    elif len(out_shape) == 3 and a.size == out_shape[0]:
        full = np.broadcast_to(a.reshape(-1, 1, 1), out_shape)
    else:
        raise InputError(where, f"node {name!r} ({node_type}): {what} of shape {a.shape} does not fit the layer shape {out_shape}")
    if len(out_shape) == 1:
        return full.copy()
    per = full.reshape(out_shape[0], -1)
    if not np.allclose(per, per[:, :1], rtol=1e-6, atol=0):
        raise InputError(where, f"node {name!r} ({node_type}): {what} varies across the spatial positions of a "
                                "convolution layer; netx shares one kernel per channel and one value per layer")
    return per[:, 0].copy()


def _uniform(vals: np.ndarray, what: str, name: str, where, node_type: str) -> float:
    if not np.allclose(vals, vals.ravel()[0], rtol=1e-6, atol=1e-12):
        raise InputError(where, f"node {name!r} ({node_type}): {what} differs between neurons; netx has one "
                                f"value per layer (per-neuron parameters netx cannot express)")
    return float(vals.ravel()[0])


def neuron_fold(name: str, node, out_shape, dt: float, has_bias: bool, where) -> dict:
    """The CUBA-LIF parameters of a NIR neuron node (rules in the module docstring): ``fold`` (per
    output channel/neuron: the gain and, when θ varies, 1/θ, multiplied into every incoming
    synapse row and the bias), ``threshold``, ``beta_u``, ``i_decay``, ``a`` (the voltage leak)
    and ``v_decay``. One-line ``InputError`` naming the node for what Loihi cannot express."""
    t = type(node).__name__
    out = out_shape
    if node.v_reset is not None and np.any(np.asarray(node.v_reset) != 0):
        raise InputError(where, f"node {name!r} ({t}): v_reset ≠ 0; Loihi's CUBA-LIF resets v to 0")
    if isinstance(node, (nir.LIF, nir.CubaLIF)) and np.any(np.asarray(node.v_leak) != 0):
        raise InputError(where, f"node {name!r} ({t}): v_leak ≠ 0; Loihi's CUBA-LIF leaks towards 0 and netx "
                                "has no resting-potential parameter")
    theta = _per_channel(node.v_threshold, out, "v_threshold", name, where, t)
    if np.any(theta <= 0):
        raise InputError(where, f"node {name!r} ({t}): v_threshold must be > 0 (vThMant is unsigned)")
    beta_u, i_decay = 0.0, DECAY_UNITY
    if isinstance(node, nir.LIF):
        tau = _per_channel(node.tau, out, "tau", name, where, t)
        r = _per_channel(node.r, out, "r", name, where, t)
        a = _uniform(1.0 - dt / tau, "the leak 1 - dt/tau", name, where, t)
        gain = dt * r / tau
    elif isinstance(node, nir.IF):
        a, gain = 1.0, dt * _per_channel(node.r, out, "r", name, where, t)
    else:  # CubaLIF
        if has_bias:
            raise InputError(where, f"node {name!r} (CubaLIF): the bias of its input synapse would enter the "
                                    "synaptic current I, but Loihi's bias is added to v; not mappable")
        tau_s = _per_channel(node.tau_syn, out, "tau_syn", name, where, t)
        tau_m = _per_channel(node.tau_mem, out, "tau_mem", name, where, t)
        r = _per_channel(node.r, out, "r", name, where, t)
        w_in = _per_channel(node.w_in, out, "w_in", name, where, t)
        beta_u = _uniform(1.0 - dt / tau_s, "the synaptic leak 1 - dt/tau_syn", name, where, t)
        a = _uniform(1.0 - dt / tau_m, "the leak 1 - dt/tau_mem", name, where, t)
        gain = (dt * r / tau_m) * (dt / tau_s) * w_in
        i_decay = decay_from_beta(beta_u)
    if not 0.0 <= a <= 1.0 or not 0.0 <= beta_u <= 1.0:
        raise InputError(where, f"node {name!r} ({t}): leak factor {a:g} outside [0, 1] (dt/tau > 1 or tau < 0)")
    if np.any(gain <= 0):
        raise InputError(where, f"node {name!r} ({t}): input gain (dt·r/tau) must be > 0")
    if np.allclose(theta, theta[0], rtol=1e-6):
        fold, thr = gain, float(theta[0])
    else:
        fold, thr = gain / theta, 1.0
    return {"fold": np.asarray(fold, dtype=np.float64), "threshold": thr, "beta_u": beta_u, "i_decay": i_decay,
            "a": a, "v_decay": decay_from_beta(a)}


def _neuron_layer(syn: _Syn, name: str, node, dt: float, where) -> LoihiLayer:
    nf = neuron_fold(name, node, syn.out_shape, dt, syn.b is not None and np.any(syn.b != 0), where)
    fold, thr, i_decay, v_decay = nf["fold"], nf["threshold"], nf["i_decay"], nf["v_decay"]
    w = syn.w * fold.reshape((-1,) + (1,) * (syn.w.ndim - 1))
    b = None if syn.b is None else syn.b * fold
    q = quantize_synapse(w, b, thr, thermometer=syn.thermometer)
    layer = _make_layer(syn, name, w, b, thr, beta_from_decay(i_decay) if i_decay < DECAY_UNITY else 0.0,
                        beta_from_decay(v_decay), i_decay, v_decay, q)
    if abs(beta_from_decay(v_decay) - nf["a"]) > 1e-12:
        layer.notes.append(f"leak {nf['a']:.6g} rounded to 12-bit vDecay {v_decay} (= {beta_from_decay(v_decay):.6g})")
    return layer


def _make_layer(syn: _Syn, name, w, b, thr, beta_u, beta_v, i_decay, v_decay, q, kind=None) -> LoihiLayer:
    conv = syn.kind == "conv"
    block = LayerSpec(
        file_index=-1, kind=syn.kind, shape=tuple(reversed(syn.out_shape)),
        neuron=NeuronSpec("CUBA", vth=int(q.vth_mant), i_decay=int(i_decay), v_decay=int(v_decay)),
        bias=q.bias, weight=q.weight,
        in_shape=tuple(reversed(syn.in_shape)) if conv else (int(np.prod(syn.in_shape)),),
        flatten_input=syn.flatten_before)
    if conv:
        block.stride, block.padding = tuple(syn.stride), tuple(syn.padding)
        block.dilation, block.groups = tuple(syn.dilation), int(syn.groups)
    layer = LoihiLayer(
        name=name, kind=kind or syn.kind, nir_nodes=syn.names + ([name] if name not in syn.names else []),
        in_shape=syn.in_shape, netx=block, quant=q, weight_float=w, bias_float=b,
        threshold_float=thr, beta_u=beta_u, beta_v=beta_v, notes=list(syn.notes))
    return layer


def _pool_geometry(name, node, shape, where):
    """Kernel, stride, padding, channels and output (H, W) of a pool node on a (C, H, W) input."""
    if len(shape) != 3:
        raise InputError(where, f"node {name!r} ({type(node).__name__}) needs a (C, H, W) input, got {shape}")
    k, s, p = pair(node.kernel_size), pair(node.stride), pair(node.padding)
    out_hw = conv_output_hw(shape[1:], k, s, p)
    if min(out_hw) <= 0:
        raise InputError(where, f"node {name!r}: pooling output would be empty for input {shape}")
    return k, s, p, shape[0], out_hw


def _pool_layer(name, node, shape, where) -> LoihiLayer:
    k, s, p, c, out_hw = _pool_geometry(name, node, shape, where)
    prm = pac.pool_layer_params(k)
    w = pac.pool_conv_weight(c, k)
    syn = _Syn(name, "conv", w, None, shape, (c, *out_hw), s, p, (1, 1), c)
    q = quantize_synapse(w, None, prm["threshold_float"], fixed_scale=prm["scale"])
    layer = _make_layer(syn, name, w, None, prm["threshold_float"], 0.0, 0.0, DECAY_UNITY, DECAY_UNITY, q, kind="pool")
    layer.notes.append("netx has no pool layer: mapped to a grouped strided convolution (groups = C, "
                       "all-ones kernel) + a memoryless neuron that spikes when ≥ half of the window spiked")
    return layer


def _thermometer_pool_layer(name, node, shape, where) -> LoihiLayer:
    """Exact pool-as-conv (module doc of :mod:`ckd_toolchain.hardware.lowering.pool_as_conv`, "thermometer")."""
    k, s, p, c, out_hw = _pool_geometry(name, node, shape, where)
    prm = pac.thermometer_layer_params(c, k)
    n = prm["n"]
    syn = _Syn(name, "conv", prm["weight"], prm["bias"], shape, (c * n, *out_hw), s, p, (1, 1), c)
    q = quantize_synapse(prm["weight"], prm["bias"], prm["threshold_float"], fixed_scale=prm["scale"])
    if q.saturated_biases:
        raise InputError(where, f"node {name!r}: a {k[0]}x{k[1]} window needs thermometer biases down to "
                                f"{2 - 2 * n}, beyond the 13-bit bias mantissa; use --pool-mode conv or fold")
    layer = _make_layer(syn, name, prm["weight"], prm["bias"], prm["threshold_float"], 0.0, 0.0, DECAY_UNITY, DECAY_UNITY, q,
                        kind="pool")
    layer.notes.append(f"netx has no pool layer: mapped to a grouped strided convolution (groups = C) with {n} "
                       f"memoryless neurons per channel and window (thermometer code: neuron j spikes iff >= j of "
                       f"the {n} window inputs spiked; weight 2, bias 2 - 2j, vThMant 1); exact")
    return layer


def map_graph(graph: nir.NIRGraph, pool_mode: str = "thermometer", dt: float | None = None,
              where: str | os.PathLike | None = None) -> MappedNetwork:
    """Map a NIR graph to netx layers (rules in the module docstring); a graph with branches or
    joins goes to :func:`ckd_toolchain.hardware.lowering.dag_lowering.map_dag` (a graph file)."""
    if pool_mode not in POOL_MODES:
        raise InputError(None, f"unknown pool mode {pool_mode!r} (choose from {', '.join(POOL_MODES)})")
    meta = dict(getattr(graph, "metadata", None) or {})
    if dt is None and "dt" in meta:
        dt = float(np.asarray(meta["dt"]).ravel()[0])
    if _branches(graph):   # residual sums / branches: several synapse groups per layer, a graph file
        from ckd_toolchain.hardware.lowering.dag_lowering import map_dag
        return map_dag(graph, pool_mode, dt, where)
    order, pred = graph_walk(graph, where)
    input_shape = _input_shape(graph, order[0], where)
    shapes = {order[0]: input_shape}   # each node's output shape (NIR side), for its successors
    layers: list[LoihiLayer] = []
    pending: list = []
    syn: _Syn | None = None
    notes: list[str] = []
    for name in order[1:]:
        node = graph.nodes[name]
        t = type(node).__name__
        shape = shapes[pred[name][0]]
        if isinstance(node, nir.Output):
            shapes[name] = shape
            continue
        if isinstance(node, SYNAPSE_TYPES):
            if syn is not None:
                raise InputError(where, f"node {name!r} ({t}) follows the synapse {syn.names[-1]!r} without a neuron "
                                        "between them; a netx layer is one synapse + one neuron group")
            syn = _conv_syn(name, node, shape, where) if isinstance(node, nir.Conv2d) else \
                _dense_syn(name, node, shape, where)
            _apply_pending(syn, pending, where)
            shape = syn.out_shape
        elif isinstance(node, NEURON_TYPES):
            if syn is None:
                raise InputError(where, f"node {name!r} ({t}) has no synapse (Conv2d/Affine/Linear) before it; "
                                        "a netx layer is one synapse + one neuron group")
            if dt is None:
                raise InputError(where, f"node {name!r} ({t}) needs a time step: the graph has no metadata 'dt' (pass --dt)")
            layers.append(_neuron_layer(syn, name, node, dt, where))
            syn = None
        elif isinstance(node, PASS_TYPES):
            if syn is not None:
                raise InputError(where, f"node {name!r} ({t}) sits between the synapse {syn.names[-1]!r} and its neuron; "
                                        "netx cannot express it there")
            if isinstance(node, (nir.AvgPool2d, nir.SumPool2d)):
                if pool_mode == "thermometer":
                    if any(op[0] == "thermo" for op in pending):
                        raise InputError(where, f"node {name!r} ({t}): two pools without a synapse between them "
                                                "cannot be mapped with --pool-mode thermometer")
                    layers.append(_thermometer_pool_layer(name, node, shape, where))
                    n = int(np.prod(pair(node.kernel_size)))
                    logical = (shape[0], *layers[-1].out_shape[1:])
                    factor = 1.0 if isinstance(node, nir.SumPool2d) else 1.0 / n
                    pending.append(("thermo", name, n, factor, logical, layers[-1].out_shape))
                    shape = logical
                elif pool_mode == "conv":
                    layers.append(_pool_layer(name, node, shape, where))
                    shape = layers[-1].out_shape
                    if isinstance(node, nir.SumPool2d):
                        k = pair(node.kernel_size)
                        pending.append(("scale", name + ":sum", np.array(float(k[0] * k[1])), shape))
                else:
                    if len(shape) != 3:
                        raise InputError(where, f"node {name!r} ({t}) needs a (C, H, W) input, got {shape}")
                    k, s, p = pair(node.kernel_size), pair(node.stride), pair(node.padding)
                    post = (shape[0], *conv_output_hw(shape[1:], k, s, p))
                    pending.append(("pool", name, k, s, p, isinstance(node, nir.SumPool2d), shape, post))
                    shape = post
            elif isinstance(node, nir.Scale):
                pending.append(("scale", name, node.scale, shape))
            else:
                out_t = (getattr(node, "output_type", None) or {}).get("output")
                dims = [int(v) for v in np.asarray(out_t).ravel()] if out_t is not None else []
                if len([v for v in dims if v > 1]) > 1 and int(np.prod(dims)) == int(np.prod(shape)):
                    raise InputError(where, f"node {name!r} (Flatten): flattens {shape} only to {tuple(dims)}; "
                                            "netx's flatten makes a 1-D vector")
                pending.append(("flatten", name, shape))
                shape = (int(np.prod(shape)),)
        else:
            raise InputError(where, f"node {name!r} of type {t} is not supported by the Loihi mapper (supported: "
                                    "Conv2d, Affine, Linear, LIF, IF, CubaLIF, AvgPool2d, SumPool2d, Scale, Flatten)")
        shapes[name] = shape
    if pending:
        raise InputError(where, f"node {pending[-1][1]!r}: pooling/scale/flatten after the last layer cannot be mapped")
    if syn is not None:   # read-out layer
        q = quantize_synapse(syn.w, syn.b, None, thermometer=syn.thermometer)
        layer = _make_layer(syn, syn.names[-1], syn.w, syn.b, None, 0.0, 0.0, DECAY_UNITY, DECAY_UNITY, q)
        layer.notes.append(f"read-out layer without neuron: non-spiking CUBA (vThMant max, iDecay = vDecay = {DECAY_UNITY}), "
                           "per-step logits read from v")
        fan = np.abs(np.clip(q.weight, 0, None)).reshape(q.weight.shape[0], -1).sum(1)
        worst = float(fan.max() + (0 if q.bias is None else np.abs(q.bias).max()))
        if worst > UV_MAX >> STATE_SHIFT:
            layer.notes.append(f"worst-case per-step |logit| {worst:.0f} units could reach the 24-bit v limit "
                               f"({UV_MAX >> STATE_SHIFT})")
        layers.append(layer)
    if not layers:
        raise InputError(where, "the graph has no synaptic layer to map")
    return MappedNetwork(layers=layers, input_shape=input_shape, dt=float(dt) if dt is not None else float("nan"),
                         pool_mode=pool_mode, metadata=meta, notes=notes)
