"""Small NIR graphs for the mapping/deploy tests (built with the nir package, no other stage)."""
from __future__ import annotations

import nir
import numpy as np


def lif(shape, beta=0.5, threshold=1.0, dt=1.0, v_leak=0.0):
    tau = dt / (1.0 - beta)
    return nir.LIF(tau=np.full(shape, tau), r=np.full(shape, tau / dt), v_leak=np.full(shape, v_leak),
                   v_threshold=np.full(shape, threshold), v_reset=np.zeros(shape))


def conv(w, b, hw, stride=1, padding=1, groups=1):
    return nir.Conv2d(input_shape=hw, weight=w, stride=stride, padding=padding, dilation=1,
                      groups=groups, bias=b)


def pool(k=2, kind=nir.AvgPool2d):
    return kind(kernel_size=np.array([k, k]), stride=np.array([k, k]), padding=np.array([0, 0]))


def chain(nodes: list[tuple[str, nir.NIRNode]], in_shape, out_n, dt=1.0, **meta) -> nir.NIRGraph:
    allnodes = {"input": nir.Input(input_type={"input": np.array(in_shape)})}
    allnodes.update(dict(nodes))
    allnodes["output"] = nir.Output(output_type={"output": np.array([out_n] if np.isscalar(out_n) else out_n)})
    names = list(allnodes)
    edges = list(zip(names[:-1], names[1:]))
    return nir.NIRGraph(nodes=allnodes, edges=edges, metadata={"dt": dt, **meta})


def demo_like(seed=0, C=2, H=8, c1=4, c2=6, classes=5, pool_kind="avg", cuba=False):
    """conv+bias → LIF → pool → conv+bias → LIF → flatten → affine (the demo student's shape)."""
    rng = np.random.default_rng(seed)
    p = pool() if pool_kind == "avg" else None
    nodes = [("c1", conv(rng.normal(0, 0.6, (c1, C, 3, 3)), rng.normal(0, 0.1, c1), (H, H))),
             ("l1", lif((c1, H, H)))]
    if pool_kind == "avg":
        nodes.append(("p1", p))
    else:
        nodes += [("p1", pool(kind=nir.SumPool2d)), ("s1", nir.Scale(scale=np.full((c1, H // 2, H // 2), 0.25)))]
    h = H // 2
    nodes += [("c2", conv(rng.normal(0, 0.5, (c2, c1, 3, 3)), rng.normal(0, 0.1, c2), (h, h))),
              ("l2", lif((c2, h, h))),
              ("f", nir.Flatten(input_type={"input": np.array([c2, h, h])}, start_dim=0)),
              ("fc", nir.Affine(weight=rng.normal(0, 0.3, (classes, c2 * h * h)), bias=rng.normal(0, 0.1, classes)))]
    return chain(nodes, [C, H, H], classes, T=6, input_shape=np.array([C, H, H]))


def two_pools(seed=0, C=2, H=8, c1=4, c2=6, classes=5):
    """conv → LIF → AvgPool(2) → conv → LIF → AvgPool(2) → Flatten → Affine (a pool before a conv and
    one before the flatten + dense read-out)."""
    rng = np.random.default_rng(seed)
    h, q = H // 2, H // 4
    nodes = [("c1", conv(rng.normal(0, 0.6, (c1, C, 3, 3)), rng.normal(0, 0.1, c1), (H, H))),
             ("l1", lif((c1, H, H))), ("p1", pool()),
             ("c2", conv(rng.normal(0, 0.7, (c2, c1, 3, 3)), rng.normal(0, 0.1, c2), (h, h))),
             ("l2", lif((c2, h, h))), ("p2", pool()),
             ("f", nir.Flatten(input_type={"input": np.array([c2, q, q])}, start_dim=0)),
             ("fc", nir.Affine(weight=rng.normal(0, 0.5, (classes, c2 * q * q)), bias=rng.normal(0, 0.1, classes)))]
    return chain(nodes, [C, H, H], classes, T=6, input_shape=np.array([C, H, H]))


def dense_only(seed=0, n_in=12, hidden=8, classes=3):
    rng = np.random.default_rng(seed)
    nodes = [("fc1", nir.Affine(weight=rng.normal(0, 0.5, (hidden, n_in)), bias=rng.normal(0, 0.1, hidden))),
             ("l1", lif((hidden,), beta=0.75)),
             ("fc2", nir.Linear(weight=rng.normal(0, 0.5, (classes, hidden))))]
    return chain(nodes, [n_in], classes)


def spikes(shape, p=0.4, seed=1):
    return (np.random.default_rng(seed).random(shape) < p).astype(np.float32)


def residual(seed=0, C=2, H=8, c1=4, c2=8, classes=5, dt=1.0):
    """A two-block residual graph built from nir primitives only (not our exporter): block 1 has an
    identity shortcut (LIF l1's spikes and conv c3 both enter LIF l3: NIR sums incoming edges),
    block 2 a stride-2 3x3 path and a stride-2 1x1 conv shortcut into LIF l5, then a global
    average pool, Flatten and an Affine read-out."""
    rng = np.random.default_rng(seed)
    h = H // 2
    n = {"input": nir.Input(input_type={"input": np.array([C, H, H])}),
         "c1": conv(rng.normal(0, 0.7, (c1, C, 3, 3)), rng.normal(0, 0.1, c1), (H, H)), "l1": lif((c1, H, H)),
         "c2": conv(rng.normal(0, 0.5, (c1, c1, 3, 3)), np.zeros(c1), (H, H)), "l2": lif((c1, H, H)),
         "c3": conv(rng.normal(0, 0.5, (c1, c1, 3, 3)), rng.normal(0, 0.1, c1), (H, H)), "l3": lif((c1, H, H)),
         "c4": conv(rng.normal(0, 0.5, (c2, c1, 3, 3)), np.zeros(c2), (H, H), stride=2), "l4": lif((c2, h, h)),
         "c5": conv(rng.normal(0, 0.4, (c2, c2, 3, 3)), np.zeros(c2), (h, h)),
         "c6": conv(rng.normal(0, 0.6, (c2, c1, 1, 1)), rng.normal(0, 0.1, c2), (H, H), stride=2, padding=0),
         "l5": lif((c2, h, h)),
         "p": nir.AvgPool2d(kernel_size=np.array([h, h]), stride=np.array([h, h]), padding=np.array([0, 0])),
         "f": nir.Flatten(input_type={"input": np.array([c2, 1, 1])}, start_dim=0),
         "fc": nir.Affine(weight=rng.normal(0, 0.8, (classes, c2)), bias=rng.normal(0, 0.1, classes)),
         "output": nir.Output(output_type={"output": np.array([classes])})}
    edges = [("input", "c1"), ("c1", "l1"), ("l1", "c2"), ("c2", "l2"), ("l2", "c3"), ("c3", "l3"), ("l1", "l3"),
             ("l3", "c4"), ("c4", "l4"), ("l4", "c5"), ("c5", "l5"), ("l3", "c6"), ("c6", "l5"),
             ("l5", "p"), ("p", "f"), ("f", "fc"), ("fc", "output")]
    return nir.NIRGraph(nodes=n, edges=edges, metadata={"dt": dt, "T": 6, "input_shape": np.array([C, H, H])})
