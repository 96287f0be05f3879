"""Linear maps between spiking layers, composed exactly: what the graph lowering turns into
synapse groups (:mod:`ckd_toolchain.hardware.lowering.dag_lowering`) and what fixed-point-aware
training of ResNets reproduces (:mod:`ckd_toolchain.ckd_train.models.fixed_point_resnet`): one
home, so both compose in the same float64 operations and round the same numbers.

Between two spiking nodes of a NIR graph every path is linear (``Conv2d``, ``Affine``,
``Linear``, ``Scale``, ``Flatten``, a folded ``AvgPool2d``/``SumPool2d``, and sums where edges
meet), so the input a neuron receives from one source is ``Σ_paths M_path · s_source + b``.
:class:`LinearMap` holds one such ``M`` in conv form (full weight ``(O, I, kh, kw)``, stride,
padding, dilation) or dense form (``(O, N)``, reading a 3-D source through netx's flatten
order when ``flatten``); the functions below append one op to it. Composition of a conv A with
a following conv B (cross-correlations; ``y_b = B(A(x))``)::

    W[o, i, r] = Σ_m Σ_{p, q: s_a·p + q = r} W_b[o, m, p] · W_a[m, i, q]      (per spatial axis)
    stride = s_a·s_b,   padding = p_a + s_a·p_b,   kernel = s_a·(k_b − 1) + k_a

i.e. ``conv_transpose2d(W_b, W_a, stride=s_a)``. It is exact when B reads no padding of A's
output (``p_b = 0``) or A is pointwise (1x1, stride 1, no padding: B's padded zeros are A's
zero input there); otherwise the fold would invent values at the border and it is refused. A
dense op after a conv map is the conv's adjoint applied to the dense rows
(``conv_transpose2d(W_d.reshape(O, C, H, W), W_a, …)``): a dense map over the source.
Biases travel separately as maps of the node's output shape (:func:`bias_through_conv` …).
All arithmetic is float64.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class LinearMap:
    kind: str                        # "conv" | "dense"
    weight: np.ndarray               # conv (O, I, kh, kw) (groups expanded); dense (O, N)
    in_shape: tuple[int, ...]        # the source's (C, H, W) or (N,)
    out_shape: tuple[int, ...]       # (C, H, W) or (N,)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    flatten: bool = False            # dense reading a 3-D source in (C, H, W) order

    @property
    def pointwise(self) -> bool:
        return self.kind == "conv" and self.weight.shape[2:] == (1, 1) and self.stride == (1, 1) \
            and self.padding == (0, 0)

    def same_geometry(self, other: "LinearMap") -> bool:
        return (self.kind, self.weight.shape, self.stride, self.padding, self.dilation, self.flatten) == \
            (other.kind, other.weight.shape, other.stride, other.padding, other.dilation, other.flatten)


def identity(shape: tuple[int, ...]) -> LinearMap:
    """The map of a source onto itself: a 1x1 identity conv (3-D) or the identity matrix."""
    if len(shape) == 3:
        return LinearMap("conv", np.eye(shape[0])[:, :, None, None], tuple(shape), tuple(shape))
    return LinearMap("dense", np.eye(int(np.prod(shape))), tuple(shape), tuple(shape))


def full_conv_weight(weight: np.ndarray, groups: int) -> np.ndarray:
    """A grouped kernel ``(O, I/g, kh, kw)`` as the equivalent full kernel ``(O, I, kh, kw)``."""
    w = np.asarray(weight, dtype=np.float64)
    if groups == 1:
        return w
    o, ig, kh, kw = w.shape
    og = o // groups
    full = np.zeros((o, ig * groups, kh, kw))
    for g in range(groups):
        full[g * og:(g + 1) * og, g * ig:(g + 1) * ig] = w[g * og:(g + 1) * og]
    return full


def then_conv(m: LinearMap, weight: np.ndarray, stride, padding, dilation, out_shape) -> LinearMap:
    """``m`` followed by a convolution with full kernel ``weight`` (module docstring).
    ValueError when the composition would not be exact."""
    stride, padding, dilation = tuple(stride), tuple(padding), tuple(dilation)
    w_b = np.asarray(weight, dtype=np.float64)
    if m.kind != "conv":
        raise ValueError("a convolution after a dense map cannot be expressed")
    b_pointwise = w_b.shape[2:] == (1, 1) and padding == (0, 0)
    if m.pointwise:
        w = np.einsum("omhw,mi->oihw", w_b, m.weight[:, :, 0, 0])
        return LinearMap("conv", w, m.in_shape, tuple(out_shape), stride, padding, dilation)
    if b_pointwise:
        w = np.einsum("om,mihw->oihw", w_b[:, :, 0, 0], m.weight)
        s = (m.stride[0] * stride[0], m.stride[1] * stride[1])
        return LinearMap("conv", w, m.in_shape, tuple(out_shape), s, m.padding, m.dilation)
    if padding != (0, 0):
        raise ValueError(f"a convolution with padding {padding} after a {m.weight.shape[2]}x{m.weight.shape[3]} "
                         "convolution cannot be folded exactly (its padded zeros are not the first one's output)")
    if m.dilation != (1, 1) or dilation != (1, 1):
        raise ValueError("dilated convolutions in sequence cannot be folded")
    w = F.conv_transpose2d(torch.from_numpy(w_b), torch.from_numpy(m.weight), stride=m.stride).numpy()
    s = (m.stride[0] * stride[0], m.stride[1] * stride[1])
    return LinearMap("conv", w, m.in_shape, tuple(out_shape), s, m.padding, (1, 1))


def then_dense(m: LinearMap, weight: np.ndarray) -> LinearMap:
    """``m`` (its output flattened in (C, H, W) order) followed by a dense ``(O, N)`` op."""
    w_d = np.asarray(weight, dtype=np.float64)
    if m.kind == "dense":
        return replace(m, weight=w_d @ m.weight, out_shape=(w_d.shape[0],))
    c, h, w = m.out_shape
    ci, hi, wi = m.in_shape
    k = m.weight.shape[2:]
    pad = []
    for ax, (n_in, n_out) in enumerate(((hi, h), (wi, w))):
        size = (n_out - 1) * m.stride[ax] - 2 * m.padding[ax] + m.dilation[ax] * (k[ax] - 1) + 1
        pad.append(n_in - size)
    rows = torch.from_numpy(w_d.reshape(w_d.shape[0], c, h, w))
    adj = F.conv_transpose2d(rows, torch.from_numpy(m.weight), stride=m.stride, padding=m.padding,
                             output_padding=tuple(pad), dilation=m.dilation).numpy()
    return LinearMap("dense", adj.reshape(w_d.shape[0], -1), m.in_shape, (w_d.shape[0],), flatten=True)


def then_scale(m: LinearMap, per_out: np.ndarray) -> LinearMap:
    """``m`` followed by a per-output-channel (or per-neuron for dense) factor."""
    f = np.asarray(per_out, dtype=np.float64).reshape((-1,) + (1,) * (m.weight.ndim - 1))
    return replace(m, weight=m.weight * f)


def add(a: LinearMap, b: LinearMap) -> LinearMap:
    """Two maps from the same source with the same geometry: their sum."""
    return replace(a, weight=a.weight + b.weight)


def bias_through_conv(bias: np.ndarray | None, weight: np.ndarray, stride, padding, dilation,
                      own: np.ndarray | None, out_shape) -> np.ndarray | None:
    """A bias map ``(C, H, W)`` after a convolution (zero padding, full kernel) plus its own
    per-channel bias, as a map of ``out_shape``."""
    out = None
    if bias is not None:
        out = F.conv2d(torch.from_numpy(bias[None]), torch.from_numpy(np.asarray(weight, dtype=np.float64)),
                       stride=tuple(stride), padding=tuple(padding), dilation=tuple(dilation))[0].numpy()
    if own is not None:
        own_map = np.broadcast_to(np.asarray(own, dtype=np.float64).reshape(-1, 1, 1), tuple(out_shape))
        out = own_map.copy() if out is None else out + own_map
    return out


def as_grouped(m: LinearMap) -> tuple[np.ndarray, int]:
    """The conv kernel in the sparsest grouped form: ``(C, 1, kh, kw)`` with ``groups = C`` when the
    full kernel only connects channel c to channel c (identity skips, folded BN, relays), else the
    full kernel with ``groups = 1``."""
    w = m.weight
    o, i = w.shape[:2]
    if o == i and o > 1:
        off = w.copy()
        off[np.arange(o), np.arange(o)] = 0
        if not np.any(off):
            return w[np.arange(o), np.arange(o)][:, None], o
    return w, 1
