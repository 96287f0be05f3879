"""NIR → Loihi layers: exact folds, fixed-point model vs our simulator, unmappable nodes, core counts.

Budget: < 20 s (fast simulator only; genuine Lava is in test_mapping_lava.py).
"""
from __future__ import annotations

import nir
import numpy as np
import pytest
import torch

from ckd_toolchain.errors import InputError
from ckd_toolchain.hardware.lowering.core_allocation import allocate, out_degree, synapse_count
from ckd_toolchain.simulators.loihi.float_layers import run_layers
from ckd_toolchain.hardware.lowering.nir_to_loihi import map_graph
from ckd_toolchain.simulators.nir_float import run_nir
import mapping_graphs as mg

pytestmark = pytest.mark.timeout(120)


def test_fold_mode_is_exact_in_float():
    g = mg.demo_like()
    x = mg.spikes((3, 6, 2, 8, 8))
    net = map_graph(g, pool_mode="fold")
    assert [l.kind for l in net.layers] == ["conv", "conv", "dense"]
    assert net.layers[1].kernel == (6, 6) and net.layers[1].stride == (2, 2) and net.layers[1].padding == (2, 2)
    ours, _ = run_layers(net, x)
    ref = run_nir(g, torch.tensor(x), dtype=torch.float64).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_sumpool_plus_scale_equals_avgpool():
    x = mg.spikes((2, 6, 2, 8, 8))
    a = map_graph(mg.demo_like(pool_kind="avg"), pool_mode="fold")
    b = map_graph(mg.demo_like(pool_kind="sum"), pool_mode="fold")
    np.testing.assert_allclose(run_layers(a, x)[0], run_layers(b, x)[0], atol=1e-12)
    c = map_graph(mg.demo_like(pool_kind="sum"), pool_mode="conv")   # pool layer + ×4 then ×1/4 folded
    d = map_graph(mg.demo_like(pool_kind="avg"), pool_mode="conv")
    np.testing.assert_allclose(run_layers(c, x)[0], run_layers(d, x)[0], atol=1e-12)


def test_pool_as_conv_layer_parameters():
    net = map_graph(mg.demo_like(), pool_mode="conv")
    p = net.layers[1]
    assert p.kind == "pool" and p.groups == 4 and p.kernel == (2, 2) and p.stride == (2, 2)
    assert p.weight.shape == (4, 1, 2, 2) and np.all(p.weight == 2)
    assert (p.vth_mant, p.i_decay, p.v_decay) == (3, 4096, 4096)
    # spikes iff ≥ 2 of the 4 window inputs spiked
    x = np.zeros((4, 1, 4, 8, 8), dtype=np.float32)
    net1 = type(net)(layers=[net.layers[1]], input_shape=(4, 8, 8), dt=1.0, pool_mode="conv")
    for n in range(4):   # sample n: n of the 4 inputs of window (0, 0) of channel 0 spike
        flat = x[n, 0, 0].reshape(-1)
        idx = [0, 1, 8, 9][:n]
        flat[idx] = 1
    y, counts = run_layers(net1, x, quantized=True)
    assert [int(c) for c in counts[0]] == [0, 0, 1, 1]


def test_neuron_parameters_and_gain_fold():
    g = mg.demo_like()
    net = map_graph(g, pool_mode="fold")
    l1 = net.layers[0]
    assert (l1.i_decay, l1.v_decay) == (4096, 2048)
    assert l1.threshold_float == 1.0 and l1.vth_mant == round(l1.quant.scale)
    # IF with r = 2, dt = 0.5 → gain dt·r = 1; vDecay 0
    rng = np.random.default_rng(0)
    w = rng.normal(0, 1, (3, 4))
    gi = mg.chain([("fc", nir.Affine(weight=w, bias=np.zeros(3))),
                   ("n", nir.IF(r=np.full(3, 2.0), v_threshold=np.full(3, 1.0), v_reset=np.zeros(3)))], [4], 3, dt=0.5)
    li = map_graph(gi).layers[0]
    assert li.v_decay == 0 and np.allclose(li.weight_float, w)
    # per-neuron thresholds in a dense layer are folded into the rows (θ → 1)
    gt = mg.chain([("fc", nir.Affine(weight=w, bias=np.ones(3))),
                   ("n", nir.LIF(tau=np.full(3, 2.0), r=np.full(3, 2.0), v_leak=np.zeros(3),
                                 v_threshold=np.array([1.0, 2.0, 4.0]), v_reset=np.zeros(3)))], [4], 3)
    lt = map_graph(gt).layers[0]
    assert lt.threshold_float == 1.0
    np.testing.assert_allclose(lt.weight_float, w / np.array([1.0, 2.0, 4.0])[:, None])
    np.testing.assert_allclose(lt.bias_float, 1 / np.array([1.0, 2.0, 4.0]))


