"""Arms of ``ckd-train experiment``: which method (and, for ckd, which distillation) a run trains.

    dvs-only | transfer       the method, the config otherwise unchanged
    ckd                       ckd with the config's method.kd_loss / samd_weight unchanged
    ckd:LOSS                  ckd with method.kd_loss = LOSS (one of KD_LOSSES) and no SAMD
    ckd:LOSS+samd             ... plus SAMD with the config's method.samd_weight, or 1.0 (the
                              reference's weight, CKDSNN plt_train_kd_ckd_snn.py line 271) when it is 0
    ckd:LOSS+samd=W           ... plus SAMD with weight W

A run's directory is ``<arm>-seed<s>`` with ``:`` written ``_`` (``ckd_kd+samd-seed0``).
"""
from __future__ import annotations

import copy

from ckd_toolchain.errors import InputError

SAMD_DEFAULT_WEIGHT = 1.0
BASE_METHODS = ("dvs-only", "transfer", "ckd")


def _bad(arm: str, why: str) -> InputError:
    from ckd_toolchain.ckd_train.losses import KD_LOSSES

    return InputError(None, f"experiment arm {arm!r}: {why}; arms are {', '.join(BASE_METHODS)} or "
                            f"ckd:LOSS[+samd[=W]] with LOSS one of {', '.join(KD_LOSSES)}")


def arm_method(arm: str, method_cfg: dict) -> dict:
    """The ``method`` section that ``arm`` trains (a new dict; ``InputError`` for a bad arm)."""
    from ckd_toolchain.ckd_train.losses import KD_LOSSES

    m = copy.deepcopy(method_cfg)
    if arm in BASE_METHODS:
        m["name"] = arm
        return m
    head, sep, rest = arm.partition(":")
    if head != "ckd" or not sep:
        raise _bad(arm, "unknown arm")
    loss, plus, samd = rest.partition("+")
    if loss not in KD_LOSSES:
        raise _bad(arm, f"unknown loss {loss!r}")
    m.update(name="ckd", kd_loss=loss, samd_weight=0.0)
    if plus:
        key, eq, w = samd.partition("=")
        if key != "samd":
            raise _bad(arm, f"unknown term {samd!r}")
        try:
            weight = float(w) if eq else (float(method_cfg.get("samd_weight") or 0.0) or SAMD_DEFAULT_WEIGHT)
        except ValueError:
            raise _bad(arm, f"SAMD weight {w!r} is not a number") from None
        if weight <= 0:
            raise _bad(arm, f"SAMD weight must be > 0, got {weight!r}")
        m["samd_weight"] = weight
    return m


def arm_dirname(arm: str) -> str:
    return arm.replace(":", "_")
