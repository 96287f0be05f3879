"""CKD pairing: for a DVS sample, a random RGB *training* sample of the same class.

`RgbPairing(rgb_labels)` indexes the RGB training set by class once; ``pair(label, rng)`` draws
uniformly among that class's RGB indices with the given ``numpy.random.Generator``. A class with
no RGB training sample is an error (the class alignment guarantees every paired class has one
on both sides; a tiny custom split could still leave one empty).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ckd_toolchain.errors import InputError


class RgbPairing:
    def __init__(self, rgb_labels: Sequence[int], classes: Sequence[str]):
        self.classes = list(classes)
        labels = np.asarray(list(rgb_labels), dtype=np.int64)
        self.by_class: dict[int, np.ndarray] = {c: np.flatnonzero(labels == c) for c in range(len(self.classes))}

    def pair(self, label: int, rng: np.random.Generator) -> int:
        idx = self.by_class.get(int(label))
        if idx is None or idx.size == 0:
            name = self.classes[label] if 0 <= label < len(self.classes) else str(label)
            raise InputError(None, f"class {name!r} has no RGB training sample to pair with")
        return int(idx[int(rng.integers(idx.size))])