def test_cubalif_decays():
    w = np.eye(3)
    g = mg.chain([("fc", nir.Linear(weight=w)),
                  ("n", nir.CubaLIF(tau_syn=np.full(3, 4.0), tau_mem=np.full(3, 2.0), r=np.full(3, 2.0),
                                    v_leak=np.zeros(3), v_threshold=np.ones(3), v_reset=np.zeros(3)))], [3], 3)
    layer = map_graph(g).layers[0]
    assert (layer.i_decay, layer.v_decay) == (1024, 2048)
    np.testing.assert_allclose(layer.weight_float, w * 0.25)   # (dt r/τm)·(dt/τs)·w_in = 1·0.25·1
    x = mg.spikes((2, 8, 3), p=0.6)
    ref = run_nir(g, torch.tensor(x), dtype=torch.float64).numpy()
    net = map_graph(g)
    assert net.layers[-1].spiking
    ours, _ = run_layers(net, x)       # the read-out is the CubaLIF layer's spikes
    assert ref.sum() > 0
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("make, needle", [
    (lambda: mg.chain([("fc", nir.Affine(weight=np.ones((2, 2)), bias=np.zeros(2))),
                       ("bad", mg.lif((2,), v_leak=0.5))], [2], 2), "'bad' (LIF): v_leak"),
    (lambda: mg.chain([("fc", nir.Affine(weight=np.ones((2, 2)), bias=np.zeros(2))),
                       ("tau", nir.LIF(tau=np.array([2.0, 3.0]), r=np.array([2.0, 3.0]), v_leak=np.zeros(2),
                                       v_threshold=np.ones(2), v_reset=np.zeros(2)))], [2], 2), "'tau' (LIF)"),
    (lambda: mg.chain([("fc", nir.Affine(weight=np.ones((2, 2)), bias=np.zeros(2))),
                       ("rst", nir.LIF(tau=np.full(2, 2.0), r=np.full(2, 2.0), v_leak=np.zeros(2),
                                       v_threshold=np.ones(2), v_reset=np.full(2, 0.5)))], [2], 2), "v_reset"),
    (lambda: mg.chain([("fc", nir.Affine(weight=np.ones((2, 2)), bias=np.zeros(2))),
                       ("thr", nir.Threshold(threshold=np.ones(2)))], [2], 2), "'thr' of type Threshold"),
    (lambda: mg.chain([("fc", nir.Affine(weight=np.ones((2, 2)), bias=np.zeros(2))),
                       ("fc2", nir.Affine(weight=np.ones((2, 2)), bias=np.zeros(2)))], [2], 2), "'fc2'"),
    (lambda: mg.chain([("fc", nir.Affine(weight=np.ones((2, 2)), bias=np.ones(2))),
                       ("cuba", nir.CubaLIF(tau_syn=np.full(2, 2.0), tau_mem=np.full(2, 2.0), r=np.full(2, 2.0),
                                            v_leak=np.zeros(2), v_threshold=np.ones(2), v_reset=np.zeros(2)))],
                      [2], 2), "'cuba' (CubaLIF): the bias"),
])
def test_unmappable_nodes_name_the_node(make, needle):
    with pytest.raises(InputError) as e:
        map_graph(make())
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_branch_joining_mismatched_shapes_is_rejected():
    """Branches are mapped (graph lowering, tests/hardware/test_graph_lowering.py), but a sum of an
    8x8 and a pooled 4x4 map has no meaning: one line naming the join node."""
    g = mg.demo_like()
    g.edges.append(("l1", "c2"))    # a second edge into c2 (residual-style sum) around the pool
    with pytest.raises(InputError, match="node 'c2' \\(Conv2d\\) joins inputs of different shapes"):
        map_graph(g)


def test_conv_per_position_threshold_rejected():
    rng = np.random.default_rng(0)
    thr = np.ones((2, 4, 4))
    thr[0, 0, 0] = 2.0
    g = mg.chain([("c", mg.conv(rng.normal(0, 1, (2, 1, 3, 3)), np.zeros(2), (4, 4))),
                  ("l", nir.LIF(tau=np.full((2, 4, 4), 2.0), r=np.full((2, 4, 4), 2.0), v_leak=np.zeros((2, 4, 4)),
                                v_threshold=thr, v_reset=np.zeros((2, 4, 4))))], [1, 4, 4], [2, 4, 4])
    with pytest.raises(InputError, match="'l' \\(LIF\\): v_threshold varies across the spatial positions"):
        map_graph(g)


