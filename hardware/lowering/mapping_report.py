"""Static (before any run) part of the deploy report: per-layer quantisation and placement.

Per layer (keys of the raw-results contract, ``hardware/report/build.py``): ``name``, ``kind``
(``conv`` | ``pool`` | ``dense``), shapes, kernel/stride/padding/dilation/groups, ``neurons``, ``synapses``
(connections, :mod:`ckd_toolchain.hardware.lowering.core_allocation`), ``weight_exponent`` (the exponent netx's
``optimize_weight_bits`` derives from the stored integers), ``quant_error_rms``/``quant_error_max``
(float weight − dequantised weight ``W/s``, in float weight units), ``saturated`` (weights and
biases clipped at the mantissa ranges), ``cores``. The ``mapping`` block adds per layer the scale,
vThMant, decays, mantissa exponent and relative error, and the network-level facts: pool mode,
cores, chips, limits and their citation, timing scheme and input handling.
"""
from __future__ import annotations

from ckd_toolchain.hardware.lowering.core_allocation import allocate, dense_macs
from ckd_toolchain.hardware.lowering.loihi_layer import MappedNetwork

TIMING_NOTE = (
    "every netx layer adds one step of synaptic delay; the .net has a pass-through input neuron "
    "layer and runs T+L steps with reset_interval=T+L, so each layer's u/v are zeroed exactly when "
    "its first input arrives (bias transients erased) and the read-out window [L, L+T) equals the "
    "float model's steps [0, T)")


GRAPH_TIMING_NOTE = (
    "; graph network: L is the read-out's depth D = {D} (synaptic hops from the input), each layer's "
    "netx phase is its own depth, and shortcuts that would arrive early pass through relay layers")


def layer_entries(net: MappedNetwork, alloc: dict | None = None) -> list[dict]:
    alloc = alloc or allocate(net.layers)
    out = []
    for layer, place in zip(net.layers, alloc["layers"]):
        q = layer.quant
        conv = layer.kind in ("conv", "pool")
        out.append({
            "name": layer.name, "kind": layer.kind,
            "in_shape": list(layer.in_shape), "out_shape": list(layer.out_shape),
            "kernel": list(layer.kernel) if conv else None,
            "stride": list(layer.stride) if conv else None,
            "padding": list(layer.padding) if conv else None,
            "dilation": list(layer.dilation) if conv else None,
            "groups": int(layer.groups), "neurons": int(layer.neurons),
            "synapses": int(place["synapses"]),      # every synapse group into the layer
            "synapse_groups": 1 + len(layer.extra),
            "dense_macs": sum(dense_macs(g) for g in [layer, *layer.extra]),
            "weight_exponent": int(q.netx_weight_exponent),
            "quant_error_rms": float(q.quant_error_rms), "quant_error_max": float(q.quant_error_max),
            "saturated": int(q.saturated_weights + q.saturated_biases),
            "cores": int(place["cores"]),
        })
    return out


def mapping_block(net: MappedNetwork, alloc: dict | None = None) -> dict:
    alloc = alloc or allocate(net.layers)
    layers = []
    for layer in net.layers:
        q = layer.quant
        layers.append({
            "name": layer.name, "kind": layer.kind, "nir_nodes": list(layer.nir_nodes),
            "spiking": layer.spiking, "scale": q.scale, "scale_limited_by": q.scale_limited_by,
            "vThMant": int(q.vth_mant), "iDecay": int(layer.i_decay), "vDecay": int(layer.v_decay),
            "weight_mantissa_exponent": int(q.mant_exp), "netx_weight_bits": int(q.netx_weight_bits),
            "weight_exponent": int(q.netx_weight_exponent),
            "weight_rel_error_rms": q.weight_rel_error_rms, "bias_error_max": q.bias_error_max,
            "threshold_error": q.threshold_error, "saturated_weights": q.saturated_weights,
            "saturated_biases": q.saturated_biases, "notes": list(layer.notes),
        })
    return {
        "pool_mode": net.pool_mode,
        "pool_mapping": ("pooling mapped to a grouped strided convolution + neuron layer (netx has no "
                         "pool layer); the neuron spikes when >= half of its window spiked"
                         if net.pool_mode == "conv" else
                         "pooling mapped to a grouped strided convolution + neuron layer (netx has no "
                         "pool layer) with kh*kw neurons per channel and window, neuron j spiking iff >= j "
                         "of the window's inputs spiked (thermometer code); the next layer reads them with "
                         "weight w/(kh*kw) each: exact"
                         if net.pool_mode == "thermometer" else
                         "pooling folded exactly into the next synaptic layer (kernel x stride)"),
        "dt": net.dt, "num_layers": len(net.layers),
        "cores": alloc["cores"], "chips": alloc["chips"], "fits": alloc["fits"],
        "problems": alloc["problems"], "limits": alloc["limits"], "limits_citation": alloc["citation"],
        "placement": alloc["layers"], "timing": TIMING_NOTE + (GRAPH_TIMING_NOTE.format(D=net.readout_depth)
                                                                  if net.is_graph else ""),
        "input": "pass-through input neuron: an input value > 0 is a spike (binary frames pass unchanged)",
        "layers": layers, "notes": list(net.notes),
    }
