"""SAMD, saliency-scaled activation map distillation (Liu et al., arXiv 2511.06902): the student
SNN's spike activation map is aligned with the teacher ANN's class-aware activation map.

As in the public reference code (GitHub SinoLeu/CKDSNN; ``plt_train_kd_ckd_snn.py`` and
``utils/utils.py`` at commit 13c9f7b, ``compute_kl_divergence`` at commit db3fe92)::

    SAM[b, h, w] = sum_t sum_c S[t, b, c, h, w]        S: spikes of the student's last spiking
                   feature map (getForwardCAM, utils.py 418-436, on mid_out_s[-1] permuted to
                   [T, B, C, H, W], plt_train_kd_ckd_snn.py 249-252)
    CAM[b, h, w] = relu(sum_d W_fc[c_b, d] F_t[b, d, h, w]),  c_b = argmax_k z_t[b, k]
                   F_t: the teacher's last feature map (the input of its global pool + fc)
                   (compute_cam, plt_train_kd_ckd_snn.py 141-167 and 257-261)
    norm(A)      = (A - min A) / (max(A - min A) + 1e-3)   min / max over the whole batch
                   (both functions above)
    P = softmax_hw(norm(A) / tau) + 1e-10                 (cam_to_prob, utils.py 25-37;
                   compute_kl_divergence, utils.py@db3fe92 357-380, tau = 2 at line 268)
    L_SAMD       = KL(P_CAM || P_SAM) = 1/B sum_b sum_hw P_CAM (log P_CAM - log P_SAM)

Spatial alignment (ours; in the reference teacher and student are both ResNet-19 on the same
CIFAR image, so their maps have one size): both maps cover the whole field of view of the static
stream, whose V channel is the teacher's HSV image (same scene, same geometry); the finer of the
two is area-averaged onto the coarser grid (``adaptive_avg_pool2d``) before normalisation. With the
N-Digits recipe (48 x 48 input) the teacher's ResNet-18 layer4 map is 2 x 2 and the VGGSNN's last
spike map (before its last 2 x 2 average pool) is 6 x 6, averaged over 3 x 3 blocks.

Notes on the reference: ``compute_kl_divergence`` is imported by ``plt_train_kd_ckd_snn.py`` (line
37) but was deleted from ``utils/utils.py`` in commit bf9d7b2, so HEAD does not run as published; we
use its last version (db3fe92). ``utils.compute_weighted_CAM`` (lines 379-414, temporal
exponential weights, perhaps the paper's "saliency scaling") is not called by the training
script; the paper text was not available here to decide, so the training script is followed. The
config's ``hyper_cam`` is not used by the loss assembly (line 271: weight 1); here the weight is
``method.samd_weight``, multiplied by the phase switch ``gamma(e)`` like ``L_KD``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def spike_activation_map(spikes: torch.Tensor) -> torch.Tensor:
    """``[T, B, C, H, W]`` spikes → ``[B, H, W]``: sum over time and channels."""
    if spikes.dim() != 5:
        raise ValueError(f"spikes must be [T, B, C, H, W], got {tuple(spikes.shape)}")
    return spikes.float().sum(dim=(0, 2))


def class_activation_map(features: torch.Tensor, fc_weight: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """``relu(sum_d W[c_b, d] F[b, d, h, w])``: teacher features ``[B, D, H, W]``, fc weight ``[K, D]``."""
    w = fc_weight.float()[classes]                       # [B, D]
    return torch.relu(torch.einsum("bdhw,bd->bhw", features.float(), w))


def batch_minmax(a: torch.Tensor) -> torch.Tensor:
    """``(a - min a) / (max(a - min a) + 1e-3)`` with min / max over the whole batch (reference)."""
    a = a - a.min()
    return a / (a.max() + 1e-3)


def align_grids(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Area-average the finer of two ``[B, H, W]`` maps onto the coarser grid (per axis)."""
    h = min(a.shape[-2], b.shape[-2])
    w = min(a.shape[-1], b.shape[-1])

    def pool(x):
        return x if x.shape[-2:] == (h, w) else F.adaptive_avg_pool2d(x.unsqueeze(1), (h, w)).squeeze(1)

    return pool(a), pool(b)


def samd_loss(sam: torch.Tensor, cam: torch.Tensor, tau: float = 2.0, eps: float = 1e-10) -> torch.Tensor:
    """``KL(P_CAM || P_SAM)`` of raw student SAMs and teacher CAMs ``[B, H, W]`` (module docstring)."""
    if sam.shape[0] != cam.shape[0]:
        raise ValueError(f"SAM and CAM batch sizes differ: {sam.shape[0]} vs {cam.shape[0]}")
    if sam.shape[0] == 0:
        return sam.float().sum() * 0.0
    s, t = align_grids(sam.float(), cam.float())
    p_s = F.softmax(batch_minmax(s).flatten(1) / tau, dim=1) + eps
    p_t = F.softmax(batch_minmax(t).flatten(1) / tau, dim=1) + eps
    return F.kl_div(p_s.log(), p_t, reduction="batchmean")
