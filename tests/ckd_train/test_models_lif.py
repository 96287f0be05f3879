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


def _he2024_lif_reference(x: torch.Tensor) -> torch.Tensor:
    """He et al.'s LIFNode + QGateGrad, copied as the reference (Brain-Cog-Lab/Transfer-for-DVS):

    node.py:498-503  ``mem = mem + (inputs - mem) / tau``; ``spike = act_fun(mem - threshold)``;
                     ``mem = mem * (1 - spike.detach())``   (tau = 2, threshold = 0.5, node.py:490)
    surrogate.py:207-222 (quadratic_gate): forward ``heaviside(x) = (x >= 0)``, backward
                     ``grad_x = -alpha * alpha * |x| + alpha`` masked to 0 where ``|x| > 1/alpha``;
                     alpha = 2 (node.py:494 ``act_fun(alpha=2.)``).
    """
    class QuadraticGate(torch.autograd.Function):
        @staticmethod
        def forward(ctx, v, alpha):
            grad_x = -alpha * alpha * v.abs() + alpha
            grad_x.masked_fill_(v.abs() > 1 / alpha, 0)
            ctx.save_for_backward(grad_x)
            return (v >= 0.0).to(v.dtype)

        @staticmethod
        def backward(ctx, g):
            (grad_x,) = ctx.saved_tensors
            return g * grad_x, None

    mem = torch.zeros_like(x[0])
    out = []
    for t in range(x.shape[0]):
        mem = mem + (x[t] - mem) / 2.0
        spike = QuadraticGate.apply(mem - 0.5, 2.0)
        mem = mem * (1 - spike.detach())
        out.append(spike)
    return torch.stack(out)


def test_alpha1_reproduces_he2024_qgategrad_input_gradient():
    """Issue 12 item 1: same spikes; dL/dX equal to float rounding at alpha = 1, not at alpha = 2."""
    from ckd_toolchain.ckd_train.models.surrogate import HE2024_QGATE_ALPHA

    torch.manual_seed(12)
    x = (torch.randn(10, 64, 32) * 1.2 + 0.4).requires_grad_(True)
    w = torch.randn(10, 64, 32)
    s_ref = _he2024_lif_reference(x)
    (g_ref,) = torch.autograd.grad((s_ref * w).sum(), x)
    assert g_ref.abs().sum() > 0
    for fused in (True, False):
        lif = MultiStepLIF(alpha=HE2024_QGATE_ALPHA)
        lif.fused = fused
        s = lif(x)
        (g,) = torch.autograd.grad((s * w).sum(), x)
        assert torch.equal(s, s_ref)
        assert (g - g_ref).abs().max() < 1e-6  # float rounding (measured 6.0e-7 at |g| up to ~5)
    s2 = MultiStepLIF(alpha=2.0)(x)
    (g2,) = torch.autograd.grad((s2 * w).sum(), x)
    assert (g2 - g_ref).abs().max() > 0.1


def test_first_step_surrogate_values_issue12():
    """dS/dX at t = 0 (U = X): ours alpha=2 gives 2.0 at X=1, 0 at X=1.5; alpha=1 / baseline 1.0, 0.5."""
    x = torch.tensor([1.0, 1.5]).view(1, 2).requires_grad_(True)
    for alpha, want in ((2.0, [2.0, 0.0]), (1.0, [1.0, 0.5])):
        (g,) = torch.autograd.grad(MultiStepLIF(alpha=alpha)(x).sum(), x)
        torch.testing.assert_close(g.view(-1), torch.tensor(want))
