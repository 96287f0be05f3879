"""Checkpoints never run code from the file (issue 16, finding 1) and are integrity-checked (6).

A crafted pickle whose ``__reduce__`` would create a marker file is given to ``ckd-export`` and to
``ckd-train student --teacher``: both exit 2 with one line naming the file, and the marker is NOT
created. A checkpoint written by the current code loads; one whose weights were changed after
writing, or that holds NaN weights, is refused with one line.
"""
from __future__ import annotations

import os
import pickle
import zipfile

import pytest
import torch

from ckd_toolchain.atomic_io import save_torch
from ckd_toolchain.ckd_train.checkpoint import load_student, read_checkpoint
from ckd_toolchain.ckd_train.checkpoint_integrity import payload_sha256
from ckd_toolchain.ckd_train.engine.checkpointing import make_checkpoint
from ckd_toolchain.errors import InputError
from export_helpers import small_student


class _Payload:
    """Unpickling this runs ``os.system('touch <marker>')`` -- unless the loader refuses it."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _student_ckpt(T=2):
    model = small_student("vgg", T=T, classes=2)
    cfg = {"method": {"name": "dvs-only"},
           "student": {"arch": "vgg", "width": 0.125, "num_classes": 2, "T": T, "in_channels": 2,
                       "input_size": 48, "beta": 0.5, "threshold": 1.0}}
    return make_checkpoint("student", model.state_dict(), cfg, ["a", "b"], 0)


@pytest.fixture()
def evil(tmp_path):
    marker = tmp_path / "PWNED"
    ck = _student_ckpt()
    ck["metrics"] = {"x": _Payload(marker)}
    path = tmp_path / "evil.pt"
    torch.save(ck, path)            # a real torch zip file, the payload inside data.pkl
    return path, marker


def _one_line(err: str, path) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert str(path) in lines[0] and "Traceback" not in err
    return lines[0]


def test_crafted_pickle_is_refused_by_export_and_nothing_runs(evil, tmp_path, capsys):
    from ckd_toolchain.export.cli_export import main

    path, marker = evil
    with pytest.raises(SystemExit) as exc:
        main(["--to", "nir", str(path), "-o", str(tmp_path / "m.nir")])
    assert exc.value.code == 2
    line = _one_line(capsys.readouterr().err, path)
    assert "refused" in line and "system" in line
    assert not marker.exists() and not (tmp_path / "m.nir").exists()


def test_crafted_pickle_is_refused_as_teacher_and_for_resume(evil, tmp_path, capsys):
    from ckd_toolchain.ckd_train.cli_train import main

    path, marker = evil
    with pytest.raises(SystemExit) as exc:
        main(["student", "--method", "ckd", "--teacher", str(path), "--out", str(tmp_path / "run")])
    assert exc.value.code == 2
    _one_line(capsys.readouterr().err, path)
    with pytest.raises(InputError, match="refused"):   # --resume reads last.pt with the same reader
        read_checkpoint(path, "student")
    assert not marker.exists()


def test_plain_pickle_file_is_refused_too(tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "legacy.pt"
    with open(path, "wb") as fh:
        pickle.dump({"format": "ckd-checkpoint", "x": _Payload(marker)}, fh)
    with pytest.raises(InputError) as exc:
        read_checkpoint(path)
    assert str(path) in str(exc.value)
    assert not marker.exists()


def test_current_checkpoint_loads_with_rng_optimizer_and_scheduler(tmp_path):
    model = small_student("vgg", T=2, classes=2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.rand(2, 1, 2, 48, 48)).sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    ck = _student_ckpt()
    ck = make_checkpoint("student", model.state_dict(), ck["config"], ["a", "b"], 3, opt, sched,
                         {"history": [{"val_acc": 0.5, "test_acc": None}]})
    assert ck["sha256"] == payload_sha256(ck)
    path = tmp_path / "ok.pt"
    save_torch(path, ck)
    back = read_checkpoint(path, "student")
    assert back["epoch"] == 3 and back["rng"]["numpy"][0] == "MT19937"
    assert back["optimizer"]["state"] and back["metrics"]["history"][0]["test_acc"] is None
    loaded, _ = load_student(path)
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


def test_changed_weights_fail_the_hash(tmp_path):
    ck = _student_ckpt()
    name = next(k for k, v in ck["model"].items() if v.is_floating_point() and v.numel() > 4)
    ck["model"][name] = ck["model"][name].clone()
    ck["model"][name].view(-1)[3] += 0.25          # a silent change after the hash was taken
    path = tmp_path / "changed.pt"
    save_torch(path, ck)
    with pytest.raises(InputError, match="sha256"):
        read_checkpoint(path)


def test_nan_weights_are_refused_even_without_a_hash(tmp_path):
    ck = _student_ckpt()
    del ck["sha256"]                                 # a file written before hashes existed
    name = next(k for k, v in ck["model"].items() if v.is_floating_point())
    ck["model"][name] = torch.full_like(ck["model"][name], float("nan"))
    path = tmp_path / "nan.pt"
    save_torch(path, ck)
    with pytest.raises(InputError, match="non-finite"):
        read_checkpoint(path)


def test_a_zip_that_is_not_a_checkpoint_is_one_line(tmp_path):
    path = tmp_path / "z.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", b"garbage")
    with pytest.raises(InputError, match="not a readable torch checkpoint"):
        read_checkpoint(path)
