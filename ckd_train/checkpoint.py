"""The ``ckd-checkpoint`` file format (version 1) and its reader.

``torch.load(path, weights_only=False)`` gives a dict (ARCHITECTURE.md "Checkpoint")::

    {"format": "ckd-checkpoint", "version": 1, "kind": "student" | "teacher",
     "model": state_dict,
     "config": {... full run config ...,
                "student": {"arch", "width", "num_classes", "in_channels", "input_size", "T",
                            "beta", "threshold", "alpha"},     # student checkpoints
                "teacher": {"arch", "width", "num_classes"},   # teacher checkpoints
                "data": DataConfig.to_dict()},
     "classes": [...], "epoch": int, "optimizer": ..., "scheduler": ..., "rng": ...,
     "metrics": {...},
     "fixed_point": {"grid": str, "since_epoch": int}}   # only after fixed-point-aware epochs

:func:`load_student` rebuilds the student (``features`` + ``head_dvs`` is the deployed path) and
:func:`load_teacher` the ANN teacher; both raise :class:`~ckd_toolchain.errors.InputError` on a file
that is missing, unreadable, not of this format, or whose weights do not fit the stored config.
A checkpoint with ``"fixed_point"`` holds the float parameters of a run whose forward pass used
Loihi 2 integer weights; :func:`load_student` returns that network, its parameters replaced by
the grid values (:func:`ckd_toolchain.ckd_train.models.fixed_point_training.bake_fixed_point`).
"""
from __future__ import annotations

import os
from typing import Any

import torch

from ckd_toolchain.errors import InputError

FORMAT = "ckd-checkpoint"
VERSION = 1


def read_checkpoint(path: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """Load and validate the outer structure of a checkpoint (``kind``: expected kind or None)."""
    if not os.path.isfile(path):
        raise InputError(path, "checkpoint file does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a bad input
        raise InputError(path, f"not a readable torch checkpoint ({type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise InputError(path, f"not a {FORMAT} file (missing 'format': '{FORMAT}')")
    if ckpt.get("version") != VERSION:
        raise InputError(path, f"unsupported {FORMAT} version {ckpt.get('version')!r} (expected {VERSION})")
    for key in ("model", "config"):
        if not isinstance(ckpt.get(key), dict):
            raise InputError(path, f"checkpoint has no '{key}' dict")
    found = ckpt.get("kind", "student" if "student" in ckpt["config"] else "teacher")
    if kind is not None and found != kind:
        raise InputError(path, f"expected a {kind} checkpoint, this is a {found} checkpoint")
    return ckpt


def load_student(path: str | os.PathLike):
    """Rebuild the student SNN of a checkpoint: returns ``(model.eval(), ckpt_dict)``."""
    from ckd_toolchain.ckd_train.models import build_student
    from ckd_toolchain.ckd_train.models.fixed_point_training import bake_fixed_point

    model, ckpt = _load_model(path, "student", build_student)
    if ckpt.get("fixed_point"):
        try:
            bake_fixed_point(model)
        except ValueError as exc:
            raise InputError(path, f"cannot rebuild the fixed-point student: {exc}") from None
    return model, ckpt


def load_teacher(path: str | os.PathLike):
    """Rebuild the ANN teacher of a checkpoint: returns ``(model.eval(), ckpt_dict)``."""
    from ckd_toolchain.ckd_train.models import build_teacher

    return _load_model(path, "teacher", build_teacher)


def _load_model(path, kind: str, build):
    ckpt = read_checkpoint(path, kind)
    cfg = ckpt["config"].get(kind)
    if not isinstance(cfg, dict):
        raise InputError(path, f"checkpoint config has no '{kind}' section")
    try:
        model = build(cfg)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(path, f"bad {kind} config: {exc}") from None
    _load_weights(path, model, ckpt["model"])
    return model.eval(), ckpt


def _load_weights(path, model: torch.nn.Module, state: dict) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as exc:
        msg = " ".join(str(exc).split())
        raise InputError(path, f"weights do not match the stored config: {msg[:300]}") from None
