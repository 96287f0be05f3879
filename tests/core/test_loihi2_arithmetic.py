"""The numpy and torch forms of Loihi 2's CUBA-LIF step (ckd_toolchain.loihi2.arithmetic) agree bit
for bit: negative values, the 24-bit wrap of u, saturation of v at ±(2^23 - 1), decays 0 / 2^12 /
intermediate, several biases and thresholds.

Time budget: < 5 s (no Lava)."""
import itertools

import numpy as np
import torch

from ckd_toolchain.loihi2 import arithmetic as ar
from ckd_toolchain.loihi2.constants import (BIAS_MANT_MAX, BIAS_MANT_MIN, DECAY_UNITY, STATE_SHIFT, UV_MAX,
                                            UV_WRAP, VTH_MANT_MAX)

DECAYS = (0, 1, 1000, 2048, DECAY_UNITY - 1, DECAY_UNITY)
THRESHOLDS = (0, 1, 300, VTH_MANT_MAX)
N, STEPS = 96, 40


def _inputs(rng, hi_bits):
    """Per step and neuron a signed input of magnitude up to 2^k, k drawn from a few scales (mostly
    small, some at the top of the range), so that u both stays small and wraps."""
    scale = rng.choice([4, 10, 16, hi_bits], size=(STEPS, N), p=[0.3, 0.3, 0.2, 0.2])
    return rng.integers(-(1 << 62), 1 << 62, size=(STEPS, N)) >> (62 - scale)


def _bias(rng):
    b = rng.integers(BIAS_MANT_MIN, BIAS_MANT_MAX + 1, size=N)
    b[:8] = [BIAS_MANT_MIN, BIAS_MANT_MAX, 0, 0, -1, 1, BIAS_MANT_MIN, BIAS_MANT_MAX]
    return b


def test_decay_forms_agree():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.integers(-(1 << 31), 1 << 31, 500), np.arange(-5000, 5000, 7),
                        [0, 1, -1, 4095, -4095, 4096, -4096, UV_WRAP, -UV_WRAP, UV_MAX, -UV_MAX]])
    xt = torch.as_tensor(x)
    for d in range(0, DECAY_UNITY + 1, 37):
        for dd in (d, DECAY_UNITY - d):
            ref = ar.decay_step(x, dd)
            assert np.array_equal(ar.decay(xt, DECAY_UNITY - dd).numpy(), ref), dd
    # truncation toward zero, not floor
    assert ar.decay_step(np.array([-3]), 2048)[0] == -1 and ar.decay(torch.tensor([-3]), 2048).item() == -1


