"""Strict run configs, --resume with changed settings, and the non-finite training guard (issue 16,
findings 4 and 5): one line naming the key and the file, exit 2, before any data is loaded."""
from __future__ import annotations

import pytest
import yaml

from ckd_toolchain.ckd_train.cli_train import main
from ckd_toolchain.ckd_train.engine import DEFAULT_CONFIG, apply_overrides, load_config, merge, train_student
from ckd_toolchain.ckd_train.engine.config_schema import known_keys
from ckd_toolchain.ckd_train.engine.finite_guard import TrainingDiverged
from ckd_toolchain.ckd_train.engine.run_config import changed_settings, check_resume_config
from ckd_toolchain.ckd_train.engine.student_trainer import Interrupted
from ckd_toolchain.ckd_train.engine.synthetic_pairs import SyntheticPairs
from ckd_toolchain.errors import InputError


def _cli_error(capsys, argv) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("body, needle", [
    ({"train": {"epochz": 3}}, "unknown key train.epochz"),
    ({"method": {"tau": "warm"}}, "method.tau must be a number"),
    ({"train": {"batch_size": 2.5}}, "train.batch_size must be an integer"),
    ({"train": {"amp": "yes"}}, "train.amp must be true or false"),
    ({"train": {"lr_base": -0.1}}, "train.lr_base must be > 0"),
    ({"data": {"T": 0}}, "data.T must be > 0"),
    ({"teach": {"lr": 1}}, "unknown config section 'teach'"),
])
def test_bad_yaml_names_key_and_file(tmp_path, capsys, body, needle):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump(body))
    line = _cli_error(capsys, ["student", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert str(cfg) in line and needle in line, line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("assign, needle", [
    ("train.nokey=1", "unknown key train.nokey"),
    ("train.lr=1e999", "train.lr must be a finite number"),
    ("train.epochs=0", "train.epochs must be > 0"),
])
def test_bad_set_names_the_key(tmp_path, capsys, assign, needle):
    line = _cli_error(capsys, ["student", "--set", assign, "--out", str(tmp_path / "o")])
    assert "--set" in line and needle in line, line


def test_yaml_1_1_number_strings_are_numbers_and_defaults_are_valid(tmp_path):
    c = apply_overrides(DEFAULT_CONFIG, ["train.lr=1e-3", "teacher.weights=null", "method.kd_loss=dkd"])
    assert c["train"]["lr"] == 1e-3 and isinstance(c["train"]["lr"], float)
    for name in ("ndigits-demo", "ndigits-experiment", "ncaltech101-vggsnn", "cepdvs-resnet18"):
        from paths import CONFIGS
        load_config(CONFIGS / f"{name}.yaml")   # every shipped config passes the schema


def test_schema_follows_the_defaults():
    """A key added to DEFAULT_CONFIG is known (and typed) without touching the schema."""
    extended = merge(DEFAULT_CONFIG, {"method": {"samd": 0.5}})
    assert known_keys(extended)["method"]["samd"] == 0.5
    from ckd_toolchain.ckd_train.engine.config_schema import check_sections
    assert check_sections({"method": {"samd": 2}}, extended, "x.yaml") == {"method": {"samd": 2.0}}
    with pytest.raises(InputError, match="method.samd must be a number"):
        check_sections({"method": {"samd": "a"}}, extended, "x.yaml")


def test_changed_settings_ignore_runtime_keys():
    a = merge(DEFAULT_CONFIG, {"train": {"lr": 1e-3}})
    b = merge(a, {"train": {"lr": 2e-3, "batch_size": 60, "device": "cpu", "threads": 2}})
    assert changed_settings(a, b) == ["train.batch_size (120 -> 60)", "train.lr (0.001 -> 0.002)"]
    with pytest.raises(InputError, match=r"train\.batch_size.*--allow-changed-config"):
        check_resume_config("last.pt", a, b, False, print)
    said = []
    check_resume_config("last.pt", a, b, True, said.append)
    assert "train.lr" in said[0]


TINY = {"data": {"T": 3, "size": 48}, "student": {"width": 0.0625},
        "train": {"epochs": 2, "batch_size": 8, "lr": 3e-3, "warmup_epochs": 0, "progress": False,
                  "threads": 1, "eval_batch_size": 64},
        "method": {"name": "dvs-only"}}


@pytest.fixture(scope="module")
def tiny_data():
    return SyntheticPairs(num_classes=3, per_class=(6, 3, 3), rgb_per_class=(8, 3, 3), T=3)


def test_resume_refuses_a_changed_lr_unless_allowed(tiny_data, tmp_path):
    cfg = merge(DEFAULT_CONFIG, TINY)
    with pytest.raises(Interrupted):
        train_student(merge(cfg, {"train": {"_stop_after_epoch": 1}}), tmp_path, data=tiny_data, log=lambda m: None)
    changed = merge(cfg, {"train": {"lr": 1e-2}})
    with pytest.raises(InputError, match=r"train\.lr \(0\.003 -> 0\.01\)"):
        train_student(changed, tmp_path, data=tiny_data, resume=True, log=lambda m: None)
    said = []
    s = train_student(changed, tmp_path, data=tiny_data, resume=True, allow_changed_config=True, log=said.append)
    assert s["epochs"] == 2 and any("--allow-changed-config" in m for m in said)


def test_diverging_training_stops_naming_epoch_and_step(tiny_data, tmp_path):
    cfg = merge(DEFAULT_CONFIG, merge(TINY, {"train": {"lr": 1e30}}))
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step \d+"):
        train_student(cfg, tmp_path, data=tiny_data, log=lambda m: None)
    assert not (tmp_path / "last.pt").exists()