def test_synapse_counts_and_cores_by_hand():
    net = map_graph(mg.demo_like(), pool_mode="conv")
    l1, p1, l2, fc = net.layers
    # 3×3 pad 1 over 8: taps per input position [2,3,3,3,3,3,3,2] → 22 per axis
    assert synapse_count(l1) == 2 * 4 * 22 * 22
    assert synapse_count(p1) == 4 * 8 * 8
    assert synapse_count(fc) == 96 * 5
    assert out_degree(l1)[0, 0, 0] == 4 * 2 * 2 and out_degree(l1)[1, 3, 3] == 4 * 9
    alloc = allocate(net.layers)
    assert alloc["cores"] == 4 and alloc["chips"] == 1 and alloc["fits"]
    big = map_graph(mg.chain([("fc", nir.Affine(weight=np.zeros((1, 1_000_000)) + 0.1, bias=np.zeros(1)))],
                             [1_000_000], 1))
    alloc = allocate(big.layers)
    assert not alloc["fits"] and "'fc' does not fit: one neuron has fan-in 1000000" in alloc["problems"][0]


@pytest.mark.parametrize("pool_mode", ["conv", "thermometer", "fold"])
def test_fast_loihi_equals_quantized_layer_model(tmp_path, pool_mode):
    """With the input neuron + reset_interval = T + L, the fixed-point run equals the dequantised
    float model of the mapped layers with the FLOAT timing (no transient, window [L, L+T))."""
    from ckd_toolchain.hardware.deploy.loihi_inference import run_loihi_batch
    from ckd_toolchain.hardware.lowering.netx_mapping import write_mapped as write_netx

    net = map_graph(mg.demo_like(seed=3), pool_mode=pool_mode)
    path = str(tmp_path / "m.net")
    write_netx(net, path)
    x = mg.spikes((3, 6, 2, 8, 8), seed=4)
    logits, counts = run_loihi_batch(path, net, x, "fast", None)
    q, qcounts = run_layers(net, x, quantized=True)
    assert logits.shape == (3, 6, 5)
    for i, c in enumerate(qcounts[:-1]):
        np.testing.assert_array_equal(counts[i + 1].reshape(3, -1).sum(1), c)
    if pool_mode == "conv":     # β = 0.5 on multiples of 64 and pool sums: no truncation at all
        np.testing.assert_allclose(logits, q, atol=1e-9)
    np.testing.assert_array_equal(counts[0].reshape(3, -1).sum(1), x.reshape(3, -1).sum(1))


def test_partial_flatten_rejected_and_entry_point(tmp_path):
    from ckd_toolchain.hardware.lowering.netx_mapping import nir_to_netx

    rng = np.random.default_rng(0)
    g = mg.chain([("c", mg.conv(rng.normal(0, 1, (2, 1, 3, 3)), np.zeros(2), (4, 4))), ("l", mg.lif((2, 4, 4))),
                  ("f", nir.Flatten(input_type={"input": np.array([2, 4, 4])}, start_dim=1))], [1, 4, 4], [2, 16])
    with pytest.raises(InputError, match="'f' \\(Flatten\\): flattens"):
        map_graph(g)
    nir.write(tmp_path / "g.nir", mg.demo_like())
    net = nir_to_netx(tmp_path / "g.nir", tmp_path / "m.net", pool_mode="fold")
    assert (tmp_path / "m.net").exists() and len(net.layers) == 3


