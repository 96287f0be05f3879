"""`ckd-export` end to end on small checkpoints: NIR (+ --verify on real test frames from a dataset
on disk and on user frames), ONNX for the unrolled student and the teacher (onnxruntime ≤ 1e-4).

Time budget: < 40 s.
"""
import json

import nir
import numpy as np
import pytest
import torch

from ckd_toolchain.atomic_io import save_torch
from ckd_toolchain.ckd_train.data import DataConfig
from ckd_toolchain.ckd_train.engine.checkpointing import make_checkpoint
from ckd_toolchain.ckd_train.models import build_teacher
from data_fixtures import make_ncaltech_tree
from ckd_toolchain.export.cli_export import main
from ckd_toolchain.nir_metadata import read_metadata, sha256_file
from ckd_toolchain.export.onnx_export import UnrolledStudent, export_student_onnx, onnx_max_abs_diff
from export_helpers import small_student, spikes

pytestmark = pytest.mark.timeout(180)
CLASSES = ["BACKGROUND_Google", "Faces_easy", "accordion"]
T = 4


@pytest.fixture(scope="module")
def ckpt_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("export_cli")
    data_root = make_ncaltech_tree(root / "ncal", CLASSES, 6)
    data = DataConfig(name="ncaltech101", root=str(data_root), T=T, size=48, cache_dir=str(root / "cache"))
    model = small_student("vgg", T=T, classes=len(CLASSES))
    cfg = {"method": {"name": "ckd", "kd_loss": "kd"}, "data": data.to_dict(),
           "student": {"arch": "vgg", "width": 0.125, "num_classes": 3, "T": T, "in_channels": 2, "input_size": 48,
                       "beta": 0.5, "threshold": 1.0}}
    path = root / "student.pt"
    save_torch(path, make_checkpoint("student", model.state_dict(), cfg, CLASSES, 1))
    teacher = build_teacher({"arch": "resnet18", "num_classes": 3, "width": 0.125}).eval()
    tpath = root / "teacher.pt"
    save_torch(tpath, make_checkpoint("teacher", teacher.state_dict(),
                                      {"data": data.to_dict(), "teacher": {"arch": "resnet18", "num_classes": 3, "width": 0.125}},
                                      CLASSES, 1))
    return path, tpath


def test_nir_export_with_verify_on_test_split(ckpt_path, tmp_path, capsys):
    path, _ = ckpt_path
    out, report = tmp_path / "model.nir", tmp_path / "verify.json"
    assert main(["--to", "nir", str(path), "-o", str(out), "--verify", "--samples", "4", "--report", str(report)]) == 0
    g = nir.read(out, type_check=True)
    meta = read_metadata(g)
    assert meta["T"] == T and meta["input_shape"] == [2, 48, 48] and meta["classes"] == CLASSES
    assert meta["frame_encoding"] == "binary" and meta["arch"] == "vgg" and meta["method"] == "ckd"
    assert meta["source_sha256"] == sha256_file(path) and meta["dt"] == 1.0
    res = json.loads(report.read_text())
    assert res["frames_shape"][1:] == [T, 2, 48, 48] and 1 <= res["frames_shape"][0] <= 4  # the test split
    assert res["nir_float64"]["spike_mismatches"] == 0 and res["nir_float64"]["last_layer_counts_equal"]
    for sim in ("nir_float32", "norse"):
        assert res[sim]["worst_layer_flip_fraction"] <= 0.05 and res[sim]["prediction_agreement"] >= 0.95
    assert "verify nir_float32" in capsys.readouterr().out


def test_nir_export_with_user_frames_and_bad_frames(ckpt_path, tmp_path, capsys):
    path, _ = ckpt_path
    frames = tmp_path / "f.npy"
    np.save(frames, spikes((2, T, 2, 48, 48)).numpy())
    assert main(["--to", "nir", str(path), "-o", str(tmp_path / "a.nir"), "--verify", "--frames", str(frames), "--no-norse"]) == 0
    np.save(frames, np.zeros((2, T, 2, 32, 32), np.float32))
    with pytest.raises(SystemExit) as e:
        main(["--to", "nir", str(path), "-o", str(tmp_path / "b.nir"), "--verify", "--frames", str(frames)])
    assert e.value.code == 2 and not (tmp_path / "b.nir").exists()
    assert "frames must be [B, 4, 2, 48, 48]" in capsys.readouterr().err



