"""Fixed-point formulas of ckd_toolchain.loihi2, hand-computed (and Lava's optimize_weight_bits).

Budget: < 5 s without Lava; the Lava comparison runs one subprocess (~5 s).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from ckd_toolchain.loihi2.arithmetic import decay_step, lif_step_fixed
from ckd_toolchain.loihi2.quantization import decay_from_beta, quantize_synapse
from ckd_toolchain.loihi2.weight_bits import optimize_weight_bits
from ckd_toolchain.simulators.lava_env import run_in_lava_env

pytestmark = pytest.mark.timeout(120)


def test_decay_from_beta():
    assert decay_from_beta(0.5) == 2048
    assert decay_from_beta(1.0) == 0          # no leak
    assert decay_from_beta(0.0) == 4096       # full decay
    assert decay_from_beta(0.9) == 410        # round(409.6)


def test_decay_truncates_toward_zero():
    # Lava: sign(x·(4096-d)) · (|x·(4096-d)| >> 12)
    assert decay_step(np.array([-3]), 2048)[0] == -1   # floor would give -2
    assert decay_step(np.array([3]), 2048)[0] == 1
    assert decay_step(np.array([1000]), 410)[0] == (1000 * 3686) >> 12  # 899


def test_lif_step_by_hand():
    # vDecay 2048 (beta 0.5), iDecay 4096 (u = this step's input), vThMant 10, W = 7 per spike, bias 1
    u = v = np.zeros(1, dtype=np.int64)
    s, u, v = lif_step_fixed(u, v, [7], 4096, 2048, 1, 10)
    assert (s[0], u[0], v[0]) == (False, 448, 512)          # v = 7·64 + 1·64 ; 512 ≤ 640
    s, u, v = lif_step_fixed(u, v, [7], 4096, 2048, 1, 10)
    assert (s[0], u[0], v[0]) == (True, 448, 0)             # v = 256 + 448 + 64 = 768 > 640 → reset
    s, u, v = lif_step_fixed(u, v, [0], 4096, 2048, 1, 10)
    assert (s[0], u[0], v[0]) == (False, 0, 64)             # bias only


def test_lif_step_current_decay():
    # iDecay 1024: u keeps 3/4 of itself (Lava du = iDecay - 1, +1 offset inside the model)
    s, u, v = lif_step_fixed(np.array([640]), np.array([0]), [0], 1024, 4096, 0, 100)
    assert u[0] == 480 and v[0] == 480


def test_quantize_synapse_by_hand():
    w = np.array([[0.5, -0.25], [1.0, 0.1]])
    q = quantize_synapse(w, np.array([0.2, -0.3]), 1.0)
    # scale limited by the largest weight: s = 254 / 1.0; max |w·s| = 254 > 127.5 → mantissa exponent 1
    assert q.scale == pytest.approx(254.0) and q.scale_limited_by == "weight" and q.mant_exp == 1
    assert q.weight.tolist() == [[128, -64], [254, 26]]     # 2·rint([63.5, -31.75, 127, 12.7])
    assert q.vth_mant == 254
    assert q.bias.tolist() == [51, -76]                      # rint([50.8, -76.2])
    assert q.quant_error_max == pytest.approx(abs(0.5 - 128 / 254))
    assert q.saturated_weights == 0 and q.saturated_biases == 0


def test_quantize_limited_by_threshold_and_bias_saturation():
    # tiny weights vs threshold: s = 131071/θ; weights then use < 8 bits
    q = quantize_synapse(np.array([[1e-4, -2e-4]]), None, 1.0)
    assert q.scale_limited_by == "vThMant" and q.vth_mant == 131071
    assert q.weight.tolist() == [[13, -26]]
    # fixed scale (pool layers): bias beyond 13 bits saturates and is counted
    q = quantize_synapse(np.array([[1.0]]), np.array([5000.0]), 1.0, fixed_scale=1.0)
    assert q.bias.tolist() == [4095] and q.saturated_biases == 1


def test_readout_threshold_is_max():
    q = quantize_synapse(np.array([[0.3, -0.6]]), np.array([0.1]), None)
    assert q.vth_mant == 2**17 - 1


CASES = [[[100, -3], [5, 7]], [[254, -256], [2, 0]], [[1, 2], [3, 4]], [[-1, -8], [-3, -2]],
         [[128, -128], [64, 0]], [[12, -6], [2, 4]]]


def _ours():
    return [[int(v) if not hasattr(v, "tolist") else v.tolist() for v in optimize_weight_bits(np.array(c))[:3]]
            for c in CASES]


@pytest.mark.lava
def test_optimize_weight_bits_matches_lava():
    code = ("import json, numpy as np\n"
            "from lava.lib.dl.netx.utils import optimize_weight_bits as o\n"
            f"cases = {CASES!r}\n"
            "out = []\n"
            "for c in cases:\n"
            "    w, nb, e, sm = o(np.array(c))\n"
            "    out.append([w.tolist(), int(nb), int(e), int(sm)])\n"
            "print(json.dumps(out))\n")
    lava = json.loads(run_in_lava_env(["-c", code], timeout=120).strip().splitlines()[-1])
    for case, ref in zip(CASES, lava):
        w, nb, e, sm = optimize_weight_bits(np.array(case))
        assert [w.tolist(), nb, e, sm] == ref, case


def test_optimize_weight_bits_by_hand():
    # mixed [100, -3, 5, 7]: scale = min(127/100, 128/3) = 1.27 → floor(log2)=0, +1 signed → shift 1
    w, nb, e, sm = optimize_weight_bits(np.array([[100, -3], [5, 7]]))
    assert w.tolist() == [[200, -6], [10, 14]] and e == -1 and sm == 1 and nb == 8
    # excitatory all-ones (pool kernels): 255/1 → shift 7, exponent -7
    w, nb, e, sm = optimize_weight_bits(np.ones((2, 2)))
    assert e == -7 and sm == 2 and w.max() == 128


def test_thermometer_round_rounds_prefix_sums_once():
    """Weights reading a thermometer code (neurons 1..k fire for k window spikes): the next layer
    receives Σ_{j≤k} m_j, so m_j = round(Σ_{i≤j} x) - round(Σ_{i<j} x) has every prefix rounded once."""
    from ckd_toolchain.loihi2.quantization import quantize_synapse, thermometer_round

    x = np.array([[0.4] * 4 + [-2.5] * 4]).reshape(1, 2, 4, 1).reshape(1, 8)   # (O, G·n·block), n = 4, block = 1
    m = thermometer_round(x, 4, 1)
    np.testing.assert_array_equal(m, [[0, 1, 0, 1, -2, -3, -3, -2]])
    # prefix sums 0.4·k → 0, 1, 1, 2 and -2.5·k → -2, -5, -8 (rint: -7.5 → -8), -10
    np.testing.assert_array_equal(np.cumsum(m.reshape(2, 4), axis=1), [[0, 1, 1, 2], [-2, -5, -8, -10]])
    # in quantize_synapse: a conv weight 0.1 over the 4 thermometer channels of one channel at scale
    # 10/3 (1/3 unit each): element-wise rounding stores 0s (a full window would read 0, not 4/3)
    w = np.full((1, 4, 1, 1), 0.1)
    q = quantize_synapse(w, None, 1.0, fixed_scale=10.0 / 3, thermometer=(4, 1))
    np.testing.assert_array_equal(q.weight.ravel(), [0, 1, 0, 0])
    assert np.all(quantize_synapse(w, None, 1.0, fixed_scale=10.0 / 3).weight == 0)
