"""Bit-exact equality of `--sim fast` and genuine Lava (`--sim lava`): s, u, v of every layer at
every step, on lava-dl's tiny.net and oxford.net and on synthetic netx files covering what the
mapper writes (conv with stride/padding/dilation/groups, pool-as-conv, flatten, dense with bias,
weight exponents, sign modes) plus fixed-point extremes (int32 and 24-bit wrap, v clip, conv
24-bit clamp), dense delays. Time budget: ~120 s on 2 quiet cores (up to ~4 min under heavy
load), nearly all of it Lava start-up and Lava steps."""

import numpy as np
import pytest

from netx_builders import (conv_layer, conv_out, demo_student_net, dense_layer, flatten_layer,
                           input_layer, lif, write_net)
from ckd_toolchain.simulators.loihi import run_netx
from paths import NETX_FIXTURES

FIXTURES = NETX_FIXTURES
pytestmark = [pytest.mark.lava, pytest.mark.slow]


def assert_bit_exact(path, num_steps, min_spiking_layers=1, **inputs):
    fast = run_netx(path, num_steps, **inputs)
    timings: dict = {}
    lava = run_netx(path, num_steps, sim="lava", timings=timings, **inputs)
    assert set(timings) == {"build_s", "run_s", "readback_s"} and all(v > 0 for v in timings.values())
    assert len(fast) == len(lava)
    for k, (f, g) in enumerate(zip(fast, lava)):
        for var in "suv":
            assert f[var].shape == g[var].shape, (k, var)
            assert f[var].shape[-1] == num_steps
            diff = np.argwhere(f[var] != g[var])
            assert diff.size == 0, f"layer {k} {var}: first differences at {diff[:5].tolist()}"
    spiking = sum(int(layer["s"].sum() > 0) for layer in fast)
    assert spiking >= min_spiking_layers, f"only {spiking} layers spike: test is too weak"
    return fast, lava


def test_tiny_net_bias_input_with_reset_interval():
    bias = np.load(FIXTURES / "tinynet" / "input_bias.npy")
    _, lava = assert_bit_exact(FIXTURES / "tiny.net", 20, min_spiking_layers=3, input_bias=bias,
                               reset_interval=17)
    gt = np.load(FIXTURES / "tinynet" / "output.npy")[0].transpose([2, 1, 0, 3])[..., 1:]
    np.testing.assert_array_equal(lava[-1]["s"][..., 2:17], gt)  # our Lava worker is right too


def test_oxford_spike_input_batch_of_two():
    rng = np.random.default_rng(0)
    x = (rng.random((2, 200, 100)) < 0.01).astype(np.int8)  # denser input silences the net
    fast, _ = assert_bit_exact(FIXTURES / "oxford.net", 100, min_spiking_layers=2, input_spikes=x)
    assert fast[0]["s"].shape == (2, 256, 100) and fast[1]["s"].shape == (2, 200, 100)
    assert fast[0]["s"].sum() > 100 and fast[1]["s"].sum() > 100


def test_demo_student_like_net_spikes_bias_and_reset(tmp_path):
    rng = np.random.default_rng(5)
    net = demo_student_net(tmp_path / "demo.net", rng)
    x = (rng.random((16, 16, 2, 10)) < 0.3).astype(np.int8)
    bias = rng.integers(0, 30, size=(16, 16, 2))
    assert_bit_exact(net, 12, min_spiking_layers=5, input_spikes=x, input_bias=bias,
                     reset_interval=6)


def test_conv_geometry_flatten_and_dense_sign_modes(tmp_path):
    """Input layer without neuron (spikes enter the conv synapse), asymmetric stride/padding/
    dilation, groups, per-neuron bias, flatten, small excitatory weights (weight exponent -5),
    and a purely inhibitory dense layer with netx's default neuron."""
    rng = np.random.default_rng(2)
    X, Y, C = 9, 7, 4
    xo, yo = conv_out(X, 2, 2, 0, 1), conv_out(Y, 3, 1, 2, 2)
    layers = [input_layer((X, Y, C)),
              conv_layer(rng.integers(-50, 80, (6, 2, 3, 2)), (xo, yo, 6), stride=(1, 2),
                         padding=(2, 0), dilation=(2, 1), groups=2,
                         bias=rng.integers(-20, 40, (xo, yo, 6)), neuron=lif(30, 1000, 300)),
              flatten_layer(),
              dense_layer(rng.integers(0, 9, (12, xo * yo * 6)), bias=rng.integers(-5, 5, 12),
                          neuron=lif(10, 2048, 100)),
              dense_layer(-rng.integers(1, 5, (5, 12)), neuron=None)]
    net = write_net(tmp_path / "geom.net", layers)
    x = (rng.random((X, Y, C, 10)) < 0.5).astype(np.int8)
    fast, _ = assert_bit_exact(net, 14, min_spiking_layers=2, input_spikes=x)
    assert fast[2]["u"].min() < 0  # the inhibitory layer received input


