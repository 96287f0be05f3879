"""The ``ckd-report/1`` JSON format of ``report.json`` and its validator.

Every number that describes the run is a *quantity*::

    {"value": <number>, "unit": <unit>, "kind": "measured" | "estimated" | "counted"}

- ``measured``: read from the run (accuracy, wall time, NVML energy);
- ``counted``: exact arithmetic on simulator spike counts and layer shapes;
- ``estimated``: a model (per-op energy tables, datasheet peak rates, placement assumptions).

Top level (``?`` = may be ``null``)::

    schema: "ckd-report/1"
    created_utc: str
    source: {nir: str, net: str?, arch: str?, method: str?, classes: [str], T: int, input_shape: [int], weights: str? ("float" or the Loihi grid a fixed-point-trained student is on)}
    run: {target: "loihi-sim"|"cpu"|"gpu", sim: str?, device: str, num_samples: int,
          steps_per_sample: int, input_is_spikes: bool, wall_time: Q(s), spike_source: str,
          wall_time_parts?: {<part>: Q(s)}}   # .net runs: load / run / write (wall_time = run)
    accuracy: {deployed: Q(fraction)?, reference: Q(fraction)?, drop: Q(fraction)?}
    layers: [{name, kind, in_shape, out_shape, kernel?, stride?, padding?, groups: int, neurons: int,
              synapses: int, cores: int, quantisation: {weight_exponent: int, error_rms: Q,
              error_max: Q, saturated: Q}?, counts: {<count>: Q}, energy: {<view>: Q(J)}}]
    totals: {<count>: Q}
    energy: {<view>: {label: str, profile: str, per_inference: Q(J), method: str,
                      breakdown: {<term>: Q(J)}}}       # views: loihi, snn_45nm, dense_45nm,
                                                         # gpu_student, teacher_45nm?, gpu_teacher?
    latency: {<view>: {label: str, per_inference: Q(s), method: str, ...}}
    flops: {student_dense: Q(FLOPs), teacher: Q(FLOPs)?}
    accounting?: {steps_per_inference: int, loihi_steps_single_sample: int?, headline: str, explain: str,
                  gpu_reference: {source: str, steps: int, macs: Q(MACs), flops: Q(FLOPs)},
                  single_sample_totals?: {<count>: Q}}   # hardware/report/accounting.py
    teacher: {arch: str, input_shape: [int], macs: Q(MACs), flops: Q(FLOPs)}?
    neurobench?: {available: false, reason: str}
               | {available: true, package: str, network: str, num_samples: int, per: str,
                  metrics: {footprint: Q(bytes), synaptic_ops_effective_acs: Q(SOPs),
                            synaptic_ops_effective_macs: Q(MACs), synaptic_ops_dense: Q(SOPs),
                            activation_sparsity: Q(fraction), membrane_updates: Q(updates),
                            classification_accuracy: Q(fraction)?},
                  this_report: {synaptic_ops: Q, activation_sparsity: Q, neuron_updates: Q},
                  this_report_spikes_from: str, definitions: [str]}   # hardware/report/neurobench_block.py
    mapping: {...}   # the mapper's own record, passed through
    profiles: {loihi: {...}, ops45nm: {...}, gpu: {...}}   # cited figures used
    assumptions: [str]
    notes: [str]

Counts (``layers[].counts`` and ``totals``): spikes, spike_rate, input_spikes, synaptic_ops,
neuron_updates, active_neuron_updates, spike_messages, tile_hops, dense_macs.
:func:`validate_report` raises :class:`ckd_toolchain.errors.InputError` with the JSON path of the
first problem; a report that passes round-trips through JSON unchanged.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from ckd_toolchain.errors import InputError

SCHEMA_ID = "ckd-report/1"
KINDS = ("measured", "estimated", "counted")
UNITS = ("J", "s", "W", "fraction", "spikes", "spikes/neuron/step", "SOPs", "updates", "messages",
         "hops", "MACs", "FLOPs", "weights", "weight-units", "bytes")
TARGETS = ("loihi-sim", "cpu", "gpu")
COUNT_KEYS = ("spikes", "spike_rate", "input_spikes", "synaptic_ops", "neuron_updates",
              "active_neuron_updates", "spike_messages", "tile_hops", "dense_macs")
REQUIRED_ENERGY_VIEWS = ("loihi", "snn_45nm", "dense_45nm", "gpu_student")
REQUIRED_LATENCY_VIEWS = ("loihi", "gpu_student")
NEUROBENCH_METRICS = {"footprint": "bytes", "synaptic_ops_effective_acs": "SOPs", "synaptic_ops_effective_macs": "MACs",
                      "synaptic_ops_dense": "SOPs", "activation_sparsity": "fraction", "membrane_updates": "updates"}


def quantity(value: float, unit: str, kind: str) -> dict:
    """Build a quantity (validated)."""
    q = {"value": float(value), "unit": unit, "kind": kind}
    _check_q(q, "quantity", None)
    return q


class _Err(Exception):
    pass


def _fail(where: str, problem: str):
    raise _Err(f"{where}: {problem}")


def _check_view(view: dict, where: str, unit: str) -> None:
    """An energy or latency view: a label, a method and a per-inference quantity in ``unit``."""
    _req(view, "label", where, str)
    _req(view, "method", where, str)
    _check_q(_req(view, "per_inference", where, dict), f"{where}.per_inference", unit)


def _check_q(q: Any, where: str, unit: str | None) -> None:
    if not isinstance(q, dict) or set(q) != {"value", "unit", "kind"}:
        _fail(where, 'expected a quantity {"value", "unit", "kind"}')
    v = q["value"]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        _fail(where, f"value must be a finite number, got {v!r}")
    if q["unit"] not in UNITS:
        _fail(where, f"unknown unit {q['unit']!r}")
    if unit is not None and q["unit"] != unit:
        _fail(where, f"unit must be {unit!r}, got {q['unit']!r}")
    if q["kind"] not in KINDS:
        _fail(where, f"kind must be one of {', '.join(KINDS)}, got {q['kind']!r}")


def _opt_q(d: dict, key: str, where: str, unit: str | None = None) -> None:
    if key not in d:
        _fail(where, f"missing '{key}'")
    if d[key] is not None:
        _check_q(d[key], f"{where}.{key}", unit)


def _req(d: Any, key: str, where: str, types: type | tuple, nullable: bool = False) -> Any:
    if not isinstance(d, dict):
        _fail(where, "expected an object")
    if key not in d:
        _fail(where, f"missing '{key}'")
    v = d[key]
    if v is None and nullable:
        return v
    if isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        _fail(f"{where}.{key}", f"expected {types}, got a boolean")
    if not isinstance(v, types):
        _fail(f"{where}.{key}", f"wrong type {type(v).__name__}")
    return v


def _check_counts(counts: Any, where: str) -> None:
    if not isinstance(counts, dict):
        _fail(where, "expected an object of counts")
    for k in COUNT_KEYS:
        if k not in counts:
            _fail(where, f"missing count '{k}'")
    for k, q in counts.items():
        _check_q(q, f"{where}.{k}", None)


def _check_neurobench(nb: Any, where: str) -> None:
    if not _req(nb, "available", where, bool):
        _req(nb, "reason", where, str)
        return
    for k in ("package", "network"):
        _req(nb, k, where, str)
    _req(nb, "num_samples", where, int)
    metrics = _req(nb, "metrics", where, dict)
    for k, unit in NEUROBENCH_METRICS.items():
        _check_q(_req(metrics, k, f"{where}.metrics", dict), f"{where}.metrics.{k}", unit)
    _opt_q(metrics, "classification_accuracy", f"{where}.metrics", "fraction")
    for k, q in _req(nb, "this_report", where, dict).items():
        _check_q(q, f"{where}.this_report.{k}", None)


def _validate(r: Any) -> None:
    if not isinstance(r, dict):
        _fail("$", "a report must be a JSON object")
    if r.get("schema") != SCHEMA_ID:
        _fail("$.schema", f"unsupported schema {r.get('schema')!r} (expected {SCHEMA_ID!r})")
    _req(r, "created_utc", "$", str)
    src = _req(r, "source", "$", dict)
    _req(src, "nir", "$.source", str)
    _req(src, "classes", "$.source", list)
    _req(src, "T", "$.source", int)
    _req(src, "input_shape", "$.source", list)
    run = _req(r, "run", "$", dict)
    if _req(run, "target", "$.run", str) not in TARGETS:
        _fail("$.run.target", f"must be one of {', '.join(TARGETS)}")
    _req(run, "device", "$.run", str)
    _req(run, "num_samples", "$.run", int)
    _req(run, "steps_per_sample", "$.run", int)
    _req(run, "input_is_spikes", "$.run", bool)
    _check_q(_req(run, "wall_time", "$.run", dict), "$.run.wall_time", "s")
    for k, q in (run.get("wall_time_parts") or {}).items():
        _check_q(q, f"$.run.wall_time_parts.{k}", "s")
    acc = _req(r, "accuracy", "$", dict)
    for k in ("deployed", "reference", "drop"):
        _opt_q(acc, k, "$.accuracy", "fraction")
        lo = -1.0 if k == "drop" else 0.0   # accuracies are fractions in [0, 1]; a drop in [-1, 1]
        if acc[k] is not None and not lo <= acc[k]["value"] <= 1.0:
            _fail(f"$.accuracy.{k}", f"must be in [{lo:g}, 1] (a fraction), got {acc[k]['value']!r}")
    layers = _req(r, "layers", "$", list)
    if not layers:
        _fail("$.layers", "a report needs at least one layer")
    for i, layer in enumerate(layers):
        w = f"$.layers[{i}]"
        _req(layer, "name", w, str)
        if _req(layer, "kind", w, str) not in ("conv", "pool", "dense"):
            _fail(f"{w}.kind", "must be conv, pool or dense")
        _req(layer, "in_shape", w, list)
        _req(layer, "out_shape", w, list)
        for k in ("neurons", "synapses", "cores", "groups"):
            _req(layer, k, w, int)
        quant = _req(layer, "quantisation", w, dict, nullable=True)
        if quant is not None:
            _req(quant, "weight_exponent", f"{w}.quantisation", int)
            for k in ("error_rms", "error_max", "saturated"):
                _opt_q(quant, k, f"{w}.quantisation")
        _check_counts(_req(layer, "counts", w, dict), f"{w}.counts")
        for k, q in _req(layer, "energy", w, dict).items():
            _check_q(q, f"{w}.energy.{k}", "J")
    _check_counts(_req(r, "totals", "$", dict), "$.totals")
    energy = _req(r, "energy", "$", dict)
    for k in REQUIRED_ENERGY_VIEWS:
        _req(energy, k, "$.energy", dict)
    for k, view in energy.items():
        w = f"$.energy.{k}"
        _check_view(view, w, "J")
        for t, q in (view.get("breakdown") or {}).items():
            _check_q(q, f"{w}.breakdown.{t}", "J")
    latency = _req(r, "latency", "$", dict)
    for k in REQUIRED_LATENCY_VIEWS:
        _req(latency, k, "$.latency", dict)
    for k, view in latency.items():
        w = f"$.latency.{k}"
        _check_view(view, w, "s")
        for sub, q in view.items():
            if isinstance(q, dict):
                _check_q(q, f"{w}.{sub}", None)
            elif isinstance(q, (int, float)) and not isinstance(q, bool):
                _fail(f"{w}.{sub}", "a bare number: give a quantity with unit and kind")
    flops = _req(r, "flops", "$", dict)
    _opt_q(flops, "student_dense", "$.flops", "FLOPs")
    if "teacher" in flops:
        _opt_q(flops, "teacher", "$.flops", "FLOPs")
    teacher = _req(r, "teacher", "$", dict, nullable=True)
    if teacher is not None:
        _req(teacher, "arch", "$.teacher", str)
        _opt_q(teacher, "macs", "$.teacher", "MACs")
        _opt_q(teacher, "flops", "$.teacher", "FLOPs")
    if r.get("accounting") is not None:
        acct = _req(r, "accounting", "$", dict)
        _req(acct, "steps_per_inference", "$.accounting", int)
        _req(acct, "explain", "$.accounting", str)
        ref = _req(acct, "gpu_reference", "$.accounting", dict)
        _opt_q(ref, "macs", "$.accounting.gpu_reference", "MACs")
        _opt_q(ref, "flops", "$.accounting.gpu_reference", "FLOPs")
        for k, q in (acct.get("single_sample_totals") or {}).items():
            _check_q(q, f"$.accounting.single_sample_totals.{k}", None)
    if r.get("neurobench") is not None:
        _check_neurobench(r["neurobench"], "$.neurobench")
    _req(r, "mapping", "$", dict)
    _req(r, "profiles", "$", dict)
    for k in ("assumptions", "notes"):
        items = _req(r, k, "$", list)
        if not all(isinstance(s, str) for s in items):
            _fail(f"$.{k}", "must be a list of strings")


def validate_report(report: Any, path: str | os.PathLike | None = None) -> dict:
    """Check ``report`` against ``ckd-report/1``; return it, or raise InputError(path, problem)."""
    try:
        _validate(report)
    except _Err as exc:
        raise InputError(path, f"not a valid {SCHEMA_ID} report: {exc}") from None
    return report


def load_report(path: str | os.PathLike) -> dict:
    """Read and validate a ``report.json``; every failure is an InputError naming the file."""
    p = Path(path)
    if p.is_dir():
        p = p / "report.json"
    if not p.exists():
        raise InputError(path, "no such file")
    try:
        data = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(p, f"not valid JSON ({exc})") from None
    return validate_report(data, p)
