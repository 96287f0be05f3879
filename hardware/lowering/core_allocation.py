"""Place mapped layers on Loihi 2 neurocores against the published chip limits.

Limits come from ``hardware/data/loihi2_limits.yaml`` (Intel Loihi 2 brief 2021, with citation):
``neurons_per_core`` (1M neurons / 128 cores) and ``synapses_per_core`` (120M / 128 cores, a chip
average because the 192 KB per core are shared by synapses and state), 128 cores per chip.

Rule (one layer never shares a core with another, as netx compiles layer by layer)::

    cores(layer) = max(⌈neurons / neurons_per_core⌉, ⌈synapses / synapses_per_core⌉)
    chips        = ⌈Σ cores / cores_per_chip⌉

Synapses are counted as connections (every kernel tap that lands inside the input map, zero
weights included; conv weight sharing is NOT assumed, so this is an upper bound); the counts are
:mod:`ckd_toolchain.geometry`'s, the same the energy report uses. A layer does not
fit when one neuron's fan-in alone exceeds ``synapses_per_core`` (a neuron's input synapses live on
its core). Fan-in/fan-out axon limits are not public for Loihi 2 and are not checked.
"""
from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

import numpy as np
import yaml

from ckd_toolchain.geometry import conv_fan_in, conv_fan_out
from ckd_toolchain.geometry import dense_macs as geometry_dense_macs
from ckd_toolchain.hardware.lowering.loihi_layer import LoihiLayer


@lru_cache(maxsize=1)
def load_limits() -> dict:
    text = resources.files("ckd_toolchain.hardware").joinpath("data/loihi2_limits.yaml").read_text()
    return yaml.safe_load(text)


def _limit(name: str) -> int:
    return int(load_limits()["figures"][name]["value"])


def _conv_args(layer: LoihiLayer) -> tuple:
    return (layer.in_shape, layer.out_shape, layer.kernel, layer.stride, layer.padding, layer.dilation,
            layer.groups)


def out_degree(layer: LoihiLayer) -> np.ndarray:
    """Synapses leaving each presynaptic neuron into ``layer``, shaped like its input (C, H, W)/(N,)
    (:func:`ckd_toolchain.geometry.conv_fan_out`: padding taps excluded, dilation and groups applied)."""
    if layer.kind in ("conv", "pool"):
        return conv_fan_out(*_conv_args(layer))
    return np.full(layer.in_shape, layer.out_shape[0], dtype=np.int64)


def synapse_count(layer: LoihiLayer) -> int:
    return int(out_degree(layer).sum())


def max_fan_in(layer: LoihiLayer) -> int:
    if layer.kind in ("conv", "pool"):
        return int(conv_fan_in(*_conv_args(layer)).max())
    return int(np.prod(layer.in_shape))


def dense_macs(group) -> int:
    """MACs of one dense evaluation of one synapse group per step (padding zeros included)."""
    conv = group.kind in ("conv", "pool")
    return geometry_dense_macs(group.in_shape, group.out_shape, group.kernel if conv else None, group.groups)


def allocate(layers: list[LoihiLayer]) -> dict:
    """Cores per layer, total cores and chips, and the layers that do not fit (with the reason)."""
    npc, spc, cpc = _limit("neurons_per_core"), _limit("synapses_per_core"), _limit("cores_per_chip")
    rows, problems = [], []
    for layer in layers:
        groups = [layer, *getattr(layer, "extra", [])]   # every synapse group lives on the layer's cores
        syn = sum(synapse_count(g) for g in groups)
        neu, fan = layer.neurons, sum(max_fan_in(g) for g in groups)
        cores = max(math.ceil(neu / npc), math.ceil(syn / spc), 1)
        fits = fan <= spc
        if not fits:
            problems.append(f"layer {layer.name!r} does not fit: one neuron has fan-in {fan} > "
                            f"{spc} synapses per core")
        rows.append({"name": layer.name, "neurons": neu, "synapses": syn, "max_fan_in": fan,
                     "cores": cores, "fits": fits,
                     "limited_by": "neurons" if math.ceil(neu / npc) >= math.ceil(syn / spc) else "synapses"})
    total = sum(r["cores"] for r in rows)
    return {"layers": rows, "cores": total, "chips": math.ceil(total / cpc), "fits": not problems,
            "problems": problems,
            "limits": {"neurons_per_core": npc, "synapses_per_core": spc, "cores_per_chip": cpc},
            "citation": " ".join(load_limits()["citation"].split())}
