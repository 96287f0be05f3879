"""MultiStepLIF: snnTorch equivalence, baseline (tau=2, V_th=0.5) equivalence, surrogate. Budget: < 10 s."""
import snntorch
import torch

from ckd_toolchain.ckd_train.models.lif import MultiStepLIF
from ckd_toolchain.ckd_train.models.surrogate import Triangle, triangle_spike


def test_matches_per_step_snntorch_leaky_forward_and_backward():
    torch.manual_seed(0)
    x = (torch.randn(8, 3, 5) * 1.5).requires_grad_(True)
    lif = MultiStepLIF(beta=0.5, threshold=1.0)
    s_ms = lif(x)
    g_ms = torch.autograd.grad((s_ms * torch.arange(8.0).view(8, 1, 1)).sum(), x)[0]
    ref = snntorch.Leaky(beta=0.5, threshold=1.0, spike_grad=Triangle(2.0), reset_mechanism="zero")
    mem = ref.reset_mem()
    out = []
    for t in range(8):
        s, mem = ref(x[t], mem)
        out.append(s)
    s_ref = torch.stack(out)
    g_ref = torch.autograd.grad((s_ref * torch.arange(8.0).view(8, 1, 1)).sum(), x)[0]
    assert torch.equal(s_ms, s_ref)
    assert s_ms.sum() > 0
    torch.testing.assert_close(g_ms, g_ref)


def test_hand_computed_trace():
    lif = MultiStepLIF()
    lif.record_mem = True
    x = torch.tensor([0.6, 0.6, 0.6, 0.6, 1.2, 0.0]).view(6, 1)
    s = lif(x).view(-1)
    # U: 0.6, 0.9, 1.05 (spike), reset -> 0.6, 0.3+1.2=1.5 (spike), reset -> 0.0
    torch.testing.assert_close(lif.last_mem.view(-1), torch.tensor([0.6, 0.9, 1.05, 0.6, 1.5, 0.0]))
    assert s.tolist() == [0, 0, 1, 0, 1, 0]
    assert lif.beta == 0.5 and isinstance(lif.beta, float) and isinstance(lif.threshold, float)
    assert "beta" not in lif.state_dict() and len(lif.state_dict()) == 0


def test_flattened_input_with_time_steps():
    torch.manual_seed(1)
    x = torch.randn(5, 4, 3) * 2
    lif = MultiStepLIF()
    s1 = lif(x)
    lif.time_steps = 5
    s2 = lif(x.reshape(20, 3))
    assert torch.equal(s1.reshape(20, 3), s2)


def test_equivalent_to_tau2_vth05():
    """Baseline: H <- H + (X - H)/tau, spike H >= 0.5, hard reset; U = 2H is our LIF."""
    torch.manual_seed(2)
    x = torch.randn(50, 200)
    H = torch.zeros(200)
    spikes_b, H_trace = [], []
    for t in range(50):
        H = H + (x[t] - H) / 2.0
        H_trace.append(H.clone())
        s = (H >= 0.5).float()
        spikes_b.append(s)
        H = H * (1 - s)
    lif = MultiStepLIF()
    lif.record_mem = True
    s = lif(x)
    assert torch.equal(s, torch.stack(spikes_b))
    torch.testing.assert_close(lif.last_mem, 2 * torch.stack(H_trace))


def test_triangle_surrogate_gradient():
    x = torch.tensor([-0.6, -0.25, 0.0, 0.1, 0.5, 0.7], requires_grad=True)
    y = triangle_spike(x, 2.0)
    assert y.tolist() == [0, 0, 0, 1, 0 + 1, 1]
    (g,) = torch.autograd.grad(y.sum(), x)
    # alpha * max(0, 1 - alpha|x|), alpha = 2
    torch.testing.assert_close(g, torch.tensor([0.0, 1.0, 2.0, 1.6, 0.0, 0.0]))


def test_fused_backward_equals_autograd_loop():
    torch.manual_seed(3)
    x = (torch.randn(7, 4, 6) * 1.5).requires_grad_(True)
    w_s, w_m = torch.randn(7, 4, 6), torch.randn(7, 4, 6)
    outs = []
    for fused in (True, False):
        lif = MultiStepLIF()
        lif.fused = fused
        lif.record_mem = True
        s = lif(x)
        loss = (s * w_s).sum() + (lif.last_mem * w_m).sum()  # spikes and membrane (CKA) both used
        outs.append((s.detach(), lif.last_mem.detach(), torch.autograd.grad(loss, x)[0]))
    assert torch.equal(outs[0][0], outs[1][0])
    torch.testing.assert_close(outs[0][1], outs[1][1])
    torch.testing.assert_close(outs[0][2], outs[1][2])


def test_fused_channels_last_and_inference_paths_bit_identical():
    """channels_last [T*B, C, H, W] input (training layout) and the no-grad path: same bits, same layout."""
    torch.manual_seed(4)
    x4 = torch.randn(3 * 2, 4, 5, 5) * 1.5 + 0.3
    g4 = torch.randn(3 * 2, 4, 5, 5)
    outs = []
    for fmt in (torch.contiguous_format, torch.channels_last):
        x = x4.contiguous(memory_format=fmt).requires_grad_(True)
        lif = MultiStepLIF()
        lif.time_steps = 3
        s = lif(x)
        assert s.is_contiguous(memory_format=fmt)
        (gx,) = torch.autograd.grad(s, x, g4)
        with torch.no_grad():
            assert torch.equal(lif(x), s)
        outs.append((s, gx))
    ref = MultiStepLIF()
    ref.fused = False
    x = x4.clone().requires_grad_(True)
    s_ref = ref(x.view(3, 2, 4, 5, 5)).view(6, 4, 5, 5)
    (g_ref,) = torch.autograd.grad(s_ref, x, g4)
    for s, gx in outs:
        assert torch.equal(s, s_ref) and torch.equal(gx, g_ref)
    assert s_ref.sum() > 0 and g_ref.abs().sum() > 0
