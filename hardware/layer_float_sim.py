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

Per layer, per step (the CUBA-LIF float view of :mod:`ckd_toolchain.hardware.loihi_layer`)::

    u = beta_u·u + W·s_in;   v = beta_v·v + u + b;   s = v > θ;   v = 0 where s
    read-out layer: output = v (= W·s_in + b per step, iDecay = vDecay = 4096)

``run_layers(net, x[B, T, *input_shape])`` returns the read-out ``[B, T, classes]`` and the spike
count of every layer (summed over the run, per sample).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ckd_toolchain.hardware.loihi_layer import MappedNetwork


def _params(layer, quantized: bool):
    if quantized:   # integer units (exact ties with vThMant); the read-out is divided by the scale
        w = layer.quant.weight.astype(np.float64)
        b = None if layer.quant.bias is None else layer.quant.bias.astype(np.float64)
        thr = None if layer.threshold_float is None else float(layer.quant.vth_mant)
        bu = 0.0 if layer.i_decay >= 4096 else 1.0 - layer.i_decay / 4096
        bv = 1.0 - layer.v_decay / 4096
    else:
        w, b, thr = layer.weight_float, layer.bias_float, layer.threshold_float
        bu, bv = layer.beta_u, layer.beta_v
    return w, b, thr, bu, bv


@torch.no_grad()
def run_layers(net: MappedNetwork, x, delayed: bool = False, quantized: bool = False,
               dtype=torch.float64, device="cpu"):
    x = torch.as_tensor(np.asarray(x), dtype=dtype, device=device)
    B, T = x.shape[0], x.shape[1]
    L = len(net.layers)
    steps = T + L if delayed else T
    cur = torch.zeros((steps, B, *x.shape[2:]), dtype=dtype, device=device)
    if delayed:
        cur[1:T + 1] = x.transpose(0, 1)      # layer 1 receives input step t at step t + 1
    else:
        cur[:T] = x.transpose(0, 1)
    counts = []
    for layer in net.layers:
        w, b, thr, bu, bv = _params(layer, quantized)
        wt = torch.as_tensor(w, dtype=dtype, device=device)
        flat = cur.reshape(steps * B, *cur.shape[2:])
        if layer.kind in ("conv", "pool"):
            syn = F.conv2d(flat, wt, None, stride=layer.stride, padding=layer.padding,
                           dilation=layer.dilation, groups=layer.groups)
        else:
            syn = flat.reshape(steps * B, -1) @ wt.T
        syn = syn.reshape(steps, B, *syn.shape[1:])
        bias = 0.0
        if b is not None:
            bt = torch.as_tensor(b, dtype=dtype, device=device)
            bias = bt.reshape(-1, *([1] * (syn.dim() - 3))) if syn.dim() > 3 else bt
        u = torch.zeros_like(syn[0])
        v = torch.zeros_like(syn[0])
        out = torch.zeros_like(syn)
        for t in range(steps):
            u = bu * u + syn[t]
            v = bv * v + u + bias
            if thr is None:
                out[t] = v
            else:
                s = v > thr
                out[t] = s.to(dtype)
                v = torch.where(s, torch.zeros_like(v), v)
        if thr is not None:
            counts.append(out.sum(dim=0).reshape(B, -1).sum(dim=1).cpu().numpy())
        else:
            counts.append(np.zeros(B))
        if delayed:   # next layer sees this output one step later
            cur = torch.zeros_like(out)
            cur[1:] = out[:-1]
        else:
            cur = out
    # layer k (1-based) receives input step 0 at index k when delayed: read-out window [L, L+T)
    readout = out.transpose(0, 1)[:, L:L + T] if delayed else out.transpose(0, 1)
    readout = readout.cpu().numpy()
    if quantized and not net.layers[-1].spiking:
        readout = readout / net.layers[-1].quant.scale
    return readout, counts
