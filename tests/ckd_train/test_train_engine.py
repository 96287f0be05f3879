"""Engine: --resume reproduces an uninterrupted run; 2-process DDP (gloo) equals one process at the
same global batch; CLI errors are one line + exit 2. Budget: < 90 s on 2 cores (tiny nets/data)."""
import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch

from ckd_toolchain.ckd_train.engine import DEFAULT_CONFIG, merge, train_student, train_teacher
from ckd_toolchain.ckd_train.engine.student_trainer import Interrupted
from ckd_toolchain.ckd_train.engine.synthetic_pairs import SyntheticPairs

TINY = {"data": {"T": 3, "size": 48}, "student": {"width": 0.0625},
        "teacher": {"width": 0.0625, "epochs": 1, "batch_size": 16, "lr": 3e-3},
        "train": {"epochs": 3, "batch_size": 8, "lr": 3e-3, "warmup_epochs": 1, "progress": False,
                  "threads": 1, "eval_batch_size": 64},
        "method": {"name": "ckd", "e_th": 1, "k": 1}}


def _quiet(_msg):
    pass


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = SyntheticPairs(num_classes=3, per_class=(6, 3, 3), rgb_per_class=(8, 3, 3), T=3)
    cfg = merge(DEFAULT_CONFIG, TINY)
    tdir = tmp_path_factory.mktemp("teacher")
    train_teacher(cfg, tdir, data=d, log=_quiet)
    return d, cfg, tdir / "best.pt"


def _state(path):
    return torch.load(path, weights_only=False)


def test_resume_matches_uninterrupted(tiny, tmp_path):
    d, cfg, teacher = tiny
    full = train_student(cfg, tmp_path / "full", data=d, teacher_path=teacher, log=_quiet)
    stop = merge(cfg, {"train": {"_stop_after_epoch": 1}})
    with pytest.raises(Interrupted):
        train_student(stop, tmp_path / "cut", data=d, teacher_path=teacher, log=_quiet)
    assert _state(tmp_path / "cut" / "last.pt")["epoch"] == 0
    train_student(cfg, tmp_path / "cut", data=d, teacher_path=teacher, resume=True, log=_quiet)
    a, b = _state(tmp_path / "full" / "last.pt"), _state(tmp_path / "cut" / "last.pt")
    assert a["epoch"] == b["epoch"] == 2
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert torch.equal(a["domain_alignment"]["theta"], b["domain_alignment"]["theta"])
    rows_a = [r["val_acc"] for r in a["metrics"]["history"]]
    assert rows_a == [r["val_acc"] for r in b["metrics"]["history"]]
    assert full["best_epoch"] >= 1 and (tmp_path / "cut" / "metrics.csv").read_text().count("\n") == 4


def test_checkpoint_format_and_load_student(tiny, tmp_path):
    from ckd_toolchain.ckd_train.checkpoint import load_student
    d, cfg, teacher = tiny
    c = merge(cfg, {"method": {"name": "transfer"}, "train": {"epochs": 1}})
    train_student(c, tmp_path / "r", data=d, log=_quiet)
    model, ck = load_student(tmp_path / "r" / "best.pt")
    assert ck["format"] == "ckd-checkpoint" and ck["version"] == 1 and ck["kind"] == "student"
    s = ck["config"]["student"]
    assert (s["arch"], s["num_classes"], s["in_channels"], s["input_size"], s["T"], s["beta"], s["threshold"]) == \
        ("vgg", 3, 2, 48, 3, 0.5, 1.0)
    assert {"optimizer", "scheduler", "rng", "metrics", "epoch", "classes", "config"} <= set(ck)
    assert ck["classes"] == d.classes and "data" in ck["config"]
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["method"] == "transfer" and 0 <= summary["best_val_acc"] <= 1


