"""``--sim fast``: batched, bit-exact re-implementation of what genuine Lava runs for a netx file.

Timing model (lava-nc 0.10 ``LoihiProtocol``, steps t = 1 .. T; array index k = t - 1):

* every netx block is synapse -> LIF; a synapse (``PyDenseModelBitAcc`` / ``PyConvModelFixed``)
  first SENDS the buffer it computed in the previous step, then receives this step's spikes, so
  layer k's neurons see the spikes of layer k-1 one step later:
  ``a_k[t] = syn_k(s_{k-1}[t-1])``, ``a_k[1] = 0``;
* an input LIF layer (``input`` with ``neuron``) gets its bias mantissa and, if given, input
  spikes written straight into its ``a_in`` in the same step: ``a_0[t] = x[t]``;
* without an input neuron the input spikes enter the first synapse: ``a_0[t] = syn_0(x[t-1])``;
* ``x[t] = input[..., (t - 1) % T_in]`` (Lava's ``io.source.RingBuffer`` cycles its buffer);
* recorded ``u, v, s`` at index k are the values after step t = k + 1 (what Lava's ``Monitor``
  stores at ``data[time_step - 1]``).

Because the network is feed-forward, each layer is run for all T steps before the next: the
synaptic op is then one batched conv/GEMM over ``T * B`` samples and only the element-wise LIF
update loops over time. The neuron update itself is :mod:`ckd_toolchain.loihi2.arithmetic`.
Internally a layer of Lava shape (x, y, f) is held in PyTorch order (f, y, x); netx's flatten
(``transpose([2, 1, 0]).flatten()``) is then a plain reshape.
"""
from __future__ import annotations

import numpy as np
import torch

from ckd_toolchain.loihi2 import arithmetic as fp
from ckd_toolchain.loihi2.constants import DECAY_UNITY, STATE_SHIFT, UV_WRAP
from ckd_toolchain.netx import LayerSpec, NetxNetwork
from ckd_toolchain.simulators.loihi.synapses import ConvSynapse, DenseSynapse

WRAP_FREE_INPUT = 1 << 24  # |a| below this: no int32 intermediate can overflow (see lif_step)


def lava_to_torch_order(x: torch.Tensor, n_spatial: int, lead: int) -> torch.Tensor:
    """Reverse the ``n_spatial`` axes that follow ``lead`` leading axes."""
    dims = list(range(lead)) + [lead + n_spatial - 1 - i for i in range(n_spatial)]
    return x.permute(*dims, *range(lead + n_spatial, x.dim()))


def _to_lava_output(stack: torch.Tensor, n_spatial: int) -> np.ndarray:
    """[T, B, *torch_shape] -> numpy [B, *lava_shape, T]."""
    dims = [1] + [2 + n_spatial - 1 - i for i in range(n_spatial)] + [0]
    return stack.permute(*dims).contiguous().cpu().numpy()


def _synapse(layer: LayerSpec, device: torch.device):
    if layer.kind == "dense":
        return DenseSynapse(layer.weight, layer.input_message_bits, device)
    return ConvSynapse(layer.weight, layer.stride, layer.padding, layer.dilation, layer.groups,
                       layer.input_message_bits, device)


def _apply_synapse(syn, layer: LayerSpec, s_prev: torch.Tensor, chunk: int) -> torch.Tensor:
    """Synaptic input of every step: s_prev [T, B, *in] -> a [T, B, *out] int32, a[0] = 0."""
    T, B = s_prev.shape[:2]
    out_shape = tuple(reversed(layer.shape))
    a = torch.zeros((T, B) + out_shape, dtype=torch.int32, device=s_prev.device)
    if T <= 1:
        return a
    src = s_prev[: T - 1].reshape(((T - 1) * B,) + tuple(s_prev.shape[2:]))
    if layer.kind == "dense":
        src = src.reshape(src.shape[0], -1)
    if layer.kind == "dense" and layer.delay is not None:
        return _apply_delay_dense(syn, layer, src, a, chunk)
    dst = a[1:].reshape(((T - 1) * B,) + out_shape)
    for lo in range(0, src.shape[0], chunk):
        res = syn(src[lo:lo + chunk])
        dst[lo:lo + chunk] = res.reshape((res.shape[0],) + out_shape)
    return a


def _apply_delay_dense(syn, layer: LayerSpec, src: torch.Tensor, a: torch.Tensor,
                       chunk: int) -> torch.Tensor:
    """``PyDelayDenseModelBitAcc``: spikes of step t crossing a synapse of delay d arrive at
    step t + 1 + d; each delay's sum is shifted by the weight exponent separately, then they
    add up in Lava's int32 ``a_buff`` (wraps)."""
    T, B = a.shape[:2]
    acc = torch.zeros(a.shape, dtype=torch.int64, device=a.device)
    for d in np.unique(layer.delay).tolist():
        if 1 + d >= T:
            continue
        sub = syn.masked(layer.delay == d)
        n_src = (T - 1 - d) * B  # source steps 0 .. T-2-d reach steps 1+d .. T-1
        dst = acc[1 + d:].reshape((n_src,) + tuple(a.shape[2:]))
        for lo in range(0, n_src, chunk):
            dst[lo:lo + chunk] += sub.accumulate(src[lo:min(lo + chunk, n_src)])
    a.copy_(fp.wrap_int32(acc).to(torch.int32))
    return a


