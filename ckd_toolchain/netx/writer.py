"""Writing a :class:`~ckd_toolchain.netx.model.NetxNetwork` as a lava-dl netx HDF5 ``.net`` file.

The datasets, dtypes and orders are lava-dl's own exporter's (checked against
``/work/shared/fixtures/netx/{tiny,oxford}.net`` and ``lava/lib/dl/netx/hdf5.py``); the schema,
field by field, is ``README.md`` beside this module. What :func:`write_netx` writes,
:func:`~ckd_toolchain.netx.reader.load_netx` reads back as the same model. Written atomically
(temp file + rename), sealed with the payload's SHA-256 in the HDF5 user block
(:mod:`ckd_toolchain.hdf5_seal`; the reader checks it). Imports only numpy, h5py,
:mod:`ckd_toolchain.atomic_io` and :mod:`ckd_toolchain.hdf5_seal`.
"""
from __future__ import annotations

import os

import h5py
import numpy as np

from ckd_toolchain.atomic_io import atomic_path
from ckd_toolchain.hdf5_seal import USERBLOCK, seal
from ckd_toolchain.netx.model import LayerSpec, NetxNetwork, NeuronSpec


def _type(g: h5py.Group, name: str) -> None:
    g.create_dataset("type", (1,), "S10", [name.encode("ascii")])


def _disk_shape(shape) -> np.ndarray:
    """Lava (x, y, f) -> the file's (f, y, x); (n,) stays."""
    return np.array(tuple(shape)[::-1], dtype=np.int64)


def _neuron(g: h5py.Group, neuron: NeuronSpec) -> None:
    n = g.create_group("neuron")
    n.create_dataset("type", data=neuron.kind, dtype=h5py.string_dtype())
    n.create_dataset("iDecay", data=np.int64(neuron.i_decay))
    n.create_dataset("vDecay", data=np.int64(neuron.v_decay))
    n.create_dataset("vThMant", data=np.int64(neuron.vth))
    n.create_dataset("refDelay", data=np.int64(1))
    n.create_dataset("gradedSpike", data=np.bool_(False))
    if neuron.message_bits:
        n.create_dataset("messageBits", data=np.int64(neuron.message_bits))


def _layer(root: h5py.Group, idx: int, layer: LayerSpec) -> None:
    g = root.create_group(str(idx))
    for key, value in layer.attrs.items():
        g.attrs[key] = value
    if layer.kind == "conv":
        _type(g, "conv")
        g.create_dataset("shape", data=_disk_shape(layer.shape))
        g.create_dataset("inChannels", data=np.int64(layer.in_shape[-1]))
        g.create_dataset("outChannels", data=np.int64(layer.shape[-1]))
        g.create_dataset("kernelSize", data=np.array(layer.kernel, dtype=np.int64))
        g.create_dataset("stride", data=np.array(layer.stride, dtype=np.int64))
        g.create_dataset("padding", data=np.array(layer.padding, dtype=np.int64))
        g.create_dataset("dilation", data=np.array(layer.dilation, dtype=np.int64))
        g.create_dataset("groups", data=np.int64(layer.groups))
        g.create_dataset("weight", data=layer.weight.astype(np.float32)[..., None])
    elif layer.kind == "dense":
        _type(g, "dense")
        g.create_dataset("shape", data=np.array([layer.shape[0]], dtype=np.int64))
        g.create_dataset("inFeatures", data=np.int64(layer.weight.shape[1]))
        g.create_dataset("outFeatures", data=np.int64(layer.weight.shape[0]))
        g.create_dataset("weight", data=layer.weight.astype(np.float32))
        if layer.delay is not None:
            g.create_dataset("delay", data=np.asarray(layer.delay, dtype=np.int64))
    else:
        raise ValueError(f"layer/{idx}: cannot write a layer of kind {layer.kind!r} after the input layer")
    if layer.bias is not None and np.any(layer.bias != 0):
        g.create_dataset("bias", data=layer.bias.astype(np.float32))
    _neuron(g, layer.neuron)


def write_netx(net: NetxNetwork, path: str | os.PathLike, num_steps: int | None = None) -> str:
    """Write ``net`` to ``path`` atomically; returns the path.

    ``layer/0`` is the input layer: shape ``declared_input_shape`` (for an input neuron block, its
    shape when not given) and, when ``net.input_neuron``, the neuron of ``net.layers[0]``; without
    either there is no input layer (as in lava-dl's ``oxford.net``). Then every other block, a
    ``flatten`` layer before each dense block with ``flatten_input``. ``/simulation/tSample`` is
    ``num_steps`` (0 when not given; netx ignores it). The blocks' ``file_index`` is not read:
    indices follow from the order."""
    blocks = list(net.layers)
    if net.input_neuron:
        if not blocks or blocks[0].kind != "input":
            raise ValueError("input_neuron is set but layers[0] is not an 'input' block")
        first, blocks = blocks[0], blocks[1:]
    in_shape = net.declared_input_shape
    if in_shape is None and net.input_neuron:
        in_shape = first.shape
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", userblock_size=USERBLOCK) as f:
            for key, value in net.attrs.items():
                f.attrs[key] = value
            root = f.create_group("layer")
            idx = 0
            if in_shape is not None:
                g0 = root.create_group("0")
                for key, value in (first.attrs if net.input_neuron else {}).items():
                    g0.attrs[key] = value
                _type(g0, "input")
                g0.create_dataset("shape", data=_disk_shape(in_shape))
                if net.input_neuron:
                    _neuron(g0, first.neuron)
                idx = 1
            for layer in blocks:
                if layer.flatten_input:
                    gf = root.create_group(str(idx))
                    _type(gf, "flatten")
                    gf.create_dataset("shape", data=np.array([int(np.prod(layer.in_shape))], dtype=np.int64))
                    idx += 1
                _layer(root, idx, layer)
                idx += 1
            sim = f.create_group("simulation")
            sim.create_dataset("Ts", data=np.int64(1))
            sim.create_dataset("tSample", data=np.int64(num_steps if num_steps else 0))
        seal(tmp)   # sha256 of the payload in the HDF5 user block (ckd_toolchain.hdf5_seal)
    return os.fspath(path)
