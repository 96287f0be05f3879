"""``run_netx``: one entry point for both simulator back ends of a lava-dl netx ``.net`` file.

Shapes (Lava's conventions, so results compare directly with Lava's):

* a layer of the file with on-disk ``shape`` (f, y, x) has Lava shape (x, y, f); dense layers
  are 1-D ``(n,)``;
* ``input_spikes``: ``[*input_shape, T_in]`` or ``[B, *input_shape, T_in]``, integers (0/1 spikes;
  any non-zero value is a spike for a unary synapse). ``input_shape`` is the input layer's
  (x, y, f) when the file has an input neuron layer (spikes are added to its ``a_in`` in the same
  step) and otherwise the first synapse's input (``Network.inp``; e.g. ``(200,)`` for
  ``oxford.net``). Step t uses column ``(t - 1) % T_in`` (Lava's ``RingBuffer`` cycles);
* ``input_bias``: ``[*shape0]`` or ``[B, *shape0]`` int16 bias mantissas of the input neuron
  layer (effective bias ``<< 6``), constant over time; only for files with an input neuron;
* result: ``list`` with one ``dict`` per Lava block (``net.layers``: the input neuron layer if
  any, then every dense/conv layer, flatten layers dropped) mapping ``"s"``, ``"u"``, ``"v"`` to
  ``[*shape, T]`` arrays (``[B, *shape, T]`` when an input had a batch axis); index k is the
  value after Lava step k + 1, i.e. exactly what ``Monitor`` stores at ``data[k]``.
  ``s`` is int8, ``u`` and ``v`` int32.

Use :func:`torch_order_to_lava` to turn PyTorch-order frames ``[B, T, C, H, W]`` into
``input_spikes``.
"""
from __future__ import annotations

import os

import numpy as np

from ckd_toolchain.errors import InputError
from ckd_toolchain.netx import NetxNetwork, load_netx

SIMS = ("fast", "lava")
VARS = ("s", "u", "v")


def torch_order_to_lava(x: np.ndarray) -> np.ndarray:
    """PyTorch-order ``[B, T, C, H, W]`` (or ``[T, C, H, W]``) -> Lava ``[B, W, H, C, T]``."""
    x = np.asarray(x)
    if x.ndim == 4:
        return np.transpose(x, (3, 2, 1, 0))
    if x.ndim == 5:
        return np.transpose(x, (0, 4, 3, 2, 1))
    if x.ndim == 3:  # [B, T, N] flat features -> [B, N, T]
        return np.transpose(x, (0, 2, 1))
    raise ValueError(f"expected [B, T, C, H, W], [T, C, H, W] or [B, T, N], got shape {x.shape}")