def test_dense_delays(tmp_path):
    """netx DelayDense: per-synapse delays (one above 62, so netx clips all to 0..62), per-input
    delays, small weights with a weight exponent."""
    rng = np.random.default_rng(11)
    d1 = rng.integers(0, 6, (10, 12))
    d1[0, 0] = 70
    layers = [input_layer((12,), neuron=lif(0, 4096, 4096)),
              dense_layer(rng.integers(-3, 6, (10, 12)), neuron=lif(4, 2000, 500), delay=d1),
              dense_layer(rng.integers(-40, 80, (4, 10)), neuron=lif(10, 4096, 1000),
                          delay=rng.integers(0, 4, 10))]
    net = write_net(tmp_path / "delay.net", layers)
    x = (rng.random((12, 20)) < 0.4).astype(np.int8)
    assert_bit_exact(net, 24, min_spiking_layers=3, input_spikes=x)


def test_fixed_point_extremes(tmp_path):
    """Graded input spikes up to +-2^31 (int32 wrap of a << 6, Lava's 24-bit u wrap), no decay,
    v clipped at +-(2^23 - 1), extreme int16 biases, conv weights up to 2^27 (24-bit clamp and
    float -> int32 cast), [-256, 0] weights (netx MIXED / Lava INHIBITORY) and weights > 254."""
    rng = np.random.default_rng(7)
    layers = [input_layer((5, 4, 2), neuron=lif((1 << 17) - 1, 0, 0)),
              conv_layer(rng.integers(-(1 << 27), 1 << 27, (3, 2, 3, 3)), (3, 2, 3),
                         neuron=lif(1000, 0, 0)),
              flatten_layer(),
              dense_layer(np.where(rng.random((4, 18)) < 0.5, -256, 0),
                          bias=rng.integers(2000, 4000, 4), neuron=lif(1, 0, 10)),
              dense_layer(rng.integers(-300, 400, (3, 4)), neuron=lif(0, 4096, 4096))]
    net = write_net(tmp_path / "extreme.net", layers)
    x = rng.integers(-(1 << 31), (1 << 31) - 1, size=(5, 4, 2, 6))
    x[0, 0, 0, :] = 1 << 17  # steady 2^23 per step: exercises the 24-bit wrap of u
    bias = rng.integers(-32768, 32767, size=(5, 4, 2))
    fast, _ = assert_bit_exact(net, 12, min_spiking_layers=3, input_spikes=x, input_bias=bias)
    assert np.abs(fast[0]["v"]).max() == (1 << 23) - 1  # clipped


def slow_current_net(path):
    """2000 inputs -> 3 neurons with iDecay 0 (the current never decays): rows of 2000, 1500 and
    1000 weights of 254, i.e. steady synaptic inputs 508000, 381000, 254000 per step once every
    input spikes every step. The first two exceed 2^18, so u outgrows 24 bits (Lava's wrap24
    subtracts 2^24 only once per step) and wraps at int32 (see ``loihi2.arithmetic.wrap_free``)."""
    w = np.zeros((3, 2000), dtype=np.int64)
    for row, n in enumerate((2000, 1500, 1000)):
        w[row, :n] = 254
    return write_net(path, [input_layer((2000,)),
                            dense_layer(w, neuron=lif((1 << 17) - 1, 0, 4096))])


def test_int32_wrap_of_a_non_decaying_current(tmp_path):
    """Regression: the fast simulator skipped the int32 wrap emulation whenever |a| < 2^24, and
    differed from Lava from step 136 on this net (s, u and v)."""
    net = slow_current_net(tmp_path / "slow_current.net")
    x = np.ones((2000, 1), dtype=np.int8)  # every input spikes every step (RingBuffer cycles)
    fast, _ = assert_bit_exact(net, 150, min_spiking_layers=1, input_spikes=x)
    u = fast[0]["u"].astype(np.int64)
    assert np.abs(u[0]).max() >= (1 << 30)  # u really reached the int32 range


def test_lava_worker_failure_is_one_line_error(tmp_path):
    from ckd_toolchain.simulators.lava_env import LavaRunFailed
    from ckd_toolchain.simulators.loihi import lava_backend, load_netx

    net = load_netx(write_net(tmp_path / "w.net", [dense_layer(np.ones((2, 3), int))]))
    net.path = str(tmp_path / "vanished.net")  # the worker cannot open it
    with pytest.raises(LavaRunFailed) as exc:
        lava_backend.simulate(net, 3, None, None, 1, timeout=120)
    msg = str(exc.value)
    assert "\n" not in msg and "lava_worker: error:" in msg and "vanished.net" in msg, msg
