"""TET loss (Deng et al., ICLR 2022, "Temporal Efficient Training", Eq. 8-10).

For logits ``O [T, B, K]`` and labels ``y``::

    L_TET = (1/T) sum_t CE(O_t, y)
    L_MSE = (1/T) sum_t MSE(O_t, phi)          (phi: constant target, 1.0 = the firing threshold)
    L     = (1 - lam) * L_TET + lam * L_MSE,     lam = 1e-3

(the public TET / He et al. code computes exactly this: ``(1 - lamb) * Loss_es + lamb * Loss_mse``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def tet_loss(logits: torch.Tensor, target: torch.Tensor, lam: float = 1e-3, phi: float = 1.0) -> torch.Tensor:
    if logits.dim() != 3:
        raise ValueError(f"tet_loss needs logits [T, B, K], got {tuple(logits.shape)}")
    T = logits.shape[0]
    logits = logits.float()
    ce = sum(F.cross_entropy(logits[t], target) for t in range(T)) / T
    if lam == 0:
        return ce
    mse = F.mse_loss(logits, torch.full_like(logits, phi))
    return (1.0 - lam) * ce + lam * mse
