"""Per-layer and total op counts of one inference from a deploy run's raw ``layers`` records.

See :mod:`ckd_toolchain.hardware.energy.op_counts` for the definitions. Each count carries its *kind*:
``counted`` (from the simulator or exact shape arithmetic) or ``estimated`` (a stated model,
e.g. the mean fan-out when only the total of input spikes is known, or the core count of a
run that was not mapped to Loihi cores).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ckd_toolchain.errors import InputError
from ckd_toolchain.hardware.energy.op_counts import Geometry, dense_macs, geometry, mean_tile_distance, synapse_count

#: neurons per Loihi core used when a run has no core mapping (Davies 2018, p. 86: 1,024 compartments per core)
NEURONS_PER_CORE = 1024


@dataclass
class LayerCounts:
    name: str
    kind: str
    geom: Geometry
    neurons: int
    synapses: int
    cores: int
    spikes: float
    input_spikes: float
    synaptic_ops: float
    neuron_updates: float
    active_updates: float
    spike_messages: float
    tile_hops: float
    dense_macs: int
    kinds: dict[str, str] = field(default_factory=dict)

    @property
    def spike_rate(self) -> float:
        """Spikes per neuron per time step."""
        return self.spikes / self.neuron_updates if self.neuron_updates else 0.0


def _num(layer: dict, key: str, name: str, required: bool = True) -> float | None:
    v = layer.get(key)
    if v is None:
        if required:
            raise InputError(None, f"layer {name}: missing '{key}'")
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise InputError(None, f"layer {name}: '{key}' must be a non-negative number, got {v!r}")
    return float(v)


def count_layers(layers: list[dict], steps: int, input_spikes: float | None,
                 cores_per_tile: int = 4) -> list[LayerCounts]:
    """Counts per inference for each layer of a ``steps``-step inference.

    ``input_spikes``: spikes the input sends into layer 0 per inference (used when a layer has no
    ``input_spikes_per_inference`` of its own; later layers default to the previous layer's spikes).
    """
    if steps <= 0:
        raise InputError(None, f"steps_per_sample must be positive, got {steps}")
    out: list[LayerCounts] = []
    next_core = 1  # core 0: where the input spikes enter (placement model)
    prev_cores: list[int] = [0]
    prev_spikes = input_spikes
    for i, layer in enumerate(layers):
        name = str(layer.get("name", f"layer{i}"))
        geom = geometry({**layer, "name": name})
        kinds: dict[str, str] = {}
        neurons = int(layer.get("neurons") or geom.out_neurons)
        synapses = layer.get("synapses")
        if synapses is None:
            synapses = synapse_count(geom)
        synapses = int(synapses)
        spikes = _num(layer, "spikes_per_inference", name)
        inp = _num(layer, "input_spikes_per_inference", name, required=False)
        if inp is None:
            if prev_spikes is None:
                raise InputError(None, f"layer {name}: missing 'input_spikes_per_inference'")
            inp = float(prev_spikes)
        sops = _num(layer, "synaptic_ops_per_inference", name, required=False)
        if sops is None:
            sops = inp * synapses / max(geom.in_neurons, 1)
            kinds["synaptic_ops"] = "estimated"
        cores = layer.get("cores")
        if cores is None or int(cores) <= 0:
            cores = max(1, math.ceil(neurons / NEURONS_PER_CORE))
            kinds["cores"] = "estimated"
        cores = int(cores)
        my_cores = list(range(next_core, next_core + cores))
        next_core += cores
        messages = inp * cores
        hops = inp * mean_tile_distance(prev_cores, my_cores, cores_per_tile)
        kinds["tile_hops"] = "estimated"
        if "cores" in kinds:
            kinds["spike_messages"] = "estimated"
        updates = float(neurons * steps)
        active = min(spikes, updates)
        kinds["active_updates"] = "estimated"
        out.append(LayerCounts(name=name, kind=geom.kind, geom=geom, neurons=neurons, synapses=synapses,
                               cores=cores, spikes=spikes, input_spikes=inp, synaptic_ops=sops,
                               neuron_updates=updates, active_updates=active, spike_messages=messages,
                               tile_hops=hops, kinds=kinds,
                               # a graph layer's record sums all its synapse groups; else its own geometry
                               dense_macs=int(layer.get("dense_macs") or dense_macs(geom))))
        prev_cores = my_cores
        prev_spikes = spikes
    return out


TOTAL_KEYS = ("spikes", "input_spikes", "synaptic_ops", "neuron_updates", "active_updates",
              "spike_messages", "tile_hops", "dense_macs", "neurons", "synapses", "cores")


def totals(counts: list[LayerCounts]) -> dict[str, float]:
    """Sums over layers (``input_spikes`` is the network input: layer 0's input spikes)."""
    t = {k: float(sum(getattr(c, k) for c in counts)) for k in TOTAL_KEYS}
    t["input_spikes"] = counts[0].input_spikes if counts else 0.0
    return t
