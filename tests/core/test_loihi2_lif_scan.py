"""The compiled layer scan (``loihi2.lif_scan``) is bit-equal to ``arithmetic.lif_step`` (int32 wrap
emulated) on random and extreme inputs, with resets and per-sample biases.

Time budget: < 10 s (first numba compilation included; no Lava)."""
import numpy as np
import pytest
import torch

from ckd_toolchain.loihi2 import arithmetic as fp
from ckd_toolchain.loihi2.lif_scan import lif_scan


def reference(a, bias_mant, vth, i_decay, v_decay, reset):
    T, B, N = a.shape
    u = torch.zeros((B, N), dtype=torch.int64)
    v = torch.zeros((B, N), dtype=torch.int64)
    b = fp.effective_bias(torch.as_tensor(bias_mant, dtype=torch.int64))
    out = []
    for t in range(T):
        if reset[t]:
            u, v = torch.zeros_like(u), torch.zeros_like(v)
        u, v, s = fp.lif_step(u, v, torch.as_tensor(a[t], dtype=torch.int64), b, vth, i_decay, v_decay,
                              wrap=True)
        out.append((s.numpy().astype(np.uint8), u.numpy(), v.numpy()))
    return [np.stack(x) for x in zip(*out)]


@pytest.mark.parametrize("i_decay,v_decay,vth,amax", [
    (4096, 1024, 25, 1 << 8),                  # the mapped demo layers: small inputs
    (0, 0, 1000, 1 << 19),                     # no decay, steady large input: int32 wrap of u
    (1, 4095, (1 << 17) - 1, 1 << 31),         # extreme: a << 6 wraps int32, 24-bit wrap every step
    (1234, 4096, 0, 1 << 17),
    (4095, 1, 7, 1 << 24),
])
@pytest.mark.parametrize("bias_rows", [1, 3])
def test_scan_equals_lif_step(i_decay, v_decay, vth, amax, bias_rows):
    rng = np.random.default_rng(i_decay + v_decay + bias_rows)
    T, B, N = 40, 3, 37
    a = rng.integers(-amax, amax, size=(T, B, N), endpoint=False).astype(np.int64)
    a[:, 0, :5] = amax - 1               # steady maximal input on a few neurons (u runs away)
    a[:, 1, :3] = -amax
    a = np.clip(a, -(1 << 31), (1 << 31) - 1).astype(np.int32)
    bias_mant = rng.integers(-4096, 4096, size=(bias_rows, N))
    bias_mant[0, 0] = -(1 << 15)
    reset = np.zeros(T, dtype=bool)
    reset[[7, 25]] = True
    s_ref, u_ref, v_ref = reference(a, np.array(np.broadcast_to(bias_mant, (B, N))), vth, i_decay, v_decay, reset)
    bias_eff = fp.effective_bias(torch.as_tensor(bias_mant)).numpy()
    s, u, v = lif_scan(a, bias_eff, vth, i_decay, v_decay, reset, record_u=True, record_v=True)
    assert s.dtype == np.uint8 and u.dtype == np.int32 and v.dtype == np.int32
    np.testing.assert_array_equal(u, u_ref)
    np.testing.assert_array_equal(v, v_ref)
    np.testing.assert_array_equal(s, s_ref)
    if amax >= 1 << 19:   # the case must really exercise the wrap
        assert np.abs(u_ref).max() > (1 << 24)


def test_scan_hand_trace_and_no_recording():
    """Same hand-computed trace as test_loihi2_traces (iDecay 1024, vDecay 512, vth 10)."""
    a = np.array([5, 5, 0, -20, 0], dtype=np.int32).reshape(5, 1, 1)
    s, u, v = lif_scan(a, None, 10, 1024, 512, record_u=True, record_v=True)
    assert u.ravel().tolist() == [320, 560, 420, -965, -723]
    assert v.ravel().tolist() == [320, 0, 420, -598, -1246]
    assert s.ravel().tolist() == [0, 1, 0, 0, 0]
    s2, u2, v2 = lif_scan(a, None, 10, 1024, 512)
    assert u2 is None and v2 is None and np.array_equal(s2, s)
