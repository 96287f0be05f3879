"""NLD, noise-smoothed logits distillation (Liu et al., arXiv 2511.06902, "A Closer Look at
Knowledge Distillation in Spiking Neural Network Training"): the sparse logits of the SNN student
are smoothed with Gaussian noise before they are aligned with the teacher's continuous logits.

As in the public reference code (GitHub SinoLeu/CKDSNN, commit 13c9f7b, ``utils/utils.py``)::

    n[i, k] = mean_k(z_s[i]) + eps[i, k] * std_k(z_s[i])^2,   eps ~ N(0, 1)   (generate_gaussian_noise,
              lines 160-177; std unbiased, torch's default)
    p_s     = w * softmax(z_s / tau) + (1 - w) * softmax(n / tau)           (smooth_noise_softmax,
              lines 200-227, smooth_temp = noise_temp = tau as soft_loss_smooth passes them)
    L_NLD   = tau^2 * KL(softmax(z_t / tau) || p_s)   (batch mean)           (soft_loss_smooth, 260-270)

Reference values: ``plt_train_kd_ckd_snn.py`` line 270 calls ``soft_loss_smooth(out, out_t,
noise_weight=self.noise_weight, temperature=2.0)`` with ``noise_weight: 0.9``
(``config/cifar10/plt_train_kd_ckd_snn.yml`` line 22; the function's default is 0.99); our
``method.nld_weight`` defaults to 0.9, ``tau`` is ``method.tau`` (shared with the other losses).

Where the code is the reference because the paper text was not available here (only the
abstract is, ``shared/papers/ckdsnn-liu2025-arxiv2511.06902-abstract.txt``): (1) the noisy
distribution is the softmax of the noise ``n`` alone, not of ``z_s + noise``
(``generate_gaussian_noise_weight``, lines 180-198, which adds the noise to the logits, is unused);
(2) the noise is scaled by the *variance* ``std^2`` although the code's comment says it matches
the logits' standard deviation; (3) gradients flow into ``z_s`` through ``mean`` and ``std`` of the
noise as well. We reproduce the code. ``eps`` can be passed in (``noise``) so that the trainer draws
it from the epoch plan (identical with any DDP world size / micro-batching) and tests are exact.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def gaussian_logit_noise(z: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """``mean_k(z) + eps * std_k(z)^2`` per row (reference ``generate_gaussian_noise``)."""
    return z.mean(dim=-1, keepdim=True) + eps * z.std(dim=-1, keepdim=True) ** 2


def noise_smoothed_probs(z: torch.Tensor, eps: torch.Tensor, tau: float, weight: float) -> torch.Tensor:
    """``w * softmax(z / tau) + (1 - w) * softmax(noise / tau)`` (reference ``smooth_noise_softmax``)."""
    return weight * F.softmax(z / tau, dim=1) + (1.0 - weight) * F.softmax(gaussian_logit_noise(z, eps) / tau, dim=1)


def nld_loss(z_s: torch.Tensor, z_t: torch.Tensor, tau: float = 2.0, nld_weight: float = 0.9,
             noise: torch.Tensor | None = None, **_) -> torch.Tensor:
    z_s = z_s.float()
    eps = torch.randn_like(z_s) if noise is None else noise.to(z_s.device, torch.float32)
    if eps.shape != z_s.shape:
        raise ValueError(f"NLD noise must have the logits' shape {tuple(z_s.shape)}, got {tuple(eps.shape)}")
    p_s = noise_smoothed_probs(z_s, eps, tau, float(nld_weight))
    log_pt = F.log_softmax(z_t.float() / tau, dim=1)
    return F.kl_div(torch.log(p_s), log_pt, reduction="batchmean", log_target=True) * tau * tau
