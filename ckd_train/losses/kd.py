"""Logit distillation losses: KD (CKD Eq. 9), DKD, DIST (CKD Table II ablation), and the registry
:data:`KD_LOSSES` (``method.kd_loss`` / ``--kd-loss``) that also holds LumiNet (:mod:`.luminet`,
Table II) and NLD (:mod:`.nld`, CKDSNN). Every loss takes ``(z_s, z_t, target=..., tau=...)`` plus
its own keywords and ignores the others.

KD (Hinton et al. 2015; CKD arXiv 2507.09269 Eq. 9)::

    L_KD = tau^2 * KL(softmax(z_t / tau) || softmax(z_s / tau))      (batch mean)

DKD (Zhao et al., CVPR 2022, "Decoupled Knowledge Distillation", Eq. 7)::

    L_DKD = alpha * TCKD + beta * NCKD,   alpha = 1, beta = 8
    TCKD  = tau^2 * KL(b_t || b_s),  b = [p_gt, 1 - p_gt]  (binary target / non-target probs)
    NCKD  = tau^2 * KL(p^_t || p^_s), p^ = softmax over the non-target classes only

DIST (Huang et al., NeurIPS 2022, "Knowledge Distillation from A Stronger Teacher", Eq. 6-9)::

    Y_s = softmax(z_s / tau), Y_t = softmax(z_t / tau)              ([B, K])
    inter = 1 - mean_i pearson(Y_s[i, :], Y_t[i, :])                 (per sample over classes)
    intra = 1 - mean_j pearson(Y_s[:, j], Y_t[:, j])                 (per class over the batch)
    L_DIST = tau^2 * (beta * inter + gamma * intra),  beta = gamma = 1, tau = 1
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ckd_toolchain.ckd_train.losses.luminet import luminet_loss
from ckd_toolchain.ckd_train.losses.nld import nld_loss


def kd_loss(z_s: torch.Tensor, z_t: torch.Tensor, tau: float = 4.0, **_) -> torch.Tensor:
    log_ps = F.log_softmax(z_s.float() / tau, dim=1)
    log_pt = F.log_softmax(z_t.float() / tau, dim=1)
    return F.kl_div(log_ps, log_pt, reduction="batchmean", log_target=True) * tau * tau


def _kl_rows(p_t: torch.Tensor, p_s: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    return (p_t * (torch.log(p_t + eps) - torch.log(p_s + eps))).sum(dim=1).mean()


def dkd_loss(z_s: torch.Tensor, z_t: torch.Tensor, target: torch.Tensor, tau: float = 4.0,
             alpha: float = 1.0, beta: float = 8.0, **_) -> torch.Tensor:
    z_s, z_t = z_s.float(), z_t.float()
    gt = F.one_hot(target, z_s.shape[1]).bool()
    p_s = F.softmax(z_s / tau, dim=1)
    p_t = F.softmax(z_t / tau, dim=1)
    b_s = torch.stack([p_s[gt], 1.0 - p_s[gt]], dim=1)
    b_t = torch.stack([p_t[gt], 1.0 - p_t[gt]], dim=1)
    tckd = _kl_rows(b_t, b_s) * tau * tau
    big = 1000.0  # mask the target logit out of the softmax (as the DKD reference code)
    log_ns = F.log_softmax(z_s / tau - big * gt, dim=1)
    log_nt = F.log_softmax(z_t / tau - big * gt, dim=1)
    nckd = F.kl_div(log_ns, log_nt, reduction="batchmean", log_target=True) * tau * tau
    return alpha * tckd + beta * nckd


def _pearson_rows(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1) + eps)


def dist_loss(z_s: torch.Tensor, z_t: torch.Tensor, tau: float = 1.0, beta: float = 1.0,
              gamma: float = 1.0, **_) -> torch.Tensor:
    y_s = F.softmax(z_s.float() / tau, dim=1)
    y_t = F.softmax(z_t.float() / tau, dim=1)
    inter = 1.0 - _pearson_rows(y_s, y_t).mean()
    intra = 1.0 - _pearson_rows(y_s.T, y_t.T).mean()
    return tau * tau * (beta * inter + gamma * intra)


KD_LOSSES = {"kd": kd_loss, "dkd": dkd_loss, "dist": dist_loss, "luminet": luminet_loss, "nld": nld_loss}
