"""``ckd-deploy`` pipeline: NIR + inputs → map → ``model.net`` → run → raw results (+ report).

Targets:

* ``loihi-sim``: map (:mod:`ckd_toolchain.hardware.nir_to_loihi`), write ``DIR/model.net``
  (:mod:`ckd_toolchain.hardware.netx_mapping`) and run it with ``simulators.loihi.run_netx`` (``sim="fast"``:
  our bit-exact simulator; ``sim="lava"``: genuine Lava in its own env) for ``T + L`` steps with
  ``reset_interval = T + L`` (timing scheme in ``ckd_toolchain/netx/README.md``). Logits are the read-out
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
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from ckd_toolchain.atomic_io import save_numpy, write_json
from ckd_toolchain.subsets import spread_subset
from ckd_toolchain.errors import InputError
from ckd_toolchain.hardware.core_allocation import allocate, out_degree
from ckd_toolchain.hardware.layer_float_sim import run_layers
from ckd_toolchain.hardware.mapping_report import layer_entries, mapping_block
from ckd_toolchain.hardware.netx_mapping import write_mapped as write_netx
from ckd_toolchain.hardware.nir_to_loihi import MappedNetwork, map_graph

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


def _lava_to_chw(a: np.ndarray) -> np.ndarray:
    """Lava (B, x, y, f) → (B, f, y, x); 1-D layers unchanged."""
    return a if a.ndim == 2 else np.transpose(a, (0, 3, 2, 1))


def _run_loihi_batch(net_path: str, net: MappedNetwork, x: np.ndarray, sim: str, timeout: float | None):
    from ckd_toolchain.simulators.loihi import run_netx
    from ckd_toolchain.simulators.loihi.api import torch_order_to_lava

    B, T = x.shape[:2]
    L = len(net.layers)
    steps = T + L
    xs = np.zeros((B, steps, *x.shape[2:]), dtype=np.int8)
    xs[:, :T] = (x > 0)
    spikes_in = torch_order_to_lava(xs) if xs.ndim == 5 else np.moveaxis(xs, 1, -1)
    kw = {"timeout": timeout} if sim == "lava" and timeout else {}
    res = run_netx(net_path, steps, input_spikes=spikes_in, reset_interval=steps,
                   record=("s", "v"), sim=sim, **kw)
    last = net.layers[-1]
    if last.spiking:
        out = res[-1]["s"][..., L:L + T].astype(np.float64)
    else:
        out = res[-1]["v"][..., L:L + T].astype(np.float64) / (64.0 * last.quant.scale)
    out = out.reshape(B, -1, T).transpose(0, 2, 1)            # [B, T, classes]
    counts = [_lava_to_chw(r["s"].sum(axis=-1)).astype(np.float64) for r in res]   # [B, *shape]
    return out, counts


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

    def fill(self, entries: list[dict]) -> float:
        n = max(self.n, 1)
        prev = self.input
        for layer, entry, cnt in zip(self.net.layers, entries, self.layers):
            deg = out_degree(layer)
            entry["input_spikes_per_inference"] = float(prev.sum() / n)
            entry["synaptic_ops_per_inference"] = float((prev.reshape(deg.shape) * deg).sum() / n)
            entry["spikes_per_inference"] = float(cnt.sum() / n) if layer.spiking else 0.0
            prev = cnt
        return float(self.input.sum() / n)


def _float_counts(graph, net: MappedNetwork, x: torch.Tensor, device, dt) -> tuple[np.ndarray, list]:
    from ckd_toolchain.simulators.nir_float import run_nir

    names = [l.name if l.spiking else None for l in net.layers]
    rec = [n for n in names if n is not None]
    y, recd = run_nir(graph, x, dt=dt, device=device, record=rec) if rec else (run_nir(graph, x, dt=dt, device=device), {})
    counts = []
    for l, n in zip(net.layers, names):
        if n is None:
            counts.append(np.zeros((x.shape[0], *l.out_shape)))
        else:
            counts.append(recd[n].sum(dim=1).double().cpu().numpy().reshape(x.shape[0], *l.out_shape))
    return y.double().cpu().numpy(), counts


def deploy(nir_path: str | os.PathLike, out_dir: str | os.PathLike, target: str = "loihi-sim",
           data: str | None = None, input_npy: str | None = None, sim: str = "fast",
           pool_mode: str = "thermometer", batch_size: int = 16, limit: int | None = None,
           dt: float | None = None, data_root: str | None = None, diagnostics: bool = True,
           lava_timeout: float | None = None, log: Callable[[str], None] | None = None) -> dict:
    """Run the whole deploy stage; returns the raw results dict (also written to DIR)."""
    from ckd_toolchain.nir_graph import load_graph

    log = log or (lambda m: print(m, file=sys.stderr))
    if target not in TARGETS:
        raise InputError(None, f"unknown target {target!r} (choose from {', '.join(TARGETS)})")
    if (data is None) == (input_npy is None):
        raise InputError(None, "give exactly one of --data NAME and --input X.npy")
    out = Path(out_dir)
    graph = load_graph(nir_path)
    meta = _meta(graph)
    if dt is None and meta.get("dt") is not None:
        dt = float(meta["dt"])
    map_mode = pool_mode
    if target != "loihi-sim" and pool_mode in ("conv", "thermometer"):
        try:    # float targets: no pool neurons exist there; count spikes of the real neuron nodes
            map_graph(graph, pool_mode="fold", dt=dt, where=nir_path)
            map_mode = "fold"
        except InputError:
            pass
    net = map_graph(graph, pool_mode=map_mode, dt=dt, where=nir_path)
    alloc = allocate(net.layers)
    entries = layer_entries(net, alloc)
    classes = list(meta.get("classes") or [])
    if input_npy is not None:
        x_all = load_input_array(input_npy, net.input_shape)
        T = int(x_all.shape[1])
        batches = _batches_from_array(x_all, batch_size)
        num = x_all.shape[0]
        nonbin = int(np.count_nonzero((x_all != 0) & (x_all != 1)))
        if nonbin and target == "loihi-sim":
            log(f"ckd-deploy: warning: {nonbin} input values are not 0/1; Loihi's input neurons turn every "
                "value > 0 into one spike (graded input cannot be injected per step)")
    else:
        from ckd_toolchain.ckd_train.data import DataConfig, build_datasets
        if "T" not in meta or len(net.input_shape) != 3:
            raise InputError(nir_path, "--data needs a ckd graph (metadata T and input_shape (C, H, W)); use --input")
        T = int(meta["T"])
        cfg = DataConfig(name=data, root=data_root, T=T, size=int(net.input_shape[1]),
                         frame_encoding=str(meta.get("frame_encoding") or "binary"))
        paired = build_datasets(cfg, log=log)
        classes = classes or list(paired.classes)
        ds = paired.dvs_test
        num = len(spread_subset(len(ds), limit))
        batches = _batches_from_dataset(ds, batch_size, limit)
        nonbin = 0
    if num < 1:
        raise InputError(input_npy or data, "no samples to run")
    if target == "gpu" and not torch.cuda.is_available():
        raise InputError(None, "--target gpu: no CUDA device is available (use --target cpu)")
    net_path = tmp_net = None
    if target == "loihi-sim":   # run from a temp name; renamed to model.net only after success
        out.mkdir(parents=True, exist_ok=True)
        net_path = os.fspath(out / "model.net")
        tmp_net = os.fspath(out / f".model.net.{os.getpid()}.partial")
        write_netx(net, tmp_net, num_steps=T + len(net.layers), source=os.fspath(nir_path))
    try:
        raw = _run(graph, net, alloc, entries, meta, classes, batches, num, nonbin, T, target, sim, dt,
                   tmp_net, net_path, nir_path, device_req=target, diagnostics=diagnostics,
                   lava_timeout=lava_timeout, map_mode=map_mode, log=log)
    except BaseException:
        if tmp_net and os.path.exists(tmp_net):
            os.unlink(tmp_net)
        raise
    outputs = raw.pop("_outputs")
    if tmp_net:
        os.replace(tmp_net, net_path)
    if raw["accuracy"] is None:
        save_numpy(out / "outputs.npy", outputs)
    write_report(out, raw)
    return raw


def _run(graph, net, alloc, entries, meta, classes, batches, num, nonbin, T, target, sim, dt,
         run_path, net_path, nir_path, device_req, diagnostics, lava_timeout, map_mode, log) -> dict:
    device = "cuda" if target == "gpu" else "cpu"
    stats = _Stats(net)
    correct = {"deployed": 0, "reference": 0, "mapped_float": 0, "quantized_float": 0, "no_reset": 0}
    outputs, labelled, seen = [], False, 0
    t_run = 0.0
    for xb, yb in batches:
        if xb.shape[1] != T:
            raise InputError(None, f"samples have {xb.shape[1]} time steps, expected {T}")
        t0 = time.perf_counter()
        if target == "loihi-sim":
            logits, counts = _run_loihi_batch(run_path, net, xb, sim, lava_timeout)
            in_counts, layer_counts = counts[0], counts[1:]
        else:
            logits, layer_counts = _float_counts(graph, net, torch.as_tensor(xb), device, dt)
            logits = logits.reshape(xb.shape[0], T, -1)
            in_counts = xb.sum(1).astype(np.float64)
        t_run += time.perf_counter() - t0
        stats.add(in_counts, layer_counts)
        outputs.append(logits.astype(np.float32))
        seen += xb.shape[0]
        if yb is not None:
            labelled = True
            correct["deployed"] += int((logits.sum(1).argmax(1) == yb).sum())
            if target == "loihi-sim":
                from ckd_toolchain.simulators.nir_float import run_nir
                ref = run_nir(graph, torch.as_tensor(xb), dt=dt).double().numpy().reshape(xb.shape[0], T, -1)
                correct["reference"] += int((ref.sum(1).argmax(1) == yb).sum())
                if diagnostics:
                    mf, _ = run_layers(net, xb)
                    qf, _ = run_layers(net, xb, quantized=True)
                    correct["mapped_float"] += int((mf.sum(1).argmax(1) == yb).sum())
                    correct["quantized_float"] += int((qf.sum(1).argmax(1) == yb).sum())
                    nr, _ = run_layers(net, xb, quantized=True, delayed=True)
                    correct["no_reset"] += int((nr.sum(1).argmax(1) == yb).sum())
        log(f"ckd-deploy: {seen}/{num} samples")
    in_per_inf = stats.fill(entries)
    mapping = mapping_block(net, alloc)
    mapping["non_binary_input_values"] = nonbin
    if target != "loihi-sim":
        mapping["float_target_layers"] = (f"layers listed as mapped with pool mode {map_mode!r} "
                                          "(spike counts from the float reference's neuron nodes)")
    acc = correct["deployed"] / seen if labelled else None
    ref_acc = correct["reference"] / seen if labelled and target == "loihi-sim" else None
    if labelled and target == "loihi-sim" and diagnostics:
        mapping["diagnostics"] = {
            "mapped_float_accuracy": correct["mapped_float"] / seen,
            "quantized_float_accuracy": correct["quantized_float"] / seen,
            "quantized_no_reset_accuracy": correct["no_reset"] / seen,
            "explain": ("reference = float NIR graph; mapped_float = mapped layers in float "
                        "(pool-as-conv binarisation only; none with pool mode thermometer or fold); quantized_float = + integer weights/thresholds "
                        "and 12-bit decays; deployed = + 24-bit fixed-point state, truncating decays; quantized_no_reset = quantized_float "
                        "with Loihi's per-layer delay but WITHOUT the aligned resets (biases act before the "
                        "input arrives): the timing error the reset scheme removes")}
    raw = {
        "source": {"nir": os.fspath(nir_path), "net": net_path, "arch": meta.get("arch"),
                   "weights": str(meta.get("weights") or "float"),
                   "method": _method_name(meta.get("method")), "classes": classes, "T": T,
                   "input_shape": list(net.input_shape), "frame_encoding": meta.get("frame_encoding")},
        "target": target, "sim": sim if target == "loihi-sim" else None,
        "device": _device_name(target, sim, device), "num_samples": int(seen),
        "steps_per_sample": int(T + len(net.layers)) if target == "loihi-sim" else int(T),
        "accuracy": acc, "reference_accuracy": ref_acc, "wall_time_s": float(t_run),
        "input_spikes_per_inference": in_per_inf, "layers": entries, "mapping": mapping,
        "input_is_spikes": nonbin == 0,
        "_outputs": np.concatenate(outputs, axis=0),
    }
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
