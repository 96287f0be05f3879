"""Reading and validating a lava-dl netx ``.net`` (HDF5) file into :mod:`ckd_toolchain.netx.model`.

What is read and how netx interprets it: ``README.md`` beside this module (lava-dl 0.6
``lava/lib/dl/netx/README.md`` and what ``netx.hdf5.Network._create`` reads). Every value is read
as netx reads it (``.astype(int)``: float values truncated toward zero); a dense layer without
``neuron`` gets :data:`~ckd_toolchain.netx.model.DEFAULT_DENSE_NEURON`; a dense ``delay`` is
expanded to ``(out, in)`` and clipped like netx; ``delay`` on conv layers is ignored, as netx does.

Anything netx 0.6 cannot load, or that this toolchain does not implement (pool, convT, unpool,
average, concat, dense_rec, dense_comp, SDNN / RF neurons), raises
:class:`ckd_toolchain.errors.InputError` naming the file, the layer and the field.
Imports only numpy, h5py (when a file is read) and the neutral :mod:`ckd_toolchain.errors`,
:mod:`ckd_toolchain.geometry` and :mod:`ckd_toolchain.netx.model`.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ckd_toolchain.errors import InputError
from ckd_toolchain.geometry import conv_output_size, pair
from ckd_toolchain.hdf5_seal import verify_seal
from ckd_toolchain.loihi2.constants import DECAY_UNITY

#: stored weight range netx takes without clipping (``optimize_weight_bits``: mixed signs keep
#: [-256, 254]; an excitatory layer may hold 255): :func:`check_stored_weights` refuses the rest.
WEIGHT_STORED_MIN, WEIGHT_STORED_MAX = -256, 255
from ckd_toolchain.netx.model import (DEFAULT_DENSE_NEURON, LIF_TYPES, NETX_UNIMPLEMENTED, NOT_SUPPORTED_HERE,
                                      LayerSpec, NetxNetwork, NeuronSpec, SynapseSpec)


def _err(path, where: str, problem: str) -> InputError:
    return InputError(path, f"{where}: {problem}")


def _attrs(obj) -> dict:
    """HDF5 attributes as plain Python values (provenance only: unreadable ones are skipped)."""
    out = {}
    try:
        keys = list(obj.attrs.keys())
    except Exception:  # noqa: BLE001 - attributes never make a file unreadable
        return out
    for key in keys:
        try:
            value = obj.attrs[key]
        except Exception:  # noqa: BLE001
            continue
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        elif isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return out


def _read_type(grp, path, where) -> str:
    if "type" not in grp:
        raise _err(path, where, "missing field 'type'")
    value = grp["type"]
    value = value[0] if len(value.shape) > 0 else value[()]
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    return str(value)


def _read_array(grp, key, path, where, required=True):
    if key not in grp:
        if required:
            raise _err(path, where, f"missing field '{key}'")
        return None
    try:
        return np.asarray(grp[key][()])
    except Exception as exc:  # an unreadable dataset (e.g. a group where a dataset is expected)
        raise _err(path, where, f"field '{key}' is unreadable ({type(exc).__name__})")


def _as_int_array(value, path, where, key) -> np.ndarray:
    try:
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise TypeError
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise _err(path, where, f"field '{key}' has non-finite values")
        return arr.astype(np.int64)  # netx: [()].astype(int) truncates toward zero
    except (TypeError, ValueError):
        raise _err(path, where, f"field '{key}' is not numeric")


def check_stored_weights(path: str | os.PathLike) -> None:
    """Refuse a ``.net`` whose stored weights netx would silently change (the ``ckd-deploy`` check).

    netx truncates float weights (``astype(int)``: 0.5 -> 0) and clips mixed-sign dense weights
    outside [-256, 254] with only a warning; Loihi 2 holds 8-bit weight mantissas. So every stored
    weight must be an integer in ``[WEIGHT_STORED_MIN, WEIGHT_STORED_MAX]``. :func:`load_netx` itself
    reads what netx reads (the simulators reproduce Lava on such files, see the parity tests); call
    this after it, on files a user hands to the toolchain."""
    import h5py

    with h5py.File(path, "r") as fh:
        root = "graph/layer" if "graph" in fh and "layer" not in fh else "layer"
        lgrp = fh[root]
        weights = []
        for i in range(len(lgrp)):
            grp = lgrp[str(i)]
            if "weight" not in grp or _read_type(grp, path, f"{root}/{i}") == "input":
                continue
            weights.append((f"{root}/{i}/weight", grp["weight"]))
            for sg in (grp["synapse"].values() if "synapse" in grp else ()):
                weights.append((f"{root}/{i}/synapse/{sg.name.rsplit('/', 1)[-1]}/weight", sg["weight"]))
        for where, dset in weights:
            raw = np.asarray(dset[()])
            if raw.dtype.kind == "f" and not np.array_equal(raw, np.trunc(raw)):
                bad = raw.reshape(-1)[np.flatnonzero(raw.reshape(-1) != np.trunc(raw.reshape(-1)))[0]]
                raise _err(path, where, f"weights must be integers (netx would truncate {float(bad)!r})")
            if raw.size and (raw.min() < WEIGHT_STORED_MIN or raw.max() > WEIGHT_STORED_MAX):
                raise _err(path, where, f"weights must be in {WEIGHT_STORED_MIN}..{WEIGHT_STORED_MAX} "
                           f"(8-bit mantissa; netx would clip or Loihi 2 cannot hold them), "
                           f"got {raw.min():g}..{raw.max():g}")


def _scalar_int(grp, key, path, where, required=True, default=None) -> int:
    arr = _read_array(grp, key, path, where, required=required)
    if arr is None:
        return default
    arr = _as_int_array(arr, path, where, key)
    if arr.size != 1:
        raise _err(path, where, f"field '{key}' must be a scalar, got shape {arr.shape}")
    return int(arr.reshape(-1)[0])


def _pair_field(grp, key, path, where) -> tuple[int, int]:
    """netx ``expand``: a scalar s -> (s, s); an array is kept in its on-disk (H, W) order."""
    arr = _as_int_array(_read_array(grp, key, path, where), path, where, key)
    if arr.size != 1 and arr.shape != (2,):
        raise _err(path, where, f"field '{key}' must be a scalar or a pair, got shape {arr.shape}")
    return pair(arr)


def _neuron(grp, path, where) -> NeuronSpec:
    if "neuron" not in grp:
        raise _err(path, where, "missing group 'neuron'")
    ngrp = grp["neuron"]
    nwhere = f"{where}/neuron"
    if not hasattr(ngrp, "keys"):
        raise _err(path, nwhere, "is not a group")
    kind = _read_type(ngrp, path, nwhere)
    if kind not in LIF_TYPES:
        raise _err(path, f"{nwhere}/type", f"neuron type '{kind}' is not supported "
                   f"(supported: {', '.join(LIF_TYPES)} CUBA-LIF)")
    for key in ("iDecay", "vDecay", "vThMant"):
        if key not in ngrp:
            raise _err(path, nwhere, f"missing field '{key}'")
    i_decay = _scalar_int(ngrp, "iDecay", path, nwhere)
    v_decay = _scalar_int(ngrp, "vDecay", path, nwhere)
    vth = _scalar_int(ngrp, "vThMant", path, nwhere)
    for key, val in (("iDecay", i_decay), ("vDecay", v_decay)):
        if not 0 <= val <= DECAY_UNITY:
            raise _err(path, f"{nwhere}/{key}", f"must be in 0..{DECAY_UNITY} (12-bit decay + 1), got {val}")
    if not 0 <= vth < (1 << 24):
        raise _err(path, f"{nwhere}/vThMant", f"must be in 0..2^24-1, got {vth}")
    bits = _scalar_int(ngrp, "messageBits", path, nwhere, required=False, default=0)
    if not 0 <= bits <= 24:
        raise _err(path, f"{nwhere}/messageBits", f"must be in 0..24, got {bits}")
    return NeuronSpec(kind=kind, vth=vth, i_decay=i_decay, v_decay=v_decay, message_bits=bits)


def _shape(grp, path, where) -> tuple[int, ...]:
    arr = _as_int_array(_read_array(grp, "shape", path, where), path, where, "shape").reshape(-1)
    if arr.size == 0 or arr.size > 3 or np.any(arr < 1):
        raise _err(path, f"{where}/shape", f"must hold 1 to 3 positive sizes, got {arr.tolist()}")
    return tuple(int(v) for v in arr[::-1])  # (x, y, f)


def _bias(grp, shape, path, where) -> np.ndarray | None:
    """netx ``AbstractBlock._neuron``: scalar/1-D layer as is, neuron-wise, or channel-wise.

    Returned as the file holds it: per neuron (``shape``) or, on a 3-D layer, per channel ``(f,)``."""
    raw = _read_array(grp, "bias", path, where, required=False)
    if raw is None:
        return None
    b = _as_int_array(raw, path, where, "bias")
    if len(shape) == 1:
        if b.size == 1:
            out = np.full(shape, int(b.reshape(-1)[0]), dtype=np.int64)
        elif b.shape == shape:
            out = b
        else:
            raise _err(path, f"{where}/bias", f"shape {b.shape} does not match layer shape {shape}")
    elif list(b.shape) == list(shape):
        out = b
    elif b.ndim >= 1 and b.shape[0] == shape[-1] and b.size == shape[-1]:
        out = b.reshape(-1)  # per channel: netx broadcasts it over (x, y)
    else:
        raise _err(path, f"{where}/bias", f"bias of shape {b.shape} cannot be broadcast to "
                   f"neurons of shape {shape} (x, y, f)")
    lo, hi = -(1 << 15), (1 << 15) - 1
    if out.min() < lo or out.max() > hi:
        raise _err(path, f"{where}/bias", f"bias mantissa outside int16 ({lo}..{hi}): Lava's "
                   "int16 bias_mant would wrap it")
    return out.astype(np.int64)


def load_netx(path: str | os.PathLike) -> NetxNetwork:
    """Read and validate a netx ``.net`` file; every problem is one :class:`InputError`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    verify_seal(path)   # our own files: the payload is checked before HDF5 parses any of it
    try:
        import h5py

        fh = h5py.File(path, "r")
    except Exception:
        raise InputError(path, "not an HDF5 file (lava-dl netx .net files are HDF5)")
    with fh:
        try:
            return _read_network(fh, path)
        except InputError:
            raise
        except (KeyError, RuntimeError, OSError, AttributeError, ValueError, TypeError, IndexError) as exc:
            # a structurally corrupt HDF5 file (damaged object headers, B-trees, ...): h5py raises
            # from whichever access meets the damage
            msg = " ".join(str(exc).split())[:160]
            raise InputError(path, f"corrupt HDF5 structure ({type(exc).__name__}: {msg})") from None