def test_nir_export_interrupted_during_verify_leaves_no_model_nir(ckpt_path, tmp_path, monkeypatch):
    """The file is renamed into place only after --verify finished: an export stopped while it
    verifies (here: the verification raises KeyboardInterrupt, as Ctrl-C would) leaves neither
    ``model.nir`` nor its temporary file."""
    import ckd_toolchain.export.verify as verify

    def interrupted(*a, **k):
        assert any(tmp_path.glob(".model.nir.*")), "the graph is being verified under its temporary name"
        raise KeyboardInterrupt

    monkeypatch.setattr(verify, "verify_graph", interrupted)
    path, _ = ckpt_path
    with pytest.raises(SystemExit) as e:   # the CLI turns Ctrl-C into one line, exit 2
        main(["--to", "nir", str(path), "-o", str(tmp_path / "model.nir"), "--verify", "--samples", "2", "--no-norse"])
    assert e.value.code == 2
    assert not (tmp_path / "model.nir").exists() and not list(tmp_path.glob(".model.nir.*"))

def test_onnx_student_reproduces_pytorch_logits(tmp_path):
    model = small_student("resnet18", T=T)
    out = export_student_onnx(model, T, (2, 48, 48), tmp_path / "s.onnx")
    x = spikes((T, 3, 2, 48, 48), 0.2)  # batch 3 ≠ export batch 1 (dynamic axis)
    unrolled = UnrolledStudent(model, T).eval()
    with torch.no_grad():
        assert torch.equal(unrolled(x), model(x))  # the unrolled module is the student
    assert onnx_max_abs_diff(out, unrolled, x) <= 1e-4


def test_onnx_cli_student_and_teacher(ckpt_path, tmp_path):
    path, tpath = ckpt_path
    rep = tmp_path / "r.json"
    assert main(["--to", "onnx", str(path), "-o", str(tmp_path / "s.onnx"), "--verify", "--samples", "3", "--report", str(rep)]) == 0
    r = json.loads(rep.read_text())
    assert r["passed"] and r["max_abs_diff"] <= 1e-4 and r["samples_within_tolerance"] == r["samples"]
    assert main(["--to", "onnx", "--teacher", str(tpath), "-o", str(tmp_path / "t.onnx"), "--verify", "--samples", "3",
                 "--report", str(rep)]) == 0
    r = json.loads(rep.read_text())
    assert r["passed"] and r["max_abs_diff"] <= 1e-4 and r["samples_within_tolerance"] == r["samples"]


def test_onnx_compare_counts_samples_and_applies_the_student_allowance(tmp_path):
    from ckd_toolchain.export.onnx_export import export_teacher_onnx, onnx_compare, onnx_passes

    lin = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3)).eval()
    path = export_teacher_onnx(lin, (3, 2, 2), tmp_path / "lin.onnx")
    x = torch.randn(40, 3, 2, 2)

    class OneSampleOff(torch.nn.Module):  # PyTorch side differs on sample 1 only
        def forward(self, v):
            y = lin(v).clone()
            y[1] += 0.5
            return y

    ok = onnx_compare(path, lin, x, batch_axis=0)
    assert ok["samples_within_tolerance"] == 40 and onnx_passes(ok, student=False)
    off = onnx_compare(path, OneSampleOff(), x, batch_axis=0)
    assert off["samples_within_tolerance"] == 39 and off["max_abs_diff"] == pytest.approx(0.5, abs=1e-5)
    assert not onnx_passes(off, student=False)
    assert onnx_passes({**off, "prediction_agreement": 1.0}, student=True)  # 39/40 ≥ 95 %
    assert not onnx_passes({**off, "samples": 10, "samples_within_tolerance": 9}, student=True)
