"""``ckd-deploy --target loihi-sim model.net ...``: run any lava-dl netx file and write the report.

The file runs as :func:`ckd_toolchain.simulators.cli_loihi.run_netx_from_args` runs it (its
``layer-<i>-<var>.npy`` and ``netx-run.json`` are still written), then its spikes become the raw
results of ``hardware/report/build.py``:

* one inference = ``R`` steps (``--reset-interval R``; without it the whole run of ``--steps N``
  is one inference); a run of ``B`` samples and ``N`` steps holds ``B * N / R`` inferences and
  every step is counted (a netx file is run as a stream, as lava-dl's PilotNet benchmark runs it:
  this is the steady state, with no fill/drain to separate);
* blocks in report order: the input neuron layer (if the file has one: ``C`` depthwise 1x1
  "conv" of ``C x H x W`` neurons whose input is its bias or spikes written into ``a_in`` —
  no synaptic ops), then every conv/dense block, shapes turned from Lava ``(x, y, f)`` into
  ``(C, H, W)``;
* synaptic ops of a block: ``sum_i s_i * fanout_i`` over the spikes ``s_i`` of the block before
  it (:func:`ckd_toolchain.hardware.energy.op_counts.synaptic_ops`, exact);
* ``wall_time_s`` is the simulation alone (``run_netx``); reading the inputs and checking the file
  (``load_s``) and writing ``layer-<i>-<var>.npy`` (``write_s``) are in ``wall_time_parts``;
* with ``--labels Y.npy`` (one class per sample): the predicted class is the argmax of the last
  block's spike count over the run (its ``v`` summed when it never spikes, a non-spiking read-out),
  ``accuracy`` = the fraction equal to ``Y``.

Cores are not allocated for a foreign file: the report estimates them (1,024 neurons per core)
and says so.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from ckd_toolchain.errors import InputError
from ckd_toolchain.hardware.energy.op_counts import fanout, geometry
from ckd_toolchain.loihi2.constants import VTH_MANT_MAX
from ckd_toolchain.netx import load_netx


def _chw(shape) -> list[int]:
    """Lava ``(x, y, f)`` → ``[C, H, W]``; ``(n,)`` unchanged."""
    return [int(shape[2]), int(shape[1]), int(shape[0])] if len(shape) == 3 else [int(s) for s in shape]


def _synapse_record(name, syn, out) -> dict:
    """Geometry record (``op_counts.geometry``) of one synapse group into a block of shape ``out``."""
    if syn.kind == "conv":
        return {"name": name, "kind": "conv", "in_shape": _chw(syn.in_shape), "out_shape": out,
                "kernel": list(syn.kernel), "stride": list(syn.stride), "padding": list(syn.padding),
                "dilation": list(syn.dilation), "groups": int(syn.groups)}
    return {"name": name, "kind": "dense", "in_shape": [int(np.prod(syn.in_shape))], "out_shape": out}


def layer_records(net) -> list[dict]:
    """The report's layer records (no counts yet) of a netx network's blocks, in block order. A
    block of a graph file with several synapse groups is described by its own synapse; its
    ``synapses`` count and ``synapse_groups`` cover all groups (:func:`synapse_groups`)."""
    records = []
    for i, spec in enumerate(net.layers):
        out = _chw(spec.shape)
        name = f"{spec.kind}{i}"
        if spec.kind == "input":
            rec = {"name": "input", "kind": "conv", "in_shape": out, "out_shape": out, "kernel": [1, 1],
                   "stride": [1, 1], "padding": [0, 0], "groups": out[0], "synapses": 0}
        else:
            groups = synapse_groups(net, i)
            rec = dict(groups[0][1])
            if len(groups) > 1:
                rec["synapses"] = int(sum(fanout(geometry(g)).sum() for _, g in groups))
                rec["synapse_groups"] = len(groups)
        rec["neurons"] = int(np.prod(out))
        rec["spiking"] = spec.neuron.vth < VTH_MANT_MAX   # the mapper's read-out layers sit at the maximum
        records.append(rec)
    return records


def synapse_groups(net, i: int) -> list[tuple[int, dict]]:
    """``(source block, geometry record)`` of every synapse group into block ``i`` (-1 = the input
    spikes of a file without an input neuron)."""
    spec = net.layers[i]
    out = _chw(spec.shape)
    return [(g.source, _synapse_record(f"{spec.kind}{i}", g, out)) for g in spec.synapse_groups(i)]


def _per_neuron(a: np.ndarray, batched: bool) -> np.ndarray:
    """``[(B,) *lava_shape, T]`` → the sum over batch and time, ``[C, H, W]`` (or ``[n]``)."""
    a = np.asarray(a, dtype=np.float64)
    tot = (a if batched else a[None]).sum(axis=(0, -1))
    return np.transpose(tot, (2, 1, 0)) if tot.ndim == 3 else tot


def _block_counts(res: list[dict], batched: bool) -> list[np.ndarray]:
    """Spikes per neuron summed over the run and the batch, per block."""
    return [_per_neuron(r["s"], batched) for r in res]


def fill_counts(records: list[dict], counts: list[np.ndarray], inferences: int, net,
                input_counts: np.ndarray | None) -> float:
    """Write spikes, input spikes and exact synaptic ops per inference into ``records`` (summed
    over a block's synapse groups, each reading its source block's spikes); ``input_counts``: the
    input spikes per neuron summed over the run, or ``None`` for a bias input. Returns the
    network's input spikes per inference."""
    in_per_inf = 0.0 if input_counts is None else float(input_counts.sum() / inferences)
    for i, (rec, cnt) in enumerate(zip(records, counts)):
        rec["spikes_per_inference"] = float(cnt.sum() / inferences)
        arriving = ops = 0.0
        if not (i == 0 and net.input_neuron):            # bias / a_in of the input neuron: no synapse
            for src, geo in synapse_groups(net, i):
                prev = input_counts if src < 0 else counts[src]
                if prev is None:                         # no input given: nothing arrives
                    continue
                f = fanout(geometry(geo)).reshape(-1)
                arriving += float(prev.sum() / inferences)
                ops += float(prev.reshape(-1) @ f / inferences)
        elif i == 0:
            arriving = in_per_inf
        rec["input_spikes_per_inference"] = arriving
        rec["synaptic_ops_per_inference"] = ops
    return in_per_inf


