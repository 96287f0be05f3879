"""Verification of an exported NIR graph against the snnTorch student, by independent simulators.

Two simulators run the *file* (after ``nir.write``/``nir.read``) on the same frames as the student:

1. our float interpreter :mod:`ckd_toolchain.simulators.nir_float` (the graph exactly as written);
2. Norse 1.1's ``norse.torch.from_nir`` (executed by nirtorch's ``GraphExecutor``, one call per
   time step) for feed-forward graphs; for graphs with fan-in (ResNet) Norse's node modules wired
   by ``nirtorch.nir_to_torch``, because ``from_nir``'s executor runs a fan-in node before one of
   its inputs (:data:`NORSE_FROM_NIR_FAN_IN`). Norse's importer does not cover the whole graph as
   written, so it runs an *equivalent* graph made by :func:`norse_compatible`:

   * ``AvgPool2d`` has no Norse mapping → a ``Conv2d`` with a channel-diagonal weight
     (``W[c, c] = 1/(kH·kW)``, zeros elsewhere; same stride/padding), i.e. the same window mean
     (Norse's Conv2d mapping sets ``in_channels = weight.shape[1]``, so grouped convs fail);
   * Norse ignores LIF's ``r`` (it warns "expected r = 1") → ``r`` is multiplied into the weights
     and bias of the node feeding the LIF, or, for an identity residual edge (spikes straight
     into ``_lif2``), a 1x1 ``Conv2d`` with weight ``r·I`` is put on that edge; then
     ``r = 1``;
   * Norse/nirtorch map ``Flatten(start_dim, end_dim)`` to ``torch.nn.Flatten(start_dim, end_dim)``
     on *batched* tensors, while NIR (and snnTorch's exporter) count dims without the batch axis →
     ``start_dim``/``end_dim`` ≥ 0 are shifted by one.

What is compared (:func:`compare_runs`): for every LIF node, the spike tensor ``[B, T, ...]``
(number of neuron-steps that differ, out of all), the spike counts of the last spiking layer per
sample and neuron (summed over ``T``: the input to the head), the head's logits (max abs
difference) and the predicted class (argmax of the time-mean logits).

Tolerances (measured with ``ckd-export --verify`` and ``tests/export/test_export_layers.py``):

* ``nir_float64`` — the float64 student against our interpreter in float64 on the file's float64
  parameters: the graph is the student's computation up to BN folding, which is exact in real
  arithmetic, so the spikes of every layer must be **identical** (0 mismatches), hence equal spike
  counts and predictions. Measured on N-Digits test frames (179 samples, T = 8; students of width
  0.25 with random weights and BN statistics calibrated on 64 training samples, mean spike
  rates 13 % and 16 %): 0 of 3.3e8 (VGG) and 0 of 4.5e8 (ResNet-18) neuron-steps differ.
* ``nir_float32`` and ``norse`` (float32): folded and unfolded BN round differently by a few
  ulps; where a membrane lands within that distance of the threshold a spike flips (measured: 1
  of 5.3e7 neuron-steps in the first LIF layer), and each flip changes the input of every later
  layer, so flips multiply with depth (measured: 0.25 % of neuron-steps in VGG's deepest layers,
  1.2 % in ResNet-18's) while predictions stay equal (179/179). The float32 check therefore
  requires ≤ ``FLOAT32_MAX_FLIP_FRACTION`` (5 %) differing neuron-steps in every layer and
  ≥ ``FLOAT32_MIN_AGREEMENT`` (95 %) equal predictions; exactness is the float64 check's job.
"""
from __future__ import annotations

import copy
import logging
from typing import Any

import nir
import numpy as np
import torch
from torch import nn

from ckd_toolchain.errors import InputError

FLOAT32_MAX_FLIP_FRACTION = 0.05
FLOAT32_MIN_AGREEMENT = 0.95


# --- student side ---------------------------------------------------------------------------

