"""``ckd-deploy`` pipeline: NIR + inputs → map → ``model.net`` → run → raw results (+ report).

Targets:

* ``loihi-sim``: map and write ``DIR/model.net`` (as :func:`ckd_toolchain.hardware.lowering.netx_mapping.nir_to_netx` does)
  and run it with ``simulators.loihi.run_netx`` (``sim="fast"``: our bit-exact simulator;
  ``sim="lava"``: genuine Lava in its own env) for ``T + L`` steps with ``reset_interval = T + L``
  (:func:`ckd_toolchain.hardware.deploy.loihi_inference.run_loihi_batch`; timing scheme in
  ``ckd_toolchain/netx/README.md``). Spike counts are split into each layer's steady-state window
  (``T`` steps: ``layers[]``, ``steps_per_sample = T``) and the single sample's fill/drain
  (``fill_drain``: the other ``L`` steps). Every target records ``gpu_reference``: the NIR graph
  run densely for ``T`` steps (:mod:`ckd_toolchain.hardware.energy.nir_cost`), so the GPU numbers
  do not depend on the target. Logits are the read-out
  layer's ``v`` in the window ``[L, L + T)`` divided by ``64·scale`` (its per-step float value);
  the class is the argmax of their sum over T, as for the float reference. The float reference
  accuracy of the same graph on the same samples is computed too (``reference_accuracy``), plus
  two diagnostics that split the drop: the mapped layers in float (pooling approximation only)
  and with dequantised integer parameters (pooling + quantisation; timing is exact by design).
* ``cpu`` / ``gpu``: the float reference ``simulators.nir_float`` of the same graph on that device;
  spike counts from its neuron nodes.

Inputs: a dataset name (``--data n-digits``; the DVS test split through
``ckd_train.data.build_datasets`` with the graph's ``T``, size and frame encoding) with labels, or
``--input X.npy`` ``(samples, T, C, H, W)`` without labels → ``DIR/outputs.npy`` ``(samples, T,
classes)``. Non-binary input values are binarised by the input neuron (``x > 0`` is a spike) on
Loihi — Lava's bias is constant over a run, so a graded per-step input cannot be injected through
it; the count of non-binary values is reported and a warning printed.

Raw results follow the contract in ``hardware/report/build.py``; they go to
``hardware.report.write_deploy_report(out_dir, raw)`` (report.json/.md/plots) or, if that function
is missing, straight to ``DIR/report.json``.

Steps (:class:`DeployRun`): load and map the graph, load the samples, write the ``.net`` under a
temporary name, simulate every batch (+ float reference and diagnostics), collect the raw
results; the ``.net`` gets its final name and the outputs are written only after a whole run.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from ckd_toolchain.atomic_io import check_output_dir, remove_stale_partials, save_numpy, write_json
from ckd_toolchain.subsets import spread_subset
from ckd_toolchain.errors import InputError
from ckd_toolchain.hardware.lowering.core_allocation import allocate, out_degree
from ckd_toolchain.hardware.deploy.loihi_inference import run_loihi_batch
from ckd_toolchain.hardware.energy.nir_cost import gpu_reference
from ckd_toolchain.hardware.lowering.mapping_report import layer_entries, mapping_block
from ckd_toolchain.hardware.lowering.netx_mapping import write_mapped
from ckd_toolchain.hardware.lowering.nir_to_loihi import MappedNetwork, map_graph
from ckd_toolchain.simulators.loihi.float_layers import run_layers

TARGETS = ("loihi-sim", "cpu", "gpu")


def _meta(graph) -> dict:
    try:
        from ckd_toolchain.nir_metadata import read_metadata
        return read_metadata(graph)
    except Exception:  # noqa: BLE001 - foreign graphs: plain metadata
        return dict(getattr(graph, "metadata", None) or {})


def _method_name(value) -> str | None:
    """``metadata['method']``: a name, or the repr of a method config dict (take its ``name``)."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        return str(value.get("name")) if value.get("name") else None
    text = str(value)
    if text.startswith("{"):
        import ast
        try:
            return str(ast.literal_eval(text).get("name")) or None
        except (ValueError, SyntaxError, AttributeError):
            return text
    return text


