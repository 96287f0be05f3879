"""The mapper's records: one mapped layer (:class:`LoihiLayer`) and the mapped network
(:class:`MappedNetwork`). What goes into the ``.net`` file is a
:class:`ckd_toolchain.netx.LayerSpec` held by each layer (``layer.netx``: integer weights, bias
mantissas, ``vThMant``, decays, conv geometry; format in ``ckd_toolchain/netx/README.md``); the
layer adds what only the mapper knows: the float view it was quantised from and the quantisation
statistics.

Float view (what the mapper derived from the NIR graph, after folding gains/thresholds/pools)::

    u[t] = beta_u·u[t-1] + W_f · s_in[t]          (iDecay = 2^12: beta_u = 0, u = this step's input)
    v[t] = beta_v·v[t-1] + u[t] + b_f;   s[t] = v[t] > theta_f;   v[t] = 0 where s[t]

Fixed-point view (``layer.netx``): the same with integer ``weight``/``bias``/``vth_mant`` on the
layer scale ``quant.scale`` and the 12-bit decays (see :mod:`ckd_toolchain.loihi2.quantization`).
``kind`` is ``"conv"``, ``"pool"`` (a pooling node mapped to a grouped strided convolution with
its own neuron group: ``C`` or, in thermometer mode, ``C·kh·kw`` output channels, see
:mod:`ckd_toolchain.hardware.lowering.pool_as_conv`) or ``"dense"``; a layer with ``spiking = False`` is
the read-out layer (never spikes: ``vThMant`` max, logits read from ``v``). Shapes here are the
NIR graph's ``(C, H, W)`` / ``(N,)``; ``layer.netx`` holds them in Lava's ``(x, y, f)`` order.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import numpy as np

from ckd_toolchain.loihi2.quantization import QuantizedSynapse
from ckd_toolchain.netx.model import FORMAT, PASS_THROUGH_NEURON, LayerSpec, NetxNetwork, SynapseSpec


@dataclass
class MappedSynapse:
    """A further synapse group into a mapped layer (graph lowering, :mod:`.dag_lowering`): it reads
    layer ``source`` (index into ``MappedNetwork.layers``, -1 = the input) on the layer's scale.
    Same attribute names as :class:`LoihiLayer` for its own synapse, so counting code treats both
    alike (:meth:`MappedNetwork.synapse_groups`)."""

    source: int
    kind: str                              # "conv" | "dense"
    in_shape: tuple[int, ...]              # (C, H, W) or (N,) of the source
    out_shape: tuple[int, ...]
    weight_float: np.ndarray
    weight: np.ndarray                     # stored integers, shared scale with the layer
    stride: tuple[int, int] | None = None
    padding: tuple[int, int] | None = None
    dilation: tuple[int, int] | None = None
    groups: int = 1
    flatten_before: bool = False

    @property
    def kernel(self) -> tuple[int, int] | None:
        return (int(self.weight.shape[2]), int(self.weight.shape[3])) if self.kind == "conv" else None

    def to_spec(self, block_source: int) -> SynapseSpec:
        lava_in = tuple(reversed(self.in_shape)) if self.kind == "conv" else (int(np.prod(self.in_shape)),)
        kw = dict(stride=tuple(self.stride), padding=tuple(self.padding), dilation=tuple(self.dilation),
                  groups=int(self.groups)) if self.kind == "conv" else {}
        return SynapseSpec(block_source, self.kind, self.weight, lava_in, flatten_input=self.flatten_before, **kw)


@dataclass
class LoihiLayer:
    name: str
    kind: str                              # "conv" | "pool" | "dense" (a pool is a netx conv)
    nir_nodes: list[str]
    in_shape: tuple[int, ...]              # (C, H, W) or (N,); the map itself when a netx flatten precedes
    netx: LayerSpec                        # the block of the .net file (file_index/attrs: MappedNetwork.to_netx)
    quant: QuantizedSynapse                # layer scale and quantisation statistics
    weight_float: np.ndarray               # conv (O, I/g, kh, kw); dense (O, N)
    bias_float: np.ndarray | None          # (O,) per output channel / neuron
    threshold_float: float | None          # None: read-out layer
    beta_u: float                          # float current decay factor (0: no current state)
    beta_v: float                          # float voltage leak factor
    notes: list[str] = field(default_factory=list)
    # graph lowering only (a chain leaves the defaults: source = previous layer, depth = index + 1)
    source: int | None = None              # layer its own synapse reads (-1 = the input)
    extra: list[MappedSynapse] = field(default_factory=list)
    depth: int | None = None               # synaptic hops from the input = netx block phase

    @property
    def spiking(self) -> bool:
        return self.threshold_float is not None

    @property
    def conv(self) -> bool:
        return self.netx.kind == "conv"

    @property
    def out_shape(self) -> tuple[int, ...]:
        return tuple(reversed(self.netx.shape))

    @property
    def weight(self) -> np.ndarray:
        return self.netx.weight

    @property
    def bias(self) -> np.ndarray | None:
        return self.netx.bias

    @property
    def vth_mant(self) -> int:
        return self.netx.neuron.vth

    @property
    def i_decay(self) -> int:
        return self.netx.neuron.i_decay

    @property
    def v_decay(self) -> int:
        return self.netx.neuron.v_decay

    @property
    def kernel(self) -> tuple[int, int] | None:
        return self.netx.kernel

    @property
    def stride(self) -> tuple[int, int] | None:
        return self.netx.stride if self.conv else None

    @property
    def padding(self) -> tuple[int, int] | None:
        return self.netx.padding if self.conv else None

    @property
    def dilation(self) -> tuple[int, int] | None:
        return self.netx.dilation if self.conv else None

    @property
    def groups(self) -> int:
        return self.netx.groups

    @property
    def flatten_before(self) -> bool:
        """A dense layer fed by a (C, H, W) layer: netx ``flatten`` before it."""
        return self.netx.flatten_input

    @property
    def neurons(self) -> int:
        return self.netx.num_neurons


@dataclass
class MappedNetwork:
    layers: list[LoihiLayer]
    input_shape: tuple[int, ...]
    dt: float
    pool_mode: str
    metadata: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.layers[-1].out_shape

    def source_of(self, i: int) -> int:
        """The layer layer ``i``'s own synapse reads (-1 = the input)."""
        src = self.layers[i].source
        return i - 1 if src is None else int(src)

    def synapse_groups(self, i: int) -> list[tuple[int, object]]:
        """``(source, group)`` for every synapse group into layer ``i``: the layer itself (its own
        synapse) first, then its :class:`MappedSynapse` extras."""
        layer = self.layers[i]
        return [(self.source_of(i), layer)] + [(g.source, g) for g in layer.extra]

    def depth_of(self, i: int) -> int:
        """Synaptic hops from the input block to layer ``i`` (its netx block phase)."""
        d = self.layers[i].depth
        return i + 1 if d is None else int(d)

    @property
    def readout_depth(self) -> int:
        """Steps the input's first step needs to reach the read-out (``L`` for a chain)."""
        return self.depth_of(len(self.layers) - 1)

    @property
    def is_graph(self) -> bool:
        return any(layer.extra or layer.source not in (None, i - 1) or self.depth_of(i) != i + 1
                   for i, layer in enumerate(self.layers))

    def to_netx(self, source: str = "", input_neuron: bool = True) -> NetxNetwork:
        """The ``.net`` file of this network (:func:`ckd_toolchain.netx.write_netx` writes it).

        ``input_neuron=True`` gives layer 0 the pass-through neuron that lets ``reset_interval``
        align every layer's reset with the arrival of its first input (netx README, "Timing").
        Provenance attributes: file ``ckd_format``, ``pool_mode``, ``dt``, ``source``; per layer
        ``name``, ``kind``, ``nir_nodes`` (JSON), ``scale``."""
        lava_in = tuple(reversed(self.input_shape))
        blocks: list[LayerSpec] = []
        if input_neuron:
            blocks.append(LayerSpec(0, "input", lava_in, replace(PASS_THROUGH_NEURON)))
        idx = 1
        graph_file = self.is_graph
        if graph_file and not input_neuron:
            raise ValueError("a graph network needs the input neuron block")
        for layer in self.layers:
            if layer.flatten_before:
                idx += 1
            attrs = {"name": layer.name, "kind": layer.kind, "nir_nodes": json.dumps(layer.nir_nodes),
                     "scale": float(layer.quant.scale)}
            k = len(blocks)
            graph = {}
            if graph_file:   # block = layer index + 1 (block 0: the input neuron), phase = depth
                graph = dict(source=self.source_of(k - 1) + 1, phase=self.depth_of(k - 1),
                             extra=[g.to_spec(g.source + 1) for g in layer.extra])
            blocks.append(replace(layer.netx, file_index=idx, attrs=attrs, **graph))
            idx += 1
        first = blocks[0]
        return NetxNetwork(
            path="", layers=blocks, input_neuron=input_neuron,
            input_shape=first.shape if input_neuron else tuple(first.in_shape),
            declared_input_shape=lava_in,
            attrs={"ckd_format": FORMAT, "pool_mode": self.pool_mode, "dt": float(self.dt),
                   "source": str(source)})