def _read_network(fh, path: Path) -> NetxNetwork:
    if "graph" in fh and "layer" not in fh:
        return _read_graph(fh, path)
    if "layer" not in fh or not hasattr(fh["layer"], "keys"):
        raise InputError(path, "missing group 'layer' (not a lava-dl netx network)")
    lgrp = fh["layer"]
    n = len(lgrp)
    if n == 0:
        raise InputError(path, "group 'layer' is empty")
    net = NetxNetwork(path=str(path), attrs=_attrs(fh))
    input_shape: tuple[int, ...] | None = None
    flatten_next = False
    for i in range(n):
        where = f"layer/{i}"
        if str(i) not in lgrp:
            raise _err(path, "layer", f"missing layer '{i}' (layers must be numbered 0..{n - 1})")
        grp = lgrp[str(i)]
        if not hasattr(grp, "keys"):
            raise _err(path, where, "is not a group")
        kind = _read_type(grp, path, where)
        if kind in NETX_UNIMPLEMENTED:
            raise _err(path, f"{where}/type", f"layer type '{kind}' is not implemented by "
                       "lava-dl netx 0.6 (express pooling as a strided conv)")
        if kind in NOT_SUPPORTED_HERE:
            raise _err(path, f"{where}/type", f"layer type '{kind}' is not supported by this "
                       "simulator")
        if kind == "input":
            if i != 0:
                raise _err(path, f"{where}/type", "an 'input' layer must be layer 0")
            if "neuron" in grp:
                shape = _shape(grp, path, where)
                neuron = _neuron(grp, path, where)
                net.layers.append(LayerSpec(i, "input", shape, neuron, bias=None, attrs=_attrs(grp)))
                net.input_neuron = True
                input_shape = shape
            elif "shape" in grp:
                input_shape = _shape(grp, path, where)
            continue
        if kind == "flatten":
            flatten_next = True
            continue
        prev_shape = net.layers[-1].shape if net.layers else input_shape
        msg_bits = net.layers[-1].neuron.message_bits if net.layers else 0
        if kind == "conv":
            net.layers.append(_conv_layer(grp, i, prev_shape, msg_bits, path, where))
        elif kind == "dense":
            net.layers.append(_dense_layer(grp, i, prev_shape, msg_bits, flatten_next, path, where))
            flatten_next = False
        else:
            raise _err(path, f"{where}/type", f"unknown layer type '{kind}'")
        net.layers[-1].attrs = _attrs(grp)
    if not net.layers:
        raise InputError(path, "the network has no neuron layers")
    first = net.layers[0]
    net.input_shape = first.shape if net.input_neuron else tuple(first.in_shape)
    net.declared_input_shape = input_shape
    return net


