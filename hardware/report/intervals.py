"""95 % confidence intervals of an accuracy measured on ``n`` samples: the Wilson score interval.

For ``k`` correct of ``n`` (``p = k / n``, ``z = 1.959964`` for 95 %), Wilson (1927), as in
Agresti & Coull, *The American Statistician* 52(2), 1998, eq. (2)::

    centre = (p + z² / 2n) / (1 + z² / n)
    half   = z / (1 + z² / n) * sqrt(p (1 - p) / n + z² / 4n²)
    [centre - half, centre + half]

It stays inside [0, 1] and is sensible at p = 0 or 1 and small n (unlike the normal
approximation). It covers sampling of the test samples only, not seeds or training runs.
"""
from __future__ import annotations

import math

Z95 = 1.959963984540054
METHOD = "Wilson score interval, 95 % (test-sample sampling only; one seed)"


def wilson(k: float, n: int, z: float = Z95) -> tuple[float, float]:
    """``(low, high)`` of the Wilson interval for ``k`` successes in ``n`` trials."""
    if n <= 0:
        raise ValueError("an interval needs n >= 1 samples")
    if not 0 <= k <= n:
        raise ValueError(f"k = {k} successes is outside [0, {n}]")
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def accuracy_interval(accuracy: float, n: int) -> tuple[float, float]:
    """The interval of an accuracy fraction measured on ``n`` samples (``k = round(accuracy n)``)."""
    return wilson(round(accuracy * n), n)


def report_interval(report: dict, key: str) -> tuple[float, float] | None:
    """The 95 % interval of ``report["accuracy"][key]`` (``deployed``/``reference``): the stored one,
    else computed from the value and ``run.num_samples``; ``None`` without that accuracy."""
    acc = report["accuracy"]
    if acc.get(key) is None:
        return None
    stored = (acc.get("interval95") or {}).get(key)
    if stored is not None:
        return float(stored[0]), float(stored[1])
    return accuracy_interval(acc[key]["value"], max(int(report["run"]["num_samples"]), 1))
