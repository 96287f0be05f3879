r"""NeuroBench metrics of the float student, computed by the ``neurobench`` package itself (2.3.x).

The float student is the NIR graph run in snnTorch: ``snntorch.import_nir.import_from_nir`` on the
graph (on its ``--nir-profile snntorch`` rewrite when it was written with another profile,
:func:`ckd_toolchain.export.importers.prepare`; the same module ``ckd-export --verify`` checks
spike for spike against the float reference). It is wrapped as a ``neurobench.models.SNNTorchModel``
whose call steps it over ``T`` (:class:`NirSnnTorchModel`; snnTorch's importer returns one step's
output, not ``(spikes, mem)``, so the wrapper's default loop cannot run it) and given to
``neurobench.benchmarks.Benchmark`` with the metric classes below; every number is what
NeuroBench's own code returns (``Benchmark.run``), nothing is recomputed here.

NeuroBench 2.3.0 definitions (``neurobench/metrics/...``, per sample, over the ``T`` steps):

* ``Footprint`` (``static/footprint.py``): bytes of the module's parameters and buffers (float32
  weights and biases, snnTorch's neuron buffers) — the float model, not the Loihi memory.
* ``SynapticOperations`` (``workload/synaptic_operations.py``, ``utils/layers/macs.py``): for every
  ``nn.Conv2d``/``nn.Linear`` call, a copy of the layer with every non-zero weight set to 1 and no
  bias is applied to the input with every non-zero value set to 1; the sum of its output is the
  number of effective operations ``sum_out sum_in [x_in != 0][w != 0]``. An input whose values are
  all in {-1, 0, 1} counts as ACs (``Effective_ACs``), any other input as MACs
  (``Effective_MACs``: e.g. a layer after an average pool, whose input is a spike *fraction*);
  ``Dense`` is the same with every input and weight set to 1 (zero padding still excluded).
* ``ActivationSparsity`` (``workload/activation_sparsity.py``): ``1 - spikes / (neurons x T)`` over
  the outputs of all snnTorch neuron modules of a batch, averaged over batches weighted by batch size.
* ``MembraneUpdates`` (``workload/membrane_updates.py``): per neuron module, every neuron at the
  first step plus, at each later step, the neurons whose membrane after the step differs from the
  one before it (a neuron that integrates, fires and is reset to its old value 0 is not counted).
* ``ClassificationAccuracy``: argmax of the output summed over ``T`` against the label.

How they relate to this report's counts (:mod:`ckd_toolchain.hardware.energy.op_counts`): our
synaptic ops are ``sum_i s_i * fanout_i`` — every spike reaches every synapse of its neuron,
zero weights included, and a pooled spike reaches the next layer once per spike; NeuroBench
counts one operation per non-zero (input, weight) pair per step, so a window of several spikes
after an average pool is one MAC per synapse, and a zero weight is no operation. Our neuron
updates are dense (every compartment, every step, read-out included); ``MembraneUpdates`` counts
only changed membranes of the spiking layers.
"""
from __future__ import annotations

import contextlib
import io
import os

import nir
import numpy as np
import torch

from ckd_toolchain.export import importers

DISTRIBUTION = "neurobench"
MISSING = ("the neurobench package is not installed (requirements/no-deps.txt pins it; "
           "pip install --no-deps neurobench==2.3.0)")
ERROR_MARK = "Error running workload metric"


def available() -> str | None:
    """``None`` when neurobench imports, else why not (one line)."""
    try:
        import neurobench  # noqa: F401
        from neurobench.benchmarks import Benchmark  # noqa: F401
    except ImportError as exc:
        return f"{MISSING}: {exc}"
    return None


def _model_class():
    from neurobench.models import SNNTorchModel

    class NirSnnTorchModel(SNNTorchModel):
        """``SNNTorchModel`` over snnTorch's import of a NIR graph: ``data[B, T, ...]`` →
        ``output[B, T, ...]``, membranes zeroed before every batch (as ``export.importers.run``)."""

        def __call__(self, data):
            importers._reset(self.net)
            ys = []
            with torch.no_grad():
                for t in range(data.shape[1]):
                    y = self.net(data[:, t].float())
                    ys.append(y[0] if isinstance(y, tuple) else y)
            return torch.stack(ys, 1)

    return NirSnnTorchModel


def _predict(out: torch.Tensor) -> torch.Tensor:
    """The class of each sample: argmax of the output summed over T (the deploy rule)."""
    return out.sum(1).argmax(-1)


def _loader(batches: list[tuple[np.ndarray, np.ndarray | None]], batch_size: int):
    x = torch.as_tensor(np.concatenate([b[0] for b in batches]))
    labelled = all(b[1] is not None for b in batches)
    y = torch.as_tensor(np.concatenate([b[1] for b in batches]) if labelled else np.zeros(len(x), dtype=np.int64))
    ds = torch.utils.data.TensorDataset(x, y.long())
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False), labelled


def neurobench_metrics(graph: nir.NIRGraph, batches: list[tuple[np.ndarray, np.ndarray | None]],
                       batch_size: int = 16, where: str | os.PathLike | None = None) -> dict:
    """NeuroBench's metrics of ``graph`` (float, in snnTorch) over ``batches`` of ``(x[B, T, ...],
    labels or None)``. Returns ``{"package", "network", "engine", "num_samples", "footprint_bytes",
    "synaptic_ops": {"effective_acs", "effective_macs", "dense"}, "activation_sparsity",
    "membrane_updates", "classification_accuracy" (None without labels)}``; every value per sample
    as NeuroBench returns it. Raises ``RuntimeError`` if a NeuroBench metric failed (Benchmark only
    prints such errors and reports 0)."""
    import neurobench
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import Footprint
    from neurobench.metrics.workload import (ActivationSparsity, ClassificationAccuracy, MembraneUpdates,
                                             SynapticOperations)

    g, what = importers.prepare(graph, "snntorch", where)
    module, engine = importers.build(g, "snntorch")
    model = _model_class()(module)
    loader, labelled = _loader(batches, batch_size)
    workload = [SynapticOperations, ActivationSparsity, MembraneUpdates]
    if labelled:
        workload.append(ClassificationAccuracy)
    bench = Benchmark(model, loader, [], [_predict], [[Footprint], workload])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        res = bench.run(quiet=False)
    bench.workload_metric_manager.cleanup_hooks(model)
    failed = [line for line in out.getvalue().splitlines() if ERROR_MARK in line]
    if failed:
        raise RuntimeError("neurobench: " + "; ".join(failed))
    syn = res["SynapticOperations"]
    return {
        "package": f"{DISTRIBUTION} {neurobench.__version__}",
        "network": f"float student: {engine} on {what}",
        "engine": engine,
        "num_samples": int(len(loader.dataset)),
        "footprint_bytes": float(res["Footprint"]),
        "synaptic_ops": {"effective_acs": float(syn["Effective_ACs"]), "effective_macs": float(syn["Effective_MACs"]),
                         "dense": float(syn["Dense"])},
        "activation_sparsity": float(res["ActivationSparsity"]),
        "membrane_updates": float(res["MembraneUpdates"]),
        "classification_accuracy": float(res["ClassificationAccuracy"]) if labelled else None,
    }
