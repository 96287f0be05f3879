"""Convolution / pooling geometry, written once: every stage that sizes or counts a conv layer
calls these (the exporter, the float interpreter, the Loihi mapper and core allocation, the netx
reader, the energy report).

Conventions: 2-D sizes are ``(H, W)`` pairs; a layer's maps are ``(C, H, W)``; convolution is
PyTorch's ``Conv2d`` (cross-correlation, zero padding on both sides, ``groups`` splitting the
channels); a pooling window is a convolution with ``dilation = 1``.

Output size (PyTorch ``Conv2d``/``AvgPool2d`` docs, ``ceil_mode=False``), per axis::

    out = floor((in + 2·padding - dilation·(kernel - 1) - 1) / stride) + 1

Connections ("synapses", every kernel tap that lands inside the input map; taps on the zero
padding are not connections). Per axis, output position ``o`` reads input position
``i = o·stride - padding + j·dilation`` for the kernel taps ``j = 0 .. kernel-1``; a tap counts
when ``0 <= i < in``. With ``taps[o]`` the taps of output ``o`` inside the input and
``readers[i]`` the outputs that read input ``i`` (see :func:`axis_taps`)::

    fan-in  of output neuron (c_o, y, x) = (C_in / groups) · taps_H[y] · taps_W[x]
    fan-out of input neuron  (c_i, y, x) = (C_out / groups) · readers_H[y] · readers_W[x]
    synapses of the layer                = Σ fan-out = Σ fan-in

A dense layer ``N_in → N_out`` has fan-in ``N_in``, fan-out ``N_out`` and ``N_in·N_out`` synapses.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def pair(value: Any, default: int | None = None) -> tuple[int, int]:
    """``(H, W)`` from a scalar, a 1- or 2-element sequence/array (a longer one: its first two
    entries), or ``None`` (then ``(default, default)``). Values are truncated to ``int``.

    >>> pair(3), pair([2, 1]), pair(np.array([4])), pair(None, 1)
    ((3, 3), (2, 1), (4, 4), (1, 1))
    """
    if value is None:
        if default is None:
            raise ValueError("a size pair is missing")
        return int(default), int(default)
    a = np.asarray(value).reshape(-1)
    if a.size == 0:
        raise ValueError("a size pair is empty")
    if a.size == 1:
        return int(a[0]), int(a[0])
    return int(a[0]), int(a[1])


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """One axis: ``floor((size + 2·padding - dilation·(kernel - 1) - 1) / stride) + 1``
    (PyTorch ``Conv2d``; with ``dilation = 1`` also ``AvgPool2d``/``SumPool2d``).

    >>> conv_output_size(8, 3, 1, 1), conv_output_size(8, 2, 2), conv_output_size(5, 3, 1, 2, 2)
    (8, 4, 5)
    """
    return (int(size) + 2 * int(padding) - int(dilation) * (int(kernel) - 1) - 1) // int(stride) + 1


def conv_output_hw(hw: Sequence[int], kernel: Any, stride: Any = 1, padding: Any = 0,
                   dilation: Any = 1) -> tuple[int, int]:
    """:func:`conv_output_size` on both axes of an ``(H, W)`` input; the parameters may be
    scalars or ``(H, W)`` pairs."""
    k, s, p, d = pair(kernel), pair(stride), pair(padding), pair(dilation)
    return tuple(conv_output_size(hw[i], k[i], s[i], p[i], d[i]) for i in range(2))  # type: ignore[return-value]


def axis_taps(in_size: int, out_size: int, kernel: int, stride: int = 1, padding: int = 0,
              dilation: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """One axis: ``(taps, readers)``, int64 arrays of length ``out_size`` and ``in_size``:
    ``taps[o]`` = kernel taps of output ``o`` inside the input, ``readers[i]`` = outputs whose
    window reads input ``i`` (input ``i = o·stride - padding + j·dilation``, ``j < kernel``).

    >>> [a.tolist() for a in axis_taps(5, 5, 3, 1, 2, 2)]   # dilated 3-tap kernel, padding 2
    [[2, 2, 3, 2, 2], [2, 2, 3, 2, 2]]
    """
    taps = np.zeros(int(out_size), dtype=np.int64)
    readers = np.zeros(int(in_size), dtype=np.int64)
    for o in range(int(out_size)):
        for j in range(int(kernel)):
            i = o * int(stride) - int(padding) + j * int(dilation)
            if 0 <= i < in_size:
                taps[o] += 1
                readers[i] += 1
    return taps, readers


def _axes(in_chw, out_chw, kernel, stride, padding, dilation):
    k, s, p, d = pair(kernel), pair(stride), pair(padding), pair(dilation)
    return [axis_taps(in_chw[1 + a], out_chw[1 + a], k[a], s[a], p[a], d[a]) for a in range(2)]


def conv_fan_out(in_chw: Sequence[int], out_chw: Sequence[int], kernel: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1) -> np.ndarray:
    """Synapses leaving every input neuron: int64 ``[C_in, H_in, W_in]``,
    ``(C_out / groups) · readers_H[y] · readers_W[x]`` (module docstring)."""
    (_, rh), (_, rw) = _axes(in_chw, out_chw, kernel, stride, padding, dilation)
    plane = np.outer(rh, rw) * (int(out_chw[0]) // int(groups))
    return np.broadcast_to(plane, (int(in_chw[0]), int(in_chw[1]), int(in_chw[2]))).astype(np.int64)


def conv_fan_in(in_chw: Sequence[int], out_chw: Sequence[int], kernel: Any, stride: Any = 1,
                padding: Any = 0, dilation: Any = 1, groups: int = 1) -> np.ndarray:
    """Synapses reaching every output neuron of one output channel (all channels alike): int64
    ``[H_out, W_out]``, ``(C_in / groups) · taps_H[y] · taps_W[x]`` (module docstring)."""
    (th, _), (tw, _) = _axes(in_chw, out_chw, kernel, stride, padding, dilation)
    return (np.outer(th, tw) * (int(in_chw[0]) // int(groups))).astype(np.int64)


def dense_macs(in_shape: Sequence[int], out_shape: Sequence[int], kernel: Any = None, groups: int = 1) -> int:
    """Multiply-accumulates of one dense evaluation of a layer per step, padding zeros included:
    conv ``C_out·H_out·W_out · (C_in / groups) · kH·kW`` (``in_shape`` starts with ``C_in``), dense
    (``kernel`` None) ``N_in · N_out``."""
    if kernel is None:
        return int(np.prod(in_shape)) * int(np.prod(out_shape))
    kh, kw = pair(kernel)
    return int(np.prod(out_shape)) * (int(in_shape[0]) // int(groups)) * kh * kw


def conv_synapses(in_chw: Sequence[int], out_chw: Sequence[int], kernel: Any, stride: Any = 1,
                  padding: Any = 0, dilation: Any = 1, groups: int = 1) -> int:
    """Connections of a conv layer: ``Σ fan-out`` (= ``C_out · Σ fan-in`` of one channel)."""
    return int(conv_fan_out(in_chw, out_chw, kernel, stride, padding, dilation, groups).sum())
