"""Deterministic per-epoch sampling plan, identical on every DDP rank.

For epoch ``e`` of a run with seed ``s`` a NumPy generator seeded with ``[s, e]`` draws a
permutation of the DVS training set (padded by wrapping to a multiple of the global batch, as
``DistributedSampler`` pads), for every position the paired RGB training sample of the same class
(``PairedData.pair_rgb_for_label``) and a uniform number that decides the sliding replacement
(replace when ``u < P``, CKD Eq. 8). Rank ``r`` of ``W`` takes columns ``[r*b, (r+1)*b)`` of each
global batch (``b = G / W``); one process with ``micro_batches = W`` takes the same chunks in turn,
which is what makes DDP and single-process training equal. Because everything an epoch draws
depends only on ``(seed, epoch)``, a resumed run replays exactly what an uninterrupted one does.
"""
from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class EpochPlan:
    dvs_idx: np.ndarray      # [n_batches, G]
    rgb_idx: np.ndarray      # [n_batches, G]
    replace_u: np.ndarray    # [n_batches, G]

    @property
    def n_batches(self) -> int:
        return self.dvs_idx.shape[0]


def make_epoch_plan(seed: int, epoch: int, dvs_labels: list[int], global_batch: int,
                    pair_for_label=None) -> EpochPlan:
    rng = np.random.default_rng([int(seed), int(epoch)])
    n = len(dvs_labels)
    if n == 0:
        raise ValueError("empty DVS training set")
    perm = rng.permutation(n)
    n_batches = -(-n // global_batch)
    pad = n_batches * global_batch - n
    if pad:
        perm = np.concatenate([perm, np.resize(rng.permutation(n), pad)])
    dvs_idx = perm.reshape(n_batches, global_batch)
    if pair_for_label is not None:
        rgb_idx = np.array([pair_for_label(int(dvs_labels[i]), rng) for i in perm], dtype=np.int64)
    else:
        rgb_idx = np.full(perm.shape, -1, dtype=np.int64)
    u = rng.random(perm.shape[0])
    return EpochPlan(dvs_idx, rgb_idx.reshape(n_batches, global_batch), u.reshape(n_batches, global_batch))


def shard(cols: np.ndarray, part: int, parts: int) -> np.ndarray:
    """Columns of the ``part``-th of ``parts`` equal chunks of a global batch row."""
    b = cols.shape[-1] // parts
    return cols[..., part * b:(part + 1) * b]