WORKER = textwrap.dedent('''
    import json, sys, torch
    from ckd_toolchain.ckd_train.engine import DEFAULT_CONFIG, merge, train_student
    from ckd_toolchain.ckd_train.engine.synthetic_pairs import SyntheticPairs
    cfg = merge(DEFAULT_CONFIG, __TINY__)
    cfg = merge(cfg, {"method": json.loads(sys.argv[2]), "train": {"epochs": 2, "micro_batches": int(sys.argv[3])}})
    d = SyntheticPairs(num_classes=3, per_class=(6, 3, 3), rgb_per_class=(8, 3, 3), T=3)
    train_student(cfg, sys.argv[1], data=d, teacher_path=sys.argv[4] if len(sys.argv) > 4 else None, log=lambda m: None)
''')


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("method", [{"name": "transfer"},
                                    # batch statistics (LumiNet), plan noise (NLD) and batch min/max (SAMD)
                                    # are per rank / per micro-batch: DDP still equals one process
                                    {"name": "ckd", "kd_loss": "luminet"},
                                    {"name": "ckd", "kd_loss": "nld", "samd_weight": 1.0},
                                    # per-step BN: 2T updates per micro-batch / rank (num_batches_tracked too)
                                    {"name": "transfer", "bn_stats": "per-stream-per-step", "bn_running": "both"}],
                         ids=["transfer", "ckd-luminet", "ckd-nld-samd", "transfer-bn-per-step"])
def test_ddp_two_processes_equal_one_process(tiny, tmp_path, method):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.replace("__TINY__", repr(TINY)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [json.dumps(method)] + ([str(tiny[2])] if method["name"] == "ckd" else [])
    single = subprocess.run([sys.executable, str(script), str(tmp_path / "single"), args[0], "2", *args[1:]], env=env,
                            capture_output=True, text=True, timeout=120)
    assert single.returncode == 0, single.stderr[-2000:]
    port = str(_free_port())
    procs = []
    for rank in range(2):
        e = {**env, "WORLD_SIZE": "2", "RANK": str(rank), "LOCAL_RANK": str(rank),
             "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}
        procs.append(subprocess.Popen([sys.executable, str(script), str(tmp_path / "ddp"), args[0], "1", *args[1:]],
                                      env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
    a, b = _state(tmp_path / "single" / "last.pt"), _state(tmp_path / "ddp" / "last.pt")
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k].float(), b["model"][k].float(), rtol=1e-4, atol=1e-5, msg=k)
    assert json.loads((tmp_path / "ddp" / "summary.json").read_text())["world_size"] == 2
    if method.get("samd_weight"):
        rows = a["metrics"]["history"]
        assert all(r["train_samd"] > 0 and r["train_kd"] > 0 for r in rows)


def test_cli_bad_teacher_checkpoint_is_one_line(tmp_path, capsys):
    from ckd_toolchain.ckd_train.cli_train import main
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"garbage")
    with pytest.raises(SystemExit) as exc:
        main(["student", "--method", "ckd", "--teacher", str(junk), "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ckd-train: error:") and "junk.pt" in err


def test_cli_usage_and_config_errors(tmp_path, capsys):
    from ckd_toolchain.ckd_train.cli_train import main
    with pytest.raises(SystemExit) as exc:
        main(["student", "--method", "nope", "--out", "x"])
    assert exc.value.code == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(SystemExit) as exc:
        main(["student", "--config", str(bad), "--out", str(tmp_path / "o")])
    assert exc.value.code == 2 and "bad.yaml" in capsys.readouterr().err


def test_set_overrides():
    from ckd_toolchain.ckd_train.engine import apply_overrides
    from ckd_toolchain.errors import InputError
    c = apply_overrides(DEFAULT_CONFIG, ["train.batch_size=32", "data.T=6", "method.kd_loss=dkd", "teacher.weights=null"])
    assert c["train"]["batch_size"] == 32 and c["data"]["T"] == 6 and c["method"]["kd_loss"] == "dkd"
    with pytest.raises(InputError):
        apply_overrides(DEFAULT_CONFIG, ["nosuch.key=1"])
