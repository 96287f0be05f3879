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
* ``per_seed``: Δ of each seed alone (the seed-to-seed spread).
"""
from __future__ import annotations

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
    return {"delta": float(per_sample.mean()), "ci95": [float(lo), float(hi)],
            "per_seed": [float(x) for x in d.mean(axis=1)],
            "a_only": int((d > 0).sum()), "b_only": int((d < 0).sum()),
            "seeds": int(a.shape[0]), "samples": int(n), "n_boot": int(n_boot)}
