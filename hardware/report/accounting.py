"""Step accounting of a report: which time steps one inference is charged for, on each side.

* **GPU reference**: the float graph run densely for ``T`` steps, whatever the target
  (``raw["gpu_reference"]``, :mod:`ckd_toolchain.hardware.energy.nir_cost`); a raw result without
  it (a ``.net`` input, hand-made raw results) falls back to its layers run densely for ``T`` steps.
* **Loihi, steady state** (the headline): samples stream through the chip back to back
  (``reset_interval = T``), so every layer works ``T`` steps on each sample; the per-layer counts
  are those of each layer's window ``[k, k + T)`` (``hardware/deploy/loihi_inference.py``).
  This is the cost per inference of a deployed classifier, and it charges Loihi the same ``T``
  steps as the GPU reference.
* **Loihi, single isolated sample**: ``T + L`` steps (``L`` mapped layers, one step of synaptic
  delay each): the steady state plus the fill/drain (``raw["fill_drain"]``): ``L`` more neuron
  updates per neuron, and the spikes/synaptic ops outside the windows (neurons firing on their
  bias before their reset and after the input has passed). Only a Loihi simulation records it.
"""
from __future__ import annotations

from ckd_toolchain.hardware.energy import gpu_energy
from ckd_toolchain.hardware.energy.layer_counts import LayerCounts, totals

COUNT_KEYS = ("input_spikes_per_inference", "synaptic_ops_per_inference", "spikes_per_inference")


def gpu_reference(raw: dict, counts: list[LayerCounts], steps: int) -> dict:
    """``{source, steps, macs_per_step, neurons, macs, flops}`` of the GPU reference (``steps = T``)."""
    ref = raw.get("gpu_reference")
    if ref:
        T = int(ref.get("steps", steps))
        macs_step, neurons = float(ref["macs_per_step"]), float(ref["neurons"])
        source = str(ref.get("source", "NIR graph"))
    else:
        t = totals(counts)
        T, macs_step, neurons, source = steps, t["dense_macs"], t["neurons"], "the report's layers run densely"
    return {"source": source, "steps": T, "macs_per_step": macs_step, "neurons": neurons,
            "macs": macs_step * T, "flops": gpu_energy.student_dense_flops(macs_step, neurons, T)}


def single_sample_layers(raw: dict) -> list[dict] | None:
    """The layer records of one isolated sample (steady state + fill/drain), or ``None``."""
    fd = raw.get("fill_drain")
    if not fd:
        return None
    out = []
    for layer, extra in zip(raw["layers"], fd["layers"]):
        merged = dict(layer)
        for k in COUNT_KEYS:
            if layer.get(k) is not None:
                merged[k] = float(layer[k]) + float(extra.get(k) or 0.0)
        out.append(merged)
    return out


def single_sample_input(raw: dict) -> float | None:
    inp = raw.get("input_spikes_per_inference")
    fd = raw.get("fill_drain") or {}
    return None if inp is None else float(inp) + float(fd.get("input_spikes_per_inference") or 0.0)


def explain(T: int, L: int | None, target: str) -> str:
    """The report's one-paragraph statement of its step accounting."""
    text = (f"Every count, rate and energy per inference is steady state: each layer works T = {T} steps on "
            "a sample, as when samples stream through the chip back to back (reset every T steps); the GPU "
            f"reference runs the float graph densely for the same T = {T} steps. ")
    if L is None and target == "netx":
        return (f"A netx file runs as a stream (as lava-dl's PilotNet benchmark runs it): one inference is "
                f"{T} steps (its reset interval, else the whole run) and every simulated step is counted, so the "
                "counts are steady state; the GPU reference runs the file's layers densely for the same "
                f"{T} steps.")
    if L is None:
        return text + (f"Target {target} ran the float graph: the Loihi views use its spike counts over T steps; "
                       "the pipeline fill/drain of a single sample is not simulated (run --target loihi-sim).")
    return text + (f"The Loihi simulation ran T + L = {T + L} steps per sample (L = {L} layers, one step of "
                   "synaptic delay each) and reset each layer when the sample reached it; the counts outside "
                   "each layer's T-step window (neurons firing on their bias before the input arrives and after "
                   "it has passed) are the single-sample fill/drain, reported separately "
                   "(energy/latency views 'single sample'). The headline is the steady state: it is what a "
                   "deployed classifier pays per inference and it compares Loihi and GPU over the same steps.")
