"""Domain alignment loss of He et al. (AAAI 2024) as written in CKD (arXiv 2507.09269, Eq. 6).

    L_DA = (1/T) sum_t sigma(theta_t) * (1 - CKA(F_s^t, F_d^t))
         + (1/T) sum_t (1 - sigma(theta_t)) * L_cls-e^t

``F_s^t, F_d^t [B, D]``: static- and DVS-stream features at time step t (VGG: membrane potentials
of the last conv block; ResNet: pooled features), CKA linear (:mod:`.cka`), ``L_cls-e^t`` the
cross-entropy of the DVS head at step t, ``theta [T]`` learnable, initialised to ``theta_init``
(``method.theta_init``: 1.0 = He et al.'s ``model.coefficient`` init, vgg_snn.py:216; this module's
earlier default was 0, sigma = 0.5). The module owns ``theta`` for both loss readings; used as the
whole ``L_DA`` only by ``method.dvs_loss: eq11-literal`` (the ``he2024`` reading is :mod:`.he2024`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ckd_toolchain.ckd_train.losses.cka import linear_cka


class DomainAlignment(nn.Module):
    def __init__(self, T: int, theta_init: float = 0.0):
        super().__init__()
        self.theta = nn.Parameter(torch.full((int(T),), float(theta_init)))

    def forward(self, feat_static: torch.Tensor, feat_dvs: torch.Tensor, logits_dvs: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        T = feat_dvs.shape[0]
        if T != self.theta.numel():
            raise ValueError(f"DomainAlignment built for T={self.theta.numel()}, got T={T}")
        w = torch.sigmoid(self.theta)
        total = feat_dvs.new_zeros((), dtype=torch.float32)
        for t in range(T):
            cka = linear_cka(feat_static[t].flatten(1), feat_dvs[t].flatten(1))
            ce = F.cross_entropy(logits_dvs[t].float(), target)
            total = total + w[t] * (1.0 - cka) + (1.0 - w[t]) * ce
        return total / T
