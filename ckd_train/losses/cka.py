"""Linear centered kernel alignment (Kornblith et al., ICML 2019, Eq. for linear CKA).

For feature matrices ``X [n, p]`` and ``Y [n, q]`` (n samples), with column-centred ``X_c, Y_c``::

    CKA(X, Y) = ||Y_c^T X_c||_F^2 / (||X_c^T X_c||_F * ||Y_c^T Y_c||_F)
              = <K_c, L_c>_F / (||K_c||_F * ||L_c||_F),   K_c = X_c X_c^T, L_c = Y_c Y_c^T

The second (n x n Gram) form is what is computed: cheaper when p, q >> n (VGG membrane features).
CKA is in [0, 1], invariant to orthogonal transforms and isotropic scaling of either argument.
"""
from __future__ import annotations

import torch


def linear_cka(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Linear CKA of ``x [n, p]`` and ``y [n, q]`` (differentiable)."""
    if x.dim() != 2 or y.dim() != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"linear_cka needs [n, p] and [n, q], got {tuple(x.shape)}, {tuple(y.shape)}")
    x = x.float()
    y = y.float()
    x = x - x.mean(dim=0, keepdim=True)
    y = y - y.mean(dim=0, keepdim=True)
    k = x @ x.T
    l = y @ y.T
    return (k * l).sum() / (k.norm() * l.norm() + eps)