def _batches_from_dataset(ds, batch: int, limit: int | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    idx = spread_subset(len(ds), limit)
    for start in range(0, len(idx), batch):
        xs, ys = [], []
        for i in idx[start:start + batch]:
            x, y = ds[i]
            xs.append(np.asarray(x, dtype=np.float32))
            ys.append(int(y))
        yield np.stack(xs), np.asarray(ys)


def _batches_from_array(x: np.ndarray, batch: int) -> Iterator[tuple[np.ndarray, None]]:
    for start in range(0, x.shape[0], batch):
        yield x[start:start + batch].astype(np.float32), None


def load_input_array(path: str | os.PathLike, input_shape) -> np.ndarray:
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(path, f"not a readable .npy array: {exc}") from None
    if x.ndim != 2 + len(input_shape) or tuple(x.shape[2:]) != tuple(input_shape):
        raise InputError(path, f"input must be (samples, T, {', '.join(map(str, input_shape))}) for this graph, "
                               f"got {tuple(x.shape)}")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise InputError(path, "input has no samples or no time steps")
    if not np.all(np.isfinite(x)):
        raise InputError(path, "input contains NaN or infinite values")
    return x


class _Stats:
    """Per-neuron spike counts summed over samples (input + every layer) → report numbers."""

    def __init__(self, net: MappedNetwork):
        self.net = net
        self.input = np.zeros(net.input_shape)
        self.layers = [np.zeros(l.out_shape) for l in net.layers]
        self.n = 0

    def add(self, input_counts: np.ndarray, layer_counts: list[np.ndarray]):
        self.n += input_counts.shape[0]
        self.input += input_counts.sum(0).reshape(self.input.shape)
        for i, c in enumerate(layer_counts):
            self.layers[i] += c.sum(0).reshape(self.layers[i].shape)

    def per_layer(self) -> tuple[float, list[dict]]:
        """Input spikes per inference and, per layer, its input spikes, synaptic ops and spikes
        (summed over the layer's synapse groups when it has several: graph lowering)."""
        n = max(self.n, 1)
        out = []
        for i, (layer, cnt) in enumerate(zip(self.net.layers, self.layers)):
            arriving = ops = 0.0
            for src, group in self.net.synapse_groups(i):
                prev = self.input if src < 0 else self.layers[src]
                deg = out_degree(group)
                arriving += float(prev.sum() / n)
                ops += float((prev.reshape(deg.shape) * deg).sum() / n)
            out.append({"input_spikes_per_inference": arriving, "synaptic_ops_per_inference": ops,
                        "spikes_per_inference": float(cnt.sum() / n) if layer.spiking else 0.0})
        return float(self.input.sum() / n), out

    def fill(self, entries: list[dict]) -> float:
        inp, per_layer = self.per_layer()
        for entry, counts in zip(entries, per_layer):
            entry.update(counts)
        return inp


def _float_counts(graph, net: MappedNetwork, x: torch.Tensor, device, dt) -> tuple[np.ndarray, list]:
    """Logits and per-layer spike counts of the float reference: each mapped layer's count is its
    NIR neuron node's; a relay layer (graph lowering) re-emits its source's spikes, so it counts
    what its source counts; a pool layer or the read-out has none in the float graph."""
    from ckd_toolchain.simulators.nir_float import run_nir

    names = [l.name if l.spiking and l.name in graph.nodes else None for l in net.layers]
    rec = [n for n in names if n is not None]
    y, recd = run_nir(graph, x, dt=dt, device=device, record=rec) if rec else (run_nir(graph, x, dt=dt, device=device), {})
    counts = []
    for i, (l, n) in enumerate(zip(net.layers, names)):
        if n is not None:
            counts.append(recd[n].sum(dim=1).double().cpu().numpy().reshape(x.shape[0], *l.out_shape))
        elif l.name.startswith("relay") and net.source_of(i) >= 0:
            counts.append(counts[net.source_of(i)].copy())
        elif l.name.startswith("relay"):
            counts.append(x.sum(dim=1).double().cpu().numpy().reshape(x.shape[0], *l.out_shape))
        else:
            counts.append(np.zeros((x.shape[0], *l.out_shape)))
    return y.double().cpu().numpy(), counts


def _check_options(target: str, data: str | None, input_npy: str | None) -> None:
    if target not in TARGETS:
        raise InputError(None, f"unknown target {target!r} (choose from {', '.join(TARGETS)})")
    if (data is None) == (input_npy is None):
        raise InputError(None, "give exactly one of --data NAME and --input X.npy")


def _map_for_target(graph, target: str, pool_mode: str, dt, where) -> tuple[MappedNetwork, str]:
    """The mapped network and its pool mode. Float targets have no pool neurons: their layers are
    listed folded when the graph allows it (spike counts then come from the real neuron nodes)."""
    if target != "loihi-sim" and pool_mode in ("conv", "thermometer"):
        try:
            return map_graph(graph, pool_mode="fold", dt=dt, where=where), "fold"
        except InputError:
            pass
    return map_graph(graph, pool_mode=pool_mode, dt=dt, where=where), pool_mode


@dataclass
class Samples:
    """The samples a deployment runs: batches of ``(x[B, T, ...] float32, labels or None)``."""

    batches: Iterator[tuple[np.ndarray, np.ndarray | None]]
    num: int                    # samples in all batches
    T: int
    nonbin: int = 0             # input values other than 0/1 (--input only)
    classes: list[str] = field(default_factory=list)


def _samples_from_array(input_npy, net: MappedNetwork, batch_size: int, target: str, log) -> Samples:
    x_all = load_input_array(input_npy, net.input_shape)
    nonbin = int(np.count_nonzero((x_all != 0) & (x_all != 1)))
    if nonbin and target == "loihi-sim":
        log(f"ckd-deploy: warning: {nonbin} input values are not 0/1; Loihi's input neurons turn every "
            "value > 0 into one spike (graded input cannot be injected per step)")
    return Samples(_batches_from_array(x_all, batch_size), x_all.shape[0], int(x_all.shape[1]), nonbin)


def _samples_from_dataset(data: str, data_root, meta: dict, net: MappedNetwork, batch_size: int, limit,
                          where, log) -> Samples:
    from ckd_toolchain.ckd_train.data import DataConfig, build_datasets
    if "T" not in meta or len(net.input_shape) != 3:
        raise InputError(where, "--data needs a ckd graph (metadata T and input_shape (C, H, W)); use --input")
    T = int(meta["T"])
    cfg = DataConfig(name=data, root=data_root, T=T, size=int(net.input_shape[1]),
                     frame_encoding=str(meta.get("frame_encoding") or "binary"))
    paired = build_datasets(cfg, log=log)
    ds = paired.dvs_test
    return Samples(_batches_from_dataset(ds, batch_size, limit), len(spread_subset(len(ds), limit)), T,
                   classes=list(paired.classes))


@dataclass
class _Tally:
    """What the batches of a run add up to."""

    stats: _Stats
    fill_drain: _Stats | None = None   # loihi-sim: spikes outside each block's window [k, k + T)
    correct: dict[str, int] = field(default_factory=lambda: {
        "deployed": 0, "reference": 0, "mapped_float": 0, "quantized_float": 0, "no_reset": 0})
    outputs: list[np.ndarray] = field(default_factory=list)
    labelled: bool = False
    seen: int = 0
    wall_s: float = 0.0
    first_batch: np.ndarray | None = None     # --target gpu: what the NVML measurement repeats
    kept: list[tuple[np.ndarray, np.ndarray | None]] | None = None   # the batches NeuroBench runs again


def _hits(logits: np.ndarray, labels: np.ndarray) -> int:
    """Correct classifications: the argmax of the logits summed over T."""
    return int((logits.sum(1).argmax(1) == labels).sum())


@dataclass
class DeployRun:
    """One ``ckd-deploy`` of a NIR graph: its inputs, the mapped network and the run's tallies."""

    nir_path: str | os.PathLike
    out: Path
    target: str
    sim: str
    dt: float | None
    graph: object
    meta: dict
    net: MappedNetwork
    map_mode: str
    alloc: dict
    entries: list[dict]
    diagnostics: bool = True
    neurobench: bool = True         # NeuroBench's metrics of the float student (energy/neurobench_metrics.py)
    lava_timeout: float | None = None
    log: Callable[[str], None] = print
    samples: Samples | None = None
    net_path: str | None = None     # DIR/model.net (loihi-sim)
    tmp_net: str | None = None      # where it is written and run from until the run succeeded

    @property
    def device(self) -> str:
        return "cuda" if self.target == "gpu" else "cpu"

    @classmethod
    def prepare(cls, nir_path, out_dir, target: str, pool_mode: str, dt, **options) -> "DeployRun":
        """Load the graph and its metadata (``dt`` from it unless given), map it, allocate cores."""
        from ckd_toolchain.nir_graph import load_graph

        graph = load_graph(nir_path)
        meta = _meta(graph)
        if dt is None and meta.get("dt") is not None:
            dt = float(meta["dt"])
        net, map_mode = _map_for_target(graph, target, pool_mode, dt, nir_path)
        alloc = allocate(net.layers)
        return cls(nir_path=nir_path, out=Path(out_dir), target=target, dt=dt, graph=graph, meta=meta, net=net,
                   map_mode=map_mode, alloc=alloc, entries=layer_entries(net, alloc), **options)

    def load_samples(self, data, input_npy, batch_size: int, limit, data_root) -> None:
        if input_npy is not None:
            s = _samples_from_array(input_npy, self.net, batch_size, self.target, self.log)
        else:
            s = _samples_from_dataset(data, data_root, self.meta, self.net, batch_size, limit, self.nir_path, self.log)
        s.classes = list(self.meta.get("classes") or []) or s.classes
        if s.num < 1:
            raise InputError(input_npy or data, "no samples to run")
        if self.target == "gpu" and not torch.cuda.is_available():
            raise InputError(None, "--target gpu: no CUDA device is available (use --target cpu)")
        self.samples = s

    def write_net(self) -> None:
        """loihi-sim: write the network mapped in :meth:`prepare` (the same two steps as
        :func:`~ckd_toolchain.hardware.lowering.netx_mapping.nir_to_netx`, without mapping twice) to a
        temporary name, renamed after a whole run; the network run is the one written."""
        if self.target != "loihi-sim":
            return
        self.out.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(self.out / "model.net")   # left by a killed deploy
        self.net_path = os.fspath(self.out / "model.net")
        self.tmp_net = os.fspath(self.out / f".model.net.{os.getpid()}.partial")
        write_mapped(self.net, self.tmp_net, num_steps=self.samples.T + self.net.readout_depth,
                     source=os.fspath(self.nir_path))

    def simulate(self) -> _Tally:
        """Run every batch; count spikes and, with labels, correct classifications."""
        T = self.samples.T
        tally = _Tally(_Stats(self.net), _Stats(self.net) if self.target == "loihi-sim" else None,
                       kept=[] if self.neurobench else None)
        for xb, yb in self.samples.batches:
            if xb.shape[1] != T:
                raise InputError(None, f"samples have {xb.shape[1]} time steps, expected {T}")
            t0 = time.perf_counter()
            logits, in_counts, layer_counts, extra = self._run_batch(xb)
            tally.wall_s += time.perf_counter() - t0
            tally.stats.add(in_counts, layer_counts)
            if tally.first_batch is None:
                tally.first_batch = xb
            if tally.kept is not None:
                tally.kept.append((xb.astype(np.uint8) if np.isin(xb, (0.0, 1.0)).all() else xb, yb))
            if extra is not None:
                tally.fill_drain.add(extra[0], extra[1:])
            tally.outputs.append(logits.astype(np.float32))
            tally.seen += xb.shape[0]
            if yb is not None:
                tally.labelled = True
                tally.correct["deployed"] += _hits(logits, yb)
                if self.target == "loihi-sim":
                    self._reference_hits(xb, yb, tally.correct)
            self.log(f"ckd-deploy: {tally.seen}/{self.samples.num} samples")
        return tally

    def _run_batch(self, xb: np.ndarray):
        """``(logits[B, T, classes], input counts, per-layer counts, fill/drain counts or None)`` of
        one batch on the target; on Loihi the counts are those of each block's steady-state window
        and the fill/drain the rest of the ``T + L`` steps (``loihi_inference`` docstring)."""
        if self.target == "loihi-sim":
            logits, window, extra = run_loihi_batch(self.tmp_net, self.net, xb, self.sim, self.lava_timeout,
                                                    split=True)
            return logits, window[0], window[1:], extra
        logits, layer_counts = _float_counts(self.graph, self.net, torch.as_tensor(xb), self.device, self.dt)
        return logits.reshape(xb.shape[0], self.samples.T, -1), xb.sum(1).astype(np.float64), layer_counts, None

    def _reference_hits(self, xb: np.ndarray, yb: np.ndarray, correct: dict[str, int]) -> None:
        """The float reference of the graph and, with diagnostics, the mapped layers in float."""
        from ckd_toolchain.simulators.nir_float import run_nir
        ref = run_nir(self.graph, torch.as_tensor(xb), dt=self.dt).double().numpy().reshape(xb.shape[0], self.samples.T, -1)
        correct["reference"] += _hits(ref, yb)
        if self.diagnostics:
            mf, _ = run_layers(self.net, xb)
            qf, _ = run_layers(self.net, xb, quantized=True)
            correct["mapped_float"] += _hits(mf, yb)
            correct["quantized_float"] += _hits(qf, yb)
            nr, _ = run_layers(self.net, xb, quantized=True, delayed=True)
            correct["no_reset"] += _hits(nr, yb)

    def raw_results(self, tally: _Tally) -> dict:
        """The raw results (contract of ``hardware/report/build.py``) plus ``_outputs``."""
        T, seen, labelled, on_loihi = self.samples.T, tally.seen, tally.labelled, self.target == "loihi-sim"
        in_per_inf = tally.stats.fill(self.entries)
        return {
            "source": {"nir": os.fspath(self.nir_path), "net": self.net_path, "arch": self.meta.get("arch"),
                       "weights": str(self.meta.get("weights") or "float"),
                       "method": _method_name(self.meta.get("method")), "classes": self.samples.classes, "T": T,
                       "input_shape": list(self.net.input_shape), "frame_encoding": self.meta.get("frame_encoding")},
            "target": self.target, "sim": self.sim if on_loihi else None,
            "device": _device_name(self.target, self.sim, self.device), "num_samples": int(seen),
            "steps_per_sample": int(T),
            "fill_drain": self._fill_drain(tally) if on_loihi else None,
            "gpu_reference": gpu_reference(self.graph, self.net.input_shape, T, self.dt),
            "accuracy": tally.correct["deployed"] / seen if labelled else None,
            "reference_accuracy": tally.correct["reference"] / seen if labelled and on_loihi else None,
            "wall_time_s": float(tally.wall_s),
            "input_spikes_per_inference": in_per_inf, "layers": self.entries, "mapping": self._mapping(tally),
            "input_is_spikes": self.samples.nonbin == 0,
            "gpu_measurement": self._measure_gpu(tally.first_batch) if self.target == "gpu" else None,
            "neurobench": self._neurobench(tally.kept),
            "_outputs": np.concatenate(tally.outputs, axis=0),
        }

    def _neurobench(self, kept: list | None) -> dict:
        """NeuroBench's metrics of the float student on the samples the run saw
        (:func:`ckd_toolchain.hardware.energy.neurobench_metrics.neurobench_metrics`), or why there
        are none (``--no-neurobench``, the package missing, a graph snnTorch's importer cannot run)."""
        from ckd_toolchain.hardware.energy import neurobench_metrics as nb

        if kept is None:
            return {"available": False, "reason": "not asked for (--no-neurobench)"}
        why = nb.available()
        if why is None:
            try:
                return {"available": True, **nb.neurobench_metrics(self.graph, kept, where=self.nir_path)}
            except Exception as exc:  # noqa: BLE001 - a foreign graph the importer cannot run: say so
                why = f"neurobench on snnTorch's import of the graph failed: {type(exc).__name__}: {exc}"
        self.log(f"ckd-deploy: warning: no NeuroBench metrics: {why}")
        return {"available": False, "reason": why}

    def _measure_gpu(self, xb: np.ndarray) -> dict:
        """--target gpu: NVML energy of the float reference repeating the first batch
        (:func:`ckd_toolchain.hardware.energy.gpu_energy.measure_energy`; CUDA device 0 as torch
        numbers it, matched to NVML by UUID)."""
        from ckd_toolchain.hardware.energy.gpu_energy import measure_energy
        from ckd_toolchain.simulators.nir_float import NIRFloatModel

        model = NIRFloatModel(self.graph, dt=self.dt).to("cuda")
        x = torch.as_tensor(xb).to("cuda")

        def once():
            with torch.no_grad():
                model(x)
            torch.cuda.synchronize()

        once()                                   # warm-up (kernels, allocator) outside the window
        return measure_energy(once, int(xb.shape[0]), device_index=torch.cuda.current_device())

    def _fill_drain(self, tally: _Tally) -> dict:
        """What a single isolated sample adds to the steady state on Loihi (``T + L`` steps)."""
        inp, per_layer = tally.fill_drain.per_layer()
        return {"extra_steps": self.net.readout_depth, "input_spikes_per_inference": inp, "layers": per_layer}

    def _mapping(self, tally: _Tally) -> dict:
        mapping = mapping_block(self.net, self.alloc)
        mapping["non_binary_input_values"] = self.samples.nonbin
        if self.target != "loihi-sim":
            mapping["float_target_layers"] = (f"layers listed as mapped with pool mode {self.map_mode!r} "
                                              "(spike counts from the float reference's neuron nodes)")
        if tally.labelled and self.target == "loihi-sim" and self.diagnostics:
            c, seen = tally.correct, tally.seen
            mapping["diagnostics"] = {
                "mapped_float_accuracy": c["mapped_float"] / seen,
                "quantized_float_accuracy": c["quantized_float"] / seen,
                "quantized_no_reset_accuracy": c["no_reset"] / seen,
                "explain": DIAGNOSTICS_EXPLAINED}
        return mapping

    def discard_net(self) -> None:
        if self.tmp_net and os.path.exists(self.tmp_net):
            os.unlink(self.tmp_net)

    def write_outputs(self, raw: dict) -> None:
        """Give the ``.net`` its final name; ``outputs.npy`` (unlabelled inputs) and the report."""
        outputs = raw.pop("_outputs")
        old = previous_artifacts(self.out)
        for p in old:
            p.unlink()
        if old:
            self.log(f"ckd-deploy: removed {len(old)} file(s) of a previous run in {self.out}")
        if self.tmp_net:
            os.replace(self.tmp_net, self.net_path)
        if raw["accuracy"] is None:
            save_numpy(self.out / "outputs.npy", outputs)
        write_report(self.out, raw)


DIAGNOSTICS_EXPLAINED = (
    "reference = float NIR graph; mapped_float = mapped layers in float "
    "(pool-as-conv binarisation only; none with pool mode thermometer or fold); quantized_float = + integer weights/thresholds "
    "and 12-bit decays; deployed = + 24-bit fixed-point state, truncating decays; quantized_no_reset = quantized_float "
    "with Loihi's per-layer delay but WITHOUT the aligned resets (biases act before the "
    "input arrives): the timing error the reset scheme removes")


#: what a deploy (or a .net run) writes into its out directory; a new run replaces all of them, so
#: no result of another model is left beside the new ones
ARTIFACT_PATTERNS = ("model.net", "report.json", "report.md", "outputs.npy", "netx-run.json", "spike_rate.png",
                     "energy.png", "accuracy.png",
                     "layer-*-[suv].npy")


def previous_artifacts(out: Path) -> list[Path]:
    return sorted({p for pat in ARTIFACT_PATTERNS for p in Path(out).glob(pat) if p.is_file()})


def deploy(nir_path: str | os.PathLike, out_dir: str | os.PathLike, target: str = "loihi-sim",
           data: str | None = None, input_npy: str | None = None, sim: str = "fast",
           pool_mode: str = "thermometer", batch_size: int = 16, limit: int | None = None,
           dt: float | None = None, data_root: str | None = None, diagnostics: bool = True,
           lava_timeout: float | None = None, log: Callable[[str], None] | None = None,
           neurobench: bool = True) -> dict:
    """Run the whole deploy stage; returns the raw results dict (also written to DIR)."""
    log = log or (lambda m: print(m, file=sys.stderr))
    _check_options(target, data, input_npy)
    check_output_dir(out_dir)
    run = DeployRun.prepare(nir_path, out_dir, target, pool_mode, dt, sim=sim, diagnostics=diagnostics,
                            neurobench=neurobench, lava_timeout=lava_timeout, log=log)
    run.load_samples(data, input_npy, batch_size, limit, data_root)
    run.write_net()
    try:
        raw = run.raw_results(run.simulate())
    except BaseException:
        run.discard_net()
        raise
    run.write_outputs(raw)
    return raw


def _device_name(target: str, sim: str, device: str) -> str:
    import platform
    if target == "gpu":
        return f"cuda:{torch.cuda.get_device_name(0)}"
    label = f"cpu:{platform.processor() or platform.machine()}"
    return f"{label} ({sim} simulator)" if target == "loihi-sim" else label


def write_report(out_dir: Path, raw: dict) -> Path:
    try:
        from ckd_toolchain.hardware.report import write_deploy_report
    except ImportError:
        write_deploy_report = None
    if write_deploy_report is None:
        try:
            from ckd_toolchain.hardware.report.build import write_deploy_report
        except ImportError:
            return write_json(Path(out_dir) / "report.json", raw)
    return write_deploy_report(out_dir, raw)
