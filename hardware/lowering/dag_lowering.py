"""NIR graphs with branches and joins (residual networks) → Loihi 2 layers with several incoming
synapse groups, written as a netx graph file (``ckd_toolchain/netx/README.md``, "Graph files").

Rule: every path between two spiking nodes (the Input, a neuron node ``LIF``/``IF``/``CubaLIF``,
or a pool mapped as its own neuron layer) is linear — ``Conv2d``, ``Affine``, ``Linear``,
``Scale``, ``Flatten``, a pool folded as a depthwise conv, and the sum where edges meet — so the
input of a neuron layer is ``Σ_sources M_source · s_source + b``. Each ``M_source`` becomes one
synapse group (:mod:`ckd_toolchain.linear_maps`: BN, scales, identity and
1x1 junctions folded per edge; two paths from one source with the same geometry add up), ``b``
the layer bias. Neuron parameters are folded into every group's rows exactly as for a chain
(:func:`ckd_toolchain.hardware.lowering.nir_to_loihi.neuron_fold`); all groups into one neuron
layer share ONE scale (:func:`ckd_toolchain.loihi2.quantization.quantize_groups`). This covers the
post-activation ResNet (LIF after the add) and the pre-activation one (a real-valued residual
stream: a neuron then receives from every earlier block of its stage) and graphs from elsewhere.

Timing: every synaptic hop costs one step, so a layer's depth is ``1 + max(depth of its
sources)`` (the input block has depth 0) and a group whose source is shallower by ``lag > 0``
steps is fed through a chain of ``lag`` **relay layers** (depthwise 1x1 conv / identity dense,
weight 2, ``vThMant`` 1, no memory (``iDecay = vDecay`` = unity): a relay neuron spikes at t + 1 iff its
source neuron spiked at t), so that every group delivers the spikes of the same float step —
exact (Lava's ``Conv`` has no delays). The layer's depth is its netx block phase: with
``reset_interval = T + D`` (``D`` the read-out's depth) every block is reset when its first
input arrives, as for chains.

Refused with one line naming the node: cycles, several Input/Output nodes, nodes off the
Input→Output paths, a join of tensors of different shapes, a convolution after a dense op, a
fold that is not exact (a padded convolution after a spatial one), a bias that varies over a
conv layer's positions, node types the chain mapper refuses (see its module docstring).
"""
from __future__ import annotations

import nir
import numpy as np

from ckd_toolchain.errors import InputError
from ckd_toolchain.geometry import conv_output_hw, pair
from ckd_toolchain import linear_maps as lm
from ckd_toolchain.hardware.lowering import pool_as_conv as pac
from ckd_toolchain.hardware.lowering.loihi_layer import LoihiLayer, MappedNetwork, MappedSynapse
from ckd_toolchain.hardware.lowering.nir_to_loihi import (NEURON_TYPES, _conv_syn, _input_shape, _make_layer,
                                                         _pool_layer, _Syn, _thermometer_pool_layer, neuron_fold)
from ckd_toolchain.loihi2.constants import DECAY_UNITY
from ckd_toolchain.loihi2.quantization import beta_from_decay, quantize_groups, quantize_synapse
from ckd_toolchain.nir_graph import topological_order

LINEAR_TYPES = (nir.Conv2d, nir.Affine, nir.Linear, nir.Scale, nir.Flatten, nir.AvgPool2d, nir.SumPool2d)


def _edges(graph):
    pred = {n: [] for n in graph.nodes}
    succ = {n: [] for n in graph.nodes}
    for src, dst in graph.edges:
        succ[src].append(dst)
        pred[dst].append(src)
    return pred, succ


def _reach(starts: list[str], nbrs: dict[str, list[str]]) -> set[str]:
    """Nodes reachable from ``starts`` along ``nbrs`` (successors or predecessors)."""
    seen, stack = set(starts), list(starts)
    while stack:
        for m in nbrs[stack.pop()]:
            if m not in seen:
                seen.add(m)
                stack.append(m)
    return seen


