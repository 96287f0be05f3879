"""Write mapped layers as a lava-dl netx HDF5 ``.net`` file (what ``netx.hdf5.Network`` loads).

Schema written (the same datasets, dtypes and orders as lava-dl's own exporter, checked against
``/work/shared/fixtures/netx/{tiny,oxford}.net`` and ``lava/lib/dl/netx/hdf5.py``; shapes are
PyTorch order on disk, netx reverses them to its (x, y, f) order)::

    /layer/0/type            S10 (1,)  b'input'
    /layer/0/shape           int64 (3,) [C, H, W]   (or (N,)); no neuron: spikes enter layer 1's synapse
    /layer/i/type            S10 (1,)  b'conv' | b'dense' | b'flatten'
    /layer/i/shape           int64     conv [C, H, W] out; dense [N]; flatten [C·H·W]
    conv:   inChannels, outChannels, groups  int64 ();  kernelSize, stride, padding, dilation int64 (2,) (H, W)
            weight  float32 (O, I/groups, kH, kW, 1)   integer values, cross-correlation (PyTorch)
    dense:  inFeatures, outFeatures int64 ();  weight float32 (O, N) integer values
            (input flattened in (C, H, W) C-order when a `flatten` layer precedes it)
    bias    float32 (O,)  integer bias mantissas (netx applies bias_exp = 6), only when non-zero
    neuron/type       str 'CUBA';  neuron/iDecay, vDecay, vThMant, refDelay int64 ();  gradedSpike bool
    /simulation/Ts = 1, /simulation/tSample = T + number of layers

Provenance (HDF5 attributes, ignored by netx): file attrs ``ckd_format = "ckd-netx/1"``,
``pool_mode``, ``dt``, ``source``; per layer ``name``, ``kind`` ('conv'|'pool'|'dense'), ``nir_nodes``
(JSON), ``scale`` (integer units per float unit). Written atomically (temp file + rename).
"""
from __future__ import annotations

import json
import os

import h5py
import numpy as np

from ckd_train.atomic_io import atomic_path
from hardware.nir_to_loihi import MappedNetwork

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


def write_netx(net: MappedNetwork, path: str | os.PathLike, num_steps: int | None = None,
               source: str = "") -> str:
    """Write ``net`` to ``path`` atomically; returns the path."""
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
