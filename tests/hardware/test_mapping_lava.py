"""`.net` files written by our mapper load in genuine Lava (netx.hdf5.Network) and the fast
simulator matches it bit for bit (s, u, v, every layer, every step): conv + biases, pool-as-conv
(binarising and thermometer, the latter with per-channel biases and channel-expanded conv/dense
after it), folded pool, dense, flatten, read-out layer, input neuron with reset_interval.

Budget: ~55 s (four genuine-Lava runs of a few samples).
"""
from __future__ import annotations

import numpy as np
import pytest

import mapping_graphs as mg
from ckd_toolchain.hardware.lowering.netx_mapping import write_mapped as write_netx
from ckd_toolchain.hardware.lowering.nir_to_loihi import map_graph
from ckd_toolchain.simulators.loihi import run_netx, torch_order_to_lava

pytestmark = [pytest.mark.lava, pytest.mark.slow, pytest.mark.timeout(600)]


def _compare(path, x, steps):
    kw = dict(input_spikes=x, reset_interval=steps, record=("s", "u", "v"))
    fast = run_netx(path, steps, sim="fast", **kw)
    lava = run_netx(path, steps, sim="lava", timeout=300, **kw)
    assert len(fast) == len(lava)
    for i, (a, b) in enumerate(zip(fast, lava)):
        for var in "suv":
            np.testing.assert_array_equal(a[var], b[var], err_msg=f"block {i} variable {var}")
    return fast


@pytest.mark.parametrize("graph, pool_mode", [("demo_like", "conv"), ("demo_like", "fold"),
                                              ("two_pools", "thermometer")])
def test_mapped_conv_net_fast_equals_lava(tmp_path, graph, pool_mode):
    net = map_graph(getattr(mg, graph)(seed=5), pool_mode=pool_mode)
    assert net.layers[0].bias is not None and np.any(net.layers[0].bias != 0)
    path = str(tmp_path / "m.net")
    write_netx(net, path)
    T, L = 6, len(net.layers)
    xs = np.zeros((2, T + L, 2, 8, 8), dtype=np.int8)
    xs[:, :T] = mg.spikes((2, T, 2, 8, 8), seed=6)
    out = _compare(path, torch_order_to_lava(xs), T + L)
    assert len(out) == L + 1                              # input neuron block + mapped layers
    assert all(o["s"].sum() > 0 for o in out[:-1])        # every spiking layer is active
    assert out[-1]["v"].any()
    if pool_mode == "thermometer":   # a pool block (out[i + 1]) fires once per spike of the block before it
        for i, layer in enumerate(net.layers[:-1]):
            if layer.kind == "pool":
                assert out[i + 1]["s"].sum() == out[i]["s"].sum() > 0


def test_mapped_dense_net_fast_equals_lava(tmp_path):
    net = map_graph(mg.dense_only(seed=2))
    path = str(tmp_path / "d.net")
    write_netx(net, path)
    T, L = 8, len(net.layers)
    xs = np.zeros((3, 12, T + L), dtype=np.int8)
    xs[..., :T] = mg.spikes((3, 12, T), p=0.5, seed=3)
    out = _compare(path, xs, T + L)
    assert out[1]["s"].sum() > 0
