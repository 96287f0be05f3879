"""Inference of a mapped network on the Loihi 2 simulators, with the deploy timing scheme.

:func:`run_loihi_batch` runs the ``.net`` written for ``net`` (``write_netx`` /
``netx_mapping.nir_to_netx`` with ``num_steps = T + L``) on ``x[B, T, *input_shape]``: the input
is binarised (``x > 0`` is a spike), padded with ``L`` empty steps (``L`` = the read-out's depth:
the number of mapped layers for a chain, ``MappedNetwork.readout_depth`` for a graph) and run
for ``T + L`` steps with ``reset_interval = T + L`` (timing scheme in
:func:`ckd_toolchain.hardware.lowering.netx_mapping.write_mapped`). Logits are the read-out layer's output in the window
``[L, L + T)``: its spikes, or its ``v`` divided by ``64·scale`` (its per-step float value).

Step accounting (``split=True``): block ``k`` (block 0 = the input neuron, block ``j >= 1`` =
mapped layer ``j - 1``) receives the sample's first step at record index ``d`` (its depth, ``k`` in
a chain) and is reset there, so its *window* is ``[d, d + T)``: the ``T`` steps a layer works on a sample when samples are
pipelined back to back (``reset_interval = T``, no padding). Everything outside the window is the
single isolated sample's *fill/drain*: steps before ``k`` (bias transient, erased by the reset)
and after ``k + T`` (neurons keep integrating their bias once the input has passed).
"""
from __future__ import annotations

import numpy as np

from ckd_toolchain.loihi2.constants import STATE_SHIFT


def _lava_to_chw(a: np.ndarray) -> np.ndarray:
    """Lava (B, x, y, f) → (B, f, y, x); 1-D layers unchanged."""
    return a if a.ndim == 2 else np.transpose(a, (0, 3, 2, 1))


def run_loihi_batch(net_path: str, net, x: np.ndarray, sim: str = "fast", timeout: float | None = None,
                    split: bool = False):
    """``(logits[B, T, classes] float64, counts)``: ``counts[0]`` the input spikes and
    ``counts[i]`` layer ``i``'s spikes per neuron summed over the run, ``[B, *shape]`` (C, H, W) order.
    With ``split=True``: ``(logits, window_counts, fill_drain_counts)``, the same counts inside and
    outside each block's window ``[k, k + T)`` (module docstring); they add up to ``counts``.

    ``net`` is the mapped network the file was written from (``net.layers``); ``sim`` is
    ``"fast"`` or ``"lava"`` (``timeout`` in seconds applies to Lava's subprocess only).
    """
    from ckd_toolchain.simulators.loihi import run_netx
    from ckd_toolchain.simulators.loihi.api import torch_order_to_lava

    B, T = x.shape[:2]
    L = net.readout_depth      # = len(net.layers) for a chain; relays/shortcuts make it differ in a graph
    steps = T + L
    xs = np.zeros((B, steps, *x.shape[2:]), dtype=np.int8)
    xs[:, :T] = (x > 0)
    spikes_in = torch_order_to_lava(xs) if xs.ndim == 5 else np.moveaxis(xs, 1, -1)
    kw = {"timeout": timeout} if sim == "lava" and timeout else {}
    res = run_netx(net_path, steps, input_spikes=spikes_in, reset_interval=steps,
                   record=("s", "v"), sim=sim, **kw)
    last = net.layers[-1]
    if last.spiking:
        out = res[-1]["s"][..., L:L + T].astype(np.float64)
    else:
        out = res[-1]["v"][..., L:L + T].astype(np.float64) / ((1 << STATE_SHIFT) * last.quant.scale)
    out = out.reshape(B, -1, T).transpose(0, 2, 1)            # [B, T, classes]
    counts = [_lava_to_chw(r["s"].sum(axis=-1)).astype(np.float64) for r in res]   # [B, *shape]
    if not split:
        return out, counts
    phases = [0] + [net.depth_of(i) for i in range(len(net.layers))]   # block k's first input step
    window = [_lava_to_chw(r["s"][..., p:p + T].sum(axis=-1)).astype(np.float64) for p, r in zip(phases, res)]
    return out, window, [c - w for c, w in zip(counts, window)]
