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
update loops over time. The neuron update itself is :mod:`ckd_toolchain.loihi2`: on the CPU the
compiled scan :func:`~ckd_toolchain.loihi2.lif_scan.lif_scan` (one call per layer for all steps,
int32 wrap always emulated), on CUDA the torch :class:`~ckd_toolchain.loihi2.arithmetic.LifKernel`
(int32 wrap emulated unless :func:`~ckd_toolchain.loihi2.arithmetic.wrap_free` proves it idle).

Layouts: a 3-D layer of Lava shape (x, y, f) is used in PyTorch's logical order (f, y, x) =
(C, H, W), stored physically as (H, W, C) ("channels_last", NHWC): the convolutions read and
write NHWC without reorders and the LIF update, element-wise, runs on the same contiguous buffer.
Spikes stay ``uint8`` 0/1 from one layer to the next. netx's flatten
(``transpose([2, 1, 0]).flatten()``) is the reshape of the logical (C, H, W) order.
"""
from __future__ import annotations

import numpy as np
import torch

from ckd_toolchain.loihi2 import arithmetic as fp
from ckd_toolchain.netx import LayerSpec, NetxNetwork, SynapseSpec
from ckd_toolchain.simulators.loihi.lava_layout import to_lava_layout
from ckd_toolchain.simulators.loihi.synapses import ConvSynapse, DenseSynapse
from ckd_toolchain.simulators.loihi.threads import call_threads

_TWO31, _TWO32 = 1 << 31, 1 << 32


def lava_to_torch_order(x: torch.Tensor, n_spatial: int, lead: int) -> torch.Tensor:
    """Reverse the ``n_spatial`` axes that follow ``lead`` leading axes."""
    dims = list(range(lead)) + [lead + n_spatial - 1 - i for i in range(n_spatial)]
    return x.permute(*dims, *range(lead + n_spatial, x.dim()))


def physical(x: torch.Tensor, lead: int) -> torch.Tensor:
    """Logical torch order ``[*lead, C, H, W]`` -> contiguous physical ``[*lead, H, W, C]``
    (free when ``x`` is already channels_last); other ranks are their own physical order."""
    if x.dim() - lead == 3:
        x = x.permute(*range(lead), lead + 1, lead + 2, lead)
    return x.contiguous()


def logical(x: torch.Tensor, lead: int) -> torch.Tensor:
    """Inverse of :func:`physical` as a view: ``[*lead, H, W, C]`` -> ``[*lead, C, H, W]``."""
    if x.dim() - lead == 3:
        return x.permute(*range(lead), lead + 2, lead, lead + 1)
    return x


def _to_lava_output(stack: torch.Tensor, n_spatial: int) -> np.ndarray:
    """logical [T, B, *torch_shape] -> numpy [B, *lava_shape, T]."""
    dims = [1] + [2 + n_spatial - 1 - i for i in range(n_spatial)] + [0]
    return stack.permute(*dims).contiguous().cpu().numpy()


def _synapse(layer: SynapseSpec, device: torch.device):
    if layer.kind == "dense":
        return DenseSynapse(layer.weight, layer.input_message_bits, device)
    return ConvSynapse(layer.weight, layer.stride, layer.padding, layer.dilation, layer.groups,
                       layer.input_message_bits, device)


def _apply_synapse(syn, layer: SynapseSpec, out_shape: tuple, s_prev: torch.Tensor, chunk: int,
                   max_threads: int = 1) -> torch.Tensor:
    """Synaptic input of steps 2..T: s_prev [T, B, *in] -> a [T - 1, B, *out] (logical order, NHWC
    storage for 3-D layers), int32 or float32 holding exact integers (step 1 receives nothing).
    ``uint8`` sources hold 0/1 spikes (the simulator's own); those take the synapse's binary
    paths (int8 / sum-pool convolutions) where it has them. ``out_shape``: the block's (C, H, W)
    / (N,). Each call runs on :func:`~.threads.threads_for` threads (one for small calls)."""
    T, B = s_prev.shape[:2]
    if T <= 1:
        return torch.zeros((0, B) + out_shape, dtype=torch.int32, device=s_prev.device)
    src = s_prev[: T - 1].reshape(((T - 1) * B,) + tuple(s_prev.shape[2:]))
    if layer.kind == "dense":
        src = src.reshape(src.shape[0], -1)
    if layer.kind == "dense" and layer.delay is not None:
        full = torch.zeros((T, B) + out_shape, dtype=torch.int32, device=s_prev.device)
        return _apply_delay_dense(syn, layer, src, full, chunk)[1:]
    binary = src.dtype == torch.uint8 and getattr(syn, "takes_binary", False)
    call = syn.binary_call if binary else syn
    macs_per_sample = int(np.prod(out_shape)) * int(np.prod(syn.w_int.shape[1:]))
    parts = []
    for lo in range(0, src.shape[0], chunk):   # thread count by call size (threads.py)
        part = src[lo:lo + chunk]
        with call_threads(macs_per_sample * part.shape[0], max_threads):
            parts.append(call(part))
    res = parts[0] if len(parts) == 1 else torch.cat(parts)
    return res.reshape((T - 1, B) + out_shape)


def _apply_delay_dense(syn, layer: SynapseSpec, src: torch.Tensor, a: torch.Tensor,
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


def _input_tensor(input_spikes: np.ndarray, T: int, device: torch.device) -> torch.Tensor:
    """Lava-order input ``[B, *in, T_in]`` -> logical ``[T, B, *torch_in]`` (NHWC storage for 3-D
    inputs), column ``(t - 1) % T_in`` at step t, wrapped to int32 as Lava's int32 ``RingBuffer``
    holds it: ``uint8`` when every value is 0 or 1 (spikes; no wrap emulation), else int32."""
    x = np.moveaxis(np.asarray(input_spikes), -1, 0)  # [T_in, B, *lava_in]
    lo, hi = (int(x.min()), int(x.max())) if x.size else (0, 0)
    if lo < -_TWO31 or hi >= _TWO31:
        x = (x.astype(np.int64) + _TWO31) % _TWO32 - _TWO31
    x = x[np.arange(T) % x.shape[0]]
    if x.ndim == 5:  # lava (x, y, f) -> physical (y, x, f) = (H, W, C)
        x = x.transpose(0, 1, 3, 2, 4)
    dtype = np.uint8 if lo >= 0 and hi <= 1 else np.int32
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=dtype)).to(device)
    return logical(xt, 2)


def _layer_bias(layer: LayerSpec, input_bias, B: int, device):
    """Effective bias (``bias_mant << 6``, int32-wrapped) in physical order ``[B | 1, *phys]``."""
    if layer.kind == "input":
        bias = input_bias
    else:
        bias = None if layer.bias is None else np.broadcast_to(layer.bias, (1,) + layer.shape)
    if bias is None:
        return None
    b = torch.as_tensor(np.array(bias, dtype=np.int64), device=device)
    return physical(fp.effective_bias(lava_to_torch_order(b, b.dim() - 1, 1)), 1)


def _lif_layer(a: torch.Tensor, T: int, bias, layer: LayerSpec, k: int, reset_interval, record,
               lif: str):
    """All ``T`` steps of one layer's neurons. ``a``: physical [T_a, B, *phys], the synaptic input
    of the last T_a steps (int32 values, or float32 holding them exactly); ``bias``: physical
    [B | 1, *phys] int64 or None; ``lif``: "scan" (compiled, CPU) or "torch" (:class:`LifKernel`).
    Returns physical ``(s uint8, u int32 | None, v int32 | None)``."""
    B = a.shape[1]
    n = layer.neuron
    reset = np.array([fp.reset_due(t + 1, k, reset_interval) for t in range(T)], dtype=bool)
    if lif == "scan":
        from ckd_toolchain.loihi2.lif_scan import lif_scan

        flat = a.reshape(a.shape[0], B, int(np.prod(a.shape[2:]))).numpy()
        bn = None if bias is None else bias.reshape(bias.shape[0], -1).numpy()
        s, u, v = lif_scan(flat, bn, n.vth, n.i_decay, n.v_decay, reset, "u" in record, "v" in record,
                           num_steps=T)
        shape = (T,) + tuple(a.shape[1:])
        as_t = lambda arr: None if arr is None else torch.from_numpy(arr).reshape(shape)  # noqa: E731
        return as_t(s), as_t(u), as_t(v)
    if a.shape[0] < T:  # steps without synaptic input first
        a = torch.cat([torch.zeros((T - a.shape[0],) + tuple(a.shape[1:]), dtype=a.dtype,
                                   device=a.device), a])
    if a.numel():  # max |a| without an |a| temporary of the whole [T, B, ...] tensor
        lo, hi = torch.aminmax(a)
        max_a = max(-int(lo), int(hi))
    else:
        max_a = 0
    wrap = not fp.wrap_free(max_a, n.i_decay)
    u_in_range = fp.u_in_range(max_a, n.i_decay)
    b = 0 if bias is None else bias.expand((B,) + tuple(a.shape[2:]))
    kernel = fp.LifKernel((B,) + tuple(a.shape[2:]), a.device, b, n.vth, n.i_decay, n.v_decay)
    s_all = torch.empty(a.shape, dtype=torch.uint8, device=a.device)
    rec_u = torch.empty(a.shape, dtype=torch.int32, device=a.device) if "u" in record else None
    rec_v = torch.empty(a.shape, dtype=torch.int32, device=a.device) if "v" in record else None
    for t in range(T):
        if reset[t]:
            kernel.reset()
        s_all[t] = kernel.step(a[t], wrap, u_in_range)
        if rec_u is not None:
            rec_u[t] = kernel.u
        if rec_v is not None:
            rec_v[t] = kernel.v
    return s_all, rec_u, rec_v


def simulate(net: NetxNetwork, num_steps: int, input_spikes: np.ndarray | None,
             input_bias: np.ndarray | None, batch: int, reset_interval: int | None = None,
             record=("s", "u", "v"), device: str | torch.device = "cpu",
             chunk_elements: int = 1 << 25, lif: str | None = None) -> list[dict[str, np.ndarray]]:
    """Run ``net`` for ``num_steps``; inputs already validated, with a batch axis.

    ``lif``: neuron update, "scan" (compiled, CPU only) or "torch"; default "scan" on the CPU,
    "torch" elsewhere (both bit-exact; the choice exists so the tests can compare them).
    ``input_spikes``: int64 ``[B, *input_shape, T_in]`` (Lava order) or None;
    ``input_bias``: int64 ``[B, *layers[0].shape]`` or None (input-neuron networks only).
    Returns, per layer, ``{var: array [B, *shape, T]}`` (s int8, u/v int32).
    """
    device = torch.device(device)
    lif = lif or ("scan" if device.type == "cpu" else "torch")
    T, B = int(num_steps), int(batch)
    x = None if input_spikes is None else _input_tensor(input_spikes, T, device)
    groups = [layer.synapse_groups(k) for k, layer in enumerate(net.layers)]
    last_use = {g.source: k for k, gs in enumerate(groups) for g in gs}
    results: list[dict[str, np.ndarray]] = []
    spikes: dict[int, torch.Tensor] = {}   # block -> logical [T, B, ...] uint8, while still read
    for k, layer in enumerate(net.layers):
        tshape = tuple(reversed(layer.shape))
        if layer.kind == "input":
            a = x if x is not None else torch.zeros((0, B) + tshape, dtype=torch.int32, device=device)
        else:
            a = _block_input(net, layer, groups[k], spikes, x, T, B, device, chunk_elements)
        s, u, v = _lif_layer(physical(a, 2), T, _layer_bias(layer, input_bias, B, device), layer,
                             layer.reset_phase(k), reset_interval, record, lif)
        del a
        nsp = len(layer.shape)
        out = {}
        for var, val in (("s", s), ("u", u), ("v", v)):
            if var in record and val is not None:
                if val.device.type == "cpu" and val.dim() in (3, 5):
                    res = to_lava_layout(val.numpy())
                else:
                    res = _to_lava_output(logical(val, 2), nsp)
                out[var] = res.view(np.int8) if var == "s" else res
        results.append(out)
        if k in last_use:
            spikes[k] = logical(s, 2)
        for src in [j for j in spikes if last_use[j] <= k]:
            del spikes[src]
    return results


def _block_input(net: NetxNetwork, layer: LayerSpec, groups: list[SynapseSpec], spikes: dict, x, T: int, B: int,
                 device, chunk_elements: int) -> torch.Tensor:
    """The synaptic input ``a`` of one block: the sum of its synapse groups' outputs, each reading
    its source block's spikes of the previous step; with several groups the sum wraps at 32 bits
    as Lava's int32 ``a_in`` port adds them (``PyInPortVectorDense.recv``)."""
    out_shape = tuple(reversed(layer.shape))
    total = None
    for spec in groups:
        src = x if spec.source < 0 else spikes[spec.source]
        if src is None:
            src = torch.zeros((T, B) + tuple(reversed(spec.in_shape)), dtype=torch.uint8, device=device)
        width = max(int(np.prod(src.shape[2:])), layer.num_neurons, 1)
        chunk = max(1, chunk_elements // width)  # bounds the float temporaries per call
        try:
            a = _apply_synapse(_synapse(spec, device), spec, out_shape, src, chunk, torch.get_num_threads())
        except ValueError as exc:
            from ckd_toolchain.errors import InputError
            raise InputError(net.path, f"layer/{layer.file_index}/weight: {exc}")
        if len(groups) == 1:
            return a
        total = a.to(torch.int64) if total is None else total + a.to(torch.int64)
    return fp.wrap_int32(total).to(torch.int32)
