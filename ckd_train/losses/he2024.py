"""He et al. (AAAI 2024) DVS loss structure, as their public code computes it (the ``he2024`` reading).

Reference: Brain-Cog-Lab/Transfer-for-DVS ``main_transfer.py:997-1063`` run with the published
flags ``--TET-loss --domain-loss --domain-loss-coefficient 0.5 --regularization`` (README.md:74),
``theta_t`` = ``model.coefficient[t]`` initialised to 1.0 (``braincog/model_zoo/vgg_snn.py:216``,
``braincog/model_zoo/resnet.py:518``), ``lamb = 1e-3``, TET target ``phi`` = ``args.threshold``::

    w_t    = sigma(theta_t)
    L_CKA  = (1/T) sum_t w_t (1 - CKA(F_s^t, F_d^t))                                 (:999-1009)
    TET_e^w = (1 - lam) (1/T) sum_t (1 - w_t) CE(O_d^t, y)
            +      lam  (1/T) sum_t (1 - w_t) MSE(O_d^t, phi)                          (:1016-1050)
    L      = TET(O_s, y) + TET_e^w + beta * L_CKA                                       (:1058-1063)

i.e. the DVS stream's only classification loss is the (1 - sigma)-weighted TET; there is no second,
unweighted TET_e. This is one reading of CKD Eq. 6 + Eq. 11 (``L_cls-e`` of ``L_all`` *is* the
(1 - sigma)-weighted term of Eq. 6); the literal reading (Eq. 6's weighted CE inside ``L_DA`` plus an
unweighted ``TET_e``) is :class:`~ckd_toolchain.ckd_train.losses.domain_alignment.DomainAlignment`
(``method.dvs_loss: eq11-literal``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ckd_toolchain.ckd_train.losses.cka import linear_cka

HE2024_THETA_INIT = 1.0  # vgg_snn.py:216 / resnet.py:518: nn.Parameter(torch.tensor([1.0]))
HE2024_CKA_WEIGHT = 0.5  # main_transfer.py:330 --domain-loss-coefficient default, README.md:74


def sigma_weighted_tet(logits: torch.Tensor, target: torch.Tensor, w: torch.Tensor,
                       lam: float = 1e-3, phi: float = 1.0) -> torch.Tensor:
    """``TET_e^w`` above: per-step CE and MSE-to-``phi`` weighted by ``1 - w[t]``; logits ``[T, B, K]``."""
    if logits.dim() != 3 or w.numel() != logits.shape[0]:
        raise ValueError(f"sigma_weighted_tet needs logits [T, B, K] and w [T], got {tuple(logits.shape)}, {tuple(w.shape)}")
    T = logits.shape[0]
    logits = logits.float()
    ce = sum((1.0 - w[t]) * F.cross_entropy(logits[t], target) for t in range(T)) / T
    if lam == 0:
        return ce
    mse = sum((1.0 - w[t]) * F.mse_loss(logits[t], torch.full_like(logits[t], phi)) for t in range(T)) / T
    return (1.0 - lam) * ce + lam * mse


def sigma_weighted_cka(feat_static: torch.Tensor, feat_dvs: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``L_CKA`` above: ``(1/T) sum_t w[t] (1 - CKA(F_s^t, F_d^t))`` for features ``[T, B, ...]``."""
    T = feat_dvs.shape[0]
    if w.numel() != T:
        raise ValueError(f"sigma_weighted_cka: {w.numel()} weights for T={T}")
    total = feat_dvs.new_zeros((), dtype=torch.float32)
    for t in range(T):
        total = total + w[t] * (1.0 - linear_cka(feat_static[t].flatten(1), feat_dvs[t].flatten(1)))
    return total / T
