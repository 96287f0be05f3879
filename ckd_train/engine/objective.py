"""Training objectives of the student (CKD arXiv 2507.09269 Sec. III, Eq. 6-11).

``dvs-only``:  L = TET(student(x_dvs, head="dvs"), y)
``transfer``:  L = alpha * L_cls-s + beta * L_DA + L_cls-e                  (He et al. AAAI 2024)
``ckd``:       L = alpha * L_cls-s + beta * L_DA + gamma(e) * L_KD + L_cls-e   (Eq. 11)

with ``L_cls-e = TET(dvs-head logits of the DVS stream)``, ``L_cls-s = TET(static-head logits of
the static stream)`` (static stream = V channel x T, some samples replaced by their paired DVS
sample, Eq. 8), ``L_DA`` Eq. 6 (:class:`~ckd_toolchain.ckd_train.losses.DomainAlignment`) and ``L_KD`` the chosen
logit-distillation loss between the time-averaged static-head logits and the frozen teacher's
logits on the paired HSV image (Eq. 9). Both streams go through the shared student in one pass
(one ``[T, 2B, ...]`` batch), so BN sees both domains together.

Wrapped in one ``nn.Module`` so that DDP sees every parameter use inside its ``forward``.
"""
from __future__ import annotations

from torch import nn

from ckd_toolchain.ckd_train.losses import KD_LOSSES, DomainAlignment, tet_loss


class StudentObjective(nn.Module):
    def __init__(self, student: nn.Module, method_cfg: dict, T: int):
        super().__init__()
        self.student = student
        self.m = dict(method_cfg)
        self.method = self.m["name"]
        self.da = DomainAlignment(T) if self.method != "dvs-only" else None
        self.kd_fn = KD_LOSSES[self.m.get("kd_loss", "kd")]

    def forward(self, x_dvs, y, x_static=None, teacher_logits=None, kd_weight: float = 0.0):
        m = self.m
        lam, phi = float(m["tet_lambda"]), float(m["tet_phi"])
        if self.method == "dvs-only":
            logits = self.student(x_dvs, head="dvs")
            loss = tet_loss(logits, y, lam, phi)
            return loss, {"loss": loss.detach(), "cls_e": loss.detach()}, logits.detach()
        logits_d, logits_s, f_d, f_s = self.student.forward_both(
            x_dvs, x_static, separate_bn=bool(m.get("separate_bn", False)))
        cls_e = tet_loss(logits_d, y, lam, phi)
        cls_s = tet_loss(logits_s, y, lam, phi)
        da = self.da(f_s, f_d, logits_d, y)
        loss_s = float(m["alpha"]) * cls_s + float(m["beta"]) * da
        stats = {"cls_e": cls_e.detach(), "cls_s": cls_s.detach(), "da": da.detach()}
        if self.method == "ckd":
            kd = self.kd_fn(logits_s.float().mean(0), teacher_logits.float(), target=y, tau=float(m["tau"]))
            loss_s = loss_s + kd_weight * kd
            stats["kd"] = kd.detach()
        loss = loss_s + cls_e
        stats["loss"] = loss.detach()
        return loss, stats, logits_d.detach()
