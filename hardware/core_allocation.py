"""Place mapped layers on Loihi 2 neurocores against the published chip limits.

Limits come from ``hardware/data/loihi2_limits.yaml`` (Intel Loihi 2 brief 2021, with citation):
``neurons_per_core`` (1M neurons / 128 cores) and ``synapses_per_core`` (120M / 128 cores, a chip
average because the 192 KB per core are shared by synapses and state), 128 cores per chip.

Rule (one layer never shares a core with another, as netx compiles layer by layer)::

    cores(layer) = max(⌈neurons / neurons_per_core⌉, ⌈synapses / synapses_per_core⌉)
    chips        = ⌈Σ cores / cores_per_chip⌉

Synapses are counted as connections (every kernel tap that lands inside the input map, zero
weights included; conv weight sharing is NOT assumed, so this is an upper bound). A layer does not
fit when one neuron's fan-in alone exceeds ``synapses_per_core`` (a neuron's input synapses live on
its core). Fan-in/fan-out axon limits are not public for Loihi 2 and are not checked.
"""
from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

import numpy as np
import yaml

from ckd_toolchain.hardware.loihi_layer import LoihiLayer


@lru_cache(maxsize=1)
def load_limits() -> dict:
    text = resources.files("hardware").joinpath("data/loihi2_limits.yaml").read_text()
    return yaml.safe_load(text)


def _limit(name: str) -> int:
    return int(load_limits()["figures"][name]["value"])


def axis_fan(in_size: int, k: int, s: int, p: int, d: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per axis: for each output position the number of kernel taps inside the input, and for
    each input position the number of output positions that read it."""
    taps = np.zeros(out_size, dtype=np.int64)
    readers = np.zeros(in_size, dtype=np.int64)
    for o in range(out_size):
        for j in range(k):
            i = o * s - p + j * d
            if 0 <= i < in_size:
                taps[o] += 1
                readers[i] += 1
    return taps, readers


def out_degree(layer: LoihiLayer) -> np.ndarray:
    """Synapses leaving each presynaptic neuron into ``layer``, shaped like its input (C, H, W)/(N,)."""
    if layer.kind in ("conv", "pool"):
        c, h, w = layer.in_shape
        _, rh = axis_fan(h, layer.kernel[0], layer.stride[0], layer.padding[0], layer.dilation[0], layer.out_shape[1])
        _, rw = axis_fan(w, layer.kernel[1], layer.stride[1], layer.padding[1], layer.dilation[1], layer.out_shape[2])
        per_group_out = layer.out_shape[0] // layer.groups
        return per_group_out * np.broadcast_to(np.outer(rh, rw), (c, h, w)).astype(np.int64)
    return np.full(layer.in_shape, layer.out_shape[0], dtype=np.int64)


def synapse_count(layer: LoihiLayer) -> int:
    return int(out_degree(layer).sum())


def max_fan_in(layer: LoihiLayer) -> int:
    if layer.kind in ("conv", "pool"):
        c = layer.in_shape[0] // layer.groups
        th, _ = axis_fan(layer.in_shape[1], layer.kernel[0], layer.stride[0], layer.padding[0], layer.dilation[0], layer.out_shape[1])
        tw, _ = axis_fan(layer.in_shape[2], layer.kernel[1], layer.stride[1], layer.padding[1], layer.dilation[1], layer.out_shape[2])
        return int(c * th.max() * tw.max())
    return int(np.prod(layer.in_shape))


def allocate(layers: list[LoihiLayer]) -> dict:
    """Cores per layer, total cores and chips, and the layers that do not fit (with the reason)."""
    npc, spc, cpc = _limit("neurons_per_core"), _limit("synapses_per_core"), _limit("cores_per_chip")
    rows, problems = [], []
    for layer in layers:
        syn, neu, fan = synapse_count(layer), layer.neurons, max_fan_in(layer)
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