def simulate(net: NetxNetwork, num_steps: int, input_spikes: np.ndarray | None,
             input_bias: np.ndarray | None, batch: int, reset_interval: int | None = None,
             record=("s", "u", "v"), device: str | torch.device = "cpu",
             chunk_elements: int = 1 << 24) -> list[dict[str, np.ndarray]]:
    """Run ``net`` for ``num_steps``; inputs already validated, with a batch axis.

    ``input_spikes``: int64 ``[B, *input_shape, T_in]`` (Lava order) or None;
    ``input_bias``: int64 ``[B, *layers[0].shape]`` or None (input-neuron networks only).
    Returns, per layer, ``{var: array [B, *shape, T]}`` (s int8, u/v int32).
    """
    device = torch.device(device)
    T, B = int(num_steps), int(batch)
    x = None
    if input_spikes is not None:
        t_in = input_spikes.shape[-1]
        idx = np.arange(T) % t_in
        xs = torch.as_tensor(np.array(input_spikes, dtype=np.int64), device=device)
        xs = lava_to_torch_order(xs, xs.dim() - 2, 1)  # [B, *torch_in, T_in]
        xs = xs[..., torch.as_tensor(idx, device=device)]
        x = xs.permute(xs.dim() - 1, *range(xs.dim() - 1)).contiguous()  # [T, B, *torch_in]
    results: list[dict[str, np.ndarray]] = []
    s_prev = None
    for k, layer in enumerate(net.layers):
        tshape = tuple(reversed(layer.shape))
        if layer.kind == "input":
            if x is not None:
                a = fp.wrap_int32(x.to(torch.int64)).to(torch.int32)
            else:
                a = torch.zeros((T, B) + tshape, dtype=torch.int32, device=device)
        else:
            syn = _synapse(layer, device)
            src = s_prev if k > 0 else x
            if src is None:
                src = torch.zeros((T, B) + tuple(reversed(layer.in_shape)), dtype=torch.int64,
                                  device=device)
            width = max(int(np.prod(src.shape[2:])), layer.num_neurons, 1)
            chunk = max(1, chunk_elements // width)  # bounds the float temporaries per call
            try:
                a = _apply_synapse(syn, layer, src, chunk)
            except ValueError as exc:
                from ckd_toolchain.errors import InputError
                raise InputError(net.path, f"layer/{layer.file_index}/weight: {exc}")
        if layer.kind == "input":
            bias = input_bias
        else:
            bias = None if layer.bias is None else np.broadcast_to(layer.bias, (B,) + layer.shape)
        if bias is not None:
            b = torch.as_tensor(np.array(bias, dtype=np.int64), device=device)
            b = fp.effective_bias(lava_to_torch_order(b, b.dim() - 1, 1).contiguous())
        else:
            b = 0
        if a.numel():   # max |a| without an |a| temporary of the whole [T, B, ...] tensor
            lo, hi = torch.aminmax(a)
            max_a = max(-int(lo), int(hi))
        else:
            max_a = 0
        wrap = max_a >= WRAP_FREE_INPUT
        # iDecay = DECAY_UNITY leaves u = a << 6, inside (-2^23, 2^23) when |a| < 2^17: no 24-bit wrap
        u_in_range = layer.neuron.i_decay == DECAY_UNITY and max_a < (UV_WRAP >> STATE_SHIFT)
        kernel = fp.LifKernel((B,) + tshape, device, b, layer.neuron.vth, layer.neuron.i_decay,
                              layer.neuron.v_decay)
        s_all = torch.empty((T, B) + tshape, dtype=torch.int8, device=device)  # every step written below
        rec_u = torch.zeros((T, B) + tshape, dtype=torch.int32, device=device) if "u" in record else None
        rec_v = torch.zeros((T, B) + tshape, dtype=torch.int32, device=device) if "v" in record else None
        for t in range(T):
            if fp.reset_due(t + 1, k, reset_interval):
                kernel.reset()
            s_all[t] = kernel.step(a[t], wrap, u_in_range)
            if rec_u is not None:
                rec_u[t] = kernel.u
            if rec_v is not None:
                rec_v[t] = kernel.v
        del a
        out = {}
        nsp = len(layer.shape)
        if "s" in record:
            out["s"] = _to_lava_output(s_all, nsp)
        if rec_u is not None:
            out["u"] = _to_lava_output(rec_u, nsp)
        if rec_v is not None:
            out["v"] = _to_lava_output(rec_v, nsp)
        results.append(out)
        s_prev = s_all
    return results
