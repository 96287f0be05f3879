"""Operation counts of a deployed SNN layer stack, from layer shapes and simulator spike counts.

Layer records are the ``layers`` entries of the deploy run's raw results (see
:func:`ckd_toolchain.hardware.report.build.write_deploy_report`). Shapes of conv/pool layers are ``[C, H, W]``
(NIR/PyTorch order); a record in Lava's ``[X, Y, F]`` order is recognised because only one of the
two readings satisfies the convolution size rule ``H_out = floor((H + 2p - d(k - 1) - 1) / s) + 1``
(:func:`ckd_toolchain.geometry.conv_output_size`; ``d`` = the record's ``dilation``, default 1).

Counts, per inference (one sample of ``T`` time steps):

- spikes: emitted by the layer's neurons (simulator count).
- synaptic ops (SOPs): ``sum_i s_i * fanout_i`` over the layer's presynaptic neurons ``i`` with
  ``s_i`` their spikes; :func:`fanout` gives the exact out-degree (border pixels of a padded conv
  reach fewer outputs; dilation and groups applied), :func:`ckd_toolchain.geometry.conv_fan_out`,
  the same count the Loihi core allocation uses. When only the total of input spikes is known the mean fan-out is used
  (``synapses / presynaptic neurons``) and the count is marked *estimated*.
- neuron updates: ``neurons x T`` (every compartment is updated every step on Loihi).
- spike messages: each input spike is sent once to every core holding the layer (we do not know
  which core holds which neuron, so this is the upper bound for a layer split over cores; the
  report marks it *estimated*). Residual (skip) inputs are counted through the layer's own
  ``input_spikes_per_inference``; the hop placement model still treats layers as a chain.
- dense MACs (the same layer run densely on a GPU, one step): conv
  ``C_out H_out W_out (C_in / groups) k_h k_w`` (padding zeros included, as a GPU computes them),
  pool ``C_out H_out W_out k_h k_w`` (accumulates; C_out = C, or n·C for a thermometer pool), dense ``N_in N_out``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ckd_toolchain.errors import InputError
from ckd_toolchain.geometry import conv_fan_out, conv_output_hw, pair
from ckd_toolchain.geometry import dense_macs as geometry_dense_macs


@dataclass(frozen=True)
class Geometry:
    """A layer's geometry in ``[C, H, W]`` terms."""

    kind: str
    c_in: int
    h_in: int
    w_in: int
    c_out: int
    h_out: int
    w_out: int
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    groups: int = 1
    dilation: tuple[int, int] = (1, 1)

    @property
    def in_neurons(self) -> int:
        return self.c_in * self.h_in * self.w_in

    @property
    def out_neurons(self) -> int:
        return self.c_out * self.h_out * self.w_out


def geometry(layer: dict) -> Geometry:
    """The ``[C, H, W]`` geometry of a raw layer record (conv, pool or dense)."""
    name = layer.get("name", "?")
    kind = layer.get("kind")
    in_shape = [int(v) for v in layer.get("in_shape") or []]
    out_shape = [int(v) for v in layer.get("out_shape") or []]
    if not in_shape or not out_shape:
        raise InputError(None, f"layer {name}: in_shape and out_shape are required")
    if kind == "dense":
        n_in, n_out = math.prod(in_shape), math.prod(out_shape)
        return Geometry("dense", n_in, 1, 1, n_out, 1, 1)
    if kind not in ("conv", "pool"):
        raise InputError(None, f"layer {name}: unknown kind {kind!r} (conv, pool, dense)")
    if len(in_shape) != 3 or len(out_shape) != 3:
        raise InputError(None, f"layer {name}: a {kind} layer needs 3-d in/out shapes, got {in_shape} -> {out_shape}")
    k = pair(layer.get("kernel"), 1)
    s = pair(layer.get("stride"), k[0] if kind == "pool" and layer.get("stride") is None else 1)
    p = pair(layer.get("padding"), 0)
    d = pair(layer.get("dilation"), 1) if kind == "conv" else (1, 1)
    groups = int(layer.get("groups") or 1)
    readings = (
        ("chw", (in_shape[0], in_shape[1], in_shape[2]), (out_shape[0], out_shape[1], out_shape[2])),
        ("xyf", (in_shape[2], in_shape[1], in_shape[0]), (out_shape[2], out_shape[1], out_shape[0])),
    )
    for _, (ci, hi, wi), (co, ho, wo) in readings:
        if conv_output_hw((hi, wi), k, s, p, d) == (ho, wo):
            if kind == "pool" and co % ci:   # co = ci (one neuron per window) or n·ci (thermometer pool)
                continue
            if kind == "conv" and (ci % groups or co % groups):
                continue
            if kind == "pool":
                groups = ci
            return Geometry(kind, ci, hi, wi, co, ho, wo, k, s, p, groups, d)
    raise InputError(None, f"layer {name}: shapes {in_shape} -> {out_shape} do not fit kernel {list(k)}, "
                           f"stride {list(s)}, padding {list(p)}" + (f", dilation {list(d)}" if d != (1, 1) else ""))


def fanout(geom: Geometry) -> np.ndarray:
    """Exact out-degree of every presynaptic neuron, shape ``[C_in, H_in, W_in]``."""
    if geom.kind == "dense":
        return np.full((geom.c_in, 1, 1), geom.c_out, dtype=np.int64)
    return conv_fan_out((geom.c_in, geom.h_in, geom.w_in), (geom.c_out, geom.h_out, geom.w_out),
                        geom.kernel, geom.stride, geom.padding, geom.dilation, geom.groups)


def synapse_count(geom: Geometry) -> int:
    """Number of (pre, post) connections (padding taps excluded) = sum of fan-outs."""
    return int(fanout(geom).sum())


def synaptic_ops(geom: Geometry, input_spikes: np.ndarray) -> float:
    """Exact SOPs ``sum_i s_i fanout_i``; ``input_spikes`` has the presynaptic shape ``[C, H, W]``
    (or any shape with the same number of elements in that order)."""
    f = fanout(geom).reshape(-1)
    s = np.asarray(input_spikes, dtype=np.float64).reshape(-1)
    if s.size != f.size:
        raise ValueError(f"input spikes have {s.size} elements, the layer has {f.size} presynaptic neurons")
    return float(s @ f)


def dense_macs(geom: Geometry) -> int:
    """MACs of one dense (GPU) evaluation of the layer, padding zeros included."""
    if geom.kind == "dense":
        return geometry_dense_macs((geom.c_in,), (geom.c_out,))
    return geometry_dense_macs((geom.c_in,), (geom.c_out, geom.h_out, geom.w_out), geom.kernel, geom.groups)


def mean_tile_distance(src_cores: Sequence[int], dst_cores: Sequence[int], cores_per_tile: int) -> float:
    """Mean over source cores of ``sum over destination cores |tile(src) - tile(dst)|``.

    Placement model: cores numbered consecutively in layer order, ``cores_per_tile`` cores per
    tile, tiles in one east-west row. A spike leaves one (uniformly likely) source core and one
    message goes to every destination core; the result is hops per spike.
    """
    if not src_cores or not dst_cores:
        return 0.0
    ts = np.asarray(src_cores) // cores_per_tile
    td = np.asarray(dst_cores) // cores_per_tile
    return float(np.abs(ts[:, None] - td[None, :]).sum(axis=1).mean())
