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
from ckd_toolchain.netx.model import GRAPH_FORMAT, LayerSpec, NetxNetwork, NeuronSpec


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


def _synapse_fields(g: h5py.Group, syn, out_shape) -> None:
    """``type`` and the synapse datasets of a conv or dense group (``syn``: a
    :class:`LayerSpec` or :class:`SynapseSpec`; ``out_shape`` Lava order)."""
    if syn.kind == "conv":
        _type(g, "conv")
        g.create_dataset("shape", data=_disk_shape(out_shape))
        g.create_dataset("inChannels", data=np.int64(syn.in_shape[-1]))
        g.create_dataset("outChannels", data=np.int64(out_shape[-1]))
        g.create_dataset("kernelSize", data=np.array(syn.kernel, dtype=np.int64))
        g.create_dataset("stride", data=np.array(syn.stride, dtype=np.int64))
        g.create_dataset("padding", data=np.array(syn.padding, dtype=np.int64))
        g.create_dataset("dilation", data=np.array(syn.dilation, dtype=np.int64))
        g.create_dataset("groups", data=np.int64(syn.groups))
        g.create_dataset("weight", data=syn.weight.astype(np.float32)[..., None])
    elif syn.kind == "dense":
        _type(g, "dense")
        g.create_dataset("shape", data=np.array([out_shape[0]], dtype=np.int64))
        g.create_dataset("inFeatures", data=np.int64(syn.weight.shape[1]))
        g.create_dataset("outFeatures", data=np.int64(syn.weight.shape[0]))
        g.create_dataset("weight", data=syn.weight.astype(np.float32))
        if syn.delay is not None:
            g.create_dataset("delay", data=np.asarray(syn.delay, dtype=np.int64))
    else:
        raise ValueError(f"{g.name}: cannot write a synapse of kind {syn.kind!r}")


def _layer(root: h5py.Group, idx: int, layer: LayerSpec) -> h5py.Group:
    g = root.create_group(str(idx))
    for key, value in layer.attrs.items():
        g.attrs[key] = value
    if layer.kind == "input":
        raise ValueError(f"layer/{idx}: cannot write a layer of kind 'input' after the input layer")
    _synapse_fields(g, layer, layer.shape)
    if layer.bias is not None and np.any(layer.bias != 0):
        g.create_dataset("bias", data=layer.bias.astype(np.float32))
    _neuron(g, layer.neuron)
    return g


def _input_layer(root: h5py.Group, shape, neuron: NeuronSpec | None, attrs: dict) -> h5py.Group:
    """Group ``0``: the ``input`` layer of ``shape`` (Lava order), with ``neuron`` when given."""
    g = root.create_group("0")
    for key, value in attrs.items():
        g.attrs[key] = value
    _type(g, "input")
    g.create_dataset("shape", data=_disk_shape(shape))
    if neuron is not None:
        _neuron(g, neuron)
    return g


def _graph_layers(f: h5py.File, net: NetxNetwork) -> None:
    """``graph/layer/<i>``: block i of ``net.layers`` (README "Graph files")."""
    root = f.create_group("graph").create_group("layer")
    for k, layer in enumerate(net.layers):
        g = _input_layer(root, layer.shape, layer.neuron, layer.attrs) if k == 0 else _layer(root, k, layer)
        g.create_dataset("phase", data=np.int64(layer.reset_phase(k)))
        for j, syn in enumerate(layer.synapse_groups(k)):
            if not 0 <= syn.source < k:
                raise ValueError(f"block {k}: synapse group {j} reads block {syn.source}; "
                                 "blocks must be in topological order")
            sg = g if j == 0 else g.require_group("synapse").create_group(str(j - 1))
            if j:
                _synapse_fields(sg, syn, layer.shape)
            sg.create_dataset("source", data=np.int64(syn.source))
            sg.create_dataset("inputFlatten", data=np.int64(bool(syn.flatten_input)))


def _sequential_layers(f: h5py.File, net: NetxNetwork, first: LayerSpec | None, in_shape, blocks) -> None:
    """``layer/<i>``: the input layer (if any), then every block, a ``flatten`` before each dense
    block with ``flatten_input`` (the netx layout lava-dl loads)."""
    root = f.create_group("layer")
    idx = 0
    if in_shape is not None:
        _input_layer(root, in_shape, first.neuron if net.input_neuron else None,
                     first.attrs if net.input_neuron else {})
        idx = 1
    for layer in blocks:
        if layer.flatten_input:
            gf = root.create_group(str(idx))
            _type(gf, "flatten")
            gf.create_dataset("shape", data=np.array([int(np.prod(layer.in_shape))], dtype=np.int64))
            idx += 1
        _layer(root, idx, layer)
        idx += 1


def write_netx(net: NetxNetwork, path: str | os.PathLike, num_steps: int | None = None) -> str:
    """Write ``net`` to ``path`` atomically; returns the path.

    ``layer/0`` is the input layer: shape ``declared_input_shape`` (for an input neuron block, its
    shape when not given) and, when ``net.input_neuron``, the neuron of ``net.layers[0]``; without
    either there is no input layer (as in lava-dl's ``oxford.net``). Then every other block, a
    ``flatten`` layer before each dense block with ``flatten_input``. ``/simulation/tSample`` is
    ``num_steps`` (0 when not given; netx ignores it). The blocks' ``file_index`` is not read:
    indices follow from the order.

    A network with several synapse groups into a block, or blocks reading other than the
    previous block (``net.is_graph``), is written as a graph file (README "Graph files"):
    ``graph/layer/<i>`` = block i, ``ckd_format`` = :data:`GRAPH_FORMAT`."""
    attrs = dict(net.attrs)
    if net.is_graph:
        if not net.input_neuron or not net.layers or net.layers[0].kind != "input":
            raise ValueError("a graph file needs an input block with a neuron as layers[0]")
        attrs["ckd_format"] = GRAPH_FORMAT
        fill = lambda f: _graph_layers(f, net)  # noqa: E731
    else:
        blocks, first = list(net.layers), None
        if net.input_neuron:
            if not blocks or blocks[0].kind != "input":
                raise ValueError("input_neuron is set but layers[0] is not an 'input' block")
            first, blocks = blocks[0], blocks[1:]
        in_shape = net.declared_input_shape
        if in_shape is None and net.input_neuron:
            in_shape = first.shape
        fill = lambda f: _sequential_layers(f, net, first, in_shape, blocks)  # noqa: E731
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", userblock_size=USERBLOCK) as f:
            for key, value in attrs.items():
                f.attrs[key] = value
            fill(f)
            _simulation(f, num_steps)
        seal(tmp)   # sha256 of the payload in the HDF5 user block (ckd_toolchain.hdf5_seal)
    return os.fspath(path)


def _simulation(f: h5py.File, num_steps: int | None) -> None:
    sim = f.create_group("simulation")
    sim.create_dataset("Ts", data=np.int64(1))
    sim.create_dataset("tSample", data=np.int64(num_steps if num_steps else 0))
