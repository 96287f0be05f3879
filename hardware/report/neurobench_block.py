"""The report's ``neurobench`` block: NeuroBench's metrics of the float student beside this report's counts.

``raw["neurobench"]`` comes from :func:`ckd_toolchain.hardware.energy.neurobench_metrics.neurobench_metrics`
(the ``neurobench`` package's own numbers, per sample) or says why there are none. The block puts
them as quantities (kind ``counted``: exact counts over the float run; the accuracy ``measured``)
next to this report's closest counterparts, summed over the *spiking, non-pool* layers (the
neurons NeuroBench hooks: snnTorch's LIF modules; Loihi's pool neurons have no float counterpart):

* ``synaptic_ops``: our ``sum_i s_i * fanout_i`` over every layer vs NeuroBench's effective
  ACs + MACs (one per non-zero input x non-zero weight pair and step);
* ``activation_sparsity``: ``1 - spikes / (neurons x T)``, NeuroBench's definition on our spike
  counts — equal on ``--target cpu|gpu`` (same float network), close on ``loihi-sim``;
* ``neuron_updates``: ``neurons x T`` (every LIF compartment every step) vs NeuroBench's
  ``MembraneUpdates`` (only membranes that changed).
"""
from __future__ import annotations

from ckd_toolchain.hardware.energy.layer_counts import LayerCounts
from ckd_toolchain.hardware.report.schema import quantity

NO_FLOAT_NETWORK = ("a .net input has no float network: NeuroBench's metrics are computed on the float student "
                    "of a NIR graph (ckd-deploy model.nir)")

DEFINITIONS = [
    "NeuroBench SynapticOperations: one op per (non-zero input, non-zero weight) pair of every Conv/Linear "
    "call, bias excluded; an input of values in {-1, 0, 1} counts as ACs, any other (e.g. after an average "
    "pool: a spike fraction) as MACs; Dense: every input and weight set to 1 (zero padding excluded). "
    "This report's SOPs: every spike x its neuron's fan-out (zero weights included; after a pool each spike "
    "counts, not each non-zero window), which is what Loihi's synapse engine does.",
    "NeuroBench ActivationSparsity: 1 - spikes / (neurons x T) over the snnTorch LIF modules; 'this report' "
    "applies the same formula to the report's spike counts of its spiking non-pool layers.",
    "NeuroBench MembraneUpdates: all neurons at the first step, then only neurons whose membrane changed "
    "(a neuron reset to the value it had is not counted); this report's neuron updates: every LIF neuron "
    "every step (dense, as Loihi updates every compartment).",
    "NeuroBench Footprint: bytes of the float module's parameters and buffers (float32), not Loihi memory.",
]


def _spiking(raw: dict, i: int, c: LayerCounts) -> bool:
    layers = (raw.get("mapping") or {}).get("layers")
    if isinstance(layers, list) and i < len(layers) and isinstance(layers[i], dict) and "spiking" in layers[i]:
        return bool(layers[i]["spiking"])
    return c.spikes > 0


def ours(raw: dict, counts: list[LayerCounts], steps: int) -> dict:
    """This report's counterparts of NeuroBench's workload metrics (see the module docstring)."""
    lif = [c for i, c in enumerate(counts) if c.kind != "pool" and _spiking(raw, i, c)]
    spikes = sum(c.spikes for c in lif)
    slots = sum(c.neurons for c in lif) * steps
    return {"synaptic_ops": quantity(sum(c.synaptic_ops for c in counts), "SOPs", "counted"),
            "activation_sparsity": quantity(1.0 - spikes / slots if slots else 0.0, "fraction", "counted"),
            "neuron_updates": quantity(slots, "updates", "counted")}


def neurobench_block(raw: dict, counts: list[LayerCounts], steps: int) -> dict:
    nb = raw.get("neurobench")
    if nb is None:
        reason = NO_FLOAT_NETWORK if (raw.get("source") or {}).get("net") and not (raw.get("source") or {}).get("nir") \
            else "not computed by this run"
        return {"available": False, "reason": reason}
    if not nb.get("available"):
        return {"available": False, "reason": str(nb.get("reason") or "not computed")}
    syn = nb["synaptic_ops"]
    acc = nb.get("classification_accuracy")
    metrics = {
        "footprint": quantity(nb["footprint_bytes"], "bytes", "counted"),
        "synaptic_ops_effective_acs": quantity(syn["effective_acs"], "SOPs", "counted"),
        "synaptic_ops_effective_macs": quantity(syn["effective_macs"], "MACs", "counted"),
        "synaptic_ops_dense": quantity(syn["dense"], "SOPs", "counted"),
        "activation_sparsity": quantity(nb["activation_sparsity"], "fraction", "counted"),
        "membrane_updates": quantity(nb["membrane_updates"], "updates", "counted"),
        "classification_accuracy": None if acc is None else quantity(acc, "fraction", "measured"),
    }
    return {"available": True, "package": str(nb["package"]), "network": str(nb["network"]),
            "num_samples": int(nb["num_samples"]), "per": "sample (inference of T steps)",
            "metrics": metrics, "this_report": ours(raw, counts, steps),
            "this_report_spikes_from": "fixed-point Loihi simulation" if raw["target"] == "loihi-sim"
            else "float reference", "definitions": list(DEFINITIONS)}