def run_student(model: nn.Module, frames: torch.Tensor, lif_modules: dict[str, nn.Module],
                batch_size: int = 16) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Student logits ``[B, T, K]`` and spikes ``{node: [B, T, ...]}`` for ``frames[B, T, C, H, W]``."""
    logits_all, spikes_all = [], {n: [] for n in lif_modules}
    for start in range(0, frames.shape[0], batch_size):
        x = frames[start:start + batch_size]
        B, T = x.shape[:2]
        got: dict[str, torch.Tensor] = {}
        hooks = []
        for name, mod in lif_modules.items():
            def hook(_m, _inp, out, name=name):
                got[name] = out.detach().reshape(T, B, *out.shape[1:]).transpose(0, 1)
            hooks.append(mod.register_forward_hook(hook))
        try:
            with torch.no_grad():
                logits = model(x.transpose(0, 1).contiguous(), head="dvs").transpose(0, 1)
        finally:
            for h in hooks:
                h.remove()
        logits_all.append(logits)
        for n in lif_modules:
            spikes_all[n].append(got[n])
    return torch.cat(logits_all), {n: torch.cat(v) for n, v in spikes_all.items()}


# --- our interpreter --------------------------------------------------------------------------

def run_float_interpreter(graph: nir.NIRGraph, frames: torch.Tensor, record: list[str],
                          dtype: torch.dtype = torch.float32, batch_size: int = 16, model=None):
    """``simulators.nir_float`` on ``frames[B, T, ...]``: ``(output[B, T, K], {node: [B, T, ...]})``."""
    from ckd_toolchain.simulators.nir_float import NIRFloatModel

    if model is None:
        model = NIRFloatModel(graph, dtype=dtype).to(frames.device)
    outs, recs = [], {n: [] for n in record}
    with torch.no_grad():
        for start in range(0, frames.shape[0], batch_size):
            y, rec = model(frames[start:start + batch_size].to(dtype), record=record or True)
            outs.append(y)
            for n in record:
                recs[n].append(rec[n])
    return torch.cat(outs), {n: torch.cat(v) for n, v in recs.items()}


# --- Norse -----------------------------------------------------------------------------------

def _node_shape(node: nir.NIRNode, key: str = "input") -> tuple[int, ...]:
    t = node.input_type if key == "input" else node.output_type
    return tuple(int(s) for s in np.asarray(t[key]).reshape(-1))


def norse_compatible(graph: nir.NIRGraph) -> nir.NIRGraph:
    """An equivalent graph using only what ``norse.torch.from_nir`` maps (see module docstring)."""
    g = nir.NIRGraph(nodes={k: copy.deepcopy(v) for k, v in graph.nodes.items()},
                     edges=list(graph.edges), metadata=dict(graph.metadata), type_check=True)
    nodes, edges = g.nodes, list(g.edges)
    for name, node in list(nodes.items()):
        if isinstance(node, nir.AvgPool2d):
            C = _node_shape(node)[0]
            kh, kw = (int(v) for v in np.asarray(node.kernel_size).reshape(-1)[:2])
            w = np.zeros((C, C, kh, kw), np.float32)
            w[np.arange(C), np.arange(C)] = 1.0 / (kh * kw)
            nodes[name] = nir.Conv2d(input_shape=None, weight=w,
                                     stride=tuple(int(v) for v in np.asarray(node.stride).reshape(-1)[:2]),
                                     padding=tuple(int(v) for v in np.asarray(node.padding).reshape(-1)[:2]),
                                     dilation=1, groups=1, bias=np.zeros(C, np.float32))
        elif isinstance(node, nir.Flatten):
            s, e = int(node.start_dim), int(node.end_dim)
            nodes[name] = nir.Flatten(input_type=node.input_type, start_dim=s + 1 if s >= 0 else s,
                                      end_dim=e + 1 if e >= 0 else e)
    consumers: dict[str, int] = {}
    for src, _ in edges:
        consumers[src] = consumers.get(src, 0) + 1
    for name, node in list(nodes.items()):
        if not isinstance(node, (nir.LIF, nir.CubaLIF)) or np.allclose(node.r, 1.0):
            continue
        r = np.asarray(node.r, dtype=np.float64)
        shape = r.shape
        for src, dst in [e for e in edges if e[1] == name]:
            pre = nodes[src]
            if isinstance(pre, (nir.Conv2d, nir.Affine)) and consumers[src] == 1 and len(shape) in (1, 3):
                rc = r.reshape(r.shape[0], -1)[:, 0]  # per output channel (r is uniform per channel here)
                if not np.allclose(r.reshape(r.shape[0], -1), rc[:, None]):
                    raise InputError(None, f"node {name!r}: r varies within a channel; cannot fold it for Norse")
                wshape = (-1,) + (1,) * (pre.weight.ndim - 1)
                pre.weight = (pre.weight * rc.reshape(wshape)).astype(np.float32)
                pre.bias = (np.asarray(pre.bias) * rc).astype(np.float32)
            elif len(shape) == 3:  # identity edge (e.g. a residual): a 1x1 conv with weight r·I
                C = shape[0]
                rc = r.reshape(C, -1)[:, 0]
                scale = f"{src}__x_r__{name}"
                w = np.zeros((C, C, 1, 1), np.float32)
                w[np.arange(C), np.arange(C), 0, 0] = rc
                nodes[scale] = nir.Conv2d(input_shape=None, weight=w, stride=1, padding=0, dilation=1,
                                          groups=1, bias=np.zeros(C, np.float32))
                edges.remove((src, dst))
                edges += [(src, scale), (scale, dst)]
            elif len(shape) == 1:
                scale = f"{src}__x_r__{name}"
                nodes[scale] = nir.Affine(weight=np.diag(r).astype(np.float32), bias=np.zeros(shape, np.float32))
                edges.remove((src, dst))
                edges += [(src, scale), (scale, dst)]
            else:
                raise InputError(None, f"node {name!r}: cannot make r = 1 for Norse (shape {shape})")
        node.r = np.ones_like(node.r)
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=dict(graph.metadata), type_check=False)


def has_fan_in(graph: nir.NIRGraph) -> bool:
    dst = [d for _, d in graph.edges]
    return len(dst) != len(set(dst))


NORSE_FROM_NIR_FAN_IN = (
    "norse.torch.from_nir runs nirtorch's legacy GraphExecutor, which orders nodes depth-first: a "
    "node with two inputs (the residual LIF) runs before one of them and reads that input from the "
    "previous time step, so it cannot simulate residual graphs; Norse's node modules are run by "
    "nirtorch.nir_to_torch (topological, sums fan-in) instead")


def build_norse(graph: nir.NIRGraph, dt: float):
    """``(module, engine)``: Norse's executable for the :func:`norse_compatible` graph.

    ``norse.torch.from_nir`` where it simulates the graph correctly (no fan-in); for graphs with
    fan-in, Norse's own node mappings (``norse.torch.utils.import_nir._import_norse_module``)
    wired by ``nirtorch.nir_to_torch`` (see :data:`NORSE_FROM_NIR_FAN_IN`)."""
    import functools

    import norse.torch as norse_torch

    ng = norse_compatible(graph)
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))
    if not has_fan_in(ng):
        return norse_torch.from_nir(ng, dt=dt, ignore_warnings=True), "norse.torch.from_nir"
    import nirtorch
    from norse.torch.utils.import_nir import _import_norse_module

    fn = functools.partial(_import_norse_module, dt=dt, ignore_warnings=True)
    node_map = {cls: fn for cls in (nir.Affine, nir.Conv2d, nir.Flatten, nir.Linear, nir.LIF, nir.IF,
                                    nir.CubaLIF, nir.SumPool2d)}
    return nirtorch.nir_to_torch(ng, node_map), "nirtorch.nir_to_torch + Norse node modules"


def run_norse(graph: nir.NIRGraph, frames: torch.Tensor, record: list[str], dt: float,
              batch_size: int = 16, built=None):
    """Norse on the :func:`norse_compatible` graph, one call per time step (``built``: the
    ``(module, engine)`` of :func:`build_norse`, to reuse). Returns
    ``(output[B, T, K], {node: spikes[B, T, ...]}, engine)``."""
    module, engine = built if built is not None else build_norse(graph, dt)
    outs, recs = [], {n: [] for n in record}
    steps: dict[str, list] = {}
    hooks = []
    for n in record:
        sub = module.get_submodule(n.replace(".", "_"))

        def hook(_m, _inp, out, n=n):
            steps[n].append(out[0] if isinstance(out, tuple) else out)
        hooks.append(sub.register_forward_hook(hook))
    try:
        with torch.no_grad():
            for start in range(0, frames.shape[0], batch_size):
                x = frames[start:start + batch_size].float()
                state = None
                ys = []
                steps.clear()
                steps.update({n: [] for n in record})
                for t in range(x.shape[1]):
                    y, state = module(x[:, t], state)
                    ys.append(y)
                outs.append(torch.stack(ys, 1))
                for n in record:
                    recs[n].append(torch.stack(steps[n], 1))
    finally:
        for h in hooks:
            h.remove()
    return torch.cat(outs), {n: torch.cat(v) for n, v in recs.items()}, engine


# --- comparison ---------------------------------------------------------------------------------

def compare_runs(ref_logits, ref_spikes, logits, spikes, order: list[str]) -> dict[str, Any]:
    """Numbers comparing one simulator's run with the student's (see module docstring)."""
    layers = {}
    for n in order:
        if n not in ref_spikes:
            continue
        a, b = ref_spikes[n].float().cpu(), spikes[n].float().cpu().reshape(ref_spikes[n].shape)
        layers[n] = {"mismatched": int((a != b).sum()), "total": int(a.numel()),
                     "student_spikes": int(a.sum()), "nir_spikes": int(b.sum())}
    last = [n for n in order if n in ref_spikes][-1]
    ca = ref_spikes[last].float().sum(1).cpu()
    cb = spikes[last].float().reshape(ref_spikes[last].shape).sum(1).cpu()
    logits = logits.reshape(ref_logits.shape).float().cpu()
    ref_logits = ref_logits.float().cpu()
    pred_a = ref_logits.mean(1).argmax(-1)
    pred_b = logits.mean(1).argmax(-1)
    worst = max((v["mismatched"] / max(v["total"], 1) for v in layers.values()), default=0.0)
    return {
        "samples": int(ref_logits.shape[0]),
        "layers": layers,
        "spike_mismatches": int(sum(v["mismatched"] for v in layers.values())),
        "neuron_steps": int(sum(v["total"] for v in layers.values())),
        "worst_layer_flip_fraction": float(worst),
        "last_layer": last,
        "last_layer_count_mismatches": int((ca != cb).sum()),
        "last_layer_counts_equal": bool(torch.equal(ca, cb)),
        "logits_max_abs_diff": float((ref_logits - logits).abs().max()),
        "prediction_agreement": float((pred_a == pred_b).float().mean()),
    }


def passes(sim: str, result: dict[str, Any]) -> bool:
    """The tolerance of the module docstring: ``nir_float64`` exact, float32 runs bounded."""
    if "error" in result:
        return False
    if sim == "nir_float64":
        return (result["spike_mismatches"] == 0 and result["last_layer_counts_equal"]
                and result["prediction_agreement"] == 1.0)
    return (result["worst_layer_flip_fraction"] <= FLOAT32_MAX_FLIP_FRACTION
            and result["prediction_agreement"] >= FLOAT32_MIN_AGREEMENT)


def _same_modules(model: nn.Module, other: nn.Module, mods: dict[str, nn.Module]) -> dict[str, nn.Module]:
    """``mods`` (node → module of ``model``) mapped to the modules at the same paths in ``other``."""
    path = {id(m): p for p, m in model.named_modules()}
    return {n: other.get_submodule(path[id(m)]) for n, m in mods.items()}


def merge_results(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Combine :func:`compare_runs` results of consecutive chunks of samples."""
    if len(parts) == 1:
        return parts[0]
    layers: dict[str, dict[str, int]] = {}
    for p in parts:
        for n, v in p["layers"].items():
            acc = layers.setdefault(n, {k: 0 for k in v})
            for k, x in v.items():
                acc[k] += x
    samples = sum(p["samples"] for p in parts)
    return {
        "samples": samples,
        "layers": layers,
        "spike_mismatches": sum(p["spike_mismatches"] for p in parts),
        "neuron_steps": sum(p["neuron_steps"] for p in parts),
        "worst_layer_flip_fraction": max((v["mismatched"] / max(v["total"], 1) for v in layers.values()), default=0.0),
        "last_layer": parts[0]["last_layer"],
        "last_layer_count_mismatches": sum(p["last_layer_count_mismatches"] for p in parts),
        "last_layer_counts_equal": all(p["last_layer_counts_equal"] for p in parts),
        "logits_max_abs_diff": max(p["logits_max_abs_diff"] for p in parts),
        "prediction_agreement": sum(p["prediction_agreement"] * p["samples"] for p in parts) / samples,
    }


