"""A tiny, class-structured paired RGB/DVS dataset in memory, with the ``PairedData`` interface
(``classes``, ``dvs_train/val/test``, ``rgb_train/val/test``, ``static_frames``,
``pair_rgb_for_label``). Used by the engine tests and the benchmark so they need no files.

Class ``c`` is a bright square at a class-specific position; the DVS sample is its moving edge
(binary events with noise), the RGB sample the square in the V channel of an HSV image.
"""
from __future__ import annotations

import numpy as np
import torch

from ckd_toolchain.ckd_train.data.hsv import static_frames as _static_frames


class _List(torch.utils.data.Dataset):
    def __init__(self, xs: torch.Tensor, labels: list[int]):
        self.xs, self.labels = xs, list(labels)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.xs[i], self.labels[i]


class SyntheticPairs:
    def __init__(self, num_classes=4, per_class=(8, 4, 4), rgb_per_class=(16, 4, 4), T=4, size=48, seed=0):
        rng = np.random.default_rng(seed)
        self.classes = [f"class{c}" for c in range(num_classes)]
        self.T, self.size = T, size
        pos = rng.integers(4, size - 16, size=(num_classes, 2))

        def dvs(c):
            x = np.zeros((T, 2, size, size), np.float32)
            r, q = pos[c]
            for t in range(T):
                x[t, 0, r:r + 10, q + t:q + t + 2] = 1.0
                x[t, 1, r:r + 10, q + t + 8:q + t + 10] = 1.0
            x = np.maximum(x, (rng.random(x.shape) < 0.02).astype(np.float32))
            return x

        def rgb(c):
            h = np.zeros((3, size, size), np.float32)
            h[1] = 0.3
            h[2] = rng.random((size, size)).astype(np.float32) * 0.2
            r, q = pos[c]
            h[2, r:r + 10, q:q + 10] = 0.9
            return h

        def make(fn, n):
            xs, ys = [], []
            for c in range(num_classes):
                for _ in range(n):
                    xs.append(fn(c))
                    ys.append(c)
            return torch.from_numpy(np.stack(xs)), ys

        self.dvs_train, self.dvs_val, self.dvs_test = (_List(*make(dvs, n)) for n in per_class)
        self.rgb_train, self.rgb_val, self.rgb_test = (_List(*make(rgb, n)) for n in rgb_per_class)
        self._by_class = {c: [i for i, l in enumerate(self.rgb_train.labels) if l == c] for c in range(num_classes)}

    def static_frames(self, hsv: torch.Tensor) -> torch.Tensor:
        return _static_frames(hsv, self.T)

    def pair_rgb_for_label(self, label: int, rng: np.random.Generator) -> int:
        idx = self._by_class[int(label)]
        return int(idx[int(rng.integers(len(idx)))])