def _conv_synapse(grp, prev_shape, shape, path, where) -> dict:
    """The conv synapse fields of ``grp`` reading a block of Lava shape ``prev_shape``, checked
    against the block's output ``shape``."""
    if prev_shape is None:
        raise _err(path, where, "input shape of the first conv layer cannot be inferred "
                   "(add an 'input' layer with 'shape')")
    if len(prev_shape) != 3:
        raise _err(path, where, f"conv layer follows a layer of shape {prev_shape}; conv needs (x, y, f)")
    w = _as_int_array(_read_array(grp, "weight", path, where), path, where, "weight")
    if w.ndim == 5 and w.shape[4] == 1:
        w = w.reshape(w.shape[:4])
    if w.ndim != 4:
        raise _err(path, f"{where}/weight", f"conv weight must be (out, in/groups, kH, kW[, 1]), got {w.shape}")
    stride = _pair_field(grp, "stride", path, where)
    padding = _pair_field(grp, "padding", path, where)
    dilation = _pair_field(grp, "dilation", path, where)
    groups = _scalar_int(grp, "groups", path, where)
    for key, val, lo in (("stride", stride, 1), ("padding", padding, 0), ("dilation", dilation, 1)):
        if min(val) < lo or max(val) > 127:
            raise _err(path, f"{where}/{key}", f"must be in {lo}..127 (Lava stores it as int8), got {val}")
    if not 1 <= groups <= 127:
        raise _err(path, f"{where}/groups", f"must be in 1..127, got {groups}")
    x_in, y_in, c_in = prev_shape
    c_out = w.shape[0]
    if c_in % groups or c_out % groups or w.shape[1] * groups != c_in:
        raise _err(path, f"{where}/weight", f"weight {w.shape} with groups={groups} does not fit "
                   f"{c_in} input channels")
    kh, kw = w.shape[2], w.shape[3]
    xo = conv_output_size(x_in, kw, stride[1], padding[1], dilation[1])
    yo = conv_output_size(y_in, kh, stride[0], padding[0], dilation[0])
    if (xo, yo, c_out) != shape:
        raise _err(path, f"{where}/shape", f"conv of input (x, y, f)={prev_shape} gives "
                   f"{(xo, yo, c_out)}, file says {shape}")
    return dict(weight=w, in_shape=tuple(prev_shape), stride=stride, padding=padding, dilation=dilation,
                groups=groups)


