"""The ``ckd-checkpoint`` file format (version 1) and its reader.

:func:`read_checkpoint` gives a dict (ARCHITECTURE.md "Checkpoint")::

    {"format": "ckd-checkpoint", "version": 1, "kind": "student" | "teacher",
     "sha256": payload_sha256(ckpt),                    # integrity of weights + config
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
Safety (issue 16): the file is unpickled with ``torch.load(weights_only=True)``, whose unpickler only
builds tensors and plain containers, plus :data:`ALLOWED_GLOBALS` -- exactly what our checkpoints
hold besides that (numpy's RNG state: an ``ndarray`` of ``uint32``). A file naming any other global
(a class, ``os.system``, ...) is refused with one line before any of it runs. Integrity: ``"sha256"``
is :func:`~ckd_toolchain.ckd_train.checkpoint_integrity.payload_sha256` of the weights and the
config, checked on load (files written before it existed have none and are accepted); every
floating-point weight must be finite.

A checkpoint with ``"fixed_point"`` holds the float parameters of a run whose forward pass used
Loihi 2 integer weights; :func:`load_student` returns that network, its parameters replaced by
the grid values (:func:`ckd_toolchain.ckd_train.models.fixed_point_training.bake_fixed_point`); a
pre-activation ResNet's cannot be baked (one conv feeds several synapse groups): it is returned
with its float parameters, from which the deploy mapper recomputes the validated integers
(:mod:`ckd_toolchain.ckd_train.models.fixed_point_resnet`).
"""
from __future__ import annotations

import os
import re
import warnings
from typing import Any

import numpy as np
import torch

from ckd_toolchain.ckd_train.checkpoint_integrity import nonfinite_tensors, payload_sha256
from ckd_toolchain.errors import InputError

FORMAT = "ckd-checkpoint"
VERSION = 1

#: the only globals a checkpoint may name besides torch's tensor/containers: numpy's RNG state
#: (``np.random.get_state()`` holds a ``uint32`` ndarray, pickled through ``_reconstruct``).
ALLOWED_GLOBALS = [np._core.multiarray._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32))]


def safe_torch_load(path: str | os.PathLike):
    """``torch.load`` that never runs code from the file (weights-only unpickler + :data:`ALLOWED_GLOBALS`)."""
    import pickle

    try:
        with torch.serialization.safe_globals(ALLOWED_GLOBALS), warnings.catch_warnings():
            warnings.simplefilter("ignore")   # e.g. "pickle protocol 4": the result decides, not a warning
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        m = re.search(r"(?:GLOBAL|[Gg]lobal:?)\s+([\w.]+)", str(exc))
        if m:
            raise InputError(path, f"refused: the file asks to build or call {m.group(1)} while loading; "
                                   f"only {FORMAT} files (tensors and plain data) load") from None
        raise InputError(path, "not a readable torch checkpoint (UnpicklingError)") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a bad input
        raise InputError(path, f"not a readable torch checkpoint ({type(exc).__name__})") from None


def read_checkpoint(path: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """Load and validate the outer structure of a checkpoint (``kind``: expected kind or None)."""
    if not os.path.isfile(path):
        raise InputError(path, "checkpoint file does not exist")
    ckpt = safe_torch_load(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise InputError(path, f"not a {FORMAT} file (missing 'format': '{FORMAT}')")
    if ckpt.get("version") != VERSION:
        raise InputError(path, f"unsupported {FORMAT} version {ckpt.get('version')!r} (expected {VERSION})")
    for key in ("model", "config"):
        if not isinstance(ckpt.get(key), dict):
            raise InputError(path, f"checkpoint has no '{key}' dict")
    _check_payload(path, ckpt)
    found = ckpt.get("kind", "student" if "student" in ckpt["config"] else "teacher")
    if kind is not None and found != kind:
        raise InputError(path, f"expected a {kind} checkpoint, this is a {found} checkpoint")
    return ckpt


def _check_payload(path, ckpt: dict) -> None:
    """The stored hash matches (when the file has one) and every floating-point weight is finite."""
    want = ckpt.get("sha256")
    if want is not None:
        try:
            got = payload_sha256(ckpt)
        except (TypeError, ValueError, AttributeError) as exc:
            raise InputError(path, f"checkpoint payload cannot be hashed ({type(exc).__name__}): corrupt file") from None
        if got != want:
            raise InputError(path, "checkpoint is corrupt: its weights/config do not match the stored sha256")
    bad = nonfinite_tensors(ckpt["model"])
    if bad:
        raise InputError(path, f"checkpoint holds non-finite (NaN/Inf) weights in {len(bad)} tensor(s), "
                               f"first {bad[0]!r}")


def load_student(path: str | os.PathLike):
    """Rebuild the student SNN of a checkpoint: returns ``(model.eval(), ckpt_dict)``."""
    from ckd_toolchain.ckd_train.models import build_student
    from ckd_toolchain.ckd_train.models.fixed_point_resnet import is_preact
    from ckd_toolchain.ckd_train.models.fixed_point_training import bake_fixed_point

    model, ckpt = _load_model(path, "student", build_student)
    if ckpt.get("fixed_point") and not is_preact(model):   # a pre-activation ResNet keeps its float
        # parameters: the deploy mapper recomputes its grid (fixed_point_resnet module docstring)
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
