"""`ckd-train tsne`: DVS-head features of student checkpoints, t-SNE side by side, silhouette
scores (hand-computed case), one-line errors. Budget: < 60 s on the shared 2 cores."""
import json

import numpy as np
import pytest
import torch

from ckd_toolchain.atomic_io import save_torch
from ckd_toolchain.ckd_train.cli_train import main
from ckd_toolchain.ckd_train.data import DataConfig, build_datasets
from ckd_toolchain.ckd_train.engine.checkpointing import make_checkpoint
from ckd_toolchain.ckd_train.engine.evaluation import student_correct
from ckd_toolchain.ckd_train.feature_tsne import silhouette
from data_fixtures import make_ncaltech_tree
from export_helpers import small_student

CLASSES = ["BACKGROUND_Google", "Faces_easy", "accordion"]
T = 3


def _ckpt(path, data: DataConfig, seed: int):
    model = small_student("vgg", T=T, classes=len(CLASSES), seed=seed)
    cfg = {"method": {"name": "ckd"}, "data": data.to_dict(),
           "student": {"arch": "vgg", "width": 0.125, "num_classes": 3, "T": T, "in_channels": 2, "input_size": 48,
                       "beta": 0.5, "threshold": 1.0}}
    save_torch(path, make_checkpoint("student", model.state_dict(), cfg, CLASSES, 1))
    return model


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tsne")
    data = DataConfig(name="ncaltech101", root=str(make_ncaltech_tree(root / "ncal", CLASSES, 30)), T=T, size=48,
                      cache_dir=str(root / "cache"))
    (root / "a").mkdir()
    models = [_ckpt(root / "a" / "best.pt", data, 0), _ckpt(root / "b.pt", data, 1)]
    return root, data, models


def test_silhouette_hand_value():
    x = np.array([[0.0], [0.1], [10.0], [10.1]])
    y = np.array([0, 0, 1, 1])
    # a_i = 0.1 for all; b_i = 10.05, 9.95, 9.95, 10.05 -> s_i = (b - a) / b
    expected = np.mean([(10.05 - 0.1) / 10.05, (9.95 - 0.1) / 9.95, (9.95 - 0.1) / 9.95, (10.05 - 0.1) / 10.05])
    assert silhouette(x, y) == pytest.approx(expected, rel=1e-9)
    assert np.isnan(silhouette(x, np.zeros(4, int)))


def test_tsne_cli_writes_png_and_scores(runs, tmp_path, capsys):
    root, data, models = runs
    out = tmp_path / "out"
    assert main(["tsne", str(root / "a"), str(root / "b.pt"), "--labels", "base,ckd", "--out", str(out)]) == 0
    res = json.loads((out / "tsne.json").read_text())
    png = (out / "tsne.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    test = build_datasets(data).dvs_test
    assert [r["label"] for r in res["runs"]] == ["base", "ckd"] and res["classes"] == CLASSES
    for r, m in zip(res["runs"], models):
        assert r["samples"] == len(test) >= 6
        # features -> head gives the same predictions as the student's forward pass
        assert r["accuracy"] == pytest.approx(np.mean(student_correct(m, test, torch.device("cpu"))))
        assert -1 <= r["silhouette_features"] <= 1 and -1 <= r["silhouette_tsne"] <= 1
    assert "silhouette" in capsys.readouterr().out


def test_tsne_cli_errors_are_one_line(runs, tmp_path, capsys):
    root, data, _ = runs
    with pytest.raises(SystemExit) as exc:
        main(["tsne", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "nope" in err
    other = DataConfig(name="ncaltech101", root=data.root, T=T, size=48, cache_dir=data.cache_dir, seed=1)
    _ckpt(tmp_path / "other.pt", other, 2)
    with pytest.raises(SystemExit) as exc:
        main(["tsne", str(root / "b.pt"), str(tmp_path / "other.pt"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "other.pt" in err and "other data" in err
    with pytest.raises(SystemExit) as exc:
        main(["tsne", str(root / "b.pt"), "--labels", "x,y", "--out", str(tmp_path / "o")])
    assert exc.value.code == 2 and "2 labels for 1 runs" in capsys.readouterr().err
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(SystemExit) as exc:   # checked before anything is loaded or embedded
        main(["tsne", str(root / "b.pt"), "--out", str(afile)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "afile" in err