def _conv_layer(grp, i, prev_shape, msg_bits, path, where) -> LayerSpec:
    shape = _shape(grp, path, where)
    if len(shape) != 3:
        raise _err(path, f"{where}/shape", f"conv output shape must be (f, y, x) on disk, got {shape[::-1]}")
    neuron = _neuron(grp, path, where)
    fields = _conv_synapse(grp, prev_shape, shape, path, where)
    bias = _bias(grp, shape, path, where)
    return LayerSpec(i, "conv", shape, neuron, bias=bias, input_message_bits=msg_bits, **fields)


def _dense_synapse(grp, prev_shape, n_out, flatten, path, where) -> dict:
    """The dense synapse fields of ``grp`` reading a block of Lava shape ``prev_shape``."""
    w = _as_int_array(_read_array(grp, "weight", path, where), path, where, "weight")
    if w.ndim == 1:
        if w.size % n_out:
            raise _err(path, f"{where}/weight", f"{w.size} weights cannot be reshaped to ({n_out}, -1)")
        w = w.reshape(n_out, -1)
    if w.ndim != 2 or w.shape[0] != n_out:
        raise _err(path, f"{where}/weight", f"dense weight must be (out={n_out}, in), got {w.shape}")
    if flatten and prev_shape is not None and len(prev_shape) != 3:
        raise _err(path, where, f"'flatten' before this dense layer needs a 3-D (x, y, f) layer, "
                   f"got {prev_shape} (netx's transpose([2, 1, 0]) would fail)")
    if prev_shape is not None:
        n_in = int(np.prod(prev_shape))
        if w.shape[1] != n_in:
            raise _err(path, f"{where}/weight", f"dense weight has {w.shape[1]} inputs, previous "
                       f"layer has {n_in} neurons")
    if len(prev_shape or ()) > 1 and not flatten:
        raise _err(path, where, f"dense layer follows a layer of shape {prev_shape} without a "
                   "'flatten' layer")
    if w.max() == 0 and w.min() == 0:
        raise _err(path, f"{where}/weight", "all weights are zero: lava-dl netx 0.6 cannot load it "
                   "(optimize_weight_bits takes log2 of infinity)")
    return dict(weight=w, in_shape=(w.shape[1],), delay=_delay(grp, w.shape, path, where),
                flatten_input=bool(flatten and prev_shape is not None and len(prev_shape) > 1))