def _check_reach(graph, order, pred, succ, where) -> tuple[str, str]:
    """The one Input and one Output; every node on a path between them."""
    inputs = [n for n in order if isinstance(graph.nodes[n], nir.Input)]
    outputs = [n for n in order if isinstance(graph.nodes[n], nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise InputError(where, f"the mapper needs exactly one Input and one Output node, found "
                                f"{len(inputs)} and {len(outputs)}")
    fwd, back = _reach(inputs, succ), _reach(outputs, pred)
    off = [n for n in order if n not in fwd or n not in back]
    if off:
        raise InputError(where, f"node {off[0]!r} ({type(graph.nodes[off[0]]).__name__}) is not on a path from "
                                "the Input to the Output")
    return inputs[0], outputs[0]


class _Region:
    """Per node: the linear maps from each spiking source to the node's output, and its bias map."""

    def __init__(self):
        self.maps: dict[str, list[lm.LinearMap]] = {}
        self.bias: np.ndarray | None = None

    @classmethod
    def source(cls, name, shape):
        r = cls()
        r.maps[name] = [lm.identity(shape)]
        return r

    def apply(self, fn, bias_fn=None) -> "_Region":
        out = _Region()
        out.maps = {src: [fn(m) for m in ms] for src, ms in self.maps.items()}
        out.bias = bias_fn(self.bias) if bias_fn else self.bias
        return out

    def plus(self, other: "_Region") -> "_Region":
        out = _Region()
        out.maps = {k: list(v) for k, v in self.maps.items()}
        for src, ms in other.maps.items():
            out.maps.setdefault(src, []).extend(ms)
        out.bias = self.bias if other.bias is None else (other.bias if self.bias is None else self.bias + other.bias)
        return out


def _linear_node(name, node, region: _Region, shape, where) -> tuple[_Region, tuple]:
    """Append one linear node to every map of ``region``; returns the new region and shape."""
    t = type(node).__name__
    try:
        if isinstance(node, nir.Conv2d):
            syn = _conv_syn(name, node, shape, where)
            w = lm.full_conv_weight(syn.w, syn.groups)
            out_shape = syn.out_shape
            geo = (syn.stride, syn.padding, syn.dilation)
            return region.apply(lambda m: lm.then_conv(m, w, *geo, out_shape),
                                lambda b: lm.bias_through_conv(b, w, *geo, syn.b, out_shape)), out_shape
        if isinstance(node, (nir.AvgPool2d, nir.SumPool2d)):
            if len(shape) != 3:
                raise InputError(where, f"node {name!r} ({t}) needs a (C, H, W) input, got {shape}")
            k, s, p = pair(node.kernel_size), pair(node.stride), pair(node.padding)
            out_shape = (shape[0], *conv_output_hw(shape[1:], k, s, p))
            w = lm.full_conv_weight(pac.pool_conv_weight(shape[0], k), shape[0])
            if isinstance(node, nir.SumPool2d):
                w = w * float(k[0] * k[1])
            return region.apply(lambda m: lm.then_conv(m, w, s, p, (1, 1), out_shape),
                                lambda b: lm.bias_through_conv(b, w, s, p, (1, 1), None, out_shape)), out_shape
        if isinstance(node, (nir.Affine, nir.Linear)):
            w = np.asarray(node.weight, dtype=np.float64)
            if w.ndim != 2 or w.shape[1] != int(np.prod(shape)) or len(shape) != 1:
                raise InputError(where, f"node {name!r} ({t}): weight {w.shape} does not fit its input of shape "
                                        f"{shape} (a (C, H, W) map must go through a Flatten node first)")
            own = np.asarray(node.bias, dtype=np.float64).ravel() if isinstance(node, nir.Affine) and \
                node.bias is not None and np.size(node.bias) else None

            def bias_fn(b):
                out = None if b is None else w @ b.ravel()
                return own if out is None else (out if own is None else out + own)
            return region.apply(lambda m: lm.then_dense(m, w), bias_fn), (w.shape[0],)
        if isinstance(node, nir.Flatten):
            return region, (int(np.prod(shape)),)
        # Scale: scalar or per channel
        sc = np.asarray(node.scale, dtype=np.float64).ravel()
        per = sc.reshape(shape[0], -1) if len(shape) == 3 and sc.size == int(np.prod(shape)) else None
        if sc.size == 1:
            vec = np.full(shape[0], sc[0])
        elif per is not None and np.all(per == per[:, :1]):
            vec = per[:, 0]
        elif sc.size == shape[0]:
            vec = sc
        else:
            raise InputError(where, f"node {name!r} (Scale): a scale of shape {np.shape(node.scale)} is neither "
                                    "scalar nor per channel")
        bshape = (-1, 1, 1) if len(shape) == 3 else (-1,)
        return region.apply(lambda m: lm.then_scale(m, vec),
                            lambda b: None if b is None else b * vec.reshape(bshape)), shape
    except ValueError as exc:
        raise InputError(where, f"node {name!r} ({t}): {exc}") from None


def _merge(region: _Region) -> list[tuple[str, lm.LinearMap]]:
    """The synapse groups of a neuron layer: per source, maps of the same geometry summed."""
    groups = []
    for src, ms in region.maps.items():
        merged: list[lm.LinearMap] = []
        for m in ms:
            for i, other in enumerate(merged):
                if other.same_geometry(m):
                    merged[i] = lm.add(other, m)
                    break
            else:
                merged.append(m)
        groups.extend((src, m) for m in merged if np.any(m.weight != 0))
    return groups


def _layer_bias(region: _Region, out_shape, name, where) -> np.ndarray | None:
    b = region.bias
    if b is None:
        return None
    if len(out_shape) == 3:
        per = b.reshape(out_shape[0], -1)
        if not np.allclose(per, per[:, :1], rtol=1e-9, atol=1e-12):
            raise InputError(where, f"node {name!r}: its bias varies over the positions of the layer (a bias "
                                    "before a padded convolution); netx holds one bias per channel here")
        return per[:, 0].copy()
    return b.ravel().copy()


class _Builder:
    """The layers of the mapped network while the graph is walked (sources by node name)."""

    def __init__(self, pool_mode, dt, where):
        self.pool_mode, self.dt, self.where = pool_mode, dt, where
        self.layers: list[LoihiLayer] = []
        self.sources: dict[str, list[str]] = {}     # layer name -> source names, own synapse first
        self.depth: dict[str, int] = {}
        self.thermo: dict[str, tuple[int, float]] = {}   # thermometer pool layer -> (n, factor)
        self.shapes: dict[str, tuple] = {}           # a source's neuron shape

    def neuron_layer(self, name, node, region: _Region, out_shape) -> None:
        groups = _merge(region)
        if not groups:
            raise InputError(self.where, f"node {name!r}: no synaptic input reaches it")
        bias = _layer_bias(region, out_shape, name, self.where)
        if node is None:   # read-out
            fold, thr, i_decay, v_decay, a = np.ones(out_shape[0]), None, DECAY_UNITY, DECAY_UNITY, 0.0
        else:
            if self.dt is None:
                raise InputError(self.where, f"node {name!r} ({type(node).__name__}) needs a time step: the graph "
                                             "has no metadata 'dt' (pass --dt)")
            nf = neuron_fold(name, node, out_shape, self.dt, bias is not None and np.any(bias != 0), self.where)
            fold, thr, i_decay, v_decay, a = nf["fold"], nf["threshold"], nf["i_decay"], nf["v_decay"], nf["a"]
        groups.sort(key=lambda g: -self.depth[g[0]])          # the deepest path is the block's own synapse
        ws, therm, forms = [], [], []
        for src, m in groups:
            w, form = self._group_weight(src, m)
            ws.append(w * np.asarray(fold).reshape((-1,) + (1,) * (w.ndim - 1)))
            forms.append(form)
            # a thermometer pool's consumer rounds prefix sums over its n channels per kernel tap
            # (conv) or per pooled position (dense): quantization.thermometer_round's (n, block)
            block = int(np.prod(w.shape[2:] if w.ndim == 4 else self.shapes[src][1:]))
            therm.append((self.thermo[src][0], block) if src in self.thermo else None)
        b = None if bias is None else bias * fold
        q, stored = quantize_groups(ws, b, thr, thermometers=therm)
        syns = []
        for (src, m), w, form, W in zip(groups, ws, forms, stored):
            syns.append(MappedSynapse(-2, form["kind"], self.shapes[src], tuple(out_shape), w, W,
                                      form.get("stride"), form.get("padding"), form.get("dilation"),
                                      form.get("groups", 1), form.get("flatten", False)))
        first = syns[0]
        syn = _Syn(name, first.kind, first.weight_float, b, first.in_shape, out_shape, first.stride,
                   first.padding, first.dilation, first.groups)
        syn.flatten_before = first.flatten_before
        beta_u = beta_from_decay(i_decay) if i_decay < DECAY_UNITY else 0.0
        layer = _make_layer(syn, name, first.weight_float, b, thr, beta_u, beta_from_decay(v_decay), i_decay,
                            v_decay, q)
        layer.netx.weight = stored[0]
        layer.extra = syns[1:]
        if node is None:
            layer.notes.append(f"read-out layer without neuron: non-spiking CUBA (vThMant max, iDecay = vDecay = "
                               f"{DECAY_UNITY}), per-step logits read from v")
        elif abs(beta_from_decay(v_decay) - a) > 1e-12:
            layer.notes.append(f"leak {a:.6g} rounded to 12-bit vDecay {v_decay}")
        if len(groups) > 1:
            layer.notes.append(f"{len(groups)} synapse groups (from {', '.join(s for s, _ in groups)}) on one scale")
        self._add(layer, [s for s, _ in groups], tuple(out_shape))

    def _group_weight(self, src, m: lm.LinearMap):
        """Stored-form weight and geometry of one group (thermometer sources expanded ×n)."""
        if m.kind == "conv":
            w, groups = lm.as_grouped(m)
            if src in self.thermo:
                n, factor = self.thermo[src]
                w = pac.expand_for_thermometer(w, n, factor)
            return w, {"kind": "conv", "stride": m.stride, "padding": m.padding, "dilation": m.dilation,
                       "groups": groups}
        w = m.weight
        if src in self.thermo:
            n, factor = self.thermo[src]
            c = m.in_shape[0]
            w = pac.expand_for_thermometer(w.reshape(w.shape[0], c, -1), n, factor).reshape(w.shape[0], -1)
        return w, {"kind": "dense", "flatten": len(self.shapes[src]) == 3}

    def pool_layer(self, name, node, src, shape) -> tuple:
        """A pool on the spikes of ``src`` as its own neuron layer (thermometer / conv mode)."""
        if self.pool_mode == "thermometer":
            layer = _thermometer_pool_layer(name, node, shape, self.where)
            n = int(np.prod(pair(node.kernel_size)))
            self.thermo[name] = (n, 1.0 if isinstance(node, nir.SumPool2d) else 1.0 / n)
            logical = (shape[0], *layer.out_shape[1:])
        else:
            layer = _pool_layer(name, node, shape, self.where)
            logical = layer.out_shape
        self._add(layer, [src], layer.out_shape)
        if self.pool_mode == "conv" and isinstance(node, nir.SumPool2d):
            k = pair(node.kernel_size)
            return logical, float(k[0] * k[1])
        return logical, 1.0

    def _add(self, layer, sources, shape):
        self.depth[layer.name] = 1 + max(self.depth[s] for s in sources)
        self.sources[layer.name] = sources
        self.shapes[layer.name] = shape
        self.layers.append(layer)


def _relay_layer(name, shape) -> LoihiLayer:
    """Re-emits its source's spikes one step later (module docstring)."""
    if len(shape) == 3:
        w = np.ones((shape[0], 1, 1, 1))
        syn = _Syn(name, "conv", w, None, shape, shape, (1, 1), (0, 0), (1, 1), shape[0])
    else:
        w = np.eye(int(np.prod(shape)))
        syn = _Syn(name, "dense", w, None, shape, shape)
    q = quantize_synapse(w, None, 0.5, fixed_scale=2.0)
    layer = _make_layer(syn, name, w, None, 0.5, 0.0, 0.0, DECAY_UNITY, DECAY_UNITY, q)
    layer.notes.append("relay: spikes one step after its source (weight 2, vThMant 1) to align a shortcut")
    return layer


def _finish(b: _Builder, input_name: str, input_shape, meta, pool_mode, dt) -> MappedNetwork:
    """Insert relays, order the layers by depth, resolve sources to indices."""
    relays: dict[tuple[str, int], str] = {}
    extra_layers = []

    def delayed(src: str, lag: int) -> str:
        if lag <= 0:
            return src
        key = (src, lag)
        if key not in relays:
            prev = delayed(src, lag - 1)
            layer = _relay_layer(f"relay{lag}:{src}", b.shapes[src])
            b.depth[layer.name] = b.depth[prev] + 1
            b.sources[layer.name] = [prev]
            b.shapes[layer.name] = b.shapes[src]
            extra_layers.append(layer)
            relays[key] = layer.name
        return relays[key]

    for layer in list(b.layers):
        d = b.depth[layer.name]
        b.sources[layer.name] = [delayed(s, d - 1 - b.depth[s]) for s in b.sources[layer.name]]
    layers = sorted(b.layers + extra_layers, key=lambda l: b.depth[l.name])
    index = {input_name: -1, **{l.name: i for i, l in enumerate(layers)}}
    for layer in layers:
        srcs = [index[s] for s in b.sources[layer.name]]
        layer.source, layer.depth = srcs[0], b.depth[layer.name]
        for g, s in zip(layer.extra, srcs[1:]):
            g.source = s
    return MappedNetwork(layers=layers, input_shape=input_shape, dt=float(dt) if dt is not None else float("nan"),
                         pool_mode=pool_mode, metadata=meta,
                         notes=[f"graph lowering: {len(extra_layers)} relay layers align the shortcuts"])


def map_dag(graph: nir.NIRGraph, pool_mode: str, dt: float | None, where=None) -> MappedNetwork:
    """Map a NIR graph with branches/joins (rules in the module docstring)."""
    meta = dict(getattr(graph, "metadata", None) or {})
    order = topological_order(graph, where)
    pred, succ = _edges(graph)
    inp, outp = _check_reach(graph, order, pred, succ, where)
    input_shape = _input_shape(graph, inp, where)
    b = _Builder(pool_mode, dt, where)
    b.depth[inp], b.shapes[inp] = 0, tuple(input_shape)
    shapes = {inp: tuple(input_shape)}
    regions = {inp: _Region.source(inp, input_shape)}
    for name in order:
        node = graph.nodes[name]
        if name == inp:
            continue
        ins = pred[name]
        in_shapes = {shapes[p] for p in ins}
        if len(in_shapes) != 1:
            raise InputError(where, f"node {name!r} ({type(node).__name__}) joins inputs of different shapes "
                                    f"{sorted(in_shapes)}")
        shape = in_shapes.pop()
        region = regions[ins[0]]
        for p in ins[1:]:
            region = region.plus(regions[p])
        if isinstance(node, nir.Output):
            if len(ins) == 1 and ins[0] in b.sources:
                break   # the graph ends on a spiking layer: its spikes are the output
            b.neuron_layer(ins[0], None, region, shape)   # the read-out, named after its last synapse node
            break
        if isinstance(node, NEURON_TYPES):
            b.neuron_layer(name, node, region, shape)
            regions[name], shapes[name] = _Region.source(name, shape), shape
        elif isinstance(node, (nir.AvgPool2d, nir.SumPool2d)) and pool_mode != "fold" and len(ins) == 1 \
                and (ins[0] in b.sources or ins[0] == inp) and list(region.maps) == [ins[0]] and region.bias is None:
            logical, factor = b.pool_layer(name, node, ins[0], shape)
            regions[name] = _Region.source(name, logical)
            if factor != 1.0:
                regions[name] = regions[name].apply(lambda m, f=factor: lm.then_scale(m, np.full(m.weight.shape[0], f)))
            shapes[name] = logical
        elif isinstance(node, LINEAR_TYPES):
            regions[name], shapes[name] = _linear_node(name, node, region, shape, where)
        else:
            raise InputError(where, f"node {name!r} of type {type(node).__name__} is not supported by the Loihi "
                                    "mapper (supported: Conv2d, Affine, Linear, LIF, IF, CubaLIF, AvgPool2d, "
                                    "SumPool2d, Scale, Flatten)")
    return _finish(b, inp, input_shape, meta, pool_mode, dt)
