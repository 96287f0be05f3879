"""Verification of an exported NIR graph against the snnTorch student, by independent simulators.

Simulators run the *file* (after ``nir.write``/``nir.read``) on the same frames as the student:

1. our float interpreter :mod:`ckd_toolchain.simulators.nir_float` (the graph exactly as written:
   what ``ckd-deploy --target cpu`` runs), in float64 and float32;
2. the importers of :mod:`ckd_toolchain.export.importers`: snnTorch 1.0's ``import_from_nir`` and
   Norse 1.1's ``from_nir`` (for graphs with fan-in, Norse's node modules wired by
   ``nirtorch.nir_to_torch``, :data:`~ckd_toolchain.export.importers.NORSE_FROM_NIR_FAN_IN`). Each
   runs the file *as written* when it was exported with that importer's ``--nir-profile``, else
   the profile's rewrite of it (:mod:`ckd_toolchain.export.nir_profiles`); the result's ``ran``
   says which, and ``ckd-export --verify`` prints it.

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
* ``nir_float32``, ``snntorch`` and ``norse`` (float32): folded and unfolded BN round differently by a few
  ulps; where a membrane lands within that distance of the threshold a spike flips (measured: 1
  of 5.3e7 neuron-steps in the first LIF layer), and each flip changes the input of every later
  layer, so flips multiply with depth (measured: 0.25 % of neuron-steps in VGG's deepest layers,
  1.2 % in ResNet-18's) while predictions stay equal (179/179). The float32 check therefore
  requires ≤ ``FLOAT32_MAX_FLIP_FRACTION`` (5 %) differing neuron-steps in every layer and
  ≥ ``FLOAT32_MIN_AGREEMENT`` (95 %) equal predictions; exactness is the float64 check's job.
"""
from __future__ import annotations

import copy
from typing import Any

import nir
import torch
from torch import nn

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


def _build_importers(graph: nir.NIRGraph, importers, out: dict) -> dict:
    """``{importer: (module, graph it runs, what it is, engine)}``; an importer that cannot load the
    graph gets ``out[importer] = {"error": ...}`` (reported, not raised)."""
    from ckd_toolchain.export import importers as imp

    built = {}
    for name in importers:
        try:
            g, ran = imp.prepare(graph, name)
            module, engine = imp.build(g, name)
            built[name] = (module, ran, engine)
        except Exception as exc:  # noqa: BLE001 - report what an importer cannot do instead of failing
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return built


def verify_graph(model: nn.Module, graph: nir.NIRGraph, lif_modules: dict[str, nn.Module],
                 frames: torch.Tensor, order: list[str], dt: float, use_norse: bool = True,
                 float64: bool = True, chunk: int = 8, use_snntorch: bool = True) -> dict[str, Any]:
    """Compare the student with the NIR graph on ``frames[B, T, C, H, W]``.

    ``nir_float64``: float64 student vs our interpreter in float64 (must be exact);
    ``nir_float32``: float32 student vs our interpreter in float32; ``snntorch`` / ``norse``:
    float32 student vs the importer (float32) on the file as written or on its profile rewrite
    (``ran``). See the module docstring for the tolerances. Samples are processed ``chunk`` at a
    time so that memory stays bounded (every LIF layer's spikes are kept per chunk)."""
    from ckd_toolchain.export import importers as imp
    from ckd_toolchain.simulators.nir_float import NIRFloatModel

    frames = torch.as_tensor(frames).float()
    record = [n for n in order if n in lif_modules]
    names = [n for n, on in (("snntorch", use_snntorch), ("norse", use_norse)) if on]
    sims: dict[str, list] = {k: [] for k in ("nir_float64", "nir_float32", *names)}
    m64 = lif64 = i64 = None
    if float64:
        m64 = copy.deepcopy(model).double().eval()
        lif64 = _same_modules(model, m64, lif_modules)
        i64 = NIRFloatModel(graph, dtype=torch.float64)
    i32 = NIRFloatModel(graph, dtype=torch.float32)
    out: dict[str, Any] = {"frames_shape": list(frames.shape), "dt": dt}
    built = _build_importers(graph, names, out)
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
        for name in list(built):
            try:
                y, rec = imp.run(built[name][0], name, x, record)
                sims[name].append(compare_runs(ref_logits, ref_spikes, y, rec, order))
            except Exception as exc:  # noqa: BLE001
                out[name] = {"error": f"{type(exc).__name__}: {exc}"}
                del built[name]
                sims[name] = []
    out["student_spikes"] = student_spikes
    for name, parts in sims.items():
        if parts:
            out[name] = merge_results(parts)
    for name in ("nir_float64", "nir_float32"):
        if name in out:
            out[name] = {"engine": "ckd_toolchain.simulators.nir_float", "ran": "the file as written", **out[name]}
    for name, (_module, ran, engine) in built.items():
        if name in out and "error" not in out[name]:
            out[name] = {"engine": engine, "ran": ran, **out[name]}
            if name == "norse" and engine != imp.ENGINE["norse"]:
                out[name]["from_nir_unsupported"] = imp.NORSE_FROM_NIR_FAN_IN
    return out
