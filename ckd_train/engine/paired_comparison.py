"""Paired comparison of two training methods on the same DVS test samples, over seeds.

With a small test split the accuracy of one model has a binomial standard error of
``sqrt(p(1-p)/n)`` (≈3 points at p = 0.8, n = 179), as large as the differences between methods
the CKD paper reports; comparing means ± std over seeds mixes that noise with seed noise. Both
methods see the same test samples, so the comparison is paired (Dietterich 1998, Neural
Computation 10(7), "Approximate statistical tests for comparing supervised classification
learning algorithms"):

* ``c_A[s, i], c_B[s, i] ∈ {0, 1}``: whether method A / B (seed ``s``) classifies test sample ``i``
  correctly; ``Δ = mean_{s,i}(c_A - c_B)`` is the difference of the seed-averaged accuracies;
* ``a_only`` / ``b_only``: how many (seed, sample) pairs only A / only B gets right (the
  discordant pairs of McNemar's test; the rest cancel in Δ);
* 95 % interval of Δ from a paired bootstrap over test samples (Efron & Tibshirani 1993): resample
  the sample index ``i`` with replacement, the same indices for both methods and all seeds,
  ``n_boot`` times, and take the 2.5 / 97.5 percentiles — the uncertainty due to which samples
  happen to be in the test split;
* ``per_seed``: Δ of each seed alone (the seed-to-seed spread);
* ``ci95_seeds_t``: paired t-interval over seeds (the seeds as the random unit, the test split
  fixed): ``mean(δ) ± t_{0.975, S-1} · sd(δ) / sqrt(S)`` over the S per-seed differences ``δ_s``
  (sample sd, S-1; Student's t quantile from scipy; ``None`` for one seed).

How much more evidence a target half-width ``h`` needs (planning, from measured spreads):

* seeds (:func:`seeds_for_half_width`): the smallest S with ``t_{0.975, S-1} · sd(δ) / sqrt(S) <= h``,
  ``sd(δ)`` the measured per-seed sd (treated as known);
* test samples (:func:`samples_for_half_width`): the bootstrap half-width over test samples shrinks
  as ``1 / sqrt(n)`` (the mean of n i.i.d. per-sample differences), so ``n_h = ceil(n · (w / h)^2)``
  with ``w`` the measured half-width ``(hi - lo) / 2`` on ``n`` samples, the seeds unchanged.
"""
from __future__ import annotations

import math

import numpy as np


def paired_difference(correct_a, correct_b, n_boot: int = 10000, seed: int = 0) -> dict:
    """``correct_a``, ``correct_b``: ``[seeds, samples]`` 0/1 arrays (same seeds, same samples)."""
    a = np.asarray(correct_a, dtype=np.float64)
    b = np.asarray(correct_b, dtype=np.float64)
    if a.ndim == 1:
        a, b = a[None], b[None]
    if a.shape != b.shape or a.ndim != 2 or a.shape[1] == 0:
        raise ValueError(f"need two [seeds, samples] arrays of one shape, got {a.shape} and {b.shape}")
    if not (np.isin(a, (0, 1)).all() and np.isin(b, (0, 1)).all()):
        raise ValueError("correctness arrays must hold only 0 and 1")
    d = a - b                                    # [seeds, samples] in {-1, 0, 1}
    per_sample = d.mean(axis=0)                  # averaged over seeds
    rng = np.random.default_rng(seed)
    n = per_sample.size
    idx = rng.integers(0, n, size=(int(n_boot), n))
    boot = per_sample[idx].mean(axis=1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    per_seed = d.mean(axis=1)
    return {"delta": float(per_sample.mean()), "ci95": [float(lo), float(hi)],
            "ci95_seeds_t": seed_t_interval(per_seed),
            "per_seed": [float(x) for x in per_seed],
            "a_only": int((d > 0).sum()), "b_only": int((d < 0).sum()),
            "seeds": int(a.shape[0]), "samples": int(n), "n_boot": int(n_boot)}


def _t975(dof: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, dof))


def seed_t_interval(per_seed) -> list[float] | None:
    """Paired 95 % t-interval ``[lo, hi]`` of the mean of the per-seed differences (None for < 2 seeds)."""
    x = np.asarray(per_seed, dtype=np.float64)
    if x.size < 2:
        return None
    half = _t975(x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return [float(x.mean() - half), float(x.mean() + half)]


def seeds_for_half_width(per_seed, half_width: float, max_seeds: int = 100000) -> int | None:
    """Smallest number of seeds S >= 2 whose t-interval half-width ``t_{0.975,S-1} sd / sqrt(S)``, with the sd
    of the measured ``per_seed`` differences, is <= ``half_width`` (None if above ``max_seeds``)."""
    x = np.asarray(per_seed, dtype=np.float64)
    if x.size < 2 or half_width <= 0:
        raise ValueError("need >= 2 per-seed differences and a positive half-width")
    sd = float(x.std(ddof=1))
    for s in range(2, int(max_seeds) + 1):
        if _t975(s - 1) * sd / math.sqrt(s) <= half_width:
            return s
    return None


def samples_for_half_width(ci95, samples: int, half_width: float) -> int:
    """Test samples for a bootstrap half-width ``half_width``, scaling the measured ``ci95`` on ``samples``
    samples by ``1 / sqrt(n)``: ``ceil(samples * (w / half_width)^2)``, ``w = (hi - lo) / 2``."""
    if half_width <= 0 or samples <= 0:
        raise ValueError("need a positive half-width and sample count")
    w = (float(ci95[1]) - float(ci95[0])) / 2
    return max(1, math.ceil(samples * (w / half_width) ** 2 - 1e-9))