def test_thermometer_pool_mode_is_exact_and_conv_mode_is_not():
    """conv→LIF→AvgPool→conv→LIF→AvgPool→Flatten→Affine: the thermometer pools reproduce the float
    NIR graph (same logits to rounding, same spikes in every LIF layer) where conv mode does not."""
    g = mg.two_pools(seed=1)
    x = mg.spikes((4, 6, 2, 8, 8), p=0.4, seed=2)
    ref, rec = run_nir(g, torch.tensor(x), dtype=torch.float64, record=("l1", "l2"))
    ref = ref.numpy()
    net = map_graph(g, pool_mode="thermometer")
    assert [l.kind for l in net.layers] == ["conv", "pool", "conv", "pool", "dense"]
    p1, c2, p2, fc = net.layers[1:]
    assert p1.out_shape == (16, 4, 4) and p1.groups == 4 and c2.in_shape == (16, 4, 4)
    assert p2.out_shape == (24, 2, 2) and p2.groups == 6 and fc.in_shape == (24, 2, 2) and fc.flatten_before
    # next layers read the thermometer channels c·4 + j with the original weight / 4
    w2 = np.asarray(g.nodes["c2"].weight)
    np.testing.assert_allclose(c2.weight_float[:, 4 * 3 + 2], w2[:, 3] / 4)
    wf = np.asarray(g.nodes["fc"].weight).reshape(5, 6, 2, 2)
    np.testing.assert_allclose(fc.weight_float.reshape(5, 24, 2, 2)[:, 4 * 5 + 3], wf[:, 5] / 4)
    # integer weights after a thermometer pool: each prefix sum Σ_{j≤k} (the input of k window
    # spikes) is the float value rounded once (quantization.thermometer_round)
    for layer, block in ((c2, 9), (fc, 4)):
        q = layer.quant
        x_units = (layer.weight_float * q.scale / 2**q.mant_exp).reshape(layer.weight.shape[0], -1, 4, block)
        m = (layer.weight // 2**q.mant_exp).reshape(x_units.shape)
        np.testing.assert_array_equal(np.cumsum(m, axis=2), np.rint(np.cumsum(x_units, axis=2)))
    ours, counts = run_layers(net, x)
    np.testing.assert_allclose(ours, ref, atol=1e-9)
    np.testing.assert_array_equal(ours.sum(1).argmax(1), ref.sum(1).argmax(1))
    n1 = rec["l1"].numpy().reshape(4, -1).sum(1)
    n2 = rec["l2"].numpy().reshape(4, -1).sum(1)
    assert n1.min() > 0 and n2.min() > 0
    np.testing.assert_array_equal(counts[0], n1)
    np.testing.assert_array_equal(counts[2], n2)
    # Σ_j [k ≥ j] = k: a thermometer pool emits exactly as many spikes as its window inputs had
    np.testing.assert_array_equal(counts[1], n1)
    np.testing.assert_array_equal(counts[3], n2)
    # the dequantised integer model keeps the exact pool (only the conv/affine weights are rounded)
    qz, qcounts = run_layers(net, x, quantized=True)
    np.testing.assert_array_equal(qcounts[1], qcounts[0])
    conv, _ = run_layers(map_graph(g, pool_mode="conv"), x)
    assert np.abs(conv - ref).max() > 0.1


def test_thermometer_neuron_fire_rule_by_hand():
    """One thermometer neuron per j = 1..4 of a 2×2 window, k = 0..4 inputs spiking: Lava's
    v = (2k + bias_j)·64 with bias_j = 2 - 2j, spike iff v > vThMant·64 = 64, i.e. iff k ≥ j."""
    from ckd_toolchain.loihi2.arithmetic import lif_step_fixed

    net = map_graph(mg.two_pools(), pool_mode="thermometer")
    p = net.layers[1]
    assert (p.vth_mant, p.i_decay, p.v_decay) == (1, 4096, 4096) and np.all(p.weight == 2)
    np.testing.assert_array_equal(p.bias[:8], [0, -2, -4, -6, 0, -2, -4, -6])
    np.testing.assert_array_equal(p.bias_float[:4], [0.0, -1.0, -2.0, -3.0])
    assert p.threshold_float == 0.5 and p.quant.scale == 2.0
    for k in range(5):
        a_in = 2 * k * np.ones(4, dtype=np.int64)               # Σ of k stored weights 2
        # state from a previous step with everything firing is forgotten (iDecay = vDecay = 4096)
        s, u, v = lif_step_fixed(np.full(4, 8 << 6), np.full(4, 5 << 6), a_in, 4096, 4096, p.bias[:4], 1)
        assert list(v[~s]) == [((2 * k + 2 - 2 * j) << 6) for j in range(1, 5) if not k >= j]
        assert s.tolist() == [k >= j for j in range(1, 5)], k
    # the same rule in the layer model: channel 0, window (0, 0) with k of its 4 inputs spiking
    x = np.zeros((5, 1, 4, 8, 8), dtype=np.float32)
    for k in range(5):
        x[k, 0, 0].reshape(-1)[[0, 1, 8, 9][:k]] = 1
    one = type(net)(layers=[p], input_shape=(4, 8, 8), dt=1.0, pool_mode="thermometer")
    for quantized in (False, True):
        y, counts = run_layers(one, x, quantized=quantized)
        np.testing.assert_array_equal(counts[0], np.arange(5))
        for k in range(5):
            np.testing.assert_array_equal(y[k, 0, :4, 0, 0], [float(k >= j) for j in range(1, 5)])
    # bias alone (no input: the delay transient) never fires
    s, _, _ = lif_step_fixed(np.zeros(4), np.zeros(4), np.zeros(4), 4096, 4096, p.bias[:4], 1)
    assert not s.any()


def test_thermometer_rejects_back_to_back_pools():
    g = mg.chain([("c", mg.conv(np.ones((1, 1, 3, 3)), np.zeros(1), (8, 8))), ("l", mg.lif((1, 8, 8))),
                  ("p1", mg.pool()), ("p2", mg.pool()), ("f", nir.Flatten(input_type={"input": np.array([1, 2, 2])}, start_dim=0)),
                  ("fc", nir.Affine(weight=np.ones((2, 4)), bias=np.zeros(2)))], [1, 8, 8], 2)
    with pytest.raises(InputError, match="'p2' \\(AvgPool2d\\): two pools"):
        map_graph(g, pool_mode="thermometer")
