"""Build the ``ckd-report/1`` report from a deploy run's raw results and write it with its plots.

``write_deploy_report(out_dir, raw) -> Path`` (the path of ``report.json``) writes
``report.json``, ``report.md``, ``spike_rate.png``, ``energy.png`` and ``accuracy.png`` atomically.

Raw results (from ``ckd-deploy``; keys marked ``?`` may be missing or ``None``)::

    source: {nir, net?, arch?, method?, classes, T, input_shape, frame_encoding?, weights?}
    target: "loihi-sim" | "cpu" | "gpu";  sim?;  device;  num_samples;  steps_per_sample
    accuracy?;  reference_accuracy?;  wall_time_s (the simulation alone);  input_spikes_per_inference
    wall_time_parts?: {load_s, run_s, write_s, lava_<phase>_s?}   (.net inputs: file I/O kept out of wall_time_s)
    layers: [{name, kind, in_shape, out_shape, kernel?, stride?, padding?, groups?, neurons?,
              synapses?, spikes_per_inference, input_spikes_per_inference?,
              synaptic_ops_per_inference?, cores?, weight_exponent?, quant_error_rms?,
              quant_error_max?, saturated?}]
    mapping?: {...};  input_is_spikes?: bool
    gpu_measurement?: the dict of hardware.energy.gpu_energy.measure_energy
    teacher?: {arch, num_classes?, width?, input_shape?, macs?}
    neurobench?: {available: true, package, network, num_samples, footprint_bytes, synaptic_ops: {effective_acs,
                  effective_macs, dense}, activation_sparsity, membrane_updates, classification_accuracy?}
                 | {available: false, reason}     (hardware.energy.neurobench_metrics)
    profiles?: {loihi?: name|path, gpu?: name|path, ops45nm?: name|path}
"""
from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ckd_toolchain.atomic_io import write_json, write_text
from ckd_toolchain.errors import InputError
from ckd_toolchain.hardware.energy import gpu_energy, horowitz_45nm, loihi_energy
from ckd_toolchain.hardware.energy.flops import resnet_cost
from ckd_toolchain.hardware.energy.layer_counts import LayerCounts, count_layers, totals
from ckd_toolchain.hardware.energy.profiles import Profile, load_profile
from ckd_toolchain.hardware.report import accounting, intervals
from ckd_toolchain.hardware.report.neurobench_block import neurobench_block
from ckd_toolchain.hardware.report.schema import SCHEMA_ID, quantity, validate_report

COUNT_UNITS = {
    "spikes": "spikes", "spike_rate": "spikes/neuron/step", "input_spikes": "spikes",
    "synaptic_ops": "SOPs", "neuron_updates": "updates", "active_neuron_updates": "updates",
    "spike_messages": "messages", "tile_hops": "hops", "dense_macs": "MACs",
}


def _q(v: float, unit: str, kind: str) -> dict:
    return quantity(v, unit, kind)


def _count_block(c: LayerCounts, steps: int) -> dict:
    k = c.kinds
    return {
        "spikes": _q(c.spikes, "spikes", "counted"),
        "spike_rate": _q(c.spike_rate, "spikes/neuron/step", "counted"),
        "input_spikes": _q(c.input_spikes, "spikes", "counted"),
        "synaptic_ops": _q(c.synaptic_ops, "SOPs", k.get("synaptic_ops", "counted")),
        "neuron_updates": _q(c.neuron_updates, "updates", "counted"),
        "active_neuron_updates": _q(c.active_updates, "updates", "estimated"),
        "spike_messages": _q(c.spike_messages, "messages", "estimated"),
        "tile_hops": _q(c.tile_hops, "hops", "estimated"),
        "dense_macs": _q(c.dense_macs * steps, "MACs", "counted"),
    }


def _total_block(counts: list[LayerCounts], steps: int) -> dict:
    t = totals(counts)
    any_est = lambda key: any(c.kinds.get(key) == "estimated" for c in counts)  # noqa: E731
    return {
        "spikes": _q(t["spikes"], "spikes", "counted"),
        "spike_rate": _q(t["spikes"] / t["neuron_updates"] if t["neuron_updates"] else 0.0, "spikes/neuron/step", "counted"),
        "input_spikes": _q(t["input_spikes"], "spikes", "counted"),
        "synaptic_ops": _q(t["synaptic_ops"], "SOPs", "estimated" if any_est("synaptic_ops") else "counted"),
        "neuron_updates": _q(t["neuron_updates"], "updates", "counted"),
        "active_neuron_updates": _q(t["active_updates"], "updates", "estimated"),
        "spike_messages": _q(t["spike_messages"], "messages", "estimated"),
        "tile_hops": _q(t["tile_hops"], "hops", "estimated"),
        "dense_macs": _q(t["dense_macs"] * steps, "MACs", "counted"),
    }