def test_lif_step_numpy_and_torch_agree_bit_for_bit():
    """|a| ≤ 2^17 keeps every intermediate inside int32 (|u| ≤ 2^23 after the wrap), where Lava,
    the numpy reference and the torch step with or without the int32 emulation must all agree; the
    in-place kernel too."""
    rng = np.random.default_rng(1)
    seen = {"u_wrapped": 0, "v_saturated": 0, "v_at_minus_limit": 0, "spikes": 0, "negative_u": 0}
    for (i_decay, v_decay), vth in itertools.product(itertools.product(DECAYS, DECAYS), THRESHOLDS):
        a_all = _inputs(rng, 17)
        bias_mant = _bias(rng)
        b_eff = ar.effective_bias(torch.as_tensor(bias_mant))
        u_np = v_np = np.zeros(N, dtype=np.int64)
        u_t = v_t = u_w = v_w = torch.zeros(N, dtype=torch.int64)
        kern = ar.LifKernel((N,), "cpu", b_eff, vth, i_decay, v_decay)
        for t in range(STEPS):
            a, u_prev, v_prev = a_all[t], u_np, v_np
            s_np, u_np, v_np = ar.lif_step_fixed(u_np, v_np, a, i_decay, v_decay, bias_mant, vth)
            at = torch.as_tensor(a)
            u_t, v_t, s_t = ar.lif_step(u_t, v_t, at, b_eff, vth, i_decay, v_decay, wrap=True)
            u_w, v_w, s_w = ar.lif_step(u_w, v_w, at, b_eff, vth, i_decay, v_decay, wrap=False)
            s_k = kern.step(at.to(torch.int32), wrap=False, u_in_range=False)
            for u, v, s in ((u_t, v_t, s_t), (u_w, v_w, s_w), (kern.u, kern.v, s_k)):
                assert np.array_equal(u.numpy(), u_np), (i_decay, v_decay, vth, t)
                assert np.array_equal(v.numpy(), v_np), (i_decay, v_decay, vth, t)
                assert np.array_equal(s.numpy(), s_np), (i_decay, v_decay, vth, t)
            assert np.abs(u_np).max() <= UV_WRAP and np.abs(v_np).max() <= UV_MAX
            u_sum = ar.decay_step(u_prev, i_decay) + (a << STATE_SHIFT)
            v_sum = ar.decay_step(v_prev, v_decay) + u_np + (bias_mant << STATE_SHIFT)
            seen["u_wrapped"] += int(np.count_nonzero((u_sum > UV_WRAP) | (u_sum <= -UV_WRAP)))
            seen["v_saturated"] += int(np.count_nonzero(np.abs(v_sum) > UV_MAX))
            seen["v_at_minus_limit"] += int(np.count_nonzero(v_np == -UV_MAX))
            seen["spikes"] += int(s_np.sum())
            seen["negative_u"] += int(np.count_nonzero(u_np < 0))
    assert all(n > 0 for n in seen.values()), seen


def test_int64_forms_agree_beyond_int32_range():
    """Inputs up to ±2^24: the unfolded 24-bit rule (values beyond ±2^24 stay) is the same in both
    int64 forms; only the torch step with ``wrap=True`` also emulates Lava's int32 wrap."""
    rng = np.random.default_rng(2)
    for i_decay, v_decay in ((0, 0), (DECAY_UNITY, 0), (1000, DECAY_UNITY), (2048, 2048)):
        bias_mant = _bias(rng)
        b_eff = ar.effective_bias(torch.as_tensor(bias_mant))
        u_np = v_np = np.zeros(N, dtype=np.int64)
        u_t = v_t = torch.zeros(N, dtype=torch.int64)
        for a in _inputs(rng, 24):
            s_np, u_np, v_np = ar.lif_step_fixed(u_np, v_np, a, i_decay, v_decay, bias_mant, 100)
            u_t, v_t, s_t = ar.lif_step(u_t, v_t, torch.as_tensor(a), b_eff, 100, i_decay, v_decay, wrap=False)
            assert np.array_equal(u_t.numpy(), u_np) and np.array_equal(v_t.numpy(), v_np)
            assert np.array_equal(s_t.numpy(), s_np)


def test_wrap_rules():
    x = torch.tensor([UV_WRAP, UV_WRAP + 1, -UV_WRAP, -UV_WRAP - 1, 3 * UV_WRAP, 5 * UV_WRAP])
    # Lava's rule keeps +2^23, maps -2^23 to +2^23 and folds only once
    assert ar.lava_wrap24(x).tolist() == [UV_WRAP, -UV_WRAP + 1, UV_WRAP, UV_WRAP - 1, UV_WRAP, 3 * UV_WRAP]
    # the conv output's wrap is a true 24-bit two's complement
    assert ar.signed_clamp24(x).tolist() == [-UV_WRAP, -UV_WRAP + 1, -UV_WRAP, UV_WRAP - 1, -UV_WRAP, -UV_WRAP]
    assert ar.wrap_int32(torch.tensor([1 << 31, -(1 << 31) - 1])).tolist() == [-(1 << 31), (1 << 31) - 1]
    assert ar.effective_bias(torch.tensor([BIAS_MANT_MIN, BIAS_MANT_MAX])).tolist() == \
        [BIAS_MANT_MIN << STATE_SHIFT, BIAS_MANT_MAX << STATE_SHIFT]
