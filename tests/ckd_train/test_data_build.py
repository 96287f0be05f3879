"""build_datasets on tiny N-Caltech101/Caltech101 and CEP-DVS trees in the real formats: class
alignment, 90/10 per-class splits, validation carve-out, DVS train limit, pairing, frame cache,
bad files, empty roots, DataConfig round trip. Budget: < 30 s."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ckd_toolchain.ckd_train.data import DataConfig, build_datasets
from ckd_toolchain.ckd_train.data.class_alignment import ClassAlignmentError, align_classes
from ckd_toolchain.ckd_train.data.splits import split_class
from ckd_toolchain.errors import InputError
from data_fixtures import make_cepdvs_tree, make_ncaltech_tree

pytestmark = pytest.mark.timeout(120)

NCAL = ["BACKGROUND_Google", "Faces_easy", "accordion"]


def quiet(_msg):
    pass


def cfg(root, **kw):
    kw.setdefault("T", 3)
    kw.setdefault("size", 16)
    return DataConfig(name="ncaltech101", root=str(root), **kw)


@pytest.fixture()
def ncal(tmp_path):
    # RGB side is real-Caltech101 shaped: it also has Faces (no N-Caltech101 counterpart)
    return make_ncaltech_tree(tmp_path / "ncal", NCAL, 10, rgb_classes=NCAL + ["Faces"])


def test_alignment_by_name_drops_faces_explicitly(ncal):
    logs = []
    data = build_datasets(cfg(ncal), log=logs.append)
    assert data.classes == NCAL
    text = "\n".join(logs)
    assert "3 classes paired by name" in text and "dropped rgb:Faces" in text and "Faces_easy" in text
    # label i means the same class on both sides: every RGB file sits in the folder of its label
    for ds in (data.rgb_train, data.rgb_test, data.dvs_train, data.dvs_test):
        for f, label in zip(ds.files, ds.labels):
            assert f.parent.name == data.classes[label]


def test_alignment_rules():
    a = align_classes(["BACKGROUND_Google", "Faces_easy", "ant"], ["BACKGROUND_Google", "Faces", "Faces_easy", "ant"])
    assert a.classes == ["BACKGROUND_Google", "Faces_easy", "ant"] and list(a.dropped) == ["rgb:Faces"]
    with pytest.raises(ClassAlignmentError, match="'ant' is present on the DVS side"):
        align_classes(["ant", "bee"], ["bee"])
    with pytest.raises(ClassAlignmentError, match="'cow' is present on the RGB side"):
        align_classes(["bee"], ["bee", "cow"])
    with pytest.raises(ClassAlignmentError, match="BACKGROUND_Google"):
        align_classes(["BACKGROUND_Google", "ant"], ["ant"])  # no silent drop of a DVS class


def test_one_sided_class_is_a_named_error(tmp_path):
    root = make_ncaltech_tree(tmp_path / "x", ["ant", "bee"], 4, rgb_classes=["ant"])
    with pytest.raises(ClassAlignmentError, match="'bee'"):
        build_datasets(cfg(root), log=quiet)


def test_split_rule_90_10_in_file_order(ncal):
    data = build_datasets(cfg(ncal, val_fraction=0.0), log=quiet)
    for label in range(3):
        test = [f.name for f, l in zip(data.dvs_test.files, data.dvs_test.labels) if l == label]
        train = [f.name for f, l in zip(data.dvs_train.files, data.dvs_train.labels) if l == label]
        assert train == [f"image_{i:04d}.bin" for i in range(1, 10)]
        assert test == ["image_0010.bin"]


def test_split_class_counts_and_seed():
    items = list(range(20))
    a = split_class(items, 0, train_fraction=0.9, val_fraction=0.2, seed=1)
    assert a["test"] == [18, 19] and len(a["val"]) == 4 and len(a["train"]) == 14
    assert sorted(a["train"] + a["val"]) == list(range(18)) and a["val"] == sorted(a["val"])
    assert split_class(items, 0, train_fraction=0.9, val_fraction=0.2, seed=1) == a
    assert split_class(items, 0, train_fraction=0.9, val_fraction=0.2, seed=2)["val"] != a["val"]
    assert split_class(items, 0, train_fraction=0.9, val_fraction=0.2, seed=1, limit=3)["train"] == a["train"][:3]
    assert split_class([7], 0, train_fraction=0.9, val_fraction=0.5, seed=0) == {"train": [7], "val": [], "test": []}


def test_validation_is_seeded_and_disjoint(ncal):
    a = build_datasets(cfg(ncal, val_fraction=0.3, seed=4), log=quiet)
    b = build_datasets(cfg(ncal, val_fraction=0.3, seed=4), log=quiet)
    assert a.dvs_val.files == b.dvs_val.files and a.rgb_val.files == b.rgb_val.files
    assert len(a.dvs_val) == 3 * 3  # floor(9 * 0.3 + 0.5) = 3 per class
    assert not set(a.dvs_val.files) & set(a.dvs_train.files)
    assert not set(a.dvs_val.files) & set(a.dvs_test.files)


def test_dvs_train_limit_and_items(ncal):
    data = build_datasets(cfg(ncal, dvs_train_limit=2), log=quiet)
    assert np.bincount(data.dvs_train.labels).tolist() == [2, 2, 2]
    assert len(data.rgb_train) == 3 * 8  # the limit is DVS-only
    x, label = data.dvs_train[0]
    assert x.shape == (3, 2, 16, 16) and x.dtype == torch.float32 and set(x.unique().tolist()) <= {0.0, 1.0}
    assert x.sum() > 0
    h, label = data.rgb_test[0]
    assert h.shape == (3, 16, 16) and h.dtype == torch.float32 and 0 <= float(h.min()) and float(h.max()) <= 1
    assert data.static_frames(h).shape == (3, 2, 16, 16)


def test_pairing_same_class(ncal):
    data = build_datasets(cfg(ncal), log=quiet)
    rng = np.random.default_rng(0)
    seen = set()
    for i in range(len(data.dvs_train)):
        for _ in range(5):
            j = data.pair_rgb_index(i, rng)
            assert data.rgb_train.labels[j] == data.dvs_train.labels[i]
            seen.add(j)
    assert len(seen) > len(data.classes)  # random, not always the first image of the class


def test_augmentation_train_only(ncal):
    data = build_datasets(cfg(ncal, augment=True), log=quiet)
    assert data.dvs_train.augment and not data.dvs_val.augment and not data.dvs_test.augment
    torch.manual_seed(0)
    a = data.dvs_train[0][0]
    torch.manual_seed(0)
    assert torch.equal(a, data.dvs_train[0][0])
    assert torch.equal(data.dvs_test[0][0], data.dvs_test[0][0])


def test_frame_cache_reused_and_invalidated(ncal, monkeypatch):
    import ckd_toolchain.ckd_train.data.datasets as dsmod

    first = build_datasets(cfg(ncal), log=quiet)
    cache = sorted((ncal / ".frames-cache").glob("*.npz"))
    assert len(cache) == 2
    calls = []
    real = dsmod.events_to_frames
    monkeypatch.setattr(dsmod, "events_to_frames", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = build_datasets(cfg(ncal), log=quiet)
    assert calls == [] and torch.equal(first.dvs_test.frames, again.dvs_test.frames)
    build_datasets(cfg(ncal, T=2), log=quiet)  # other parameters: a new entry
    assert len(calls) == 30 and len(list((ncal / ".frames-cache").glob("dvs-*.npz"))) == 2
    count = build_datasets(cfg(ncal, frame_encoding="count"), log=quiet)
    assert count.dvs_test.frames.dtype == torch.float32 and float(count.dvs_test.frames.max()) > 1.0


def test_corrupt_file_fails_or_is_skipped(ncal):
    bad = ncal / "Caltech101" / "accordion" / "image_0003.bin"
    bad.write_bytes(bad.read_bytes()[:-2])
    with pytest.raises(InputError) as e:
        build_datasets(cfg(ncal), log=quiet)
    assert str(bad) in str(e.value) and "truncated" in str(e.value)
    logs = []
    data = build_datasets(cfg(ncal, skip_bad=True), log=logs.append)
    assert data.skipped and str(bad) in data.skipped[0]
    assert any("skipped 1 bad file" in m for m in logs)
    assert bad not in data.dvs_train.files + data.dvs_val.files + data.dvs_test.files
    assert len(data.dvs_train) + len(data.dvs_val) + len(data.dvs_test) == 29
    # the cache entry written with skip_bad remembers the bad file: without skip_bad it still fails
    with pytest.raises(InputError, match="image_0003.bin"):
        build_datasets(cfg(ncal), log=quiet)
    again = build_datasets(cfg(ncal, skip_bad=True), log=quiet)
    assert again.skipped == data.skipped


def test_corrupt_image(ncal):
    bad = ncal / "101_ObjectCategories" / "Faces_easy" / "image_0002.jpg"
    bad.write_bytes(bad.read_bytes()[:100])
    with pytest.raises(InputError, match="image_0002.jpg"):
        build_datasets(cfg(ncal), log=quiet)
    data = build_datasets(cfg(ncal, skip_bad=True), log=quiet)
    assert len(data.skipped) == 1


def test_empty_roots_say_what_layout_was_expected(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"Caltech101/<class>/image_XXXX\.bin"):
        build_datasets(cfg(tmp_path / "empty"), log=quiet)
    with pytest.raises(InputError, match="pathFile.csv"):
        build_datasets(DataConfig(name="cepdvs", root=str(tmp_path / "empty")), log=quiet)
    with pytest.raises(InputError, match="ckd-data synth"):
        build_datasets(DataConfig(name="n-digits", root=str(tmp_path / "missing")), log=quiet)


def test_cepdvs_tree(tmp_path):
    labels = ["fish"] * 10 + ["aquatic_mammals"] * 10 + ["trees"] * 10
    root = make_cepdvs_tree(tmp_path / "cep", labels)
    data = build_datasets(DataConfig(name="cepdvs", root=str(root), T=2, size=16, val_fraction=0.0), log=quiet)
    assert data.classes == ["aquatic_mammals", "fish", "trees"]  # the baseline's label order, not file order
    assert len(data.dvs_train) == 27 and len(data.dvs_test) == 3 and len(data.rgb_train) == 27
    assert [f.name for f in data.dvs_test.files] == ["00019.mat", "00009.mat", "00029.mat"]
    for ds in (data.dvs_train, data.rgb_train):
        for f, l in zip(ds.files, ds.labels):
            assert labels[int(f.stem)] == data.classes[l]
    x, _ = data.dvs_train[0]
    assert x.shape == (2, 2, 16, 16) and x.sum() > 0


def test_cepdvs_file_without_row(tmp_path):
    root = make_cepdvs_tree(tmp_path / "cep", ["fish"] * 3)
    (root / "pathFile.csv").write_text("h\n0 a b c fish\n1 a b c fish\n")
    with pytest.raises(InputError, match="00002.mat.*no row"):
        build_datasets(DataConfig(name="cepdvs", root=str(root)), log=quiet)


def test_config_round_trip_and_validation():
    c = DataConfig(name="cepdvs", root="/x", T=5, bins="time", frame_encoding="count", dvs_train_limit=7, augment=True)
    assert DataConfig.from_dict(c.to_dict()) == c
    import json

    assert DataConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    with pytest.raises(InputError, match="unknown data config key"):
        DataConfig.from_dict({"nme": "n-digits"})
    with pytest.raises(InputError, match="frame_encoding"):
        DataConfig(frame_encoding="rate")
    from pathlib import Path

    p = DataConfig(root=Path("/data/x"), cache_dir=Path("/tmp/c"))
    assert p.to_dict()["root"] == "/data/x" and json.dumps(p.to_dict())


def test_default_root_env(monkeypatch, tmp_path):
    monkeypatch.setenv("CKD_DATA_DIR", str(tmp_path))
    assert DataConfig().resolved_root() == tmp_path / "n-digits"
    monkeypatch.delenv("CKD_DATA_DIR")
    assert DataConfig().resolved_root().parts[-2:] == ("data", "n-digits")


def test_cache_keeps_a_bounded_number_of_entries(ncal):
    from ckd_toolchain.ckd_train.data.frame_cache import KEEP_PER_KIND

    for T in range(1, KEEP_PER_KIND + 3):
        build_datasets(cfg(ncal, T=T), log=quiet)
    assert len(list((ncal / ".frames-cache").glob("dvs-*.npz"))) == KEEP_PER_KIND
    assert len(list((ncal / ".frames-cache").glob("rgb-*.npz"))) == 1


def test_separate_rgb_root(ncal, tmp_path):
    import shutil

    elsewhere = tmp_path / "caltech-101"
    elsewhere.mkdir()
    shutil.move(str(ncal / "101_ObjectCategories"), str(elsewhere / "101_ObjectCategories"))
    with pytest.raises(InputError, match="101_ObjectCategories"):
        build_datasets(cfg(ncal), log=quiet)
    data = build_datasets(cfg(ncal, rgb_root=str(elsewhere)), log=quiet)
    assert data.classes == NCAL and str(data.rgb_train.files[0]).startswith(str(elsewhere))
