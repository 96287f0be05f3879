"""Write mapped layers as a lava-dl netx HDF5 ``.net`` file (what ``netx.hdf5.Network`` loads).

Schema written (the same datasets, dtypes and orders as lava-dl's own exporter, checked against
``/work/shared/fixtures/netx/{tiny,oxford}.net`` and ``lava/lib/dl/netx/hdf5.py``; shapes are
PyTorch order on disk, netx reverses them to its (x, y, f) order)::

    /layer/0/type            S10 (1,)  b'input'
    /layer/0/shape           int64 (3,) [C, H, W]   (or (N,))
    /layer/0/neuron/...      pass-through CUBA neuron: iDecay = vDecay = 2^12, vThMant = 0, no bias;
                             input spikes are written into its a_in (no synaptic delay) and it
                             spikes iff the input is > 0 (a graded/count input is binarised here)
    /layer/i/type            S10 (1,)  b'conv' | b'dense' | b'flatten'
    /layer/i/shape           int64     conv [C, H, W] out; dense [N]; flatten [C·H·W]
    conv:   inChannels, outChannels, groups  int64 ();  kernelSize, stride, padding, dilation int64 (2,) (H, W)
            weight  float32 (O, I/groups, kH, kW, 1)   integer values, cross-correlation (PyTorch)
    dense:  inFeatures, outFeatures int64 ();  weight float32 (O, N) integer values
            (input flattened in (C, H, W) C-order when a `flatten` layer precedes it)
    bias    float32 (O,)  integer bias mantissas (netx applies bias_exp = 6), only when non-zero
    neuron/type       str 'CUBA';  neuron/iDecay, vDecay, vThMant, refDelay int64 ();  gradedSpike bool
    /simulation/Ts = 1, /simulation/tSample = T + number of layers

Why the input neuron: netx's ``reset_interval = R`` resets block j (0-based) at steps
``t ≡ j + 1 (mod R)``. With the input neuron as block 0, block j receives the input's first step at
exactly step ``j + 1``, so every layer starts from ``u = v = 0`` when its first input arrives and
whatever its bias did before (the transient of Loihi's one-step-per-layer synaptic delay) is
erased: run ``T + L`` steps with ``R = T + L`` (L = layers after the input) and the read-out layer's
steps ``[L, L + T)`` are the float model's steps ``[0, T)``, bit for bit in timing. Without the
input neuron, layer 1 would reset one step before its input and keep one step of bias.

Provenance (HDF5 attributes, ignored by netx): file attrs ``ckd_format = "ckd-netx/1"``,
``pool_mode``, ``dt``, ``source``; per layer ``name``, ``kind`` ('conv'|'pool'|'dense'), ``nir_nodes``
(JSON), ``scale`` (integer units per float unit). Written atomically (temp file + rename).
"""
from __future__ import annotations

import json
import os

import h5py
import numpy as np

from ckd_toolchain.atomic_io import atomic_path
from ckd_toolchain.hardware.nir_to_loihi import MappedNetwork
from ckd_toolchain.loihi2.constants import DECAY_UNITY

FORMAT = "ckd-netx/1"


def _type(g: h5py.Group, name: str) -> None:
    g.create_dataset("type", (1,), "S10", [name.encode("ascii")])


def _neuron(g: h5py.Group, layer) -> None:
    n = g.create_group("neuron")
    n.create_dataset("type", data="CUBA", dtype=h5py.string_dtype())
    n.create_dataset("iDecay", data=np.int64(layer.i_decay))
    n.create_dataset("vDecay", data=np.int64(layer.v_decay))
    n.create_dataset("vThMant", data=np.int64(layer.vth_mant))
    n.create_dataset("refDelay", data=np.int64(1))
    n.create_dataset("gradedSpike", data=np.bool_(False))


class _PassThrough:
    i_decay, v_decay, vth_mant = DECAY_UNITY, DECAY_UNITY, 0


_PASS_THROUGH = _PassThrough()


def write_netx(net: MappedNetwork, path: str | os.PathLike, num_steps: int | None = None,
               source: str = "", input_neuron: bool = True) -> str:
    """Write ``net`` to ``path`` atomically; returns the path.

    ``input_neuron=True`` gives layer 0 a pass-through neuron (see module docstring), which is what
    lets ``reset_interval`` align every layer's reset with the arrival of its first input."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["ckd_format"] = FORMAT
            f.attrs["pool_mode"] = net.pool_mode
            f.attrs["dt"] = float(net.dt)
            f.attrs["source"] = str(source)
            root = f.create_group("layer")
            g0 = root.create_group("0")
            _type(g0, "input")
            g0.create_dataset("shape", data=np.array(net.input_shape, dtype=np.int64))
            if input_neuron:
                _neuron(g0, _PASS_THROUGH)
            idx = 1
            for layer in net.layers:
                if layer.flatten_before:
                    gf = root.create_group(str(idx))
                    _type(gf, "flatten")
                    gf.create_dataset("shape", data=np.array([int(np.prod(layer.in_shape))], dtype=np.int64))
                    idx += 1
                g = root.create_group(str(idx))
                g.attrs["name"] = layer.name
                g.attrs["kind"] = layer.kind
                g.attrs["nir_nodes"] = json.dumps(layer.nir_nodes)
                g.attrs["scale"] = float(layer.quant.scale)
                if layer.kind in ("conv", "pool"):
                    _type(g, "conv")
                    g.create_dataset("shape", data=np.array(layer.out_shape, dtype=np.int64))
                    g.create_dataset("inChannels", data=np.int64(layer.in_shape[0]))
                    g.create_dataset("outChannels", data=np.int64(layer.out_shape[0]))
                    g.create_dataset("kernelSize", data=np.array(layer.kernel, dtype=np.int64))
                    g.create_dataset("stride", data=np.array(layer.stride, dtype=np.int64))
                    g.create_dataset("padding", data=np.array(layer.padding, dtype=np.int64))
                    g.create_dataset("dilation", data=np.array(layer.dilation, dtype=np.int64))
                    g.create_dataset("groups", data=np.int64(layer.groups))
                    g.create_dataset("weight", data=layer.weight.astype(np.float32)[..., None])
                else:
                    _type(g, "dense")
                    g.create_dataset("shape", data=np.array([layer.out_shape[0]], dtype=np.int64))
                    g.create_dataset("inFeatures", data=np.int64(layer.weight.shape[1]))
                    g.create_dataset("outFeatures", data=np.int64(layer.weight.shape[0]))
                    g.create_dataset("weight", data=layer.weight.astype(np.float32))
                if layer.bias is not None and np.any(layer.bias != 0):
                    g.create_dataset("bias", data=layer.bias.astype(np.float32))
                _neuron(g, layer)
                idx += 1
            sim = f.create_group("simulation")
            sim.create_dataset("Ts", data=np.int64(1))
            sim.create_dataset("tSample", data=np.int64(num_steps if num_steps else 0))
    return os.fspath(path)
