"""Loihi energy and latency per inference: op counts x a Loihi profile's per-op figures.

Energy (per inference, per layer, summed)::

    E = SOPs * E_syn + active * E_upd_active + (updates - active) * E_upd_inactive
        + messages * E_spike_within_tile + hops * E_hop_EW

with the figures of Davies et al., IEEE Micro 2018, Table 2 (pre-silicon Loihi 1) or a user
profile. Assumptions (stated in every report): a neuron update is *active* in a step when the
neuron spikes in it; every spike message into a core costs one within-tile spike; hops come from
the consecutive-core, one-row placement model of :func:`ckd_toolchain.hardware.energy.op_counts.mean_tile_distance`
and are all east-west.

Latency per time step: cores run in parallel, so a step takes the slowest core's work plus the
mesh barrier sync::

    t_step = max_layer [ SOPs_L / (T * cores_L) * t_syn
                          + neurons_L / cores_L * (r_L t_upd_active + (1 - r_L) t_upd_inactive) ]
             + t_spike_within_tile + max_hops * t_hop_EW + t_barrier(tiles)

with ``r_L`` the layer's spike rate and ``t_barrier`` interpolated linearly between Table 2's
1-tile and 32-tile barrier sync times. Latency per inference = ``T * t_step``.
"""
from __future__ import annotations

import math

from ckd_toolchain.hardware.energy.layer_counts import LayerCounts
from ckd_toolchain.hardware.energy.profiles import Profile

ASSUMPTIONS = [
    "Loihi energies are Davies et al. 2018 Table 2 pre-silicon Loihi 1 figures unless another profile is named.",
    "A neuron update counts as 'active' in a time step when the neuron spikes in it; all others are 'inactive'.",
    "Each input spike of a layer is sent as one message to every core holding that layer; each message costs one within-tile spike energy.",
    "Tile hops: layers placed on consecutive cores in layer order, cores_per_tile cores per tile, tiles in one east-west row; spikes leave a uniformly random source core. All hops are priced as east-west hops.",
    "Latency: all cores work in parallel; a time step lasts as long as the busiest core (work split evenly over a layer's cores) plus one message latency and the mesh barrier sync.",
]


def layer_energy(c: LayerCounts, p: Profile) -> dict[str, float]:
    """Energy terms of one layer in joules."""
    return {
        "synaptic_ops": c.synaptic_ops * p.si("synaptic_op_energy"),
        "neuron_updates_active": c.active_updates * p.si("neuron_update_active_energy"),
        "neuron_updates_inactive": (c.neuron_updates - c.active_updates) * p.si("neuron_update_inactive_energy"),
        "spike_messages": c.spike_messages * p.si("within_tile_spike_energy"),
        "tile_hops": c.tile_hops * p.si("tile_hop_energy_ew"),
    }


def energy(counts: list[LayerCounts], p: Profile) -> dict:
    """``{"total": J, "breakdown": {term: J}, "per_layer": [J, ...]}`` per inference."""
    per_layer_terms = [layer_energy(c, p) for c in counts]
    breakdown = {k: sum(t[k] for t in per_layer_terms) for k in (per_layer_terms[0] if per_layer_terms else {})}
    return {"total": sum(breakdown.values()), "breakdown": breakdown,
            "per_layer": [sum(t.values()) for t in per_layer_terms]}


def barrier_time(tiles: int, p: Profile) -> float:
    """Barrier sync time (s), linear between the 1-tile and 32-tile figures; clamped outside."""
    t1, t32 = p.si("barrier_sync_time_1_tile"), p.si("barrier_sync_time_32_tiles")
    x = min(max(tiles, 1), 32)
    return t1 + (t32 - t1) * (x - 1) / 31.0


def latency(counts: list[LayerCounts], steps: int, p: Profile, cores_per_tile: int = 4) -> dict:
    """``{"per_inference": s, "per_step": s, "bottleneck": layer name}``."""
    if not counts:
        return {"per_inference": 0.0, "per_step": 0.0, "bottleneck": None}
    work = []
    for c in counts:
        r = c.spike_rate
        t_upd = r * p.si("neuron_update_active_time") + (1 - r) * p.si("neuron_update_inactive_time")
        t = c.synaptic_ops / (steps * c.cores) * p.si("synaptic_op_time") + c.neurons / c.cores * t_upd
        work.append((t, c.name))
    t_work, bottleneck = max(work)
    total_cores = 1 + sum(c.cores for c in counts)
    tiles = math.ceil(total_cores / cores_per_tile)
    max_hops = max(0, tiles - 1)
    t_msg = p.si("within_tile_spike_time") + max_hops * p.si("tile_hop_time_ew")
    t_step = t_work + t_msg + barrier_time(tiles, p)
    return {"per_inference": steps * t_step, "per_step": t_step, "bottleneck": bottleneck, "tiles": tiles}
