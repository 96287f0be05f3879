"""Issue 12 item 6 (rest): He et al.'s data protocol and schedule, each against the baseline's
formula copied here (Brain-Cog-Lab/Transfer-for-DVS): random crop only (padding size // 12), the
class-balanced N-Caltech101 sampler, the CEP-DVS 50 % train / 100 per class test split, and timm's
cosine schedule stepped per epoch to min_lr 1e-5. Loaders run on small files in the real formats.
Budget: < 40 s."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ckd_toolchain.ckd_train.data import DataConfig, build_datasets
from ckd_toolchain.ckd_train.data.augment import augment_dvs, crop_padding
from ckd_toolchain.ckd_train.engine import DEFAULT_CONFIG, merge, train_student
from ckd_toolchain.ckd_train.engine.epoch_plan import class_balanced_probabilities, make_epoch_plan
from ckd_toolchain.ckd_train.engine.synthetic_pairs import SyntheticPairs
from ckd_toolchain.ckd_train.losses.schedules import he2024_epoch_lr, lr_factor
from data_fixtures import make_cepdvs_tree, make_ncaltech_tree

pytestmark = pytest.mark.timeout(180)


def _quiet(_msg):
    pass


# -- cosine schedule stepped per epoch ---------------------------------------------------------
def _timm_cosine_get_lr(t, base, t_initial, lr_min, warmup_t, warmup_lr_init):
    """timm scheduler/cosine_lr.py ``CosineLRScheduler._get_lr`` (copied; cycle_mul = cycle_decay =
    k_decay = 1, cycle_limit 1, warmup_prefix False: what main_transfer.py:630 ``create_scheduler``
    builds from --sched cosine --min-lr 1e-5 --warmup-lr 1e-6 --warmup-epochs 5, main_transfer.py:116-141)."""
    if t < warmup_t:
        return warmup_lr_init + t * (base - warmup_lr_init) / warmup_t
    i = t // t_initial
    t_curr = t - t_initial * i
    if i < 1:
        return lr_min + 0.5 * (base - lr_min) * (1 + math.cos(math.pi * t_curr / t_initial))
    return lr_min


def test_cosine_epoch_is_timm_cosine_stepped_per_epoch():
    base, E = 5e-3 * 120 / 1024, 300
    for e in range(E):  # epoch e trains with _get_lr(e): step(epoch + 1) after each epoch (main_transfer.py:856)
        assert he2024_epoch_lr(e, base, E, 5, 1e-5, 1e-6) == pytest.approx(
            _timm_cosine_get_lr(e, base, E, 1e-5, 5, 1e-6), rel=1e-12)
    assert he2024_epoch_lr(0, base, E, 5, 1e-5, 1e-6) == 1e-6          # hand: warm-up starts at warmup_lr
    assert he2024_epoch_lr(5, 0.01, 10, 5, 1e-5, 1e-6) == pytest.approx(1e-5 + 0.5 * (0.01 - 1e-5))  # cos(pi/2) = 0
    assert he2024_epoch_lr(299, base, E, 5, 1e-5, 1e-6) > 1e-5          # the last epoch is just above min_lr
    # as a LambdaLR factor: constant within an epoch (steps_per_epoch = 4)
    f = [lr_factor("cosine-epoch", s, 4, 10, 2, 0.01, 1e-5, 1e-6) for s in range(40)]
    assert all(f[4 * e] == f[4 * e + k] for e in range(10) for k in range(4))
    assert f[0] * 0.01 == pytest.approx(1e-6) and f[8] * 0.01 == pytest.approx(_timm_cosine_get_lr(2, 0.01, 10, 1e-5, 2, 1e-6))
    assert lr_factor("cosine-step", 1, 4, 10, 2, 0.01, 1e-5, 1e-6) == pytest.approx(2 / 8)  # (s + 1) / W, per step


def test_training_lr_follows_the_epoch_schedule(tmp_path):
    d = SyntheticPairs(num_classes=3, per_class=(4, 2, 2), rgb_per_class=(4, 2, 2), T=2)
    cfg = merge(DEFAULT_CONFIG, {"data": {"T": 2, "size": 48}, "student": {"width": 0.0625},
                                 "method": {"name": "dvs-only", "bn_stats": "per-stream-per-step"},
                                 "train": {"epochs": 3, "batch_size": 4, "lr": 0.01, "warmup_epochs": 1,
                                           "progress": False, "threads": 1, "lr_schedule": "cosine-epoch",
                                           "sampler": "class-balanced"}})
    train_student(cfg, tmp_path, data=d, log=_quiet)
    import csv
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    # the row's lr is read after the epoch's last step: the next epoch's value
    for e, row in enumerate(rows[:-1]):
        assert float(row["lr"]) == pytest.approx(he2024_epoch_lr(e + 1, 0.01, 3, 1, 1e-5, 1e-6), rel=1e-9)


# -- class-balanced sampler ---------------------------------------------------------------------
def _he2024_ncaltech_weights(cls_count, portion=0.9):
    """datasets.py:1231-1257 (copied, train_data_ratio 1): per train sample of class c the weight
    dataset_length / count_c; WeightedRandomSampler normalises by the sum."""
    dataset_length = sum(cls_count)
    w = []
    for count in cls_count:
        train_sample = round(portion * count)
        w.extend([dataset_length / count] * train_sample)
    w = np.array(w)
    return w / w.sum()


def test_class_balanced_probabilities_are_the_baselines_weights():
    counts = [10, 20, 30]  # round(0.9 c) / c = 0.9 for each: the baseline's classes are exactly balanced
    labels = [c for c, n in enumerate(counts) for _ in range(round(0.9 * n))]
    np.testing.assert_allclose(class_balanced_probabilities(labels), _he2024_ncaltech_weights(counts), rtol=1e-12)
    p = class_balanced_probabilities([0] * 9 + [1] * 1)  # ours: exactly balanced for any counts
    assert p[:9].sum() == pytest.approx(0.5) and p[9] == pytest.approx(0.5)


def test_class_balanced_epoch_plan_draws_classes_equally():
    labels = [0] * 90 + [1] * 10
    drawn = np.concatenate([make_epoch_plan(0, e, labels, 16, sampler="class-balanced").dvs_idx.ravel()
                            for e in range(20)])
    assert drawn.size == 20 * 7 * 16  # ceil(100 / 16) batches of 16 per epoch
    frac1 = np.mean(np.asarray(labels)[drawn] == 1)
    assert abs(frac1 - 0.5) < 0.05  # 2240 draws: s.e. 0.011; shuffle would give 0.10
    shuffled = make_epoch_plan(0, 0, labels, 16).dvs_idx.ravel()
    assert np.mean(np.asarray(labels)[shuffled] == 1) < 0.15
    a = make_epoch_plan(3, 2, labels, 16, sampler="class-balanced")
    b = make_epoch_plan(3, 2, labels, 16, sampler="class-balanced")
    assert np.array_equal(a.dvs_idx, b.dvs_idx)  # seeded by (seed, epoch): resume replays it


# -- CEP-DVS split ---------------------------------------------------------------------------------
def _he2024_cepdvs_split(cls_count, portion=0.5):
    """datasets.py:1390-1409 (copied; ``sample`` of the whole train range = the range itself)."""
    train_idx, test_idx, idx_begin = [], [], 0
    for count in cls_count:
        train_sample = round(portion * count)
        test_sample = count - round(0.8 * count)
        train_idx.extend(range(idx_begin, idx_begin + train_sample))
        test_idx.extend(range(idx_begin + train_sample, idx_begin + train_sample + test_sample))
        idx_begin += count
    return train_idx, test_idx


def test_cepdvs_split_is_half_train_and_a_fifth_test(tmp_path):
    per = 10
    labels = ["aquatic_mammals"] * per + ["fish"] * per  # file i belongs to class i // per (baseline's layout)
    root = make_cepdvs_tree(tmp_path / "cep", labels)
    data = build_datasets(DataConfig(name="cepdvs", root=str(root), T=2, size=16, val_fraction=0.0,
                                     train_fraction=0.5, test_fraction=0.2), log=_quiet)
    train_ref, test_ref = _he2024_cepdvs_split([per, per])
    assert sorted(int(f.stem) for f in data.dvs_train.files) == train_ref
    assert sorted(int(f.stem) for f in data.dvs_test.files) == test_ref == [5, 6, 15, 16]
    assert len(_he2024_cepdvs_split([500] * 20)[1]) == 20 * 100  # the real set: 100 per class
    with pytest.raises(Exception, match="test_fraction"):
        DataConfig(name="cepdvs", train_fraction=0.9, test_fraction=0.2)


# -- random crop only ------------------------------------------------------------------------------
def test_random_crop_only_is_baselines_randomcrop_padding_size_over_12():
    """``transforms.RandomCrop(size, padding=size // 12)`` (datasets.py:1291, 1440): a size x size
    window of the zero-padded frames at an offset uniform in [0, 2p]^2, the same for all T and polarities."""
    for size in (48, 24):
        p = crop_padding(size)
        assert p == size // 12
        x = torch.arange(2 * 2 * size * size, dtype=torch.float32).reshape(2, 2, size, size) + 1
        padded = torch.nn.functional.pad(x, (p, p, p, p))
        offsets = set()
        for k in range(200):
            y = augment_dvs(x, np.random.default_rng(k), hflip=False, rotation=False)
            hits = [(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1)
                    if torch.equal(y, padded[..., dy:dy + size, dx:dx + size])]
            assert len(hits) == 1
            offsets |= set(hits)
        if size == 24:  # 25 offsets, 200 draws: every one is reached (seeded)
            assert offsets == {(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1)}
        else:
            assert {dy for dy, _ in offsets} == set(range(2 * p + 1)) == {dx for _, dx in offsets}


def test_ncaltech_loader_with_crop_only_and_balanced_sampler(tmp_path):
    root = make_ncaltech_tree(tmp_path / "nc", ["ant", "bee"], {"ant": 20, "bee": 10})
    data = build_datasets(DataConfig(name="ncaltech101", root=str(root), T=2, size=24, val_fraction=0.0,
                                     augment=True, hflip=False, rotate=False), log=_quiet)
    assert (len(data.dvs_train), len(data.dvs_test)) == (27, 3)  # round(0.9 * 20) + round(0.9 * 10)
    x0 = data.dvs_train.frames[0].float()
    y = data.dvs_train[0][0]
    p = crop_padding(24)
    padded = torch.nn.functional.pad(x0, (p, p, p, p))
    assert any(torch.equal(y, padded[..., dy:dy + 24, dx:dx + 24]) for dy in range(2 * p + 1) for dx in range(2 * p + 1))
    probs = class_balanced_probabilities(data.dvs_train.labels)
    assert probs[np.asarray(data.dvs_train.labels) == 1].sum() == pytest.approx(0.5)