def _frac(v: Any, where: str) -> dict | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0.0 <= v <= 1.0):
        raise InputError(None, f"raw results: {where} must be a fraction in [0, 1], got {v!r}")
    return _q(v, "fraction", "measured")


def _input_is_spikes(raw: dict) -> bool:
    if "input_is_spikes" in raw and raw["input_is_spikes"] is not None:
        return bool(raw["input_is_spikes"])
    enc = (raw.get("source") or {}).get("frame_encoding")
    return enc in (None, "binary")


def _teacher_block(raw: dict, notes: list[str]) -> dict | None:
    """The ANN teacher's MACs/FLOPs: given in ``raw["teacher"]``, else counted from its
    architecture description (:func:`ckd_toolchain.hardware.energy.flops.resnet_cost`)."""
    t = raw.get("teacher")
    if not t:
        return None
    arch = str(t.get("arch", "resnet18"))
    src = raw.get("source") or {}
    shape = list(t.get("input_shape") or [3, *list(src.get("input_shape") or [2, 48, 48])[1:]])
    macs, flops = t.get("macs"), t.get("flops")
    if macs is None:
        try:
            num_classes = int(t.get("num_classes") or len(src.get("classes") or []) or 1000)
            macs, flops = resnet_cost(arch, num_classes, float(t.get("width", 1.0)), tuple(shape))
        except Exception as exc:  # the teacher is optional: say why it is missing
            notes.append(f"teacher FLOPs not counted: {type(exc).__name__}: {exc}")
            return None
    if flops is None:
        flops = 2.0 * float(macs)
    return {"arch": arch, "input_shape": shape, "macs": _q(macs, "MACs", "counted"),
            "flops": _q(flops, "FLOPs", "counted")}


LOIHI2_DEFAULT = "loihi2-pilotnet-fit"


@dataclass
class _Profiles:
    loihi: Profile
    ops: Profile
    gpu: Profile
    loihi2: Profile | None = None

    @classmethod
    def load(cls, raw: dict, loihi: Any, ops: Any, gpu: Any) -> "_Profiles":
        """Each profile from its override, else ``raw["profiles"]``, else the default."""
        def one(kind: str, override: Any) -> Profile:
            name = override if override is not None else (raw.get("profiles") or {}).get(kind)
            return load_profile(name, kind)

        l2 = (raw.get("profiles") or {}).get("loihi2", LOIHI2_DEFAULT)
        return cls(loihi=one("loihi", loihi), ops=one("ops45nm", ops), gpu=one("gpu", gpu),
                   loihi2=None if l2 is None else load_profile(l2, "loihi"))

    def cores_per_tile(self) -> int:
        fig = self.loihi.placement.get("cores_per_tile")
        return int(fig.value) if fig else 4

    def to_dict(self) -> dict:
        d = {"loihi": self.loihi.to_dict(), "ops45nm": self.ops.to_dict(), "gpu": self.gpu.to_dict()}
        if self.loihi2 is not None:
            d["loihi2"] = self.loihi2.to_dict()
        return d


@dataclass
class _Views:
    """What the report blocks share: the counted layers and the energy models' results."""

    raw: dict
    steps: int
    profiles: _Profiles
    cores_per_tile: int
    counts: list[LayerCounts]
    spikes_in: bool
    e_loihi: dict
    e_snn: dict
    e_dense: dict
    flops_student: float
    gpu_est: dict
    gpu_ref: dict
    single: list[LayerCounts] | None = None      # one isolated sample over T + L steps (loihi-sim)

    @classmethod
    def compute(cls, raw: dict, steps: int, profiles: _Profiles) -> "_Views":
        cores_per_tile = profiles.cores_per_tile()
        counts = count_layers(list(raw["layers"]), steps, raw.get("input_spikes_per_inference"), cores_per_tile)
        if not counts:
            raise InputError(None, "raw results: no layers")
        spikes_in = _input_is_spikes(raw)
        ref = accounting.gpu_reference(raw, counts, steps)
        single_layers = accounting.single_sample_layers(raw)
        single = None if single_layers is None else count_layers(
            single_layers, steps + int(raw["fill_drain"]["extra_steps"]), accounting.single_sample_input(raw),
            cores_per_tile)
        return cls(raw=raw, steps=steps, profiles=profiles, cores_per_tile=cores_per_tile, counts=counts,
                   spikes_in=spikes_in, e_loihi=loihi_energy.energy(counts, profiles.loihi),
                   e_snn=horowitz_45nm.snn_energy(counts, steps, profiles.ops, spikes_in),
                   e_dense={"total": ref["macs"] * profiles.ops.si("mac_energy")},
                   flops_student=ref["flops"], gpu_est=gpu_energy.estimate(ref["flops"], profiles.gpu),
                   gpu_ref=ref, single=single)

    @property
    def extra_steps(self) -> int | None:
        fd = self.raw.get("fill_drain")
        return int(fd["extra_steps"]) if fd else None


