"""LumiNet logit distillation (Hossain et al., arXiv 2310.03669, "LumiNet: The Bright Side of
Perceptual Knowledge Distillation"), the fourth loss of the CKD paper's Table II ablation.

Each class logit is standardised over the batch ("perception"), then the standardised logits are
distilled as in KD::

    h[i, k]   = (z[i, k] - mu_k) / sqrt(var_k + eps),   mu_k, var_k: mean and biased variance of
                column k over the batch, eps = 1e-5                    (for student and teacher)
    L_LumiNet = tau^2 * KL(softmax(h_t / tau) || softmax(h_s / tau))  (batch mean)

Reference code: GitHub ismail31416/LumiNet, ``mdistiller/distillers/Luminet.py`` (commit
11bd60e): ``perception`` lines 6-24 (mean, ``var(unbiased=False)``, ``eps = 1e-5``),
``luminet_loss`` lines 28-44 (``F.kl_div(log_softmax(h_s/T), softmax(h_t/T), 'batchmean')``).
Where we differ: the reference scales the KL by ``alpha**2`` with ``alpha`` a free weight
(``SOLVER.ALPHA`` = 34 in ``configs/cifar100/luminet/res32x4_res8x4.yaml``, ``T`` = 4); here the
scale is ``tau**2`` as for every other loss of :data:`~ckd_toolchain.ckd_train.losses.kd.KD_LOSSES`
and the weight is the CKD phase switch ``gamma(e)`` (Eq. 10), so the Table II losses differ only
in their formula. The statistics are those of the batch the loss sees: under DDP / micro-batches
one rank's / micro-batch's share of the global batch (as DataParallel replicas in the reference).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def perception(z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Per-class standardisation over the batch: ``(z - mean_0(z)) / sqrt(var_0(z) + eps)``."""
    mu = z.mean(dim=0, keepdim=True)
    var = z.var(dim=0, keepdim=True, unbiased=False)
    return (z - mu) / torch.sqrt(var + eps)


def luminet_loss(z_s: torch.Tensor, z_t: torch.Tensor, tau: float = 4.0, eps: float = 1e-5, **_) -> torch.Tensor:
    h_s = perception(z_s.float(), eps)
    h_t = perception(z_t.float(), eps)
    log_ps = F.log_softmax(h_s / tau, dim=1)
    log_pt = F.log_softmax(h_t / tau, dim=1)
    return F.kl_div(log_ps, log_pt, reduction="batchmean", log_target=True) * tau * tau
