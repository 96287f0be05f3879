"""Which samples an evaluation on a subset uses (shared by ``ckd-export --verify`` and ``ckd-deploy``)."""
from __future__ import annotations

import numpy as np


def spread_subset(size: int, limit: int | None) -> np.ndarray:
    """All indices of a split, or ``limit`` of them spread evenly over it (first and last included).

    Our test splits are stored class by class, so "the first N samples" would all be one class;
    evaluations on a subset (``ckd-deploy --limit``, ``ckd-export --verify --samples``) use this.
    """
    if limit is None or limit >= size:
        return np.arange(size)
    return np.unique(np.linspace(0, size - 1, max(int(limit), 1)).round().astype(int))