def _check_raw(raw: Any) -> None:
    if not isinstance(raw, dict):
        raise InputError(None, "raw results must be a dict")
    for key in ("source", "target", "device", "num_samples", "steps_per_sample", "layers"):
        if key not in raw:
            raise InputError(None, f"raw results: missing '{key}'")
    if raw["target"] not in ("loihi-sim", "cpu", "gpu"):
        raise InputError(None, f"raw results: unknown target {raw['target']!r}")


def _gpu_student_energy(v: _Views) -> dict:
    """Measured with NVML when the run did so, else estimated from the student's dense FLOPs."""
    raw, p_gpu = v.raw, v.profiles.gpu
    meas = raw.get("gpu_measurement") or {}
    if meas.get("available"):
        return {
            "label": f"GPU, measured on {meas.get('device', raw['device'])}",
            "profile": "nvml",
            "per_inference": _q(meas["energy_per_inference_J"], "J", "measured"),
            "method": f"{meas.get('method', 'NVML total energy counter')}; idle power "
                      f"{meas.get('idle_power_W', float('nan')):.1f} W subtracted",
            "breakdown": {"gross_all_inferences": _q(meas["gross_energy_J"], "J", "measured"),
                          "net_all_inferences": _q(meas["energy_J"], "J", "measured")},
            "idle_power": _q(meas.get("idle_power_W", 0.0), "W", "measured"),
        }
    why = meas.get("reason") or (f"this run used target {raw['target']} on {raw['device']}; no NVML measurement was made")
    return {
        "label": f"GPU, estimated ({p_gpu.label})",
        "profile": p_gpu.name,
        "per_inference": _q(v.gpu_est["energy"], "J", "estimated"),
        "method": f"estimated, not measured ({why}): student run densely, FLOPs / peak FP32 FLOP/s x board power "
                  f"({p_gpu.figures['peak_flops_fp32'].value:g} TFLOP/s, {p_gpu.figures['board_power'].value:g} W)",
        "breakdown": {},
    }


def _loihi2_view(v: _Views) -> dict:
    """The Loihi 2 view: the fitted per-op profile's dynamic energy + static power x its latency."""
    p2 = v.profiles.loihi2
    e = loihi_energy.energy(v.counts, p2)
    breakdown = {k: _q(x, "J", "estimated") for k, x in e["breakdown"].items()}
    total, method = e["total"], "op counts x fitted per-op energies"
    p_static = p2.get_si("static_power")
    if p_static:
        t = loihi_energy.latency(v.counts, v.steps, p2, v.cores_per_tile)["per_inference"]
        breakdown["static"] = _q(p_static * t, "J", "estimated")
        total += p_static * t
        method += f" + static power {p_static:g} W x estimated latency {t * 1e3:.3g} ms"
    return {"label": p2.label, "profile": p2.name, "per_inference": _q(total, "J", "estimated"),
            "method": method + f" ({p2.verification})", "breakdown": breakdown}


