"""Student SNN → NIR graph (nir 1.0.8 primitives; no ``snntorch.export_to_nir``).

Only the deployed path is exported: ``model.features`` (walked in order) + ``model.head_dvs``.
Mapping (ARCHITECTURE.md "Student network" → "NIR"); shapes are unbatched, ``(C, H, W)`` or ``(N,)``:

=======================================  =====================================================
student module (position ``i``)          NIR node(s), name
=======================================  =====================================================
``Conv2d`` [+ ``BatchNorm2d``]           ``Conv2d`` with BN folded into weight/bias
                                         (:mod:`ckd_toolchain.ckd_train.models.bn_fold`; float64), ``features_ii_conv``
``MultiStepLIF``                         ``LIF`` (:mod:`ckd_toolchain.export.lif_to_nir`), ``features_ii_lif``
``AvgPool2d(k, s, p)``                   ``AvgPool2d``, ``features_ii_avgpool``
``AdaptiveAvgPool2d(o)``                 ``AvgPool2d`` with kernel = stride = ``H/o``,
                                         ``features_ii_avgpool``
``Flatten(start, end)``                  ``Flatten(start-1, end)`` (NIR has no batch axis),
                                         ``features_ii_flatten``
``SpikingBasicBlock``                    ``features_ii_conv1`` → ``_lif1`` → ``_conv2`` →
                                         ``_lif2``; shortcut: conv1x1+BN → ``_shortcut`` →
                                         ``_lif2``, identity → an edge from the block's input
                                         node straight into ``_lif2``. ``_lif2`` thus has two
                                         incoming edges, which NIR sums (the residual add).
``BatchNorm2d`` not after a ``Conv2d``   diagonal 1x1 ``Conv2d`` (weight ``diag(s)``, bias
                                         ``beta - s mean``: the BN folded), ``features_ii_bn``
``PreActBasicBlock`` (pre-activation,    ``_bn1`` (diagonal) → ``_lif1`` → ``_conv1`` →
He et al.'s ``resnet18``)                ``_bn2`` → ``_lif2`` → ``_conv2`` → ``_add``; shortcut
                                         BN-LIF-conv1x1 → ``_sc_bn`` → ``_sc_lif`` → ``_sc_conv``
                                         → ``_add``, identity → an edge from the block's input
                                         into ``_add``. ``_add`` is an identity 1x1
                                         ``Conv2d`` (weight 1, bias 0): NIR sums its two inputs
                                         (the residual add, no LIF after it).
``head_dvs`` (``Linear``)                ``Affine``, ``head_dvs``
=======================================  =====================================================

plus ``input`` (``Input``, shape ``(C, H, W)``) and ``output`` (``Output``). ``ii`` is the
zero-padded index in ``features`` so that names sort in network order. Anything else raises
:func:`ckd_toolchain.export.unsupported.unsupported_layer` (an ``InputError``: layer, position, what to use).
The graph is built with ``type_check=True`` (NIR's ``infer_types`` + ``check_types``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence

import nir
import numpy as np
import torch
from torch import nn

from ckd_toolchain.errors import InputError
from ckd_toolchain.geometry import conv_output_hw, pair
from ckd_toolchain.ckd_train.models.bn_fold import fold_conv_bn
from ckd_toolchain.export.lif_to_nir import DEFAULT_DT, lif_node
from ckd_toolchain.nir_metadata import encode_metadata
from ckd_toolchain.export.unsupported import unsupported_layer


def _lif_class():
    from ckd_toolchain.ckd_train.models.lif import MultiStepLIF

    return MultiStepLIF


def _block_class():
    from ckd_toolchain.ckd_train.models.resnet import SpikingBasicBlock

    return SpikingBasicBlock


def _preact_block_class():
    from ckd_toolchain.ckd_train.models.resnet_preact import PreActBasicBlock

    return PreActBasicBlock


def _identity_1x1(channels: int) -> nn.Conv2d:
    """A 1x1 conv with the identity matrix as weight and no bias (a per-channel map; written as a
    full ``C x C`` diagonal conv because nir 1.0.8's type inference ignores ``groups``): it carries a
    BN fold (weight ``diag(s)``) or a residual junction. Zeros add exactly, so values are exact."""
    conv = nn.Conv2d(channels, channels, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(channels).view(channels, channels, 1, 1))
    return conv


@dataclass
class ExportedGraph:
    """The graph plus, for verification, which student module each LIF node came from."""

    graph: nir.NIRGraph
    lif_modules: dict[str, nn.Module] = field(default_factory=dict)  # node name → MultiStepLIF
    order: list[str] = field(default_factory=list)  # node names in network order


class _Builder:
    def __init__(self, where, dt: float):
        self.where = where
        self.dt = dt
        self.nodes: dict[str, nir.NIRNode] = {}
        self.edges: list[tuple[str, str]] = []
        self.lifs: dict[str, nn.Module] = {}

    def add(self, name: str, node: nir.NIRNode, inputs: Sequence[str]) -> str:
        self.nodes[name] = node
        for src in inputs:
            self.edges.append((src, name))
        return name

    # -- layer kinds -------------------------------------------------------------------------
    def conv(self, name, conv, bn, shape, pos, inputs):
        if not isinstance(conv, nn.Conv2d) or type(conv) is not nn.Conv2d:
            raise unsupported_layer(self.where, pos, conv)
        if conv.padding_mode != "zeros":
            raise unsupported_layer(self.where, pos, conv, f"uses padding_mode={conv.padding_mode!r}")
        if len(shape) != 3 or shape[0] != conv.in_channels:
            raise InputError(self.where, f"layer {pos} (Conv2d) expects {conv.in_channels} input channels, "
                                         f"the tensor reaching it has shape {tuple(shape)}")
        if bn is not None and not isinstance(bn, nn.BatchNorm2d):
            raise unsupported_layer(self.where, pos, bn)
        try:
            w, b = fold_conv_bn(conv, bn)
        except ValueError as exc:
            raise InputError(self.where, f"layer {pos}: cannot fold BatchNorm2d: {exc}") from None
        padding = conv.padding if isinstance(conv.padding, str) else pair(conv.padding)
        node = nir.Conv2d(input_shape=(int(shape[1]), int(shape[2])), weight=w,
                          stride=pair(conv.stride), padding=padding, dilation=pair(conv.dilation),
                          groups=int(conv.groups), bias=b)
        out = tuple(int(s) for s in node.output_type["output"])
        self.add(name, node, inputs)
        return out

    def lif(self, name, mod, shape, pos, inputs):
        try:
            node = lif_node(mod.beta, mod.threshold, shape, self.dt)
        except ValueError as exc:
            raise InputError(self.where, f"layer {pos} (MultiStepLIF): {exc}") from None
        self.lifs[name] = mod
        self.add(name, node, inputs)
        return tuple(shape)

    def avgpool(self, name, mod, shape, pos, inputs):
        if len(shape) != 3:
            raise InputError(self.where, f"layer {pos} ({type(mod).__name__}) needs a (C, H, W) input, got {tuple(shape)}")
        C, H, W = shape
        if isinstance(mod, nn.AdaptiveAvgPool2d):
            oh, ow = mod.output_size if isinstance(mod.output_size, (tuple, list)) else (mod.output_size,) * 2
            oh, ow = (H if oh is None else int(oh)), (W if ow is None else int(ow))
            if H % oh or W % ow:
                raise unsupported_layer(self.where, pos, mod, f"has output size {(oh, ow)} that does not divide the input {(H, W)}")
            k = s = (H // oh, W // ow)
            p = (0, 0)
        else:
            if mod.ceil_mode or mod.divisor_override is not None:
                raise unsupported_layer(self.where, pos, mod, "uses ceil_mode/divisor_override")
            k = pair(mod.kernel_size)
            s = pair(mod.stride if mod.stride is not None else mod.kernel_size)
            p = pair(mod.padding)
            if p != (0, 0) and not mod.count_include_pad:
                raise unsupported_layer(self.where, pos, mod, "pads with count_include_pad=False")
        node = nir.AvgPool2d(kernel_size=np.array(k, dtype=np.int64), stride=np.array(s, dtype=np.int64),
                             padding=np.array(p, dtype=np.int64))
        self.add(name, node, inputs)
        return (C, *conv_output_hw((H, W), k, s, p))

    def flatten(self, name, mod, shape, pos, inputs):
        start, end = int(mod.start_dim), int(mod.end_dim)
        if start == 0:
            raise unsupported_layer(self.where, pos, mod, "flattens the batch axis (start_dim=0)")
        s = start - 1 if start > 0 else start
        e = end - 1 if end > 0 else end
        node = nir.Flatten(input_type={"input": np.array(shape, dtype=np.int64)}, start_dim=s, end_dim=e)
        self.add(name, node, inputs)
        return tuple(int(v) for v in node.output_type["output"])

    def block(self, prefix, blk, shape, pos, inputs):
        lif_cls = _lif_class()
        for attr in ("conv1", "bn1", "lif1", "conv2", "bn2", "shortcut", "lif2"):
            if not hasattr(blk, attr):
                raise unsupported_layer(self.where, pos, blk, f"has no '{attr}' (not the contract's SpikingBasicBlock)")
        for attr in ("lif1", "lif2"):
            if not isinstance(getattr(blk, attr), lif_cls):
                raise unsupported_layer(self.where, f"{pos}.{attr}", getattr(blk, attr))
        s1 = self.conv(f"{prefix}_conv1", blk.conv1, blk.bn1, shape, f"{pos}.conv1", inputs)
        self.lif(f"{prefix}_lif1", blk.lif1, s1, f"{pos}.lif1", [f"{prefix}_conv1"])
        s2 = self.conv(f"{prefix}_conv2", blk.conv2, blk.bn2, s1, f"{pos}.conv2", [f"{prefix}_lif1"])
        sc = blk.shortcut
        if not isinstance(sc, nn.Sequential):
            raise unsupported_layer(self.where, f"{pos}.shortcut", sc)
        if len(sc) == 0:
            if tuple(shape) != tuple(s2):
                raise InputError(self.where, f"layer {pos}: identity shortcut of shape {tuple(shape)} cannot be added to {tuple(s2)}")
            skip = list(inputs)
        else:
            parts = list(sc)
            if not isinstance(parts[0], nn.Conv2d) or len(parts) > 2 or (len(parts) == 2 and not isinstance(parts[1], nn.BatchNorm2d)):
                bad = next((i for i, m in enumerate(parts) if not isinstance(m, (nn.Conv2d, nn.BatchNorm2d))), 0)
                raise unsupported_layer(self.where, f"{pos}.shortcut[{bad}]", parts[bad],
                                        "is not a shortcut the exporter knows (empty, or Conv2d + BatchNorm2d)")
            ssc = self.conv(f"{prefix}_shortcut", parts[0], parts[1] if len(parts) == 2 else None, shape,
                            f"{pos}.shortcut[0]", inputs)
            if tuple(ssc) != tuple(s2):
                raise InputError(self.where, f"layer {pos}: shortcut output {tuple(ssc)} does not match the residual {tuple(s2)}")
            skip = [f"{prefix}_shortcut"]
        self.lif(f"{prefix}_lif2", blk.lif2, s2, f"{pos}.lif2", [f"{prefix}_conv2", *skip])
        return s2, f"{prefix}_lif2"


def _bn_only(b: "_Builder", name, bn, shape, pos, inputs):
    """``BatchNorm2d`` without a preceding conv → diagonal 1x1 ``Conv2d`` with the BN folded in."""
    if len(shape) != 3 or shape[0] != bn.num_features:
        raise InputError(b.where, f"layer {pos} (BatchNorm2d) has {bn.num_features} channels, the tensor reaching it "
                                  f"has shape {tuple(shape)}")
    return b.conv(name, _identity_1x1(bn.num_features), bn, shape, pos, inputs)


def _preact_block(b: "_Builder", prefix, blk, shape, pos, inputs):
    """:class:`~ckd_toolchain.ckd_train.models.resnet_preact.PreActBasicBlock` (table above)."""
    lif_cls = _lif_class()
    for attr in ("lif1", "lif2"):
        if not isinstance(getattr(blk, attr, None), lif_cls):
            raise unsupported_layer(b.where, f"{pos}.{attr}", getattr(blk, attr, None))
    _bn_only(b, f"{prefix}_bn1", blk.bn1, shape, f"{pos}.bn1", inputs)
    b.lif(f"{prefix}_lif1", blk.lif1, shape, f"{pos}.lif1", [f"{prefix}_bn1"])
    s1 = b.conv(f"{prefix}_conv1", blk.conv1, None, shape, f"{pos}.conv1", [f"{prefix}_lif1"])
    _bn_only(b, f"{prefix}_bn2", blk.bn2, s1, f"{pos}.bn2", [f"{prefix}_conv1"])
    b.lif(f"{prefix}_lif2", blk.lif2, s1, f"{pos}.lif2", [f"{prefix}_bn2"])
    s2 = b.conv(f"{prefix}_conv2", blk.conv2, None, s1, f"{pos}.conv2", [f"{prefix}_lif2"])
    parts = list(blk.shortcut)
    if not parts:
        if tuple(shape) != tuple(s2):
            raise InputError(b.where, f"layer {pos}: identity shortcut of shape {tuple(shape)} cannot be added to {tuple(s2)}")
        skip = list(inputs)
    else:
        if len(parts) != 3 or not (isinstance(parts[0], nn.BatchNorm2d) and isinstance(parts[1], lif_cls)
                                   and isinstance(parts[2], nn.Conv2d)):
            raise unsupported_layer(b.where, f"{pos}.shortcut", blk.shortcut,
                                    "is not a pre-activation shortcut (empty, or BatchNorm2d + LIF + Conv2d)")
        _bn_only(b, f"{prefix}_sc_bn", parts[0], shape, f"{pos}.shortcut[0]", inputs)
        b.lif(f"{prefix}_sc_lif", parts[1], shape, f"{pos}.shortcut[1]", [f"{prefix}_sc_bn"])
        ssc = b.conv(f"{prefix}_sc_conv", parts[2], None, shape, f"{pos}.shortcut[2]", [f"{prefix}_sc_lif"])
        if tuple(ssc) != tuple(s2):
            raise InputError(b.where, f"layer {pos}: shortcut output {tuple(ssc)} does not match the residual {tuple(s2)}")
        skip = [f"{prefix}_sc_conv"]
    b.conv(f"{prefix}_add", _identity_1x1(s2[0]), None, s2, f"{pos} (residual add)", [f"{prefix}_conv2", *skip])
    return s2, f"{prefix}_add"


def student_to_nir(model: nn.Module, input_shape: Sequence[int], metadata: dict | None = None,
                   where: str | os.PathLike | None = None, dt: float = DEFAULT_DT) -> ExportedGraph:
    """Build the NIR graph of ``model.features`` + ``model.head_dvs`` for inputs ``(C, H, W)``."""
    where = None if where is None else os.fspath(where)
    features = getattr(model, "features", None)
    head = getattr(model, "head_dvs", None)
    if not isinstance(features, nn.Sequential):
        raise InputError(where, "the model has no 'features' nn.Sequential (not a ckd_train SpikingStudent)")
    if not isinstance(head, nn.Linear):
        raise InputError(where, "the model's 'head_dvs' is not an nn.Linear" if head is not None else "the model has no 'head_dvs'")
    lif_cls, block_cls = _lif_class(), _block_class()
    b = _Builder(where, dt)
    shape = tuple(int(s) for s in input_shape)
    tail = b.add("input", nir.Input(input_type={"input": np.array(shape, dtype=np.int64)}), [])
    mods = list(features)
    i = 0
    while i < len(mods):
        m, pos, pre = mods[i], f"features[{i}]", f"features_{i:02d}"
        if isinstance(m, nn.Conv2d):
            bn = mods[i + 1] if i + 1 < len(mods) and isinstance(mods[i + 1], nn.BatchNorm2d) else None
            shape = b.conv(f"{pre}_conv", m, bn, shape, pos, [tail])
            tail = f"{pre}_conv"
            i += 2 if bn is not None else 1
            continue
        if isinstance(m, lif_cls):
            shape = b.lif(f"{pre}_lif", m, shape, pos, [tail])
            tail = f"{pre}_lif"
        elif isinstance(m, (nn.AvgPool2d, nn.AdaptiveAvgPool2d)):
            shape = b.avgpool(f"{pre}_avgpool", m, shape, pos, [tail])
            tail = f"{pre}_avgpool"
        elif isinstance(m, nn.Flatten):
            shape = b.flatten(f"{pre}_flatten", m, shape, pos, [tail])
            tail = f"{pre}_flatten"
        elif isinstance(m, block_cls):
            shape, tail = b.block(pre, m, shape, pos, [tail])
        elif isinstance(m, _preact_block_class()):
            shape, tail = _preact_block(b, pre, m, shape, pos, [tail])
        elif isinstance(m, nn.BatchNorm2d):
            shape = _bn_only(b, f"{pre}_bn", m, shape, pos, [tail])
            tail = f"{pre}_bn"
        else:
            raise unsupported_layer(where, pos, m)
        i += 1
    if len(shape) != 1 or shape[0] != head.in_features:
        raise InputError(where, f"head_dvs expects {head.in_features} features but model.features ends with shape "
                                f"{tuple(shape)} (it must end with Flatten)")
    w = head.weight.detach().cpu().numpy().astype(np.float64)  # float64 like the folded convs (exact cast)
    bias = (head.bias.detach().cpu().numpy() if head.bias is not None else np.zeros(w.shape[0])).astype(np.float64)
    b.add("head_dvs", nir.Affine(weight=w, bias=bias), [tail])
    b.add("output", nir.Output(output_type={"output": np.array([w.shape[0]], dtype=np.int64)}), ["head_dvs"])
    order = list(b.nodes)
    meta = dict(metadata or {})
    meta.setdefault("dt", dt)
    meta["node_order"] = order
    try:
        graph = nir.NIRGraph(nodes=b.nodes, edges=b.edges, metadata=encode_metadata(meta), type_check=True)
    except (ValueError, AssertionError) as exc:  # a bug in this mapping, not in the user's input
        raise RuntimeError(f"exported NIR graph fails nir type checking: {exc}") from exc
    return ExportedGraph(graph=graph, lif_modules=b.lifs, order=order)
