"""Paired method comparison (ckd_train.engine.paired_comparison) by hand, and wired into the
multi-seed experiment consistently with the per-seed test accuracies."""
import numpy as np
import pytest

from ckd_toolchain.ckd_train.engine import DEFAULT_CONFIG, merge
from ckd_toolchain.ckd_train.engine.experiment import run_experiment
from ckd_toolchain.ckd_train.engine.paired_comparison import (paired_difference, samples_for_half_width,
                                                               seed_t_interval, seeds_for_half_width)
from ckd_toolchain.ckd_train.engine.synthetic_pairs import SyntheticPairs


def test_paired_difference_by_hand():
    a = [[1, 1, 0, 1], [1, 0, 0, 1]]
    b = [[1, 0, 0, 0], [1, 0, 1, 1]]
    r = paired_difference(a, b, n_boot=2000)
    # d = [[0, 1, 0, 1], [0, 0, -1, 0]]: mean 1/8; per seed 2/4 and -1/4; 2 pairs only A, 1 only B
    assert r["delta"] == pytest.approx(0.125)
    assert r["per_seed"] == pytest.approx([0.5, -0.25])
    assert (r["a_only"], r["b_only"], r["seeds"], r["samples"]) == (2, 1, 2, 4)
    # per-sample means are [0, .5, -.5, .5]: any bootstrap mean lies in [-0.5, 0.5]
    assert -0.5 <= r["ci95"][0] <= r["delta"] <= r["ci95"][1] <= 0.5
    same = paired_difference(a, a)
    assert same["delta"] == 0 and same["ci95"] == [0.0, 0.0] and same["a_only"] == same["b_only"] == 0


def test_seed_t_interval_by_hand():
    # per-seed differences [0.5, -0.25]: mean 0.125, sd = sqrt(2 * 0.375^2 / 1) = 0.53033;
    # t_{0.975, 1} = 12.7062 (Student's t table): half-width 12.7062 * 0.53033 / sqrt(2) = 4.76483
    lo, hi = paired_difference([[1, 1, 0, 1], [1, 0, 0, 1]], [[1, 0, 0, 0], [1, 0, 1, 1]])["ci95_seeds_t"]
    assert (lo, hi) == (pytest.approx(0.125 - 4.76483, abs=1e-4), pytest.approx(0.125 + 4.76483, abs=1e-4))
    # 5 seeds [1, 2, 3, 4, 5] points: mean 3, sd sqrt(2.5) = 1.58114, t_{0.975, 4} = 2.77645: half 1.96324
    assert seed_t_interval([1, 2, 3, 4, 5]) == [pytest.approx(3 - 1.96324, abs=1e-4), pytest.approx(3 + 1.96324, abs=1e-4)]
    assert seed_t_interval([0.3]) is None


def test_evidence_needed_for_a_half_width_by_hand():
    # sd 1.58114 (above): S = 5 gives 1.96324, S = 6: t_{0.975,5} = 2.57058 * 1.58114 / sqrt(6) = 1.65934,
    # S = 7: 2.44691 * 1.58114 / sqrt(7) = 1.46229 -> the smallest S with half-width <= 1.5 is 7
    assert seeds_for_half_width([1, 2, 3, 4, 5], 1.5) == 7
    assert seeds_for_half_width([1, 2, 3, 4, 5], 1.97) == 5
    # bootstrap half-width 2.5 points on 179 samples -> 1 point needs 179 * 2.5^2 = 1118.75 -> 1119 samples
    assert samples_for_half_width([-0.01, 0.04], 179, 0.01) == 1119
    assert samples_for_half_width([-0.01, 0.01], 200, 0.01) == 200
    with pytest.raises(ValueError):
        seeds_for_half_width([0.1], 0.01)


def test_paired_difference_bad_input():
    with pytest.raises(ValueError, match="same shape|one shape"):
        paired_difference([[1, 0]], [[1, 0, 1]])
    with pytest.raises(ValueError, match="only 0 and 1"):
        paired_difference([[2, 0]], [[1, 0]])


@pytest.mark.slow
def test_experiment_reports_paired_comparison(tmp_path):
    d = SyntheticPairs(num_classes=3, per_class=(6, 3, 4), rgb_per_class=(8, 3, 3), T=3)
    cfg = merge(DEFAULT_CONFIG, {"data": {"T": 3, "size": 48}, "student": {"width": 0.0625},
                                 "train": {"epochs": 2, "batch_size": 8, "lr": 3e-3, "warmup_epochs": 1,
                                           "progress": False, "threads": 1, "eval_batch_size": 64}})
    res = run_experiment(cfg, tmp_path, seeds=(0, 1), methods=("dvs-only", "transfer"), data=d,
                         log=lambda _m: None)
    p = res["paired"]["dvs-only vs transfer"]
    acc = {m: [r["test_acc_at_best_val"] for r in res["runs"] if r["method"] == m] for m in ("dvs-only", "transfer")}
    # the predictions re-computed from best.pt reproduce the accuracies the training recorded
    for r in res["runs"]:
        assert np.mean(r["test_correct"]) == pytest.approx(r["test_acc_at_best_val"], abs=1e-12)
    assert p["delta"] == pytest.approx(np.mean(acc["dvs-only"]) - np.mean(acc["transfer"]), abs=1e-12)
    assert p["samples"] == len(d.dvs_test) and p["seeds"] == 2
    assert "dvs-only vs transfer" in (tmp_path / "results.md").read_text()
    # last epoch: last.pt's predictions reproduce the last epoch's recorded test accuracy, and are paired too
    for r in res["runs"]:
        assert np.mean(r["final_test_correct"]) == pytest.approx(r["final_test_acc"], abs=1e-12)
    last = {m: [r["final_test_acc"] for r in res["runs"] if r["method"] == m] for m in ("dvs-only", "transfer")}
    assert res["aggregate"]["transfer"]["test_last_epoch"] == last["transfer"]
    assert res["paired_last_epoch"]["dvs-only vs transfer"]["delta"] == pytest.approx(
        np.mean(last["dvs-only"]) - np.mean(last["transfer"]), abs=1e-12)
    assert "last epoch" in (tmp_path / "results.md").read_text()