def _energy_block(v: _Views, teacher: dict | None) -> dict:
    p_loihi, p_ops, p_gpu = v.profiles.loihi, v.profiles.ops, v.profiles.gpu
    energy = {
        "loihi": {"label": p_loihi.label, "profile": p_loihi.name,
                  "per_inference": _q(v.e_loihi["total"], "J", "estimated"),
                  "method": "op counts x per-op energies (see assumptions)",
                  "breakdown": {k: _q(e, "J", "estimated") for k, e in v.e_loihi["breakdown"].items()}},
        "snn_45nm": {"label": "SNN, 45 nm AC view (Horowitz 2014)", "profile": p_ops.name,
                     "per_inference": _q(v.e_snn["total"], "J", "estimated"),
                     "method": "synaptic ops x E_AC" + ("" if v.spikes_in else " (+ first layer dense MACs x E_MAC: input is not spikes)"),
                     "breakdown": {}},
        "dense_45nm": {"label": "Student run densely, 45 nm MAC view", "profile": p_ops.name,
                       "per_inference": _q(v.e_dense["total"], "J", "estimated"),
                       "method": f"T x dense MACs x E_MAC (MACs of {v.gpu_ref['source']})", "breakdown": {}},
        "gpu_student": _gpu_student_energy(v),
    }
    if v.profiles.loihi2 is not None:
        energy["loihi2"] = _loihi2_view(v)
    if v.single is not None:
        e1 = loihi_energy.energy(v.single, p_loihi)
        energy["loihi_single_sample"] = {
            "label": f"{p_loihi.label}, single isolated sample (T + L = {v.steps + v.extra_steps} steps)",
            "profile": p_loihi.name, "per_inference": _q(e1["total"], "J", "estimated"),
            "method": "steady state + the pipeline fill/drain: L more neuron updates per neuron and the spikes "
                      "outside each layer's T-step window (see accounting)",
            "breakdown": {k: _q(e, "J", "estimated") for k, e in e1["breakdown"].items()}}
    if teacher is not None:
        energy["teacher_45nm"] = {"label": f"ANN teacher ({teacher['arch']}), 45 nm MAC view", "profile": p_ops.name,
                                  "per_inference": _q(horowitz_45nm.teacher_energy(teacher["macs"]["value"], p_ops), "J", "estimated"),
                                  "method": "teacher MACs x E_MAC", "breakdown": {}}
        t_est = gpu_energy.estimate(teacher["flops"]["value"], p_gpu)
        energy["gpu_teacher"] = {"label": f"ANN teacher on GPU, estimated ({p_gpu.label})", "profile": p_gpu.name,
                                 "per_inference": _q(t_est["energy"], "J", "estimated"),
                                 "method": "teacher FLOPs / peak FP32 FLOP/s x board power", "breakdown": {}}
    return energy


def _latency_block(v: _Views, teacher: dict | None) -> dict:
    raw, p_loihi, p_gpu = v.raw, v.profiles.loihi, v.profiles.gpu
    lat = loihi_energy.latency(v.counts, v.steps, p_loihi, v.cores_per_tile)
    wall = float(raw.get("wall_time_s") or 0.0)
    n = max(int(raw["num_samples"]), 1)
    latency: dict[str, dict] = {
        "loihi": {"label": f"{p_loihi.label}, steady state", "per_inference": _q(lat["per_inference"], "s", "estimated"),
                  "per_step": _q(lat["per_step"], "s", "estimated"),
                  "method": f"time between results when samples are pipelined: T x (busiest core's ops x per-op "
                            f"times + message latency + barrier sync over {lat.get('tiles', 1)} tiles); "
                            f"bottleneck layer {lat['bottleneck']}"},
    }
    if v.single is not None:
        steps1 = v.steps + v.extra_steps
        lat1 = loihi_energy.latency(v.single, steps1, p_loihi, v.cores_per_tile)
        latency["loihi_single_sample"] = {
            "label": f"{p_loihi.label}, single isolated sample", "per_inference": _q(lat1["per_inference"], "s", "estimated"),
            "per_step": _q(lat1["per_step"], "s", "estimated"),
            "method": f"first input to last output of one sample: (T + L) = {steps1} steps x step time"}
    if raw["target"] in ("cpu", "gpu"):
        latency["gpu_student"] = {"label": f"student, measured on {raw['device']}",
                                  "per_inference": _q(wall / n, "s", "measured"),
                                  "method": f"wall time of the float reference over {n} samples on {raw['device']}"
                                            + ("" if raw["target"] == "gpu" and "cuda" in str(raw["device"]).lower()
                                               else " (not a CUDA GPU: a CPU timing)")}
    else:
        latency["gpu_student"] = {"label": f"student on GPU, estimated ({p_gpu.label})",
                                  "per_inference": _q(v.gpu_est["latency"], "s", "estimated"),
                                  "method": "FLOPs / peak FP32 FLOP/s (a lower bound: no launch overheads)"}
        latency["simulator"] = {"label": f"simulator wall time ({raw.get('sim') or raw['target']})",
                                "per_inference": _q(wall / n, "s", "measured"),
                                "method": f"wall time of the {raw.get('sim') or ''} simulator on {raw['device']}; "
                                          "not a Loihi latency"}
    if teacher is not None:
        latency["gpu_teacher"] = {"label": f"ANN teacher on GPU, estimated ({p_gpu.label})",
                                  "per_inference": _q(gpu_energy.estimate(teacher["flops"]["value"], p_gpu)["latency"], "s", "estimated"),
                                  "method": "teacher FLOPs / peak FP32 FLOP/s"}
    return latency


