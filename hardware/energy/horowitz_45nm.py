"""The SNN literature's 45 nm view (Horowitz, ISSCC 2014): E_MAC = 4.6 pJ, E_AC = 0.9 pJ.

- SNN (event-driven):  ``E = SOPs * E_AC`` (a binary spike turns a MAC into an accumulate), plus,
  when the input is not spikes (e.g. count-encoded frames fed as currents), the first layer runs
  densely: its SOPs are replaced by ``T * MACs_0 * E_MAC``.
- The same student run densely (ANN-equivalent on a GPU-like MAC array):
  ``E = T * sum_L MACs_L * E_MAC``.
- The ANN teacher: ``E = MACs_teacher * E_MAC`` (one forward pass).
"""
from __future__ import annotations

from ckd_toolchain.hardware.energy.layer_counts import LayerCounts
from ckd_toolchain.hardware.energy.profiles import Profile


def snn_energy(counts: list[LayerCounts], steps: int, p: Profile, input_is_spikes: bool = True) -> dict:
    e_ac, e_mac = p.si("ac_energy"), p.si("mac_energy")
    per_layer = [c.synaptic_ops * e_ac for c in counts]
    if counts and not input_is_spikes:
        per_layer[0] = steps * counts[0].dense_macs * e_mac
    return {"total": sum(per_layer), "per_layer": per_layer}


def dense_energy(counts: list[LayerCounts], steps: int, p: Profile) -> dict:
    per_layer = [steps * c.dense_macs * p.si("mac_energy") for c in counts]
    return {"total": sum(per_layer), "per_layer": per_layer}


def teacher_energy(macs: float, p: Profile) -> float:
    return macs * p.si("mac_energy")