def _dense_layer(grp, i, prev_shape, msg_bits, flatten, path, where) -> LayerSpec:
    shape_xyf = _shape(grp, path, where)
    shape = (int(np.prod(shape_xyf)),)
    if "neuron" in grp:
        neuron = _neuron(grp, path, where)
    else:
        d = DEFAULT_DENSE_NEURON
        neuron = NeuronSpec(d["type"], d["vThMant"], d["iDecay"], d["vDecay"], 0)
    fields = _dense_synapse(grp, prev_shape, shape[0], flatten, path, where)
    bias = _bias(grp, shape, path, where)
    return LayerSpec(i, "dense", shape, neuron, bias=bias, input_message_bits=msg_bits, **fields)


def _read_graph(fh, path: Path) -> NetxNetwork:
    """A graph file (README "Graph files"): ``graph/layer/<i>`` = block i, each synapse group
    reading an earlier block given by its ``source``."""
    lgrp = fh["graph"].get("layer") if hasattr(fh["graph"], "keys") else None
    if lgrp is None or not hasattr(lgrp, "keys") or len(lgrp) == 0:
        raise InputError(path, "graph file without blocks (group 'graph/layer' missing or empty)")
    net = NetxNetwork(path=str(path), attrs=_attrs(fh), input_neuron=True)
    for k in range(len(lgrp)):
        where = f"graph/layer/{k}"
        if str(k) not in lgrp or not hasattr(lgrp[str(k)], "keys"):
            raise _err(path, "graph/layer", f"missing block '{k}' (blocks must be numbered 0..{len(lgrp) - 1})")
        grp = lgrp[str(k)]
        kind = _read_type(grp, path, where)
        if (k == 0) != (kind == "input"):
            raise _err(path, f"{where}/type", "block 0, and only block 0, is the 'input' block")
        phase = _scalar_int(grp, "phase", path, where, required=False, default=k)
        if phase < 0:
            raise _err(path, f"{where}/phase", f"must be >= 0, got {phase}")
        if kind == "input":
            layer = LayerSpec(0, "input", _shape(grp, path, where), _neuron(grp, path, where), attrs=_attrs(grp))
        else:
            if kind not in ("conv", "dense"):
                raise _err(path, f"{where}/type", f"block type '{kind}' is not allowed in a graph file "
                           "(conv or dense)")
            src, flat = _graph_source(grp, k, path, where)
            prev = net.layers[src]
            if kind == "conv":
                layer = _conv_layer(grp, k, prev.shape, prev.neuron.message_bits, path, where)
            else:
                layer = _dense_layer(grp, k, prev.shape, prev.neuron.message_bits, flat, path, where)
            layer.source, layer.attrs = src, _attrs(grp)
            layer.extra = _extra_synapses(grp, k, net.layers, layer.shape, path, where)
        layer.phase = phase
        net.layers.append(layer)
    net.input_shape = net.declared_input_shape = net.layers[0].shape
    return net