def _accuracy_block(raw: dict) -> dict:
    acc_dep = _frac(raw.get("accuracy"), "accuracy")
    acc_ref = _frac(raw.get("reference_accuracy"), "reference_accuracy")
    drop = None if acc_dep is None or acc_ref is None else _q(acc_ref["value"] - acc_dep["value"], "fraction", "measured")
    n = max(int(raw["num_samples"]), 1)
    interval = {k: None if a is None else list(intervals.accuracy_interval(a["value"], n))
                for k, a in (("deployed", acc_dep), ("reference", acc_ref))}
    return {"deployed": acc_dep, "reference": acc_ref, "drop": drop,
            "interval95": {**interval, "n": n, "method": intervals.METHOD}}


def _quant_block(layer: dict) -> dict | None:
    if layer.get("weight_exponent") is None:
        return None
    return {"weight_exponent": int(layer["weight_exponent"]),
            "error_rms": None if layer.get("quant_error_rms") is None else _q(layer["quant_error_rms"], "weight-units", "measured"),
            "error_max": None if layer.get("quant_error_max") is None else _q(layer["quant_error_max"], "weight-units", "measured"),
            "saturated": None if layer.get("saturated") is None else _q(layer["saturated"], "weights", "counted")}


def _layers_block(v: _Views) -> list[dict]:
    layers_out = []
    for c, layer, el, es in zip(v.counts, v.raw["layers"], v.e_loihi["per_layer"], v.e_snn["per_layer"]):
        layers_out.append({
            "name": c.name, "kind": c.kind, "in_shape": list(layer["in_shape"]), "out_shape": list(layer["out_shape"]),
            "kernel": layer.get("kernel"), "stride": layer.get("stride"), "padding": layer.get("padding"),
            "groups": int(layer.get("groups") or 1), "neurons": c.neurons, "synapses": c.synapses, "cores": c.cores,
            "quantisation": _quant_block(layer), "counts": _count_block(c, v.steps),
            "energy": {"loihi": _q(el, "J", "estimated"), "snn_45nm": _q(es, "J", "estimated")},
        })
    return layers_out


def _assumptions(v: _Views) -> list[str]:
    assumptions = list(loihi_energy.ASSUMPTIONS)
    assumptions.append(f"cores_per_tile = {v.cores_per_tile} (placement model, {v.profiles.loihi.name}).")
    if any("cores" in c.kinds for c in v.counts):
        assumptions.append("Some layers had no core mapping: cores = ceil(neurons / 1024) (1,024 compartments per core).")
    assumptions.append("Input is " + ("spikes: the first layer is event-driven." if v.spikes_in
                                      else "not spikes: the 45 nm SNN view charges the first layer's dense MACs x E_MAC."))
    assumptions.append(f"GPU FLOPs: 2 x MACs per step x T + {gpu_energy.LIF_FLOPS_PER_UPDATE} FLOPs per neuron update; "
                       "padding zeros count as MACs, as a GPU computes them.")
    return assumptions


def _add_notes(raw: dict, profiles: _Profiles, notes: list[str]) -> None:
    weights = (raw.get("source") or {}).get("weights", "float")
    if weights != "float":
        notes.append(f"The student was fine-tuned with Loihi fixed-point weights ({weights}): its NIR weights are "
                     "already on the integer grid, so the mapping rounds nothing (quantisation errors ~1e-8 are "
                     "float32 storage).")
    if raw["target"] != "loihi-sim":
        notes.append(f"Spike counts come from the float reference on {raw['device']}, not from the fixed-point Loihi simulation.")
    uncertain = profiles.loihi.uncertain_keys() + profiles.gpu.uncertain_keys() + profiles.ops.uncertain_keys()
    if uncertain:
        notes.append("Figures marked uncertain in their profiles: " + ", ".join(sorted(set(uncertain))) + ".")


