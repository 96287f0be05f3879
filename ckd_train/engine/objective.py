"""Training objectives of the student (CKD arXiv 2507.09269 Sec. III, Eq. 6-11).

``dvs-only``:  L = TET(student(x_dvs, head="dvs"), y)
``transfer``:  L = alpha * L_cls-s + beta * L_DA + L_cls-e                  (He et al. AAAI 2024)
``ckd``:       L = alpha * L_cls-s + beta * L_DA + gamma(e) * L_KD + L_cls-e   (Eq. 11)

Two readings of ``beta * L_DA + L_cls-e`` (``method.dvs_loss``, issue 12 item 2):

* ``he2024`` (default): He et al.'s code (:mod:`ckd_toolchain.ckd_train.losses.he2024`):
  ``beta * (1/T) sum_t sigma(theta_t)(1 - CKA_t) + TET_e weighted per step by (1 - sigma(theta_t))``;
  no unweighted TET_e. ``beta`` null resolves to the method's published value
  (:func:`published_beta`: transfer 0.5, He et al.; ckd 1.0, CKD Sec. IV-A).
* ``eq11-literal``: Eq. 6 as printed inside ``L_DA`` (:class:`DomainAlignment`) plus an unweighted
  ``TET_e`` (this toolchain's behaviour before issue 12).

with ``L_cls-e = TET(dvs-head logits of the DVS stream)``, ``L_cls-s = TET(static-head logits of
the static stream)`` (static stream = V channel x T, some samples replaced by their paired DVS
sample, Eq. 8), ``L_DA`` Eq. 6 (:class:`~ckd_toolchain.ckd_train.losses.DomainAlignment`) and ``L_KD`` the chosen
logit-distillation loss between the time-averaged static-head logits and the frozen teacher's
logits on the paired HSV image (Eq. 9). Both streams go through the shared student; which samples
BN normalises together is ``method.bn_stats`` (``mixed``: one ``[T, 2B, ...]`` pass, BN sees both
domains together; ``per-stream``; ``per-stream-per-step``: He et al.'s) and which pass updates the
running statistics ``method.bn_running`` (:mod:`ckd_toolchain.ckd_train.models.bn_stats`).

``L_KD`` is ``method.kd_loss`` (:data:`~ckd_toolchain.ckd_train.losses.KD_LOSSES`: kd, dkd, dist,
luminet, nld; NLD's noise ``eps`` comes from the epoch plan). With ``method.samd_weight = w > 0``
the ckd objective adds SAMD (:mod:`~ckd_toolchain.ckd_train.losses.samd`, CKDSNN) on the static
stream under the same phase switch::

    L = alpha * L_cls-s + beta * L_DA + gamma(e) * (L_KD + w * L_SAMD) + L_cls-e

between the student's last spike map of the static stream and the frozen teacher's class
activation map of the paired HSV image; static samples replaced by their DVS sample (Eq. 8) are
left out of L_SAMD (the teacher saw another scene).

Wrapped in one ``nn.Module`` so that DDP sees every parameter use inside its ``forward``.
"""
from __future__ import annotations

import torch
from torch import nn

from ckd_toolchain.ckd_train.losses import (KD_LOSSES, DomainAlignment, samd_loss, sigma_weighted_cka,
                                            sigma_weighted_tet, spike_activation_map, tet_loss)
from ckd_toolchain.ckd_train.models.bn_stats import resolve_bn_stats

DVS_LOSS_FORMS = ("he2024", "eq11-literal")
PUBLISHED_BETA = {"transfer": 0.5, "ckd": 1.0}  # main_transfer.py:330 / README.md:74; CKD Sec. IV-A


def published_beta(method_cfg: dict) -> float:
    """``method.beta``, or when it is null the method's published CKA weight (:data:`PUBLISHED_BETA`)."""
    b = method_cfg.get("beta")
    return float(PUBLISHED_BETA.get(method_cfg["name"], 1.0) if b is None else b)


def he2024_dvs_terms(da: DomainAlignment, f_s, f_d, logits_d, y, lam: float, phi: float):
    """``(L_CKA, TET_e^w)`` of the ``he2024`` reading with ``w = sigma(da.theta)``."""
    w = torch.sigmoid(da.theta)
    return sigma_weighted_cka(f_s, f_d, w), sigma_weighted_tet(logits_d, y, w, lam, phi)


class StudentObjective(nn.Module):
    def __init__(self, student: nn.Module, method_cfg: dict, T: int):
        super().__init__()
        self.student = student
        self.m = dict(method_cfg)
        self.method = self.m["name"]
        self.form = self.m.get("dvs_loss", "he2024")
        if self.form not in DVS_LOSS_FORMS:
            raise ValueError(f"method.dvs_loss must be one of {DVS_LOSS_FORMS}, got {self.form!r}")
        self.da = (DomainAlignment(T, float(self.m.get("theta_init", 0.0)))
                   if self.method != "dvs-only" else None)
        self.kd_fn = KD_LOSSES[self.m.get("kd_loss", "kd")]
        self.samd_weight = float(self.m.get("samd_weight", 0.0) or 0.0) if self.method == "ckd" else 0.0
        self.bn_stats = resolve_bn_stats(self.m)  # ckd_train/models/bn_stats.py

    def forward(self, x_dvs, y, x_static=None, teacher_logits=None, kd_weight: float = 0.0,
                nld_noise=None, teacher_cam=None, samd_keep=None):
        m = self.m
        lam, phi = float(m["tet_lambda"]), float(m["tet_phi"])
        if self.method == "dvs-only":
            logits = self.student.forward_dvs(x_dvs, self.bn_stats)
            loss = tet_loss(logits, y, lam, phi)
            return loss, {"loss": loss.detach(), "cls_e": loss.detach()}, logits.detach()
        outs = self.student.forward_both(x_dvs, x_static, bn_stats=self.bn_stats,
                                         bn_running=str(m.get("bn_running", "dvs")), spike_map=self.samd_weight > 0)
        logits_d, logits_s, f_d, f_s = outs[:4]
        cls_s = tet_loss(logits_s, y, lam, phi)
        if self.form == "he2024":
            da, cls_e = he2024_dvs_terms(self.da, f_s, f_d, logits_d, y, lam, phi)
        else:
            cls_e = tet_loss(logits_d, y, lam, phi)
            da = self.da(f_s, f_d, logits_d, y)
        loss_s = float(m["alpha"]) * cls_s + published_beta(m) * da
        stats = {"cls_e": cls_e.detach(), "cls_s": cls_s.detach(), "da": da.detach()}
        if self.method == "ckd":
            kd = self.kd_fn(logits_s.float().mean(0), teacher_logits.float(), target=y, tau=float(m["tau"]),
                            nld_weight=float(m.get("nld_weight", 0.9)), noise=nld_noise)
            distill = kd
            stats["kd"] = kd.detach()
            if self.samd_weight > 0:
                keep = samd_keep if samd_keep is not None else slice(None)
                samd = samd_loss(spike_activation_map(outs[4])[keep], teacher_cam[keep],
                                 tau=float(m.get("samd_tau", 2.0)))
                distill = distill + self.samd_weight * samd
                stats["samd"] = samd.detach()
            loss_s = loss_s + kd_weight * distill
        loss = loss_s + cls_e
        stats["loss"] = loss.detach()
        return loss, stats, logits_d.detach()