def verify_graph(model: nn.Module, graph: nir.NIRGraph, lif_modules: dict[str, nn.Module],
                 frames: torch.Tensor, order: list[str], dt: float, use_norse: bool = True,
                 float64: bool = True, chunk: int = 8) -> dict[str, Any]:
    """Compare the student with the NIR graph on ``frames[B, T, C, H, W]``.

    ``nir_float64``: float64 student vs our interpreter in float64 (must be exact);
    ``nir_float32``: float32 student vs our interpreter in float32; ``norse``: float32 student vs
    Norse (float32). See the module docstring for the tolerances. Samples are processed ``chunk``
    at a time so that memory stays bounded (every LIF layer's spikes are kept per chunk)."""
    from ckd_toolchain.simulators.nir_float import NIRFloatModel

    frames = torch.as_tensor(frames).float()
    record = [n for n in order if n in lif_modules]
    sims: dict[str, list] = {"nir_float64": [], "nir_float32": [], "norse": []}
    m64 = lif64 = i64 = None
    if float64:
        m64 = copy.deepcopy(model).double().eval()
        lif64 = _same_modules(model, m64, lif_modules)
        i64 = NIRFloatModel(graph, dtype=torch.float64)
    i32 = NIRFloatModel(graph, dtype=torch.float32)
    out: dict[str, Any] = {"frames_shape": list(frames.shape), "dt": dt}
    built = None
    if use_norse:
        try:
            built = build_norse(graph, dt)
        except Exception as exc:  # noqa: BLE001 - report what Norse cannot do instead of failing
            out["norse"] = {"error": f"{type(exc).__name__}: {exc}"}
    student_spikes = 0
    for start in range(0, frames.shape[0], chunk):
        x = frames[start:start + chunk]
        ref_logits, ref_spikes = run_student(model, x, lif_modules)
        student_spikes += int(sum(int(s.sum()) for s in ref_spikes.values()))
        if float64:
            l64, s64 = run_student(m64, x.double(), lif64)
            y, rec = run_float_interpreter(graph, x, record, dtype=torch.float64, model=i64)
            sims["nir_float64"].append(compare_runs(l64, s64, y, rec, order))
            del l64, s64
        y, rec = run_float_interpreter(graph, x, record, model=i32)
        sims["nir_float32"].append(compare_runs(ref_logits, ref_spikes, y, rec, order))
        if built is not None:
            try:
                y, rec, engine = run_norse(graph, x, record, dt, built=built)
                sims["norse"].append(compare_runs(ref_logits, ref_spikes, y, rec, order))
            except Exception as exc:  # noqa: BLE001
                out["norse"] = {"error": f"{type(exc).__name__}: {exc}"}
                built = None
                sims["norse"] = []
    out["student_spikes"] = student_spikes
    for name, parts in sims.items():
        if parts:
            out[name] = merge_results(parts)
    if "norse" in out and "error" not in out["norse"]:
        out["norse"] = {"engine": engine, **out["norse"]}
        if has_fan_in(graph):
            out["norse"]["from_nir_unsupported"] = NORSE_FROM_NIR_FAN_IN
    return out
