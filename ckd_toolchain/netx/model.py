"""The typed model of a lava-dl netx ``.net`` file: what :func:`~ckd_toolchain.netx.load_netx`
returns and :func:`~ckd_toolchain.netx.write_netx` writes (field by field in ``README.md``).

Everything is in Lava's conventions: shapes ``(x, y, f)`` (the file stores ``(f, y, x)``, i.e.
PyTorch's ``(C, H, W)``), dense layers ``(n,)``; weights in PyTorch order (conv
``(out, in/groups, kH, kW)``, dense ``(out, in)``); ``stride``/``padding``/``dilation`` are
``(H, W)`` pairs as on disk. Integers are int64 (netx reads every number with ``.astype(int)``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ckd_toolchain.loihi2.constants import DECAY_UNITY, STATE_SHIFT

#: ``ckd_format`` attribute of the files this toolchain writes (netx ignores attributes).
FORMAT = "ckd-netx/1"
#: ``ckd_format`` of a graph file (README "Graph files"): blocks under ``graph/layer/<i>`` with
#: several incoming synapse groups; stock netx refuses it (it has no ``layer`` group).
GRAPH_FORMAT = "ckd-netx-graph/1"
#: neuron types netx builds as CUBA-LIF (``LIF`` / ``LIFReset``), read identically.
LIF_TYPES = ("LOIHI", "CUBA")
#: netx's neuron for a dense layer without a ``neuron`` group (``1 << 18 - 1`` is ``1 << 17``).
DEFAULT_DENSE_NEURON = {"type": "CUBA", "iDecay": 0, "vDecay": DECAY_UNITY, "vThMant": 1 << 18 - 1}
#: layer types lava-dl netx 0.6 cannot load (``pool``: express pooling as a strided conv).
NETX_UNIMPLEMENTED = ("pool", "convT", "unpool", "average", "concat")
#: layer types netx loads but this toolchain does not implement.
NOT_SUPPORTED_HERE = ("dense_rec", "dense_comp")
#: netx's fixed bias exponent: a bias mantissa ``b`` adds ``b << BIAS_EXP`` to ``v``
#: (the same shift as Lava's input and threshold shifts, ``loihi2.constants.STATE_SHIFT``).
BIAS_EXP = STATE_SHIFT


@dataclass
class NeuronSpec:
    """CUBA-LIF compartment (``layer/<i>/neuron``) as netx hands it to Lava's ``LIF``/``LIFReset``."""

    kind: str  # neuron/type: 'LOIHI' | 'CUBA'
    vth: int  # vThMant (threshold vth << 6)
    i_decay: int  # iDecay (u keeps (DECAY_UNITY - iDecay) / DECAY_UNITY of itself)
    v_decay: int  # vDecay (v keeps (DECAY_UNITY - vDecay) / DECAY_UNITY of itself)
    message_bits: int = 0  # messageBits: output message bits (0 = unary spikes)


#: the input layer's pass-through neuron of the files this toolchain writes (README, "Timing").
PASS_THROUGH_NEURON = NeuronSpec("CUBA", vth=0, i_decay=DECAY_UNITY, v_decay=DECAY_UNITY)


@dataclass
class SynapseSpec:
    """One synapse group into a block: the block's own synapse (:meth:`LayerSpec.synapse_groups`)
    or, in a graph file, an extra group (``graph/layer/<i>/synapse/<g>``). Fields as in
    :class:`LayerSpec`; ``source`` is the index of the block whose spikes it reads."""

    source: int
    kind: str  # 'dense' | 'conv'
    weight: np.ndarray
    in_shape: tuple[int, ...]  # Lava order (dense: (in,))
    flatten_input: bool = False
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    input_message_bits: int = 0
    delay: np.ndarray | None = None

    @property
    def kernel(self) -> tuple[int, int] | None:
        return (int(self.weight.shape[2]), int(self.weight.shape[3])) if self.kind == "conv" else None


