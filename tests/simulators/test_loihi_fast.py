"""The fast back end on its own: lava-dl's tiny.net ground truth, batching, layouts, exact conv.

Time budget: < 20 s on 2 cores (no Lava)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from netx_builders import (demo_student_net, dense_layer, input_layer, lif, write_net)
from ckd_toolchain.simulators.loihi import run_netx, torch_order_to_lava
from ckd_toolchain.simulators.loihi.api import lava_to_torch_order
from ckd_toolchain.simulators.loihi.synapses import ConvSynapse
from paths import NETX_FIXTURES

FIXTURES = NETX_FIXTURES


def test_tiny_net_matches_lava_dl_ground_truth():
    """lava-dl test_tinynet: 17 + 3 steps, u/v reset every 17 steps, output spikes [2:17] equal
    output.npy[0].transpose([2, 1, 0, 3])[..., 1:] (see shared/fixtures/README.md)."""
    bias = np.load(FIXTURES / "tinynet" / "input_bias.npy")
    out = run_netx(FIXTURES / "tiny.net", 17 + 3, input_bias=bias, reset_interval=17)
    assert [o["s"].shape for o in out] == [(16, 16, 3, 20), (6, 6, 24, 20), (1, 1, 36, 20)]
    gt = np.load(FIXTURES / "tinynet" / "output.npy")[0].transpose([2, 1, 0, 3])[..., 1:]
    assert gt.sum() > 50  # a non-trivial sample
    np.testing.assert_array_equal(out[-1]["s"][..., 2:17], gt)
    # the hidden layer too: layer1.npy is the same indexing one layer earlier
    gt1 = np.load(FIXTURES / "tinynet" / "layer1.npy")[0].transpose([2, 1, 0, 3])[..., 1:]
    np.testing.assert_array_equal(out[1]["s"][..., 1:16], gt1)


def test_single_input_neuron_trace_through_run_netx(tmp_path):
    """End to end through a .net file: same hand-computed trace as test_loihi_fixed_point."""
    net = write_net(tmp_path / "one.net", [input_layer((1,), neuron=lif(10, 1024, 512)),
                                            dense_layer(np.array([[1]]), neuron=lif(0, 4096, 4096))])
    x = np.array([5, 5, 0, -20, 0]).reshape(1, 5)
    out = run_netx(net, 5, input_spikes=x)
    assert out[0]["u"].reshape(-1).tolist() == [320, 560, 420, -965, -723]
    assert out[0]["v"].reshape(-1).tolist() == [320, 0, 420, -598, -1246]
    assert out[0]["s"].reshape(-1).tolist() == [0, 1, 0, 0, 0]
    # one-step synaptic delay: the spike of step 2 reaches layer 1 in step 3 (a = 1 -> u = 64)
    assert out[1]["u"].reshape(-1).tolist() == [0, 0, 64, 0, 0]


def test_batch_equals_loop_over_samples(tmp_path):
    rng = np.random.default_rng(3)
    net = demo_student_net(tmp_path / "demo.net", rng)
    x = (rng.random((3, 16, 16, 2, 7)) < 0.3).astype(np.int8)
    bias = rng.integers(0, 40, size=(3, 16, 16, 2))
    batched = run_netx(net, 9, input_spikes=x, input_bias=bias, reset_interval=4)
    assert batched[3]["s"].shape == (3, 4, 4, 16, 9)
    assert sum(int(layer["s"].sum()) for layer in batched[1:]) > 100
    for b in range(3):
        single = run_netx(net, 9, input_spikes=x[b], input_bias=bias[b], reset_interval=4)
        for lb, ls in zip(batched, single):
            for var in "suv":
                np.testing.assert_array_equal(lb[var][b], ls[var])


def test_dense_delay_arrives_d_plus_one_steps_later(tmp_path):
    """DelayDense: a spike at step t crossing a synapse of delay d reaches the neuron at t+1+d."""
    w = np.array([[10, 20, 30]])
    net = write_net(tmp_path / "d.net", [input_layer((3,), neuron=lif(0, 4096, 4096)),
                                         dense_layer(w, neuron=lif(1000, 4096, 4096),
                                                     delay=np.array([0, 2, 5]))])
    x = np.zeros((3, 8), dtype=int)
    x[:, 1] = 1  # all three inputs spike at step 2 (index 1)
    u = run_netx(net, 10, input_spikes=x)[1]["u"][0] // 64
    # netx scales these weights by 2^3 (weight_exp -3): the sums come back unchanged
    assert u.tolist() == [0, 0, 10, 0, 20, 0, 0, 30, 0, 0]


def test_input_cycles_like_lava_ring_buffer(tmp_path):
    net = write_net(tmp_path / "n.net", [input_layer((2,), neuron=lif(0, 4096, 4096)),
                                         dense_layer(np.eye(2, dtype=int))])
    x = np.array([[1, 0, 0], [0, 0, 1]])
    s = run_netx(net, 7, input_spikes=x, record="s")[0]["s"]
    assert s.tolist() == [[1, 0, 0, 1, 0, 0, 1], [0, 0, 1, 0, 0, 1, 0]]
    assert set(run_netx(net, 7, input_spikes=x, record=("v",))[0]) == {"v"}


def test_torch_order_helpers_roundtrip():
    x = np.arange(2 * 3 * 4 * 5 * 6).reshape(2, 3, 4, 5, 6)  # B, T, C, H, W
    lv = torch_order_to_lava(x)
    assert lv.shape == (2, 6, 5, 4, 3)  # B, x=W, y=H, f=C, T
    assert lv[1, 5, 4, 3, 2] == x[1, 2, 3, 4, 5]
    np.testing.assert_array_equal(lava_to_torch_order(lv), x)


def _conv_int64_reference(s, w, stride, padding, dilation, groups):
    """Exact integer correlation (unfold + int64 matmul), PyTorch layout."""
    n, c, h, wd = s.shape
    k = w.shape[0]
    cols = torch.nn.functional.unfold(s.double(), w.shape[2:], dilation=dilation, padding=padding,
                                      stride=stride).round().long()  # [n, c*kh*kw, L]
    cg, kg = c // groups, k // groups
    kk = w.shape[2] * w.shape[3]
    outs = []
    for g in range(groups):
        cg_cols = cols[:, g * cg * kk:(g + 1) * cg * kk]
        wg = w[g * kg:(g + 1) * kg].reshape(kg, -1)
        outs.append(torch.einsum("kj,njl->nkl", wg, cg_cols))
    ho = (h + 2 * padding[0] - dilation[0] * (w.shape[2] - 1) - 1) // stride[0] + 1
    return torch.cat(outs, 1).reshape(n, k, ho, -1)


@pytest.mark.parametrize("wmax", [200, 1 << 20, 1 << 27])
def test_float_conv_is_exact_up_to_extreme_weights(wmax):
    g = torch.Generator().manual_seed(0)
    w = torch.randint(-wmax, wmax, (8, 6, 5, 5), generator=g)
    s = (torch.rand(3, 12, 11, 13, generator=g) < 0.7).long()
    syn = ConvSynapse(w.numpy(), (2, 1), (1, 2), (1, 2), 2, 0, torch.device("cpu"))
    ref = _conv_int64_reference(s, w, (2, 1), (1, 2), (1, 2), 2)
    out = syn(s)
    if wmax < (1 << 27):
        np.testing.assert_array_equal(out.numpy(), ((ref + (1 << 23)) % (1 << 24) - (1 << 23)).numpy())
    else:  # |sums| may pass 2^31: numpy's float64 -> int32 cast gives INT32_MIN, clamp -> 0
        big = (ref >= (1 << 31)) | (ref < -(1 << 31))
        assert big.any()
        exp = torch.where(big, torch.zeros_like(ref), (ref + (1 << 23)) % (1 << 24) - (1 << 23))
        np.testing.assert_array_equal(out.numpy(), exp.numpy())


@pytest.mark.parametrize("case", ["int8", "int8_scaled", "int8_extreme", "pool", "thermometer_pool"])
def test_binary_conv_paths_equal_exact_reference(case):
    """The int8 (oneDNN u8 x s8) and sum-pool convolutions of 0/1 spikes equal the exact int64
    correlation, on the mapper's weight forms: int8 mantissas, even weights in [-256, 254]
    (scale 2), per-channel powers of two, all -128 * 2^e with every input spiking (largest
    accumulations), constant pool kernels (one and four output channels per input channel)."""
    g = torch.Generator().manual_seed(1)
    rng = np.random.default_rng(1)
    groups, stride, padding, p_in = 1, (1, 1), (1, 1), 0.3
    if case == "int8":
        w = rng.integers(-128, 128, (8, 6, 3, 3))
    elif case == "int8_scaled":
        w = rng.integers(-128, 128, (8, 6, 3, 3)) * (2 ** (np.arange(8) % 4)).reshape(-1, 1, 1, 1)
    elif case == "int8_extreme":
        w, p_in = np.full((4, 64, 3, 3), -128 * 4), 1.0
    else:
        per = 1 if case == "pool" else 4
        w = np.repeat(rng.integers(1, 300, 6 * per), 4).reshape(6 * per, 1, 2, 2)
        groups, stride, padding = 6, (2, 2), (0, 0)
    c_in = 6 if case != "int8_extreme" else 64
    s = (torch.rand(5, c_in, 11, 9, generator=g) < p_in).to(torch.uint8)
    syn = ConvSynapse(w, stride, padding, (1, 1), groups, 0, torch.device("cpu"))
    assert syn.takes_binary  # the fast path is really taken
    ref = _conv_int64_reference(s.long(), torch.as_tensor(w), stride, padding, (1, 1), groups)
    out = syn.binary_call(s)
    assert out.shape == ref.shape
    np.testing.assert_array_equal(out.to(torch.int64).numpy(), ref.numpy())
    np.testing.assert_array_equal(syn(s).numpy(), ref.numpy())


def test_int8_scales_of_weights():
    from ckd_toolchain.simulators.loihi.synapses import int8_scales

    w = np.array([[[[254, -256]]], [[[3, -128]]], [[[0, 0]]], [[[1024, 512]]]])
    assert int8_scales(w).tolist() == [2.0, 1.0, 1.0, 16.0]  # 1024 / 8 = 128 > 127
    assert int8_scales(np.array([[[[255, 1]]]])) is None  # no power-of-two int8 mantissa


@pytest.mark.parametrize("case", ["slow_current", "demo"])
def test_torch_lif_path_equals_compiled_scan(tmp_path, case):
    """The CUDA neuron path (torch ``LifKernel``, wrap emulation skipped only where
    ``arithmetic.wrap_free`` proves it idle), run on the CPU, equals the compiled scan; the
    slow-current net (iDecay 0, inputs up to 508000 per step) is the one where skipping the
    emulation for |a| < 2^24 went wrong (its genuine-Lava check: test_loihi_lava_parity.py)."""
    from test_loihi_lava_parity import slow_current_net
    from ckd_toolchain.netx import load_netx
    from ckd_toolchain.simulators.loihi import fast_backend

    rng = np.random.default_rng(9)
    if case == "slow_current":
        path, T = slow_current_net(tmp_path / "s.net"), 150
        x, bias = np.ones((1, 2000, 1), dtype=np.int64), None
    else:
        path, T = demo_student_net(tmp_path / "demo.net", rng), 9
        x = (rng.random((2, 16, 16, 2, 7)) < 0.3).astype(np.int64)
        bias = rng.integers(0, 40, size=(2, 16, 16, 2))
    net = load_netx(path)
    runs = [fast_backend.simulate(net, T, x, bias, x.shape[0], 4 if case == "demo" else None,
                                  lif=lif) for lif in ("scan", "torch")]
    for ls, lt in zip(*runs):
        for var in "suv":
            np.testing.assert_array_equal(ls[var], lt[var])
    assert sum(int(layer["s"].sum()) for layer in runs[0]) > 0
    if case == "slow_current":
        assert np.abs(runs[0][0]["u"]).max() >= (1 << 30)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(tmp_path):
    rng = np.random.default_rng(4)
    net = demo_student_net(tmp_path / "demo.net", rng)
    x = (rng.random((4, 16, 16, 2, 10)) < 0.3).astype(np.int8)
    bias = rng.integers(0, 40, size=(4, 16, 16, 2))
    cpu = run_netx(net, 10, input_spikes=x, input_bias=bias)
    gpu = run_netx(net, 10, input_spikes=x, input_bias=bias, device="cuda")
    for a, b in zip(cpu, gpu):
        for var in "suv":
            np.testing.assert_array_equal(a[var], b[var])


@pytest.mark.lava
def test_lava_dl_pilotnet_lif_ground_truth():
    """lava-dl's trained PilotNet-LIF (``tests/lava/lib/dl/netx/gts/pilotnet_lif`` of the lava-dl
    package in the Lava env), driven as lava-dl's ``test_hdf5_nx.py::test_pilotnet_lif`` drives it
    (``image.npy`` as the input layer's bias, ``reset_interval = 16``): the fast simulator reproduces
    lava-dl's recorded spikes of every layer and the current ``u`` of every hidden layer for 15 steps.
    (lava-dl's recorded ``v`` differs from Lava's software ``v`` in every layer; not compared.)"""
    import sys

    from paths import REPO

    sys.path.insert(0, str(REPO / "benchmarks"))
    import loihi_bench_nets

    found = loihi_bench_nets.pilotnet_lif_lava_dl()
    assert found is not None, "lava-dl's PilotNet-LIF files are missing from the Lava env"
    path, image, _ = found
    gts = Path(path).parent
    out = run_netx(path, 15, input_bias=image, reset_interval=16)
    names = ["input"] + [f"conv-{i}" for i in range(5)] + [f"fc-{i}" for i in range(4)]
    for k, name in enumerate(names):
        s_file = gts / (f"{name}-s.npy" if name in ("input", "fc-3") else f"{name}.npy")
        np.testing.assert_array_equal(out[k]["s"].astype(bool), np.load(s_file)[..., :15], err_msg=name)
        if 0 < k < len(names) - 1:
            np.testing.assert_array_equal(out[k]["u"], np.load(gts / f"{name}-u.npy")[..., :15], err_msg=name)
    assert all(out[k]["s"].any() for k in range(len(names) - 1))  # the network spikes


def test_thread_count_by_call_size():
    """One thread below SMALL_CALL_MACS, every allowed thread above; the setting is restored."""
    import torch
    from ckd_toolchain.simulators.loihi.threads import SMALL_CALL_MACS, call_threads, threads_for

    assert threads_for(SMALL_CALL_MACS - 1, 2) == 1 and threads_for(SMALL_CALL_MACS, 2) == 2
    assert threads_for(10 ** 9, 1) == 1
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with call_threads(10, 2):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(old)
