"""Schedules: sliding replacement probability (CKD Eq. 8), KD phase switch (CKD Eq. 10),
cosine learning rate with linear warm-up.

Sliding replacement (CKD arXiv 2507.09269 Eq. 8; He et al. AAAI 2024)::

    P = ((b_i + e_c * b_l) / N_b) ** 3

``b_i``: batch index in the current epoch, ``e_c``: current epoch (0-based), ``b_l``: batches
per epoch, ``N_b = epochs * b_l``: total batches. A static sample is replaced by its paired DVS
sample with probability P (0 at the start, → 1 at the end).

Phase switch (CKD Eq. 10)::

    gamma(e) = 1 - 1 / (1 + exp(-k (e - e_th)))      (gamma(e_th) = 0.5; ~1 early, ~0 late)

Cosine with warm-up (per step ``s`` of ``S`` total, ``W`` warm-up steps)::

    f(s) = (s + 1) / W                                    s < W
    f(s) = 0.5 * (1 + cos(pi * (s - W) / (S - W)))        otherwise

``train.lr_schedule``: ``cosine-step`` is the factor above, applied per optimiser step (this
toolchain's default). ``cosine-epoch`` is He et al.'s schedule: timm's ``CosineLRScheduler`` as
``create_scheduler`` builds it from main_transfer.py's defaults (``--sched cosine``, ``--min-lr
1e-5``, ``--warmup-lr 1e-6``, ``--warmup-epochs 5``, main_transfer.py:116-141, t_initial = epochs,
warmup_prefix off, no noise, one cycle), stepped once per epoch (``lr_scheduler.step(epoch + 1)``,
main_transfer.py:856; timm's per-update ``step_update`` is a no-op with ``t_in_epochs``). Epoch
``e`` (0-based; E epochs, W warm-up epochs, timm scheduler/cosine_lr.py ``_get_lr``) trains with::

    lr(e) = warmup_lr + e * (lr_max - warmup_lr) / W                        e < W
    lr(e) = min_lr + 0.5 * (lr_max - min_lr) * (1 + cos(pi * e / E))       otherwise

(the cosine counts from epoch 0, not from the end of the warm-up; their loop runs ``args.epochs``
epochs, main_transfer.py:822, so the 10 cool-down epochs timm adds are never reached).
"""
from __future__ import annotations

import math

LR_SCHEDULES = ("cosine-step", "cosine-epoch")


def replacement_probability(b_i: int, e_c: int, b_l: int, n_b: int) -> float:
    if n_b <= 0:
        raise ValueError("N_b must be positive")
    return min(1.0, max(0.0, (b_i + e_c * b_l) / n_b)) ** 3


def kd_phase_weight(epoch: float, e_th: float, k: float) -> float:
    z = -k * (epoch - e_th)
    if z > 700:  # exp overflow: 1/(1+inf) = 0
        return 1.0
    return 1.0 - 1.0 / (1.0 + math.exp(z))


def cosine_warmup_factor(step: int, total_steps: int, warmup_steps: int) -> float:
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def he2024_epoch_lr(epoch: int, lr_max: float, epochs: int, warmup_epochs: int, min_lr: float,
                    warmup_lr: float) -> float:
    """Learning rate of 0-based ``epoch`` under ``cosine-epoch`` (module docstring)."""
    if warmup_epochs > 0 and epoch < warmup_epochs:
        return warmup_lr + epoch * (lr_max - warmup_lr) / warmup_epochs
    return min_lr + 0.5 * (lr_max - min_lr) * (1.0 + math.cos(math.pi * epoch / epochs))


def lr_factor(schedule: str, step: int, steps_per_epoch: int, epochs: int, warmup_epochs: int,
              lr_max: float, min_lr: float, warmup_lr: float) -> float:
    """The multiplier of ``lr_max`` at optimiser step ``step`` (a ``LambdaLR`` factor) for
    ``train.lr_schedule`` ``schedule``."""
    if schedule == "cosine-epoch":
        return he2024_epoch_lr(min(step // steps_per_epoch, epochs - 1), lr_max, epochs, warmup_epochs,
                               min_lr, warmup_lr) / lr_max
    if schedule != "cosine-step":
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {schedule!r}")
    return cosine_warmup_factor(step, epochs * steps_per_epoch, warmup_epochs * steps_per_epoch)
