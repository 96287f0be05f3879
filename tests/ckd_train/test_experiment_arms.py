"""`ckd-train experiment` arms: ckd:LOSS[+samd[=W]] parsed into the method section, bad arms as
one-line errors listing the choices, and a tiny experiment over two arms with a baseline."""
import json

import pytest

from ckd_toolchain.ckd_train.engine import DEFAULT_CONFIG, merge
from ckd_toolchain.ckd_train.engine.experiment import run_experiment
from ckd_toolchain.ckd_train.engine.experiment_arms import arm_dirname, arm_method
from ckd_toolchain.ckd_train.engine.synthetic_pairs import SyntheticPairs
from ckd_toolchain.errors import InputError

M = DEFAULT_CONFIG["method"]


def test_arms_parse():
    assert arm_method("transfer", M)["name"] == "transfer"
    plain = arm_method("ckd", dict(M, kd_loss="dkd", samd_weight=0.3))
    assert (plain["name"], plain["kd_loss"], plain["samd_weight"]) == ("ckd", "dkd", 0.3)   # config unchanged
    lumi = arm_method("ckd:luminet", dict(M, samd_weight=0.3))
    assert (lumi["kd_loss"], lumi["samd_weight"]) == ("luminet", 0.0)                  # no SAMD unless asked
    assert arm_method("ckd:kd+samd", M)["samd_weight"] == 1.0                          # reference weight
    assert arm_method("ckd:kd+samd", dict(M, samd_weight=0.25))["samd_weight"] == 0.25  # the config's
    assert arm_method("ckd:nld+samd=0.5", M)["samd_weight"] == 0.5
    assert arm_dirname("ckd:kd+samd") == "ckd_kd+samd"


@pytest.mark.parametrize("arm,why", [("ckd:lumi", "unknown loss 'lumi'"), ("kd", "unknown arm"),
                                     ("ckd:kd+cam", "unknown term 'cam'"), ("ckd:kd+samd=x", "not a number"),
                                     ("ckd:kd+samd=0", "must be > 0")])
def test_bad_arms(arm, why):
    with pytest.raises(InputError) as exc:
        arm_method(arm, M)
    msg = str(exc.value)
    assert why in msg and "luminet" in msg and "nld" in msg and "dvs-only" in msg and "\n" not in msg


def test_cli_bad_arm_is_one_line_before_training(tmp_path, capsys):
    from ckd_toolchain.ckd_train.cli_train import main

    with pytest.raises(SystemExit) as exc:
        main(["experiment", "--methods", "ckd:nope", "--out", str(tmp_path / "o"), "--teacher", "t.pt"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "ckd:nope" in err
    assert not (tmp_path / "o").exists()


def test_experiment_over_arms_with_baseline(tmp_path):
    d = SyntheticPairs(num_classes=3, per_class=(6, 3, 4), rgb_per_class=(8, 3, 3), T=3)
    cfg = merge(DEFAULT_CONFIG, {"data": {"T": 3, "size": 48}, "student": {"width": 0.0625},
                                 "teacher": {"width": 0.0625, "epochs": 1, "batch_size": 16},
                                 "method": {"e_th": 1, "k": 1},
                                 "train": {"epochs": 2, "batch_size": 8, "lr": 3e-3, "warmup_epochs": 1,
                                           "progress": False, "threads": 1, "eval_batch_size": 64}})
    arms = ("transfer", "ckd:luminet+samd=0.5")
    with pytest.raises(InputError, match="--baseline 'ckd:kd' is not one of the arms"):
        run_experiment(cfg, tmp_path, seeds=(0,), methods=arms, data=d, baseline="ckd:kd")
    res = run_experiment(cfg, tmp_path, seeds=(0,), methods=arms, data=d, baseline="transfer", log=lambda _m: None)
    assert list(res["paired"]) == ["ckd:luminet+samd=0.5 vs transfer"]
    run = tmp_path / "ckd_luminet+samd=0.5-seed0"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["method"] == "ckd" and summary["kd_loss"] == "luminet"
    import torch
    meth = torch.load(run / "best.pt", weights_only=False)["config"]["method"]
    assert (meth["kd_loss"], meth["samd_weight"]) == ("luminet", 0.5)
    assert "ckd:luminet+samd=0.5 vs transfer" in (tmp_path / "results.md").read_text()
