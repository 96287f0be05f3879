"""The one port of netx's optimize_weight_bits (ckd_toolchain.loihi2.weight_bits) on the cases where
earlier ports differed from lava-dl 0.6: max = 0 with negative weights (mixed, 127/0 = inf),
negative scale_bits (numpy's left_shift by a negative count is 0), both clipping branches.

Budget: < 1 s without Lava; the Lava comparison runs one subprocess (~5 s)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ckd_toolchain.loihi2.weight_bits import optimize_weight_bits
from ckd_toolchain.simulators.lava_env import run_in_lava_env

pytestmark = pytest.mark.timeout(120)

EDGE_CASES = [[[-8, 0], [-5, -4]], [[0, -1]], [[-97, 0, -3]],          # max = 0 < -min: MIXED
              [[600, 3]], [[1000, 0], [2, 6]], [[-700, -3]],           # negative scale_bits
              [[300, -100]], [[-300, 100]], [[300, -300]], [[254, -256]], [[255, -256]],  # clipping
              [[1, 2], [3, 4]], [[-1, -8]], [[128, -128], [64, 0]], [[510, 2]], [[-512, -2]]]


def _random_cases(n=120):
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        lim = int(rng.choice([2, 8, 100, 254, 256, 300, 510, 600, 2000]))
        lo, hi = (-lim if i % 3 else 0), (lim if i % 4 else 0)
        m = rng.integers(lo, hi + 1, (int(rng.integers(1, 5)), int(rng.integers(1, 6))))
        if m.any():
            out.append(m.tolist())
    return out


def test_edge_cases_by_hand():
    # mixed with max 0: scale = min(127/0 = inf, 128/8) = 16 -> 4 + 1 bits; all divisible by 2^0 only
    w, nb, e, sm = optimize_weight_bits(np.array([[-8, 0], [-5, -4]]))
    assert (sm, e, nb) == (1, -5, 8 - 5 + 1) and w.tolist() == [[-256, 0], [-160, -128]]
    # excitatory max 600: 255/600 -> floor(log2) = -2; numpy shifts left by -2 to 0 (as Lava does)
    w, nb, e, sm = optimize_weight_bits(np.array([[600, 3]]))
    assert (sm, e) == (2, 2) and w.tolist() == [[0, 0]]
    with pytest.raises(ValueError, match="all-zero"):
        optimize_weight_bits(np.zeros((2, 2)))


@pytest.mark.lava
def test_matches_lava_on_edge_and_random_cases():
    cases = EDGE_CASES + _random_cases()
    code = ("import json, sys, numpy as np, warnings\n"
            "warnings.simplefilter('ignore')\n"
            "from lava.lib.dl.netx.utils import optimize_weight_bits as o\n"
            "out = []\n"
            "for c in json.loads(sys.argv[1]):\n"
            "    w, nb, e, sm = o(np.array(c))\n"
            "    out.append([w.tolist(), int(nb), int(e), int(sm)])\n"
            "print(json.dumps(out))\n")
    lava = json.loads(run_in_lava_env(["-c", code, json.dumps(cases)], timeout=120).strip().splitlines()[-1])
    assert len(lava) == len(cases)
    for case, ref in zip(cases, lava):
        w, nb, e, sm = optimize_weight_bits(np.array(case))
        assert [w.tolist(), nb, e, sm] == ref, case