def _graph_source(grp, k, path, where) -> tuple[int, bool]:
    src = _scalar_int(grp, "source", path, where)
    if not 0 <= src < k:
        raise _err(path, f"{where}/source", f"must name an earlier block (0..{k - 1}), got {src}")
    return src, bool(_scalar_int(grp, "inputFlatten", path, where, required=False, default=0))


def _extra_synapses(grp, k, blocks, shape, path, where) -> list[SynapseSpec]:
    if "synapse" not in grp:
        return []
    sgrp = grp["synapse"]
    out = []
    for j in range(len(sgrp)):
        sw = f"{where}/synapse/{j}"
        if str(j) not in sgrp or not hasattr(sgrp[str(j)], "keys"):
            raise _err(path, f"{where}/synapse", f"missing group '{j}' (numbered 0..{len(sgrp) - 1})")
        g = sgrp[str(j)]
        src, flat = _graph_source(g, k, path, sw)
        kind = _read_type(g, path, sw)
        prev = blocks[src]
        if kind == "conv":
            if len(shape) != 3:
                raise _err(path, f"{sw}/type", f"a conv synapse cannot feed a block of shape {shape}")
            fields = _conv_synapse(g, prev.shape, shape, path, sw)
        elif kind == "dense":
            if len(shape) != 1:
                raise _err(path, f"{sw}/type", f"a dense synapse cannot feed a block of shape {shape}")
            fields = _dense_synapse(g, prev.shape, shape[0], flat, path, sw)
        else:
            raise _err(path, f"{sw}/type", f"synapse type '{kind}' is not conv or dense")
        out.append(SynapseSpec(src, kind, input_message_bits=prev.neuron.message_bits, **fields))
    return out


def _delay(grp, wshape, path, where) -> np.ndarray | None:
    """netx ``create_dense`` delay handling + ``DelayDense._validate_delays``."""
    raw = _read_array(grp, "delay", path, where, required=False)
    if raw is None:
        return None
    if raw.dtype.kind not in "biuf" or (raw.dtype.kind == "f" and not np.all(np.isfinite(raw))):
        raise _err(path, f"{where}/delay", "must be numeric")
    d = np.asarray(raw)
    if d.max() > 62:
        d = np.clip(d, 0, 62)
    if d.ndim == 0:
        d = d * np.ones(wshape)
    elif d.ndim == 1:
        if d.size == wshape[0]:
            d = np.repeat(d.reshape(-1, 1), wshape[1], axis=1)
        elif d.size == wshape[1]:
            d = np.repeat(d.reshape(1, -1), wshape[0], axis=0)
        else:
            raise _err(path, f"{where}/delay", f"delay of shape {d.shape} is incompatible with "
                       f"weight of shape {wshape}")
    elif d.shape != tuple(wshape):
        raise _err(path, f"{where}/delay", f"delay of shape {d.shape} does not match weight {wshape}")
    d = d.astype(np.int64)
    if d.min() < 0:
        raise _err(path, f"{where}/delay", f"negative delay {d.min()} (Lava's DelayDense rejects it)")
    return d
