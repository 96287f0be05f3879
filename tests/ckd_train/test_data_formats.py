"""Event/label file formats: N-Caltech101 40-bit .bin (vs hand-packed bytes and tonic), CEP-DVS
.mat + pathFile.csv, corrupt and truncated files. Budget: < 10 s."""
from __future__ import annotations

import numpy as np
import pytest

from ckd_toolchain.ckd_train.data.atis_format import decode_atis, encode_atis, read_atis_bin, write_atis_bin
from ckd_toolchain.ckd_train.data.cepdvs import (CEPDVS_CLASSES, load_cepdvs_events, pathfile_text, read_pathfile,
                                   write_cepdvs_events)
from ckd_toolchain.ckd_train.data.ncaltech101 import load_ncaltech101_events
from ckd_toolchain.errors import InputError
from data_fixtures import events_for

pytestmark = pytest.mark.timeout(60)


def test_hand_packed_bytes():
    # x=3, y=7, ON, t=0x123456 ; x=255, y=239, OFF, t=5
    raw = bytes([0x03, 0x07, 0x80 | 0x12, 0x34, 0x56, 0xFF, 0xEF, 0x00, 0x00, 0x05])
    assert encode_atis([3, 255], [7, 239], [0x123456, 5], [1, 0]) == raw
    ev = decode_atis(raw)
    assert ev["x"].tolist() == [3, 255] and ev["y"].tolist() == [7, 239]
    assert ev["t"].tolist() == [0x123456, 5] and ev["p"].tolist() == [1, 0]


def test_writer_refuses_what_the_format_cannot_hold():
    for bad in (dict(x=[256]), dict(y=[240]), dict(t=[2**23]), dict(p=[2])):
        args = {"x": [0], "y": [0], "t": [0], "p": [0], **bad}
        with pytest.raises(ValueError):
            encode_atis(args["x"], args["y"], args["t"], args["p"])


def test_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    x, y, t, p = events_for(3, rng, n=1000)
    f = write_atis_bin(tmp_path / "a.bin", x, y, t, p)
    assert f.stat().st_size == 5 * 1000
    ev = read_atis_bin(f)
    for k, v in zip("xytp", (x, y, t, p)):
        np.testing.assert_array_equal(ev[k], v)


def _overflow_file(path):
    # event, overflow marker (y == 240), event, marker, event: later timestamps get +2**13 per marker
    raw = encode_atis([1], [2], [100], [1]) + bytes([0, 240, 0, 0, 0]) + encode_atis([4], [5], [50], [0]) \
        + bytes([9, 240, 0x7F, 0xFF, 0xFF]) + encode_atis([6], [7], [10], [1])
    path.write_bytes(raw)
    return path


def test_overflow_markers(tmp_path):
    ev = read_atis_bin(_overflow_file(tmp_path / "o.bin"))
    assert ev["x"].tolist() == [1, 4, 6]
    assert ev["t"].tolist() == [100, 50 + 2**13, 10 + 2 * 2**13]


def test_agrees_with_tonic_read_mnist_file(tmp_path):
    tonic_io = pytest.importorskip("tonic.io")
    from tonic.datasets import NCALTECH101

    rng = np.random.default_rng(2)
    files = [write_atis_bin(tmp_path / f"{i}.bin", *events_for(i, rng, n=500)) for i in range(4)]
    files.append(_overflow_file(tmp_path / "o.bin"))
    for f in files:
        ref = tonic_io.read_mnist_file(str(f), dtype=NCALTECH101.dtype)
        ours = read_atis_bin(f)
        assert len(ref) == len(ours)
        for k in "xytp":
            np.testing.assert_array_equal(ours[k], ref[k], err_msg=f"{f.name}: field {k}")