def _predictions(res: list[dict], B: int) -> np.ndarray:
    last = res[-1]
    for var in ("s", "v"):
        if var in last:
            a = np.asarray(last[var], dtype=np.float64).reshape(B, -1, np.asarray(last[var]).shape[-1]).sum(-1)
            if var == "v" or a.any():
                return a.argmax(1)
    raise InputError(None, "the read-out block recorded neither s nor v")


def _labels(path: str, B: int) -> np.ndarray:
    try:
        y = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(path, f"not a readable .npy array: {exc}") from None
    if y.ndim != 1 or y.shape[0] != B or not np.issubdtype(y.dtype, np.integer):
        raise InputError(path, f"labels must be {B} integers (one per sample), got {y.dtype} {tuple(y.shape)}")
    return y


def deploy_netx(args: argparse.Namespace, net_path: str, out_dir: str) -> dict:
    """Run the file (``run_netx_from_args``), write ``report.json/md/png``; returns the raw results."""
    from ckd_toolchain.hardware.deploy.pipeline import write_report
    from ckd_toolchain.simulators.cli_loihi import run_netx_from_args

    net = load_netx(net_path)
    if "s" not in str(args.record):
        args.record = "s," + str(args.record)
    timings: dict = {}
    res = run_netx_from_args(args, net_path=net_path, out_dir=out_dir, timings=timings)
    wall = timings["run_s"]
    steps = int(args.steps)
    R = int(args.reset_interval or steps)
    s0 = np.asarray(res[0]["s"])
    batched = s0.ndim > len(net.layers[0].shape) + 1
    B = int(s0.shape[0]) if batched else 1
    inferences = max(1, B * steps // R)
    if getattr(args, "labels", None) and R != steps:
        raise InputError(args.labels, "--labels needs one inference per sample: leave out --reset-interval "
                                      "or make it equal to --steps")
    records = layer_records(net)
    input_counts = None
    if args.input_spikes:
        x = np.load(args.input_spikes, allow_pickle=False)
        if getattr(args, "input_order", "lava") == "torch":
            from ckd_toolchain.simulators.loihi.api import torch_order_to_lava
            x = torch_order_to_lava(x)
        input_counts = _per_neuron((x != 0)[..., :steps], x.ndim > len(net.input_shape) + 1)
    in_per_inf = fill_counts(records, _block_counts(res, batched), inferences, net, input_counts)
    acc = None
    if getattr(args, "labels", None):
        y = _labels(args.labels, B)
        acc = float((_predictions(res, B) == y).mean())
    for rec in records:
        if not rec.pop("spiking"):
            rec["spikes_per_inference"] = 0.0
    raw = {
        "source": {"nir": "", "net": os.fspath(net_path), "arch": Path(net_path).stem, "classes": [], "T": R,
                   "input_shape": _chw(net.input_shape), "frame_encoding": None, "weights": "netx file"},
        "target": "loihi-sim", "sim": args.sim, "device": f"cpu ({args.sim} simulator)" if args.sim == "fast"
        else "cpu (genuine Lava)", "num_samples": inferences, "steps_per_sample": R,
        "accuracy": acc, "reference_accuracy": None, "wall_time_s": wall, "wall_time_parts": timings,
        "input_spikes_per_inference": in_per_inf, "layers": records,
        "input_is_spikes": True,   # an input neuron layer encodes a bias input as spikes for block 1
        "mapping": {"netx_file": os.fspath(net_path), "blocks": len(net.layers), "input_neuron": net.input_neuron,
                    "run": {"steps": steps, "reset_interval": args.reset_interval, "samples": B,
                            "inferences": inferences},
                    "cores": "not allocated for a foreign netx file: estimated per layer (1,024 neurons per core)"},
    }
    write_report(Path(out_dir), raw)
    return raw
