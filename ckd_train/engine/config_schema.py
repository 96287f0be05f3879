"""The schema of a `ckd-train` run config, derived from the defaults (one source of truth).

Known keys: every key of ``DEFAULT_CONFIG[section]``, plus for ``data`` the fields of
:class:`~ckd_toolchain.ckd_train.data.DataConfig` and for ``student`` the keys of
``STUDENT_DEFAULTS``, plus :data:`EXTRA_KEYS` (keys the trainer fills in itself). Keys starting
with ``_`` are private test hooks and pass. A key added to ``DEFAULT_CONFIG`` (e.g. a new loss
weight) is known and typed from its default without touching this module.

Types, from the default value: ``bool`` -> bool; ``int`` -> int (not bool); ``float`` -> a number
(an int is taken; a string such as ``1e-3``, which YAML 1.1 reads as a string, is converted);
``str`` -> str; ``None`` -> :data:`NULLABLE` (``None`` or that type). Ranges: every number must
be finite and >= 0; the keys of :data:`POSITIVE` must be > 0 (and ints >= 1).

Every violation is one :class:`~ckd_toolchain.errors.InputError` naming ``where`` (the YAML file or
``--set``) and the key.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

from ckd_toolchain.errors import InputError

#: keys whose default is None: the type they take when given
NULLABLE: dict[tuple[str, str], type] = {("train", "lr"): float, ("train", "threads"): int,
                                         ("teacher", "weights"): str, ("data", "root"): str,
                                         ("data", "rgb_root"): str, ("data", "cache_dir"): str,
                                         ("data", "dvs_train_limit"): int, ("method", "bn_stats"): str,
                                         ("data", "test_fraction"): float}
#: keys the trainer writes into the resolved config (checkpoints hold them)
EXTRA_KEYS: dict[str, dict[str, type]] = {"teacher": {"checkpoint": str, "num_classes": int},
                                          "train": {"eval_test_every_epoch": bool}}
#: numeric keys that must be > 0 (ints >= 1)
POSITIVE = {("train", "epochs"), ("train", "batch_size"), ("train", "lr"), ("train", "lr_base"),
            ("train", "lr_ref_batch"), ("train", "micro_batches"), ("train", "eval_batch_size"),
            ("train", "threads"), ("teacher", "epochs"), ("teacher", "batch_size"), ("teacher", "lr"),
            ("teacher", "width"), ("student", "width"), ("student", "threshold"), ("method", "tau"),
            ("data", "T"), ("data", "size")}
TOP_LEVEL_EXTRA = ("name", "notes")


def known_keys(defaults: dict) -> dict[str, dict[str, Any]]:
    """``{section: {key: default}}`` of every known key (see the module docstring)."""
    from ckd_toolchain.ckd_train.data import DataConfig
    from ckd_toolchain.ckd_train.models import STUDENT_DEFAULTS

    known = {sec: dict(vals) for sec, vals in defaults.items()}
    for f in dataclasses.fields(DataConfig):
        known["data"].setdefault(f.name, f.default)
    for k, v in STUDENT_DEFAULTS.items():
        known["student"].setdefault(k, v)
    for sec, extra in EXTRA_KEYS.items():
        for k, t in extra.items():
            known.setdefault(sec, {}).setdefault(k, t)
    return known


def check_value(section: str, key: str, value: Any, default: Any, where) -> Any:
    """The value, converted where harmless (``"1e-3"`` -> 0.001), or InputError."""
    name = f"{section}.{key}"
    want = default if isinstance(default, type) else (NULLABLE.get((section, key)) if default is None
                                                        else type(default))
    if value is None:
        if default is None or (section, key) in NULLABLE:
            return None
        raise InputError(where, f"{name} must not be null (expected {want.__name__})")
    if want is None:
        return value
    if want is bool:
        if not isinstance(value, bool):
            raise InputError(where, f"{name} must be true or false, got {value!r}")
        return value
    if want is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(where, f"{name} must be an integer, got {value!r}")
    elif want is float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise InputError(where, f"{name} must be a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(where, f"{name} must be a number, got {value!r}")
        value = float(value)
    elif want is str:
        if not isinstance(value, str):
            raise InputError(where, f"{name} must be a string, got {value!r}")
        return value
    elif not isinstance(value, want):
        raise InputError(where, f"{name} must be a {want.__name__}, got {value!r}")
    if isinstance(value, (int, float)):
        _check_range(name, (section, key), value, where)
    return value


def _check_range(name: str, key: tuple[str, str], value: float, where) -> None:
    if not math.isfinite(value):
        raise InputError(where, f"{name} must be a finite number, got {value!r}")
    if key in POSITIVE and value <= 0:
        raise InputError(where, f"{name} must be > 0, got {value!r}")
    if value < 0:
        raise InputError(where, f"{name} must be >= 0, got {value!r}")


def check_sections(user: dict, defaults: dict, where) -> dict:
    """Check a (partial) config mapping against the schema; returns it with values converted."""
    known = known_keys(defaults)
    out = {}
    for sec, body in user.items():
        if sec in TOP_LEVEL_EXTRA:
            out[sec] = body
            continue
        if sec not in known:
            raise InputError(where, f"unknown config section {sec!r} (known: {', '.join(sorted(known))})")
        if not isinstance(body, dict):
            raise InputError(where, f"config section {sec!r} must be a mapping, got {type(body).__name__}")
        out[sec] = {}
        for key, value in body.items():
            if not isinstance(key, str):
                raise InputError(where, f"{sec}: key {key!r} must be a string")
            if key.startswith("_"):
                out[sec][key] = value
                continue
            if key not in known[sec]:
                raise InputError(where, f"unknown key {sec}.{key} (known: {', '.join(sorted(known[sec]))})")
            out[sec][key] = check_value(sec, key, value, known[sec][key], where)
    return out