def test_agrees_with_tonic_ncaltech101_dataset(tmp_path, monkeypatch):
    """tonic's NCALTECH101 class (file walk, min-subtraction, targets) on our tree."""
    from tonic.datasets import NCALTECH101

    from ckd_toolchain.ckd_train.data.ncaltech101 import scan_ncaltech101
    from data_fixtures import make_ncaltech_tree

    root = tmp_path / "NCALTECH101"
    classes = ["BACKGROUND_Google", "Faces_easy", "accordion"]
    make_ncaltech_tree(root, classes, 3)
    monkeypatch.setattr(NCALTECH101, "_check_exists", lambda self: True)
    ds = NCALTECH101(str(tmp_path))
    assert len(ds) == 9
    ours = {str(f): c for c, fs in scan_ncaltech101(root).items() for f in fs}
    assert sorted(ours) == sorted(str(p) for p in ds.data)
    for i, path in enumerate(ds.data):
        ref, target = ds[i]
        ev, h, w = load_ncaltech101_events(path)
        assert target == ours[str(path)]
        for k in "xytp":
            np.testing.assert_array_equal(ev[k], ref[k])
        assert (h, w) == (ref["y"].max() + 1, ref["x"].max() + 1)


@pytest.mark.parametrize("cut", [1, 3, 4])
def test_truncated_bin_names_file(tmp_path, cut):
    f = write_atis_bin(tmp_path / "t.bin", [1, 2], [3, 4], [5, 6], [0, 1])
    f.write_bytes(f.read_bytes()[:-cut])
    with pytest.raises(InputError) as e:
        read_atis_bin(f)
    assert str(f) in str(e.value) and "truncated" in str(e.value) and "\n" not in str(e.value)


def test_empty_bin(tmp_path):
    (tmp_path / "e.bin").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_atis_bin(tmp_path / "e.bin")


def test_cepdvs_mat_round_trip_and_polarity(tmp_path):
    f = write_cepdvs_events(tmp_path / "00003.mat", [1, 2, 300], [4, 5, 6], [10, 20, 30], [1, 0, 1])
    from scipy.io import loadmat

    raw = loadmat(f)
    assert sorted(k for k in raw if not k.startswith("__")) == ["p", "ts", "x", "y"]
    assert raw["p"].reshape(-1).tolist() == [1, -1, 1]  # the baseline's -1/+1 convention on disk
    ev, h, w = load_cepdvs_events(f)
    assert ev["x"].tolist() == [1, 2, 300] and ev["t"].tolist() == [10, 20, 30] and ev["p"].tolist() == [1, 0, 1]
    assert (h, w) == (180, 301)  # x = 300 lies outside the 240-wide sensor: extent used instead


def test_corrupt_mat(tmp_path):
    f = write_cepdvs_events(tmp_path / "1.mat", [1, 2], [3, 4], [5, 6], [0, 1])
    f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])
    with pytest.raises(InputError) as e:
        load_cepdvs_events(f)
    assert str(f) in str(e.value) and "\n" not in str(e.value)
    (tmp_path / "2.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(InputError, match="2.mat"):
        load_cepdvs_events(tmp_path / "2.mat")


def test_mat_missing_variable(tmp_path):
    from scipy.io import savemat

    savemat(tmp_path / "m.mat", {"x": np.array([1]), "y": np.array([1]), "p": np.array([1])})
    with pytest.raises(InputError, match="ts"):
        load_cepdvs_events(tmp_path / "m.mat")


def test_pathfile_regex_matches_baseline(tmp_path):
    """The 5th whitespace-separated token is the class, as the baseline's regex extracts it."""
    import re

    text = pathfile_text(["fish", "trees", "vehicles_2"])
    (tmp_path / "pathFile.csv").write_text(text)
    labels = read_pathfile(tmp_path / "pathFile.csv")
    assert labels == {0: "fish", 1: "trees", 2: "vehicles_2"}
    baseline = re.compile(r"(?:\S*\s){4}(\S+)")  # Transfer-for-DVS cepdvs.py
    for i, line in enumerate(text.splitlines()[1:]):
        assert baseline.search(line).group(1) == labels[i]
    assert len(CEPDVS_CLASSES) == 20


def test_pathfile_bad_label(tmp_path):
    (tmp_path / "pathFile.csv").write_text("header\n0 a b c not_a_class\n")
    with pytest.raises(InputError, match="line 2"):
        read_pathfile(tmp_path / "pathFile.csv")
