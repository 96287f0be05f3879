"""Run configuration of `ckd-train`: a nested dict with defaults, YAML files and ``--set`` overrides.

Sections: ``data`` (``ckd_train.data.DataConfig`` fields), ``student`` (``build_student`` fields;
``T`` is taken from ``data.T``), ``teacher`` (arch, width, weights and its own optimiser
settings), ``method`` (dvs-only | transfer | ckd and the loss weights; ``kd_loss`` one of
:data:`~ckd_toolchain.ckd_train.losses.KD_LOSSES`, ``nld_weight`` NLD's mixing weight, ``samd_weight``
the SAMD term of ckd, 0 = off, ``samd_tau`` its temperature), ``train`` (optimiser,
schedule, batch, device; ``fixed_point_epochs``: the last K epochs train through Loihi 2's integer
weights, :mod:`ckd_toolchain.ckd_train.models.fixed_point_training`). The full resolved dict is stored in every
checkpoint.

Every key is checked against the schema derived from :data:`DEFAULT_CONFIG`
(:mod:`ckd_toolchain.ckd_train.engine.config_schema`): unknown keys, wrong types and out-of-range
values are one line naming the key and the file (or ``--set``).

Issue 12 (He et al.'s recipe by default, the earlier behaviour as named options):
``method.dvs_loss`` ``he2024`` | ``eq11-literal`` and ``method.beta`` null = the method's published
CKA weight (:mod:`ckd_toolchain.ckd_train.engine.objective`), ``method.theta_init`` 1.0 (earlier 0.0),
``train.no_decay_1d`` true (:mod:`ckd_toolchain.ckd_train.engine.param_groups`; earlier false).
Named options the paper recipes set (defaults = the earlier behaviour): ``method.bn_stats``
``mixed`` | ``per-stream`` | ``per-stream-per-step`` (null: ``per-stream`` if the older
``method.separate_bn`` else ``mixed``) and ``method.bn_running`` ``dvs`` | ``both``
(:mod:`ckd_toolchain.ckd_train.models.bn_stats`); ``train.lr_schedule`` ``cosine-step`` | ``cosine-epoch``
(with ``train.min_lr``, ``train.warmup_lr``; :mod:`ckd_toolchain.ckd_train.losses.schedules`);
``train.sampler`` ``shuffle`` | ``class-balanced`` (:mod:`ckd_toolchain.ckd_train.engine.epoch_plan`).

Learning rate (He et al. / CKD recipe): ``lr = lr_base * global_batch / lr_ref_batch`` unless
``train.lr`` is given explicitly.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from ckd_toolchain.ckd_train.engine.config_schema import check_sections
from ckd_toolchain.errors import InputError

METHODS = ("dvs-only", "transfer", "ckd")

DEFAULT_CONFIG: dict[str, Any] = {
    "data": {"name": "n-digits", "T": 6, "size": 48, "frame_encoding": "binary"},
    "student": {"arch": "vgg", "width": 1.0, "in_channels": 2, "beta": 0.5, "threshold": 1.0,
                "alpha": 2.0},
    "teacher": {"arch": "resnet18", "width": 1.0, "weights": None, "epochs": 20, "batch_size": 64,
                "lr": 1e-3, "weight_decay": 0.01, "warmup_epochs": 1},
    "method": {"name": "ckd", "kd_loss": "kd", "tau": 4.0, "alpha": 1.0, "beta": None,
               "e_th": 100.0, "k": 0.1, "tet_lambda": 1e-3, "tet_phi": 1.0, "replacement": True,
               "separate_bn": False, "nld_weight": 0.9, "samd_weight": 0.0, "samd_tau": 2.0,
               "dvs_loss": "he2024", "theta_init": 1.0, "bn_stats": None, "bn_running": "dvs"},
    "train": {"epochs": 300, "batch_size": 120, "lr": None, "lr_base": 5e-3, "lr_ref_batch": 1024,
              "weight_decay": 0.01, "warmup_epochs": 5, "seed": 0, "device": "auto", "amp": True,
              "compile": False, "micro_batches": 1, "eval_batch_size": 256, "threads": None,
              "progress": True, "fixed_point_epochs": 0, "no_decay_1d": True,
              "lr_schedule": "cosine-step", "min_lr": 1e-5, "warmup_lr": 1e-6, "sampler": "shuffle"},
}


def merge(base: dict, over: dict) -> dict:
    """Recursive dict merge (``over`` wins); returns a new dict."""
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_config(path: str | Path | None) -> dict:
    """Defaults merged with a YAML file (unknown top-level sections are an error)."""
    if path is None:
        return copy.deepcopy(DEFAULT_CONFIG)
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "config file does not exist")
    try:
        user = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise InputError(p, "not a UTF-8 text file (expected a YAML run config)") from None
    except yaml.YAMLError as exc:
        raise InputError(p, f"not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(user, dict):
        raise InputError(p, "config must be a mapping of sections")
    return merge(DEFAULT_CONFIG, check_sections(user, DEFAULT_CONFIG, p))


def apply_overrides(cfg: dict, assignments: list[str] | None) -> dict:
    """Apply ``section.key=value`` strings (value parsed as YAML: numbers, true/false, null)."""
    cfg = copy.deepcopy(cfg)
    for a in assignments or []:
        if "=" not in a:
            raise InputError(None, f"--set expects section.key=value, got {a!r}")
        key, raw = a.split("=", 1)
        parts = key.strip().split(".")
        if len(parts) < 2 or parts[0] not in DEFAULT_CONFIG:
            raise InputError(None, f"--set key must be <section>.<key> with section in {sorted(DEFAULT_CONFIG)}, got {key!r}")
        if len(parts) != 2:
            raise InputError(None, f"--set {key}: keys are <section>.<key>")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        checked = check_sections({parts[0]: {parts[1]: value}}, DEFAULT_CONFIG, f"--set {key.strip()}")
        cfg[parts[0]][parts[1]] = checked[parts[0]][parts[1]]
    return cfg


def validate(cfg: dict) -> dict:
    m = cfg["method"]["name"]
    if m not in METHODS:
        raise InputError(None, f"method must be one of {', '.join(METHODS)}, got {m!r}")
    from ckd_toolchain.ckd_train.losses import KD_LOSSES

    if cfg["method"]["kd_loss"] not in KD_LOSSES:
        raise InputError(None, f"kd_loss must be one of {', '.join(KD_LOSSES)}, got {cfg['method']['kd_loss']!r}")
    _validate_distillation(cfg["method"])
    from ckd_toolchain.ckd_train.engine.objective import DVS_LOSS_FORMS

    if cfg["method"].get("dvs_loss", "he2024") not in DVS_LOSS_FORMS:
        raise InputError(None, f"method.dvs_loss must be one of {', '.join(DVS_LOSS_FORMS)}, "
                               f"got {cfg['method'].get('dvs_loss')!r}")
    _validate_choices(cfg)
    for sec, key in (("train", "epochs"), ("train", "batch_size")):
        v = cfg[sec][key]
        if not isinstance(v, int) or v < 1:
            raise InputError(None, f"{sec}.{key} must be an int >= 1, got {v!r}")
    fp = cfg["train"].get("fixed_point_epochs", 0)
    if not isinstance(fp, int) or not 0 <= fp <= cfg["train"]["epochs"]:
        raise InputError(None, f"train.fixed_point_epochs must be an int in [0, train.epochs], got {fp!r}")
    if fp and cfg["student"].get("arch", "vgg") not in ("vgg", "resnet18"):
        raise InputError(None, "train.fixed_point_epochs: fixed-point-aware training supports the VGG student and "
                               "the pre-activation resnet18 (ckd_train/models/fixed_point_resnet.py), got "
                               f"student.arch {cfg['student'].get('arch')!r}")
    return cfg


#: keys that do not change what a run computes (only where/how fast): free to change on --resume
RUNTIME_KEYS = {"train": {"device", "compile", "progress", "threads", "eval_batch_size", "amp"},
                "teacher": {"checkpoint"}}


def changed_settings(saved: dict, cfg: dict, sections=("method", "student", "data", "train", "teacher")) -> list[str]:
    """``section.key (old -> new)`` for every setting of ``sections`` that differs between a
    checkpoint's config and this run's (keys only one side has are defaults added by a newer
    version; :data:`RUNTIME_KEYS` and private ``_`` keys are ignored)."""
    out = []
    for sec in sections:
        a, b = saved.get(sec) or {}, cfg.get(sec) or {}
        for k in sorted(set(a) & set(b)):
            if k.startswith("_") or k in RUNTIME_KEYS.get(sec, ()) or a[k] == b[k]:
                continue
            out.append(f"{sec}.{k} ({a[k]!r} -> {b[k]!r})")
    return out


def check_resume_config(path, saved: dict, cfg: dict, allow_changed: bool, log, sections=None) -> None:
    """Refuse to resume a run whose settings changed, unless ``allow_changed`` (then say which)."""
    changed = changed_settings(saved, cfg, **({"sections": sections} if sections else {}))
    if not changed:
        return
    if not allow_changed:
        raise InputError(path, f"--resume: the checkpoint was written with other settings: {', '.join(changed)} "
                               "(use --allow-changed-config to continue with the new ones)")
    log(f"ckd-train: --allow-changed-config: resuming with changed {', '.join(changed)}")


def _validate_choices(cfg: dict) -> None:
    """The string options of issue 12 (BN statistics, LR schedule, sampler) name a known mode."""
    from ckd_toolchain.ckd_train.engine.epoch_plan import SAMPLERS
    from ckd_toolchain.ckd_train.losses.schedules import LR_SCHEDULES
    from ckd_toolchain.ckd_train.models.bn_stats import BN_RUNNING_MODES, BN_STATS_MODES

    meth, tr = cfg["method"], cfg["train"]
    checks = (("method", "bn_stats", meth.get("bn_stats"), (None, *BN_STATS_MODES)),
              ("method", "bn_running", meth.get("bn_running", "dvs"), BN_RUNNING_MODES),
              ("train", "lr_schedule", tr.get("lr_schedule", "cosine-step"), LR_SCHEDULES),
              ("train", "sampler", tr.get("sampler", "shuffle"), SAMPLERS))
    for sec, key, v, allowed in checks:
        if v not in allowed:
            raise InputError(None, f"{sec}.{key} must be one of {', '.join(str(a) for a in allowed if a)}, got {v!r}")
    if meth.get("bn_stats") == "mixed" and meth.get("separate_bn"):
        raise InputError(None, "method.bn_stats mixed contradicts method.separate_bn true (use bn_stats alone)")


def _validate_distillation(meth: dict) -> None:
    """``nld_weight`` in [0, 1] (NLD's mixing weight), ``samd_weight`` >= 0 (0: no SAMD), ``samd_tau`` > 0."""
    checks = (("nld_weight", 0.9, lambda v: 0.0 <= v <= 1.0, "a number in [0, 1]"),
              ("samd_weight", 0.0, lambda v: v >= 0.0, "a number >= 0"),
              ("samd_tau", 2.0, lambda v: v > 0.0, "a number > 0"))
    for key, default, ok, what in checks:
        v = meth.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not ok(float(v)):
            raise InputError(None, f"method.{key} must be {what}, got {v!r}")


def learning_rate(train_cfg: dict, global_batch: int) -> float:
    if train_cfg.get("lr") is not None:
        return float(train_cfg["lr"])
    return float(train_cfg["lr_base"]) * global_batch / float(train_cfg["lr_ref_batch"])
