"""Test-only builders of small lava-dl netx HDF5 files (the schema ``netx.hdf5.Network`` reads).

Layer dicts (shapes in Lava (x, y, f) order; written to disk in netx's (f, y, x) order):

* ``input_layer((x, y, f), neuron=lif(...))`` or ``input_layer(shape, neuron=None)``;
* ``conv_layer(weight[out, in/g, kH, kW], out_xyf, stride, padding, dilation, groups, bias, neuron)``;
* ``dense_layer(weight[out, in], bias, neuron, delay)`` (``neuron=None`` leaves netx's default);
* ``flatten_layer()``.

The mapper writes the real files (``hardware``); this module only serves the simulator tests.
"""
from __future__ import annotations

import h5py
import numpy as np


def lif(vth=25, i_decay=4096, v_decay=1024, kind="LOIHI", message_bits=None) -> dict:
    d = {"type": kind, "vThMant": vth, "iDecay": i_decay, "vDecay": v_decay, "refDelay": 1}
    if message_bits is not None:
        d["messageBits"] = message_bits
    return d


def input_layer(shape_xyf, neuron=None) -> dict:
    return {"type": "input", "shape": shape_xyf, "neuron": neuron}


def flatten_layer(n=None) -> dict:
    return {"type": "flatten", "shape": (n or 1,)}


def conv_layer(weight, out_xyf, stride=1, padding=0, dilation=1, groups=1, bias=None,
               neuron=None) -> dict:
    return {"type": "conv", "weight": np.asarray(weight), "shape": out_xyf, "stride": stride,
            "padding": padding, "dilation": dilation, "groups": groups, "bias": bias,
            "neuron": neuron if neuron is not None else lif()}


def dense_layer(weight, bias=None, neuron="default", delay=None) -> dict:
    return {"type": "dense", "weight": np.asarray(weight), "shape": (np.asarray(weight).shape[0],),
            "bias": bias, "neuron": lif() if neuron == "default" else neuron, "delay": delay}


def conv_out(n, k, s=1, p=0, d=1) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _pair(v):
    return np.asarray([v, v] if np.isscalar(v) else list(v), dtype=np.int64)


def write_net(path, layers: list[dict]) -> str:
    """Write ``layers`` as a netx ``.net`` file (float32 weights/biases as lava-dl exports)."""
    with h5py.File(path, "w") as f:
        lg = f.create_group("layer")
        for i, layer in enumerate(layers):
            g = lg.create_group(str(i))
            g.create_dataset("type", data=np.array([layer["type"].encode("ascii")], dtype="S10"))
            g.create_dataset("shape", data=np.asarray(layer["shape"], dtype=np.int64)[::-1])
            neuron = layer.get("neuron")
            if neuron:
                ng = g.create_group("neuron")
                for key, val in neuron.items():
                    if key == "type":
                        ng.create_dataset("type", data=val.encode("ascii"),
                                          dtype=h5py.string_dtype("ascii"))
                    else:
                        ng.create_dataset(key, data=val)
            if layer["type"] == "conv":
                w = layer["weight"]
                g.create_dataset("weight", data=w.astype(np.float32)[..., None])
                g.create_dataset("inChannels", data=w.shape[1] * int(layer["groups"]))
                g.create_dataset("outChannels", data=w.shape[0])
                g.create_dataset("kernelSize", data=np.asarray(w.shape[2:4], dtype=np.int64))
                for key in ("stride", "padding", "dilation"):
                    g.create_dataset(key, data=_pair(layer[key]))
                g.create_dataset("groups", data=int(layer["groups"]))
            if layer["type"] == "dense":
                w = layer["weight"]
                g.create_dataset("weight", data=w.astype(np.float32))
                g.create_dataset("inFeatures", data=w.shape[1])
                g.create_dataset("outFeatures", data=w.shape[0])
                if layer.get("delay") is not None:
                    g.create_dataset("delay", data=np.asarray(layer["delay"]))
            if layer.get("bias") is not None:
                g.create_dataset("bias", data=np.asarray(layer["bias"], dtype=np.float32))
        sim = f.create_group("simulation")
        sim.create_dataset("Ts", data=1)
        sim.create_dataset("tSample", data=16)
    return str(path)


