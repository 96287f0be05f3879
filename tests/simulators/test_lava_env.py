"""The genuine-Lava runtime env works: a 2-layer Dense+LIF network against hand-computed traces.

Lava's fixed-point LIF (lava/proc/lif/models.py, PyLifModelBitAcc), per step t:
    u <- sign(u)*(|u|*(4096 - (du+1)) >> 12) + (a_in << 6)
    v <- sign(v)*(|v|*(4096 - dv) >> 12) + u + bias_mant << bias_exp
    spike if v > vth << 6, then v <- 0
and Dense (PyDenseModelBitAcc) sends at step t what it accumulated at step t-1 (one-step delay),
so a neuron in layer k first sees the source's step-1 spikes at step k+1.
"""
import json
from pathlib import Path

import numpy as np
import pytest

from ckd_toolchain.simulators.lava_env import run_in_lava_env

SCRIPT = Path(__file__).parent / "lava_scripts" / "two_layer_dense_lif.py"
STEPS = 12

PARAMS = {
    "steps": STEPS,
    # input 0 spikes every step, input 1 on odd steps (1, 3, 5, ...)
    "input": [[1] * STEPS, [1 if (t + 1) % 2 else 0 for t in range(STEPS)]],
    "w1": [[5, 0], [2, 4]],
    # du=4095: the current forgets everything each step (u = a_in << 6); dv=0: v integrates.
    "lif1": {"du": 4095, "dv": 0, "vth": 10, "bias_mant": 0, "bias_exp": 0},
    "w2": [[4, -2]],
    # dv=2048: v halves each step (truncating toward zero, also for negative v).
    "lif2": {"du": 4095, "dv": 2048, "vth": 4, "bias_mant": 0, "bias_exp": 0},
}

# Hand-computed (steps are 1-based in the comments, lists are 0-based).
# Layer 1, threshold 10<<6 = 640.
#   neuron A: a = 5 from step 2 on -> u = 320; v = 320, 640, 960>640 spike -> spikes at 4, 7, 10.
#   neuron B: a = 2 + 4*[input1 at t-1] -> u = 384 on even t, 128 on odd t (t >= 2);
#             v = 384, 512, 896* | 128, 512, 640, 1024* | 128, 512, 640, 1024* -> spikes at 4, 8, 12.
EXPECTED_S1 = np.zeros((2, STEPS), dtype=int)
EXPECTED_S1[0, [3, 6, 9]] = 1
EXPECTED_S1[1, [3, 7, 11]] = 1
EXPECTED_V1 = [[0, 0], [320, 384], [640, 512], [0, 0], [320, 128], [640, 512], [0, 640],
               [320, 0], [640, 128], [0, 512], [320, 640], [640, 0]]
# Layer 2, threshold 4<<6 = 256, input a(t) = 4*A(t-1) - 2*B(t-1):
#   t=5: a=2 -> v=128; t=6: 64; t=7: 32; t=8: A fired at 7: 16 + 256 = 272 > 256 spike -> 0;
#   t=9: B fired at 8: 0 - 128 = -128; t=10: -64; t=11: A at 10: -32 + 256 = 224; t=12: 112.
EXPECTED_V2 = [[0], [0], [0], [0], [128], [64], [32], [0], [-128], [-64], [224], [112]]
EXPECTED_S2 = np.zeros((1, STEPS), dtype=int)
EXPECTED_S2[0, 7] = 1


@pytest.mark.lava
def test_two_layer_dense_lif_matches_hand_computation():
    out = json.loads(run_in_lava_env([SCRIPT, json.dumps(PARAMS)], timeout=300).strip().splitlines()[-1])
    np.testing.assert_array_equal(np.array(out["v1"]), EXPECTED_V1)
    np.testing.assert_array_equal(np.array(out["s1"]), EXPECTED_S1)
    np.testing.assert_array_equal(np.array(out["v2"]), EXPECTED_V2)
    np.testing.assert_array_equal(np.array(out["s2"]), EXPECTED_S2)


def test_missing_lava_env_is_one_line(monkeypatch, tmp_path):
    from ckd_toolchain.simulators import lava_env

    monkeypatch.setenv("CKD_LAVA_PYTHON", str(tmp_path / "nope" / "python"))
    with pytest.raises(lava_env.LavaEnvMissing) as err:
        lava_env.lava_python()
    msg = str(err.value)
    assert "\n" not in msg and "make setup" in msg and "CKD_LAVA_PYTHON" in msg


def test_lava_timeout_kills_the_run(monkeypatch, tmp_path):
    """A hanging Lava child is killed at the timeout and reported in one line."""
    from ckd_toolchain.simulators import lava_env

    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nsleep 30\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CKD_LAVA_PYTHON", str(fake))
    with pytest.raises(lava_env.LavaRunFailed, match="did not finish within 1 s"):
        lava_env.run_in_lava_env(["x.py"], timeout=1)


def test_progress_lines_are_forwarded_while_the_child_runs(monkeypatch, tmp_path):
    """The worker's ``lava_worker: ...`` lines reach ``progress`` before the child has finished
    (a fake interpreter prints one, then waits for a file that only the callback creates)."""
    from ckd_toolchain.simulators import lava_env

    flag = tmp_path / "seen"
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\necho 'lava_worker: sample 1/2 done'\nwhile [ ! -f {flag} ]; do sleep 0.05; done\n"
                    "echo 'lava_worker: sample 2/2 done'\necho result\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CKD_LAVA_PYTHON", str(fake))
    seen = []

    def progress(line):
        seen.append(line)
        flag.touch()

    out = lava_env.run_in_lava_env(["x.py"], timeout=20, progress=progress)
    assert seen == ["sample 1/2 done", "sample 2/2 done"] and out.splitlines()[-1] == "result"
