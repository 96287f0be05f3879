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


def _he2024_reference_loss(domain_rgb, domain_dvs, output_rgb, output_dvs, label, coefficient,
                           threshold=1.0, domain_loss_coefficient=0.5):
    """Brain-Cog-Lab/Transfer-for-DVS main_transfer.py:997-1063 with --TET-loss --domain-loss
    --regularization (tsregular = -1), copied (loss_fn = CrossEntropyLoss, linear_CKA = CKA.py:97)."""
    import torch.nn as tnn

    from ckd_toolchain.ckd_train.losses import linear_cka as linear_CKA

    loss_fn, step, batch_size = tnn.CrossEntropyLoss(), len(output_dvs), label.shape[0]
    domain_loss = 0.
    for t in range(step):
        t_dlloss = (1 - torch.abs(linear_CKA(domain_rgb[t].view(batch_size, -1), domain_dvs[t].view(batch_size, -1))))
        domain_loss += coefficient[t].sigmoid() * t_dlloss
    domain_loss /= step
    lamb = 1e-3
    rgb_first = rgb_second = dvs_first = dvs_second = 0
    for i in range(len(output_rgb)):
        rgb_first += loss_fn(output_rgb[i], label)
        dvs_first += (1 - coefficient[i].sigmoid()) * loss_fn(output_dvs[i], label)
    rgb_first /= len(output_rgb)
    dvs_first /= len(output_dvs)
    second = tnn.MSELoss()
    for i in range(len(output_dvs)):
        y = torch.zeros_like(output_dvs[i]).fill_(threshold)
        dvs_second += (1 - coefficient[i].sigmoid()) * second(output_dvs[i], y)
        rgb_second += second(output_rgb[i], y)
    rgb_second /= len(output_rgb)
    dvs_second /= len(output_dvs)
    loss_rgb = (1 - lamb) * rgb_first + lamb * rgb_second
    loss_dvs = (1 - lamb) * dvs_first + lamb * dvs_second
    return loss_rgb + loss_dvs + domain_loss_coefficient * domain_loss


class _FixedStudent(torch.nn.Module):
    """Returns given logits/features from ``forward_both`` (a stand-in student for the objective)."""

    def __init__(self, ld, ls, fd, fs):
        super().__init__()
        self.out = (ld, ls, fd, fs)
        self.w = torch.nn.Parameter(torch.ones(()))

    def forward_both(self, x_dvs, x_static, separate_bn=False, spike_map=False, bn_stats=None, bn_running="dvs"):
        return tuple(o * self.w for o in self.out)


def test_transfer_objective_is_he2024_main_transfer_loss():
    """Issue 12 item 2: ``transfer`` (defaults) = He et al.'s loss; theta init 1.0, CKA weight 0.5."""
    from ckd_toolchain.ckd_train.engine import load_config
    from ckd_toolchain.ckd_train.engine.objective import StudentObjective

    torch.manual_seed(5)
    T, B, K = 4, 6, 5
    ld, ls = torch.randn(T, B, K), torch.randn(T, B, K)
    fd, fs = torch.randn(T, B, 12), torch.randn(T, B, 12)
    y = torch.randint(0, K, (B,))
    m = {**load_config(None)["method"], "name": "transfer"}
    obj = StudentObjective(_FixedStudent(ld, ls, fd, fs), m, T)
    assert torch.equal(obj.da.theta.detach(), torch.ones(T))
    loss, stats, _ = obj(ld, y, x_static=ls)
    coeff = [torch.tensor([1.0]) for _ in range(T)]  # vgg_snn.py:216
    ref = _he2024_reference_loss(list(fs), list(fd), list(ls), list(ld), y, coeff)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    obj.da.theta.data = torch.tensor([-1.0, 0.0, 0.5, 2.0])
    loss, _, _ = obj(ld, y, x_static=ls)
    ref = _he2024_reference_loss(list(fs), list(fd), list(ls), list(ld), y, list(obj.da.theta.detach().view(T, 1)))
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    # ckd with gamma = 0 is the same structure with the CKD paper's beta = 1 (Sec. IV-A)
    ckd = StudentObjective(_FixedStudent(ld, ls, fd, fs), {**m, "name": "ckd"}, T)
    loss_c, _, _ = ckd(ld, y, x_static=ls, teacher_logits=torch.zeros(B, K), kd_weight=0.0)
    ref_c = _he2024_reference_loss(list(fs), list(fd), list(ls), list(ld), y, [torch.tensor([1.0])] * T,
                                   domain_loss_coefficient=1.0)
    assert loss_c.item() == pytest.approx(ref_c.item(), rel=1e-5)


def test_eq11_literal_option_adds_unweighted_tet_e():
    """``method.dvs_loss: eq11-literal``: alpha TET_s + beta L_DA(Eq. 6) + TET_e (Eq. 11 read literally)."""
    from ckd_toolchain.ckd_train.engine.objective import StudentObjective

    torch.manual_seed(6)
    T, B, K = 3, 5, 4
    ld, ls = torch.randn(T, B, K), torch.randn(T, B, K)
    fd, fs = torch.randn(T, B, 7), torch.randn(T, B, 7)
    y = torch.randint(0, K, (B,))
    m = {"name": "transfer", "alpha": 1.0, "beta": 1.0, "tet_lambda": 1e-3, "tet_phi": 1.0,
         "dvs_loss": "eq11-literal", "theta_init": 0.0}
    obj = StudentObjective(_FixedStudent(ld, ls, fd, fs), m, T)
    loss, _, _ = obj(ld, y, x_static=ls)
    w = 0.5  # sigma(0)
    da = sum(w * (1 - linear_cka(fs[t], fd[t])) + (1 - w) * F.cross_entropy(ld[t], y) for t in range(T)) / T
    want = tet_loss(ls, y) + da + tet_loss(ld, y)
    assert loss.item() == pytest.approx(want.item(), rel=1e-5)


def test_no_weight_decay_on_1d_parameters():
    """timm add_weight_decay rule (main_transfer.py:555 create_optimizer): ndim <= 1 or '.bias' -> wd 0."""
    from ckd_toolchain.ckd_train.engine.param_groups import weight_decay_groups
    from ckd_toolchain.ckd_train.losses import DomainAlignment

    mod = torch.nn.ModuleDict({"conv": torch.nn.Conv2d(2, 3, 3, bias=False), "bn": torch.nn.BatchNorm2d(3),
                               "fc": torch.nn.Linear(4, 2), "da": DomainAlignment(5, 1.0)})
    dec, nodec = weight_decay_groups(mod, 0.01)
    assert dec["weight_decay"] == 0.01 and nodec["weight_decay"] == 0.0
    assert {id(p) for p in dec["params"]} == {id(mod["conv"].weight), id(mod["fc"].weight)}
    assert {id(p) for p in nodec["params"]} == {id(mod["bn"].weight), id(mod["bn"].bias), id(mod["fc"].bias),
                                                id(mod["da"].theta)}
    (alld,) = weight_decay_groups(mod, 0.01, no_decay_1d=False)
    assert len(alld["params"]) == 6