def demo_student_net(path, rng: np.random.Generator, size=16, in_ch=2, width=8, classes=5) -> str:
    """A demo-student-like net: input neuron -> conv3x3 -> pool-as-conv (2x2/2 depthwise) ->
    conv3x3 stride 2 -> flatten -> dense -> dense (non-spiking read-out via high threshold)."""
    s1 = size
    w1 = rng.integers(-40, 60, size=(width, in_ch, 3, 3))
    s2 = conv_out(s1, 2, 2)
    pool = np.full((width, 1, 2, 2), 64)
    w3 = rng.integers(-30, 50, size=(2 * width, width, 3, 3))
    s3 = conv_out(s2, 3, 2, 1)
    n_flat = s3 * s3 * 2 * width
    w4 = rng.integers(-20, 30, size=(32, n_flat))
    w5 = rng.integers(-60, 60, size=(classes, 32))
    layers = [
        input_layer((s1, s1, in_ch), neuron=lif(vth=20, i_decay=4096, v_decay=2048)),
        conv_layer(w1, (s1, s1, width), padding=1, bias=rng.integers(-5, 10, size=width),
                   neuron=lif(vth=40, v_decay=2048)),
        conv_layer(pool, (s2, s2, width), stride=2, groups=width, neuron=lif(vth=100, v_decay=4096)),
        conv_layer(w3, (s3, s3, 2 * width), stride=2, padding=1, neuron=lif(vth=60, v_decay=1024)),
        flatten_layer(n_flat),
        dense_layer(w4, bias=rng.integers(-3, 3, size=32), neuron=lif(vth=50, v_decay=512)),
        dense_layer(w5, neuron=lif(vth=(1 << 17) - 1, i_decay=4096, v_decay=0)),
    ]
    return write_net(path, layers)


def residual_graph_model(rng, size=8, ch=4, classes=3):
    """A small graph-file network (``ckd_toolchain.netx`` model) covering what graph files add:
    block 3 sums its own 3x3 conv from block 2, an identity-like 1x1 conv from block 1 (a skip)
    and a stride-1 3x3 conv from the input block; block 4 is a stride-2 conv with a 1x1 stride-2
    shortcut from block 3's source; the dense read-out sums a flattened dense group from block 4
    and one from block 1. Phases are the blocks' depths (not their indices)."""
    from ckd_toolchain.netx import LayerSpec, NetxNetwork, NeuronSpec, SynapseSpec
    from ckd_toolchain.netx.model import PASS_THROUGH_NEURON

    def w(*shape, lo=-60, hi=90):
        return rng.integers(lo, hi, size=shape).astype(np.int64)

    def lifn(vth=120, i_decay=4096, v_decay=1024):
        return NeuronSpec("CUBA", vth=vth, i_decay=i_decay, v_decay=v_decay)

    s2 = conv_out(size, 3, 2, 1)
    inp = LayerSpec(0, "input", (size, size, 2), PASS_THROUGH_NEURON, phase=0)
    b1 = LayerSpec(1, "conv", (size, size, ch), lifn(), bias=w(ch, lo=-5, hi=10), weight=w(ch, 2, 3, 3),
                   in_shape=(size, size, 2), padding=(1, 1), source=0, phase=1)
    b2 = LayerSpec(2, "conv", (size, size, ch), lifn(i_decay=1024), weight=w(ch, ch, 3, 3),
                   in_shape=(size, size, ch), padding=(1, 1), source=1, phase=2)
    b3 = LayerSpec(3, "conv", (size, size, ch), lifn(), weight=w(ch, ch, 3, 3), in_shape=(size, size, ch),
                   padding=(1, 1), source=2, phase=3,
                   extra=[SynapseSpec(1, "conv", w(ch, 1, 1, 1, lo=60, hi=120), (size, size, ch), groups=ch),
                          SynapseSpec(0, "conv", w(ch, 2, 3, 3), (size, size, 2), padding=(1, 1))])
    b4 = LayerSpec(4, "conv", (s2, s2, ch), lifn(vth=100), weight=w(ch, ch, 3, 3), in_shape=(size, size, ch),
                   stride=(2, 2), padding=(1, 1), source=3, phase=4,
                   extra=[SynapseSpec(2, "conv", w(ch, ch, 1, 1), (size, size, ch), stride=(2, 2))])
    n4, n1 = s2 * s2 * ch, size * size * ch
    out = LayerSpec(5, "dense", (classes,), NeuronSpec("CUBA", vth=(1 << 17) - 1, i_decay=4096, v_decay=4096),
                    bias=w(classes, lo=-20, hi=20), weight=w(classes, n4), in_shape=(n4,), flatten_input=True,
                    source=4, phase=5,
                    extra=[SynapseSpec(1, "dense", w(classes, n1), (n1,), flatten_input=True)])
    return NetxNetwork(path="", layers=[inp, b1, b2, b3, b4, out], input_neuron=True,
                       input_shape=(size, size, 2), declared_input_shape=(size, size, 2))