@dataclass
class LayerSpec:
    """One netx block (input neuron layer, dense or conv): one ``layer/<i>`` group with a neuron.

    ``bias`` is held as the file holds it: per neuron (``shape``, Lava order) or, for a conv
    layer, per channel ``(f,)``; :meth:`neuron_bias` broadcasts it. ``attrs`` are the group's
    HDF5 attributes (provenance; netx ignores them)."""

    file_index: int  # index i of /layer/<i>
    kind: str  # 'input' | 'dense' | 'conv'
    shape: tuple[int, ...]  # output shape in Lava order: (x, y, f) or (n,)
    neuron: NeuronSpec
    bias: np.ndarray | None = None  # int64 bias mantissa, (f,) or `shape` (Lava order)
    weight: np.ndarray | None = None  # int64; dense (out, in); conv (out, in/g, kH, kW) torch order
    in_shape: tuple[int, ...] | None = None  # synapse input shape, Lava order (dense: (in,))
    flatten_input: bool = False  # dense reading a 3-D layer through netx's flatten
    stride: tuple[int, int] = (1, 1)  # conv, (H, W)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    input_message_bits: int = 0  # message bits of the spikes this layer's synapse receives
    delay: np.ndarray | None = None  # dense DelayDense delays (out, in), int64 in 0..62
    attrs: dict = field(default_factory=dict)  # HDF5 attributes of layer/<i>
    # graph files only (README "Graph files"); a sequential file leaves the defaults
    source: int | None = None  # block whose spikes the own synapse reads (None: the previous block)
    phase: int | None = None  # reset phase: block resets at t = phase + 1 (mod R) (None: its index)
    extra: list[SynapseSpec] = field(default_factory=list)  # further synapse groups into this block

    def synapse_groups(self, index: int) -> list[SynapseSpec]:
        """Every synapse group into block ``index`` (this block's position): its own synapse
        first, then the extra groups; empty for an input block. Lava sums their outputs into the
        neuron's one ``a_in`` (``PyInPortVectorDense.recv``, int32)."""
        if self.kind == "input":
            return []
        own = SynapseSpec(index - 1 if self.source is None else self.source, self.kind, self.weight,
                          tuple(self.in_shape), self.flatten_input, tuple(self.stride), tuple(self.padding),
                          tuple(self.dilation), int(self.groups), self.input_message_bits, self.delay)
        return [own, *self.extra]

    def reset_phase(self, index: int) -> int:
        return index if self.phase is None else int(self.phase)

    @property
    def num_neurons(self) -> int:
        return int(np.prod(self.shape))

    @property
    def kernel(self) -> tuple[int, int] | None:
        """Conv ``(kH, kW)`` (the file's ``kernelSize``, = the weight's last two axes)."""
        if self.kind != "conv" or self.weight is None:
            return None
        return int(self.weight.shape[2]), int(self.weight.shape[3])

    def neuron_bias(self) -> np.ndarray | None:
        """The bias mantissa of every neuron, int64 of ``shape`` (Lava order), or None."""
        return None if self.bias is None else np.broadcast_to(self.bias, self.shape)


@dataclass
class NetxNetwork:
    """A ``.net`` file: the blocks Lava builds, in order, and how input enters.

    ``layers`` are netx's blocks (``Network.layers``): the input layer if it has a neuron, then
    every conv/dense layer; ``flatten`` layers are not blocks (``flatten_input`` of the next
    one). Block k of this list is block k of Lava (reset phase, recorded results)."""

    path: str
    layers: list[LayerSpec] = field(default_factory=list)
    input_neuron: bool = False  # True: layers[0] is an input LIF layer (bias / a_in driven)
    input_shape: tuple[int, ...] = ()  # shape of the input (Lava order), see run_netx docs
    declared_input_shape: tuple[int, ...] | None = None  # layer/0/shape (Lava order), if any
    attrs: dict = field(default_factory=dict)  # HDF5 attributes of the file

    @property
    def is_graph(self) -> bool:
        """True when a block reads a block other than the previous one, has extra synapse groups
        or a reset phase other than its index: only a graph file can hold it."""
        return any(layer.extra or (layer.source is not None and layer.source != k - 1)
                   or (layer.phase is not None and layer.phase != k)
                   for k, layer in enumerate(self.layers))
