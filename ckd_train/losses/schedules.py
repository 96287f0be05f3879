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
"""
from __future__ import annotations

import math


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
