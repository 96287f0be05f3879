"""Hand-computed fixed-point traces of Lava's bit-accurate CUBA-LIF and netx weight handling.

Time budget: < 5 s (no Lava)."""
import numpy as np
import pytest
import torch

from ckd_toolchain.loihi2 import arithmetic as fp
from ckd_toolchain.loihi2.arithmetic import signed_clamp24
from ckd_toolchain.simulators.loihi.synapses import lava_dense_weights


def run_trace(a_seq, vth, i_decay, v_decay, bias_mant=0):
    u = torch.zeros(1, dtype=torch.int64)
    v = torch.zeros(1, dtype=torch.int64)
    b = fp.effective_bias(torch.tensor([bias_mant]))
    us, vs, ss = [], [], []
    for a in a_seq:
        u, v, s = fp.lif_step(u, v, torch.tensor([a], dtype=torch.int64), b, vth, i_decay, v_decay)
        us.append(int(u))
        vs.append(int(v))
        ss.append(int(s))
    return us, vs, ss


def test_decay_truncates_toward_zero_and_spike_resets_v():
    # iDecay=1024 -> u *= 3072/4096; vDecay=512 -> v *= 3584/4096; vth 10 -> 640; a << 6
    us, vs, ss = run_trace([5, 5, 0, -20, 0], vth=10, i_decay=1024, v_decay=512)
    # step 1: u = 320, v = 320
    # step 2: u = 240 + 320 = 560; v = 280 + 560 = 840 > 640 -> spike, v = 0
    # step 3: u = 420; v = 0 + 420
    # step 4: u = 315 - 1280 = -965; v = trunc(367.5) + u = 367 - 965 = -598
    # step 5: u = trunc(-723.75) = -723 (toward zero, not floor); v = trunc(-523.25) - 723 = -1246
    assert us == [320, 560, 420, -965, -723]
    assert vs == [320, 0, 420, -598, -1246]
    assert ss == [0, 1, 0, 0, 0]


def test_current_wraps_at_24_bits_with_lavas_rule_and_v_clips():
    # no decay (iDecay=0), a = 2^16 -> +2^22 per step; vDecay=4096: v = u (no memory)
    us, vs, ss = run_trace([1 << 16] * 5, vth=(1 << 17) - 1, i_decay=0, v_decay=4096)
    assert us == [1 << 22, 1 << 23, -(1 << 22), 0, 1 << 22]  # +2^23 is kept, 3*2^22 -> -2^22
    # v = u clipped to 2^23 - 1 = 8388607 > vth << 6 = 8388544 -> spike and reset
    assert ss == [0, 1, 0, 0, 0]
    assert vs == [1 << 22, 0, -(1 << 22), 0, 1 << 22]


def test_bias_uses_exponent_6_and_v_clips_at_minus_2_23_plus_1():
    us, vs, ss = run_trace([0] * 40, vth=100, i_decay=4096, v_decay=0, bias_mant=-4096)
    assert vs[0] == -4096 * 64 and vs[1] == -2 * 4096 * 64
    assert vs[30] == -31 * 262144
    assert vs[31] == -8388607 and vs[39] == -8388607  # 32 * 2^18 = 2^23 -> clip
    assert sum(ss) == 0 and set(us) == {0}


def test_int32_wrap_of_shifted_input():
    # a = 2^26: a << 6 = 2^32 -> int32 0, so u stays 0
    us, _, _ = run_trace([1 << 26], vth=10, i_decay=4096, v_decay=4096)
    assert us == [0]
    # a = 2^25 + 1: << 6 = 2^31 + 64 -> int32 -2^31 + 64; then Lava's wrap24 adds 2^24 once
    us, _, _ = run_trace([(1 << 25) + 1], vth=10, i_decay=4096, v_decay=4096)
    assert us == [-(1 << 31) + 64 + (1 << 24)]


def test_wrap_helpers():
    x = torch.tensor([(1 << 31), -(1 << 31) - 1, 5, (1 << 23), (1 << 23) + 1, -(1 << 23)])
    assert fp.wrap_int32(x[:3]).tolist() == [-(1 << 31), (1 << 31) - 1, 5]
    assert fp.lava_wrap24(x[3:]).tolist() == [1 << 23, -(1 << 23) + 1, 1 << 23]
    assert signed_clamp24(torch.tensor([1 << 23, -(1 << 23), (1 << 24) + 3])).tolist() == \
        [-(1 << 23), -(1 << 23), 3]


@pytest.mark.parametrize("k,steps", [(0, [1, 18, 35]), (2, [3, 20, 37])])
def test_reset_phase_of_netx_reset_interval(k, steps):
    due = [t for t in range(1, 40) if fp.reset_due(t, k, 17)]
    assert due == steps
    assert not any(fp.reset_due(t, k, None) for t in range(1, 40))


def test_dense_weight_preparation_matches_netx_and_lava_by_hand():
    # mixed small weights: netx scale = min(127/3, 128/2) -> floor(log2 42.3) + 1 = 6 bits,
    # weight_exp = -6, num_weight_bits = 8 - 6 - (0 - 1) = 3; Lava truncates 8 - 3 + 1 = 6 bits
    w, e = lava_dense_weights(np.array([[3, -2]]))
    assert w.tolist() == [[192, -128]] and e == -6
    # excitatory: scale 255/2 -> 6 bits
    w, e = lava_dense_weights(np.array([[1, 2]]))
    assert w.tolist() == [[64, 128]] and e == -6
    # netx calls [-256, 0] MIXED (no shift) but Lava then sees INHIBITORY: clip to -255 and
    # truncate 7 bits -> -128. (Bit-exact against genuine Lava in test_loihi_lava_parity.)
    w, e = lava_dense_weights(np.array([[-256, 0, -256]]))
    assert w.tolist() == [[-128, 0, -128]] and e == 0
    # mixed with max > 254: netx clips to 254
    w, e = lava_dense_weights(np.array([[300, -100]]))
    assert w.tolist() == [[254, -100]] and e == 0


@pytest.mark.parametrize("i_decay,v_decay", [(4096, 1024), (0, 0), (1234, 4096), (1, 3000)])
def test_in_place_kernel_equals_pure_step(i_decay, v_decay):
    g = torch.Generator().manual_seed(i_decay + v_decay)
    shape = (3, 50)
    bias = fp.effective_bias(torch.randint(-3000, 3000, shape, generator=g))
    kern = fp.LifKernel(shape, "cpu", bias, 300, i_decay, v_decay)
    u = torch.zeros(shape, dtype=torch.int64)
    v = torch.zeros(shape, dtype=torch.int64)
    for t in range(40):
        big = t % 10 == 9  # some steps with int32-overflowing input
        hi = (1 << 30) if big else (1 << 16)
        a = torch.randint(-hi, hi, shape, generator=g, dtype=torch.int64)
        u, v, s = fp.lif_step(u, v, a, bias, 300, i_decay, v_decay)
        in_range = i_decay == 4096 and not big
        ks = kern.step(a.to(torch.int32), wrap=big, u_in_range=in_range)
        assert torch.equal(kern.u, u) and torch.equal(kern.v, v) and torch.equal(ks, s), t
