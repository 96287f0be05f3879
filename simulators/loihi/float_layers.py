"""Float simulation of the MAPPED layers, to tell timing error from quantisation error.

The netx network differs from the float NIR graph in three ways; this module can switch each on:

* ``pool_as_conv`` / fold changes (built into the layers themselves);
* ``quantized=True``: the integer weights ``W``, biases and ``vThMant`` (integer units, so ties
  with the threshold are exact; the read-out is divided by the layer scale) and the 12-bit decays,
  in float64 arithmetic: no 24-bit state limits and no truncation of the decay products;
* ``delayed=True``: Loihi's timing — every layer adds one step of synaptic delay (layer k sees
  the input of step t at step t + k) and biases act from step 1, before the input arrives. The
  run is ``T + L`` steps with zero input after ``T`` and the read-out is taken in the window
  ``[L, L + T)``; without delay each layer sees step t's input at step t (the float model).

Per layer, per step (the CUBA-LIF float view of the mapper's ``LoihiLayer``; the update is
:func:`ckd_toolchain.simulators.neuron_float.leaky_integrate` / ``fire``)::

    u = beta_u·u + W·s_in;   v = beta_v·v + u + b;   s = v > θ;   v = 0 where s
    read-out layer: output = v (= W·s_in + b per step, iDecay = vDecay = 2^12)

``run_layers(net, x[B, T, *input_shape])`` returns the read-out ``[B, T, classes]`` and the spike
count of every layer (summed over the run, per sample). ``net`` is the mapper's network
(``net.layers``: ``kind``, ``weight_float``, ``bias_float``, ``threshold_float``, ``beta_u``,
``beta_v``, ``i_decay``, ``v_decay``, ``quant`` (``weight``, ``bias``, ``vth_mant``, ``scale``),
``stride``, ``padding``, ``dilation``, ``groups``, ``spiking``); it is only read.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ckd_toolchain.loihi2.quantization import beta_from_decay
from ckd_toolchain.simulators.neuron_float import fire, leaky_integrate


def _params(layer, quantized: bool):
    if quantized:   # integer units (exact ties with vThMant); the read-out is divided by the scale
        w = layer.quant.weight.astype(np.float64)
        b = None if layer.quant.bias is None else layer.quant.bias.astype(np.float64)
        thr = None if layer.threshold_float is None else float(layer.quant.vth_mant)
        bu, bv = beta_from_decay(layer.i_decay), beta_from_decay(layer.v_decay)
    else:
        w, b, thr = layer.weight_float, layer.bias_float, layer.threshold_float
        bu, bv = layer.beta_u, layer.beta_v
    return w, b, thr, bu, bv


def _synaptic_input(layer, w, cur: torch.Tensor) -> torch.Tensor:
    """``W·s_in`` of every step for one synapse group (``layer``: a mapped layer's own synapse or
    one of its extra groups): ``cur[steps, B, ...]`` → ``[steps, B, *out]``."""
    steps, B = cur.shape[:2]
    wt = torch.as_tensor(w, dtype=cur.dtype, device=cur.device)
    flat = cur.reshape(steps * B, *cur.shape[2:])
    if layer.kind in ("conv", "pool"):
        syn = F.conv2d(flat, wt, None, stride=layer.stride, padding=layer.padding,
                       dilation=layer.dilation, groups=layer.groups)
    else:
        syn = flat.reshape(steps * B, -1) @ wt.T
    return syn.reshape(steps, B, *syn.shape[1:])


def _bias(b, syn: torch.Tensor):
    """The per-channel / per-neuron bias broadcast over ``syn[t]`` (``0.0`` without one)."""
    if b is None:
        return 0.0
    bt = torch.as_tensor(b, dtype=syn.dtype, device=syn.device)
    return bt.reshape(-1, *([1] * (syn.dim() - 3))) if syn.dim() > 3 else bt


def _cuba_lif(syn: torch.Tensor, bu: float, bv: float, bias, thr) -> torch.Tensor:
    """The neuron group over time: spikes (as ``syn.dtype``), or ``v`` for the read-out (``thr None``)."""
    u = torch.zeros_like(syn[0])
    v = torch.zeros_like(syn[0])
    out = torch.zeros_like(syn)
    for t in range(syn.shape[0]):
        u = leaky_integrate(u, bu, syn[t])
        v = leaky_integrate(v, bv, u, bias)
        if thr is None:
            out[t] = v
        else:
            s, v = fire(v, thr, torch.zeros_like(v))
            out[t] = s.to(syn.dtype)
    return out


@torch.no_grad()
def run_layers(net, x, delayed: bool = False, quantized: bool = False,
               dtype=torch.float64, device="cpu"):
    """Float run of the mapped layers (module docstring). Layers with several synapse groups
    (graph lowering) sum them; with ``delayed`` each group adds one step on top of its source's
    own timing (layer i's output at step t is the float model's step ``t - depth_i``)."""
    x = torch.as_tensor(np.asarray(x), dtype=dtype, device=device)
    B, T = x.shape[0], x.shape[1]
    D = net.readout_depth
    steps = T + D if delayed else T
    inp = torch.zeros((steps, B, *x.shape[2:]), dtype=dtype, device=device)
    inp[:T] = x.transpose(0, 1)            # the input block's spikes (depth 0)
    outs: dict[int, torch.Tensor] = {-1: inp}
    counts = []
    for i, layer in enumerate(net.layers):
        w, b, thr, bu, bv = _params(layer, quantized)
        syn = None
        for src, g in net.synapse_groups(i):
            cur = outs[src]
            if delayed:   # one step of synaptic delay per hop
                cur = torch.cat([torch.zeros_like(cur[:1]), cur[:-1]])
            gw = w if g is layer else (g.weight if quantized else g.weight_float).astype(np.float64)
            part = _synaptic_input(g, gw, cur)
            syn = part if syn is None else syn + part
        out = _cuba_lif(syn, bu, bv, _bias(b, syn), thr)
        if thr is not None:
            counts.append(out.sum(dim=0).reshape(B, -1).sum(dim=1).cpu().numpy())
        else:
            counts.append(np.zeros(B))
        outs[i] = out
    # the read-out (depth D) receives the input's step 0 at index D when delayed: window [D, D+T)
    readout = out.transpose(0, 1)[:, D:D + T] if delayed else out.transpose(0, 1)
    readout = readout.cpu().numpy()
    if quantized and not net.layers[-1].spiking:
        readout = readout / net.layers[-1].quant.scale
    return readout, counts
