"""Networks of the CKD toolchain: snnTorch student SNNs and the plain-torch ANN teacher.

``build_student(student_cfg)`` with ``student_cfg`` the ``"student"`` dict of the checkpoint
config (ARCHITECTURE.md): ``arch`` ("vgg" | "resnet18" = the paper's pre-activation Spiking ResNet-18,
:mod:`.resnet_preact` | "resnet18-post" = this toolchain's post-activation variant, :mod:`.resnet_snn`;
checkpoints written before issue 12 with ``arch: resnet18`` hold the post-activation network), ``width``, ``num_classes``,
``in_channels`` (2), ``input_size`` (48), ``T``, ``beta`` (0.5), ``threshold`` (1.0), optional
``alpha`` (surrogate, 2.0). ``build_teacher(teacher_cfg)``: ``arch``, ``num_classes``, ``width``.
"""
from __future__ import annotations

from ckd_toolchain.ckd_train.models.lif import MultiStepLIF
from ckd_toolchain.ckd_train.models.resnet_preact import PreActBasicBlock, build_preact_resnet18_snn
from ckd_toolchain.ckd_train.models.resnet_snn import SpikingBasicBlock, build_resnet18_snn
from ckd_toolchain.ckd_train.models.student import SpikingStudent
from ckd_toolchain.ckd_train.models.teacher_resnet import ResNet, build_teacher_net
from ckd_toolchain.ckd_train.models.vgg_snn import build_vgg_snn

STUDENT_DEFAULTS = {"arch": "vgg", "width": 1.0, "in_channels": 2, "input_size": 48, "T": 10,
                    "beta": 0.5, "threshold": 1.0, "alpha": 2.0, "cka_membrane": "before-reset"}
STUDENT_ARCHS = ("vgg", "resnet18", "resnet18-post")
_BUILDERS = {"vgg": build_vgg_snn, "resnet18": build_preact_resnet18_snn, "resnet18-post": build_resnet18_snn}


def student_config(cfg: dict) -> dict:
    """Defaults filled in; ``num_classes`` is required."""
    out = {**STUDENT_DEFAULTS, **{k: v for k, v in cfg.items() if v is not None}}
    if "num_classes" not in out:
        raise ValueError("student config needs num_classes")
    if out["cka_membrane"] not in ("before-reset", "after-reset"):
        raise ValueError(f"cka_membrane must be before-reset or after-reset, got {out['cka_membrane']!r}")
    if out["arch"] not in STUDENT_ARCHS:
        raise ValueError(f"unknown student arch {out['arch']!r}; choose from {STUDENT_ARCHS}")
    out["width"] = float(out["width"])
    out["beta"] = float(out["beta"])
    out["threshold"] = float(out["threshold"])
    out["alpha"] = float(out["alpha"])
    for k in ("num_classes", "in_channels", "input_size", "T"):
        out[k] = int(out[k])
    return out


def build_student(student_cfg: dict) -> SpikingStudent:
    c = student_config(student_cfg)
    build = _BUILDERS[c["arch"]]
    return build(c["num_classes"], in_channels=c["in_channels"], input_size=c["input_size"],
                 width=c["width"], beta=c["beta"], threshold=c["threshold"], alpha=c["alpha"], cfg=c)


def build_teacher(teacher_cfg: dict) -> ResNet:
    return build_teacher_net(teacher_cfg.get("arch", "resnet18"), int(teacher_cfg["num_classes"]),
                             float(teacher_cfg.get("width", 1.0)))


__all__ = ["MultiStepLIF", "SpikingBasicBlock", "PreActBasicBlock", "SpikingStudent", "ResNet", "build_student",
           "build_teacher", "student_config", "STUDENT_DEFAULTS"]