def _source_block(src: dict, steps: int) -> dict:
    source = {k: src.get(k) for k in ("nir", "net", "arch", "method", "classes", "T", "input_shape", "frame_encoding", "weights")}
    source["nir"] = str(source["nir"] or "")
    source["classes"] = list(source["classes"] or [])
    source["T"] = int(source["T"] if source["T"] is not None else steps)
    source["input_shape"] = list(source["input_shape"] or [])
    return source


def _run_block(v: _Views) -> dict:
    raw = v.raw
    return {"target": raw["target"], "sim": raw.get("sim"), "device": str(raw["device"]),
            "num_samples": int(raw["num_samples"]), "steps_per_sample": v.steps, "input_is_spikes": v.spikes_in,
            "wall_time": _q(float(raw.get("wall_time_s") or 0.0), "s", "measured"),
            "wall_time_parts": {k.removesuffix("_s"): _q(float(t), "s", "measured")
                                for k, t in (raw.get("wall_time_parts") or {}).items()},
            "spike_source": "fixed-point Loihi simulation" if raw["target"] == "loihi-sim" else "float reference"}


def _accounting_block(v: _Views) -> dict:
    ref = v.gpu_ref
    block = {"steps_per_inference": v.steps, "loihi_steps_single_sample": None if v.extra_steps is None
             else v.steps + v.extra_steps, "headline": "steady state",
             "explain": accounting.explain(v.steps, v.extra_steps, "netx" if v.raw["source"].get("net") and not
                                           v.raw["source"].get("nir") else v.raw["target"]),
             "gpu_reference": {"source": ref["source"], "steps": ref["steps"],
                               "macs": _q(ref["macs"], "MACs", "counted"), "flops": _q(ref["flops"], "FLOPs", "counted")}}
    if v.single is not None:
        block["single_sample_totals"] = {k: _q(t, COUNT_UNITS.get(k, "updates"), "counted")
                                         for k, t in totals(v.single).items()
                                         if k in ("spikes", "synaptic_ops", "neuron_updates")}
    return block


def build_report(raw: dict, *, loihi_profile: Any = None, gpu_profile: Any = None, ops_profile: Any = None,
                 created_utc: str | None = None) -> dict:
    """The ``ckd-report/1`` dict for ``raw`` (see the module docstring)."""
    _check_raw(raw)
    src = dict(raw["source"])
    steps = int(raw["steps_per_sample"])
    profiles = _Profiles.load(raw, loihi_profile, ops_profile, gpu_profile)
    v = _Views.compute(raw, steps, profiles)
    notes: list[str] = []
    teacher = _teacher_block(raw, notes)
    energy = _energy_block(v, teacher)
    flops = {"student_dense": _q(v.flops_student, "FLOPs", "counted")}
    if teacher is not None:
        flops["teacher"] = teacher["flops"]
    latency = _latency_block(v, teacher)
    accuracy = _accuracy_block(raw)
    layers = _layers_block(v)
    assumptions = _assumptions(v)
    _add_notes(raw, profiles, notes)
    report = {
        "schema": SCHEMA_ID,
        "created_utc": created_utc or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": _source_block(src, steps),
        "run": _run_block(v),
        "accuracy": accuracy,
        "layers": layers,
        "totals": _total_block(v.counts, v.steps),
        "energy": energy,
        "latency": latency,
        "flops": flops,
        "accounting": _accounting_block(v),
        "teacher": teacher,
        "neurobench": neurobench_block(raw, v.counts, v.steps),
        "mapping": dict(raw.get("mapping") or {}),
        "profiles": profiles.to_dict(),
        "assumptions": assumptions,
        "notes": notes,
    }
    return validate_report(report)


def write_deploy_report(out_dir: str | os.PathLike, raw: dict, **profiles: Any) -> Path:
    """Write report.json, report.md and the PNG plots into ``out_dir``; return report.json's path.

    Keyword arguments ``loihi_profile``, ``gpu_profile``, ``ops_profile`` (a bundled name or a
    YAML path) override ``raw["profiles"]``.
    """
    from ckd_toolchain.hardware.report import markdown, plots

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = build_report(raw, **profiles)
    plot_files = plots.write_report_plots(out, report)
    write_text(out / "report.md", markdown.render_report(report, plot_files))
    return write_json(out / "report.json", report)