def lava_to_torch_order(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`torch_order_to_lava` for ``[B, x, y, f, T]`` -> ``[B, T, f, y, x]``."""
    x = np.asarray(x)
    if x.ndim == 5:
        return np.transpose(x, (0, 4, 3, 2, 1))
    if x.ndim == 4:
        return np.transpose(x, (3, 2, 1, 0))
    raise ValueError(f"expected [B, x, y, f, T] or [x, y, f, T], got shape {x.shape}")


def _int_array(a, what: str, lo: int, hi: int) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iuf":
        raise InputError(None, f"{what} must be numeric, got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise InputError(None, f"{what} must hold integers")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise InputError(None, f"{what} values must be in {lo}..{hi}, got {arr.min()}..{arr.max()}")
    return arr


def prepare_inputs(net: NetxNetwork, input_spikes, input_bias):
    """Validate inputs; return ``(spikes [B,...,T] | None, bias [B,...] | None, B, batched)``."""
    spikes = bias = None
    batch_sizes = []
    batched = False
    if input_spikes is not None:
        spikes = _int_array(input_spikes, "input_spikes", -(1 << 31), (1 << 31) - 1)
        shp = tuple(net.input_shape)
        if spikes.shape[:-1] == shp and spikes.ndim == len(shp) + 1:
            spikes = spikes[None]
        elif spikes.ndim == len(shp) + 2 and spikes.shape[1:-1] == shp:
            batched = True
        else:
            raise InputError(None, f"input_spikes must have shape [(B,) {', '.join(map(str, shp))}, T] "
                             f"(Lava (x, y, f) order, time last) for {net.path}; got {spikes.shape}")
        if spikes.shape[-1] < 1:
            raise InputError(None, "input_spikes has no time steps")
        batch_sizes.append(spikes.shape[0])
    if input_bias is not None:
        if not net.input_neuron:
            raise InputError(net.path, "input_bias given but the network has no input neuron layer "
                             "(layer 0 is not an 'input' layer with a 'neuron'); use input_spikes")
        bias = _int_array(input_bias, "input_bias", -(1 << 15), (1 << 15) - 1)
        shp = tuple(net.layers[0].shape)
        if bias.shape == shp:
            bias = bias[None]
        elif bias.ndim == len(shp) + 1 and bias.shape[1:] == shp:
            batched = True
        else:
            raise InputError(None, f"input_bias must have shape [(B,) {', '.join(map(str, shp))}] "
                             f"(Lava (x, y, f) order) for {net.path}; got {bias.shape}")
        batch_sizes.append(bias.shape[0])
    B = max(batch_sizes) if batch_sizes else 1
    for n in batch_sizes:
        if n not in (1, B):
            raise InputError(None, f"input_spikes and input_bias batch sizes differ: {batch_sizes}")
    if spikes is not None and spikes.shape[0] != B:
        spikes = np.broadcast_to(spikes, (B,) + spikes.shape[1:])
    if bias is not None and bias.shape[0] != B:
        bias = np.broadcast_to(bias, (B,) + bias.shape[1:])
    return spikes, bias, B, batched


def run_netx(path: str | os.PathLike, num_steps: int, input_spikes=None, input_bias=None,
             reset_interval: int | None = None, record=VARS, sim: str = "fast",
             device: str | None = None, timeout: float | None = None,
             timings: dict | None = None) -> list[dict[str, np.ndarray]]:
    """Run a netx ``.net`` file for ``num_steps`` Lava steps on ``sim`` ("fast" or "lava").

    ``reset_interval`` reproduces ``netx.hdf5.Network(reset_interval=R)``: block k zeroes its u
    and v at the start of every step t with ``t % R == (k + 1) % R`` (t from 1), so a sample of
    R steps flows through the layers with their one-step delay. ``device`` (fast only): a torch
    device such as "cuda". ``timeout`` (lava only): seconds before the worker is killed.
    ``timings`` (lava only): a dict that receives Lava's build / run / read-back wall times.
    See the module docstring for shapes.
    """
    if sim not in SIMS:
        raise InputError(None, f"unknown simulator '{sim}' (choose from {', '.join(SIMS)})")
    if isinstance(record, str):
        record = tuple(r.strip() for r in record.split(",") if r.strip())
    record = tuple(record)
    bad = [r for r in record if r not in VARS]
    if bad or not record:
        raise InputError(None, f"record must be a non-empty subset of s,u,v; got {','.join(record)}")
    try:
        num_steps = int(num_steps)
    except (TypeError, ValueError):
        raise InputError(None, f"num_steps must be an integer, got {num_steps!r}")
    if num_steps < 1:
        raise InputError(None, f"num_steps must be >= 1, got {num_steps}")
    if reset_interval is not None:
        reset_interval = int(reset_interval)
        if reset_interval < 1:
            raise InputError(None, f"reset_interval must be >= 1, got {reset_interval}")
    net = load_netx(path)
    spikes, bias, B, batched = prepare_inputs(net, input_spikes, input_bias)
    if sim == "fast":
        from ckd_toolchain.simulators.loihi import fast_backend

        out = fast_backend.simulate(net, num_steps, spikes, bias, B, reset_interval, record,
                                    device=device or "cpu")
    else:
        from ckd_toolchain.simulators.loihi import lava_backend

        out = lava_backend.simulate(net, num_steps, spikes, bias, B, reset_interval, record,
                                    timeout=timeout, timings=timings)
    if not batched:
        out = [{k: v[0] for k, v in layer.items()} for layer in out]
    return out
