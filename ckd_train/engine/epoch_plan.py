"""Deterministic per-epoch sampling plan, identical on every DDP rank.

For epoch ``e`` of a run with seed ``s`` a NumPy generator seeded with ``[s, e]`` draws a
permutation of the DVS training set (padded by wrapping to a multiple of the global batch, as
``DistributedSampler`` pads), for every position the paired RGB training sample of the same class
(``PairedData.pair_rgb_for_label``) and a uniform number that decides the sliding replacement
(replace when ``u < P``, CKD Eq. 8). Rank ``r`` of ``W`` takes columns ``[r*b, (r+1)*b)`` of each
global batch (``b = G / W``); one process with ``micro_batches = W`` takes the same chunks in turn,
which is what makes DDP and single-process training equal. Because everything an epoch draws
depends only on ``(seed, epoch)``, a resumed run replays exactly what an uninterrupted one does.
With ``noise_classes = K > 0`` (the NLD loss) the plan also holds a standard normal ``[G, K]`` draw
per global batch, NLD's ``eps`` (:mod:`ckd_toolchain.ckd_train.losses.nld`), drawn after everything
else so the other draws do not change.
"""
from __future__ import annotations

import dataclasses

import numpy as np

SAMPLERS = ("shuffle", "class-balanced")


@dataclasses.dataclass
class EpochPlan:
    dvs_idx: np.ndarray      # [n_batches, G]
    rgb_idx: np.ndarray      # [n_batches, G]
    replace_u: np.ndarray    # [n_batches, G]
    nld_noise: np.ndarray | None = None   # [n_batches, G, K] float32 (noise_classes > 0)

    @property
    def n_batches(self) -> int:
        return self.dvs_idx.shape[0]


def class_balanced_probabilities(labels) -> np.ndarray:
    """``p_i = 1 / (K * n_c(i))``: every class equally likely (module docstring)."""
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels)
    p = 1.0 / (np.count_nonzero(counts) * counts[labels])
    return p / p.sum()


def make_epoch_plan(seed: int, epoch: int, dvs_labels: list[int], global_batch: int,
                    pair_for_label=None, noise_classes: int = 0, sampler: str = "shuffle") -> EpochPlan:
    rng = np.random.default_rng([int(seed), int(epoch)])
    n = len(dvs_labels)
    if n == 0:
        raise ValueError("empty DVS training set")
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    n_batches = -(-n // global_batch)
    if sampler == "class-balanced":
        perm = rng.choice(n, size=n_batches * global_batch, replace=True, p=class_balanced_probabilities(dvs_labels))
    else:
        perm = rng.permutation(n)
        pad = n_batches * global_batch - n
        if pad:
            perm = np.concatenate([perm, np.resize(rng.permutation(n), pad)])
    dvs_idx = perm.reshape(n_batches, global_batch)
    if pair_for_label is not None:
        rgb_idx = np.array([pair_for_label(int(dvs_labels[i]), rng) for i in perm], dtype=np.int64)
    else:
        rgb_idx = np.full(perm.shape, -1, dtype=np.int64)
    u = rng.random(perm.shape[0])
    noise = (rng.standard_normal((n_batches, global_batch, int(noise_classes))).astype(np.float32)
             if noise_classes else None)
    return EpochPlan(dvs_idx, rgb_idx.reshape(n_batches, global_batch), u.reshape(n_batches, global_batch),
                     noise)


def shard(cols: np.ndarray, part: int, parts: int, axis: int = -1) -> np.ndarray:
    """Columns of the ``part``-th of ``parts`` equal chunks of a global batch row (along ``axis``:
    the sample axis, ``0`` for a ``[G, K]`` noise row)."""
    b = cols.shape[axis] // parts
    return np.take(cols, np.arange(part * b, (part + 1) * b), axis=axis)
