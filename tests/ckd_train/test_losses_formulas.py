"""Each CKD formula against a value computed by hand. Budget: < 5 s."""
import math

import pytest
import torch
import torch.nn.functional as F

from ckd_toolchain.ckd_train.losses import (DomainAlignment, cosine_warmup_factor, dist_loss, dkd_loss, kd_loss,
                              kd_phase_weight, linear_cka, replacement_probability, tet_loss)


def test_cka_known_matrices():
    x = torch.tensor([[1.0], [2.0], [3.0]])  # centred: [-1, 0, 1]
    y = torch.tensor([[1.0], [0.0], [2.0]])  # centred: [0, -1, 1]
    # 1-D linear CKA = squared correlation = (x.y)^2 / (|x|^2 |y|^2) = 1 / (2 * 2)
    assert linear_cka(x, y).item() == pytest.approx(0.25, abs=1e-6)
    a = torch.randn(16, 5)
    q, _ = torch.linalg.qr(torch.randn(5, 5))
    assert linear_cka(a, 3.0 * a @ q).item() == pytest.approx(1.0, abs=1e-5)
    # orthogonal centred columns -> CKA 0
    u = torch.tensor([[1.0], [-1.0], [1.0], [-1.0]])
    v = torch.tensor([[1.0], [1.0], [-1.0], [-1.0]])
    assert linear_cka(u, v).item() == pytest.approx(0.0, abs=1e-6)


def test_replacement_probability_eq8():
    assert replacement_probability(5, 2, 10, 100) == pytest.approx(((5 + 2 * 10) / 100) ** 3)
    assert replacement_probability(5, 2, 10, 100) == pytest.approx(0.015625)
    assert replacement_probability(0, 0, 10, 100) == 0.0
    assert replacement_probability(10, 9, 10, 100) == 1.0


def test_phase_switch_eq10():
    assert kd_phase_weight(30, e_th=30, k=0.5) == pytest.approx(0.5)
    assert kd_phase_weight(30 + math.log(3) / 0.5, e_th=30, k=0.5) == pytest.approx(0.25)
    assert kd_phase_weight(0, 30, 10) == pytest.approx(1.0) and kd_phase_weight(100, 30, 10) < 1e-12


def test_tet_toy():
    logits = torch.tensor([[[0.0, 0.0]], [[math.log(3.0), 0.0]]])  # T=2, B=1, K=2
    y = torch.tensor([0])
    ce = (math.log(2.0) + math.log(4.0 / 3.0)) / 2
    mse = (1 + 1 + (math.log(3.0) - 1) ** 2 + 1) / 4
    lam = 1e-3
    assert tet_loss(logits, y, lam=lam).item() == pytest.approx((1 - lam) * ce + lam * mse, rel=1e-6)
    assert tet_loss(logits, y, lam=0).item() == pytest.approx(ce, rel=1e-6)


def test_kd_tau1_is_plain_kl():
    z_t = torch.tensor([[0.0, 0.0]])
    z_s = torch.tensor([[math.log(3.0), 0.0]])
    # KL([.5,.5] || [.75,.25]) = .5 ln(2/3) + .5 ln 2 = .5 ln(4/3)
    assert kd_loss(z_s, z_t, tau=1.0).item() == pytest.approx(0.5 * math.log(4 / 3), rel=1e-6)
    a, b = torch.randn(6, 5), torch.randn(6, 5)
    ref = F.kl_div(F.log_softmax(a, 1), F.softmax(b, 1), reduction="batchmean")
    assert kd_loss(a, b, tau=1.0).item() == pytest.approx(ref.item(), rel=1e-5)
    assert kd_loss(a, b, tau=4.0).item() == pytest.approx(16 * F.kl_div(F.log_softmax(a / 4, 1), F.softmax(b / 4, 1), reduction="batchmean").item(), rel=1e-5)


def test_dkd_decomposes_kd():
    # Zhao et al. Eq. 5: KD = TCKD + (1 - p_t^gt) NCKD; with one sample and beta = 1 - p_t^gt, DKD = KD
    torch.manual_seed(0)
    z_s, z_t, y = torch.randn(1, 6), torch.randn(1, 6), torch.tensor([2])
    p_gt = F.softmax(z_t / 2.0, 1)[0, 2].item()
    assert dkd_loss(z_s, z_t, y, tau=2.0, alpha=1, beta=1 - p_gt).item() == pytest.approx(kd_loss(z_s, z_t, tau=2.0).item(), rel=1e-4)
    # two classes: no non-target distribution to match, DKD (alpha=1) == KD
    z_s2, z_t2 = torch.randn(4, 2), torch.randn(4, 2)
    assert dkd_loss(z_s2, z_t2, torch.tensor([0, 1, 0, 1]), tau=1.0).item() == pytest.approx(kd_loss(z_s2, z_t2, tau=1.0).item(), rel=1e-4)


def test_dist_hand_values():
    z = torch.randn(5, 4)
    assert dist_loss(z, z).item() == pytest.approx(0.0, abs=1e-6)
    # K=2, B=2: every Pearson correlation is -1 -> inter = intra = 2 -> 4
    z_t = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z_s = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert dist_loss(z_s, z_t).item() == pytest.approx(4.0, abs=1e-5)


def test_domain_alignment_eq6():
    da = DomainAlignment(T=3)
    f = torch.randn(3, 8, 10)
    logits = torch.zeros(3, 8, 4)
    y = torch.randint(0, 4, (8,))
    # theta = 0 -> sigma = 0.5; identical features -> CKA = 1; CE of uniform logits = ln 4
    assert da(f, f, logits, y).item() == pytest.approx(0.5 * math.log(4), rel=1e-5)
    loss = da(f, torch.randn(3, 8, 10), logits, y)
    loss.backward()
    assert da.theta.grad is not None and da.theta.grad.abs().sum() > 0


def test_cosine_warmup():
    assert cosine_warmup_factor(0, 100, 5) == pytest.approx(0.2)
    assert cosine_warmup_factor(5, 100, 5) == pytest.approx(1.0)
    assert cosine_warmup_factor(5 + 95 // 2, 100, 5) == pytest.approx(0.5 * (1 + math.cos(math.pi * 47 / 95)))
    assert cosine_warmup_factor(100, 100, 5) == pytest.approx(0.0, abs=1e-12)
