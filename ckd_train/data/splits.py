"""Per-class train / validation / test splits (seeded, file order preserved).

For every class with n files (in file order, i.e. sorted by file name as the baselines list them):

* the first ``n_tv = floor(n * train_fraction + 0.5)`` files are the training part, the rest
  (``n - n_tv``) the test split -- the baselines' "first 90 % train, rest test" rule
  (Brain-Cog-Lab/Transfer-for-DVS: ``round(num_per_cls * portion)``, ``portion = 0.9``);
* ``k = min(n_tv - 1, floor(n_tv * val_fraction + 0.5))`` files of the training part, drawn
  without replacement by ``numpy.random.default_rng([seed, class_index])``, are the validation
  split (kept in file order); with ``n_tv <= 1`` nothing is carved out;
* ``limit`` (the DVS training limit) keeps the first ``limit`` remaining training files;
* ``test_fraction`` (None: the rest is the test split) keeps only the ``n_test = n - floor(n * (1 -
  test_fraction) + 0.5)`` files right after the training part as test split; the files after them
  are used nowhere. He et al.'s CEP-DVS split (Brain-Cog-Lab/Transfer-for-DVS
  braincog/datasets/datasets.py:1390-1407): 500 files per class, ``train_sample = round(0.5 * count)``
  = 250, ``test_sample = count - round(0.8 * count)`` = 100, test = indices
  ``[train_sample, train_sample + test_sample)`` of the class: ``train_fraction 0.5, test_fraction 0.2``.
"""
from __future__ import annotations

import math
from typing import Sequence, TypeVar

import numpy as np

Item = TypeVar("Item")

SPLITS = ("train", "val", "test")


def split_class(items: Sequence[Item], class_index: int, *, train_fraction: float, val_fraction: float, seed: int,
                limit: int | None = None, test_fraction: float | None = None) -> dict[str, list[Item]]:
    n = len(items)
    n_tv = min(n, int(math.floor(n * train_fraction + 0.5)))
    n_test = n - n_tv if test_fraction is None else max(0, n - int(math.floor(n * (1.0 - test_fraction) + 0.5)))
    train_part, test = list(items[:n_tv]), list(items[n_tv:n_tv + n_test])
    k = 0 if n_tv <= 1 else min(n_tv - 1, int(math.floor(n_tv * val_fraction + 0.5)))
    if k:
        rng = np.random.default_rng([int(seed), int(class_index)])
        chosen = set(int(i) for i in rng.choice(n_tv, size=k, replace=False))
    else:
        chosen = set()
    val = [it for i, it in enumerate(train_part) if i in chosen]
    train = [it for i, it in enumerate(train_part) if i not in chosen]
    if limit is not None:
        train = train[:limit]
    return {"train": train, "val": val, "test": test}


def split_per_class(by_class: dict[str, Sequence[Item]], classes: Sequence[str], *, train_fraction: float,
                    val_fraction: float, seed: int, limit: int | None = None,
                    test_fraction: float | None = None) -> dict[str, list[tuple[Item, int]]]:
    """Split every class; returns ``{split: [(item, label), ...]}`` ordered by class, then file."""
    out: dict[str, list[tuple[Item, int]]] = {s: [] for s in SPLITS}
    for label, name in enumerate(classes):
        parts = split_class(by_class[name], label, train_fraction=train_fraction, val_fraction=val_fraction,
                            seed=seed, limit=limit, test_fraction=test_fraction)
        for s in SPLITS:
            out[s].extend((it, label) for it in parts[s])
    return out
