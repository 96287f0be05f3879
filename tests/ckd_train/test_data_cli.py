"""`ckd-data` CLI: synth determinism and skip-if-complete, show PNGs, stats, one-line errors with
exit 2, --skip-bad. Budget: < 40 s."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from ckd_toolchain.ckd_train.cli_data import main
from ckd_toolchain.ckd_train.data.atis_format import read_atis_bin
from data_fixtures import make_ncaltech_tree

pytestmark = pytest.mark.timeout(180)


def run(argv, capsys):
    try:
        rc = main(argv)
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def digest(root):
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".bin", ".png")):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def synth2(tmp_path_factory):
    out = tmp_path_factory.mktemp("nd") / "n-digits"
    assert main(["synth", "--out", str(out), "--limit-per-class", "2", "--workers", "1", "--size", "32"]) == 0
    return out


def test_synth_layout_and_formats(synth2):
    meta = json.loads((synth2 / "n-digits.json").read_text())
    assert meta["classes"] == [f"digit_{d}" for d in range(10)]
    assert len(meta["files"]) == 40 and meta["stats"]["samples"] == 20
    from PIL import Image

    img = Image.open(synth2 / "101_ObjectCategories" / "digit_7" / "image_0002.png")
    assert img.size == (32, 32) and img.mode == "RGB"
    ev = read_atis_bin(synth2 / "Caltech101" / "digit_7" / "image_0002.bin")
    assert ev.size > 200 and np.all(np.diff(ev["t"]) >= 0) and ev["t"].max() < 300_000
    assert 0.3 < ev["p"].mean() < 0.7
    assert ev["x"].max() < meta["sensor_size"][1] and ev["y"].max() < meta["sensor_size"][0]


def test_synth_deterministic_and_worker_independent(synth2, tmp_path, capsys):
    other = tmp_path / "again"
    rc, out, _ = run(["synth", "--out", str(other), "--limit-per-class", "2", "--workers", "2", "--size", "32"], capsys)
    assert rc == 0 and "events per sample mean" in out and "ON/OFF ratio" in out
    assert digest(other) == digest(synth2)
    rc, _, _ = run(["synth", "--out", str(tmp_path / "s1"), "--limit-per-class", "1", "--workers", "1",
                    "--size", "32", "--seed", "1"], capsys)
    ev0 = read_atis_bin(synth2 / "Caltech101" / "digit_0" / "image_0001.bin")
    ev1 = read_atis_bin(tmp_path / "s1" / "Caltech101" / "digit_0" / "image_0001.bin")
    assert rc == 0 and (ev0.size != ev1.size or not np.array_equal(ev0["t"], ev1["t"]))


def test_synth_skips_when_complete(synth2, capsys):
    before = {p: p.stat().st_mtime_ns for p in synth2.rglob("*.bin")}
    rc, _, err = run(["synth", "--out", str(synth2), "--limit-per-class", "2", "--workers", "1", "--size", "32"], capsys)
    assert rc == 0 and "nothing to do" in err
    assert before == {p: p.stat().st_mtime_ns for p in synth2.rglob("*.bin")}


def test_show_and_stats_on_synth(synth2, tmp_path, capsys):
    rc, out, _ = run(["show", "--root", str(synth2), "--out", str(tmp_path / "show"), "--T", "4", "--per-class", "1"], capsys)
    assert rc == 0
    pngs = sorted(p.name for p in (tmp_path / "show").glob("*.png"))
    assert pngs == sorted(["overview.png"] + [f"digit_{d}.png" for d in range(10)])
    from PIL import Image

    assert Image.open(tmp_path / "show" / "overview.png").size[1] > 500
    rc, out, err = run(["stats", "--root", str(synth2)], capsys)
    assert rc == 0 and "20 samples" in out and "10 classes" in out
    both = (out + err).splitlines()
    assert sum("10 classes; train:" in line for line in both) == 1  # the split line once, on stdout
    assert len(both) == len(set(both))  # no line printed twice



def test_output_path_that_is_a_file_is_one_line_before_work(synth2, tmp_path, capsys):
    """``synth``/``show`` check their output folder before any work (was: a traceback from a worker)."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    for argv in (["synth", "--out", str(afile / "nd"), "--limit-per-class", "1", "--workers", "1"],
                 ["show", "--data", "n-digits", "--root", str(synth2), "--out", str(afile)]):
        rc, out, err = run(argv, capsys)
        assert rc == 2 and err.count("\n") == 1 and err.startswith("ckd-data: error:") and "afile" in err, err

def test_corrupt_bin_is_one_line_exit_2(tmp_path, capsys):
    root = make_ncaltech_tree(tmp_path / "r", ["ant", "bee"], 5)
    bad = root / "Caltech101" / "bee" / "image_0004.bin"
    bad.write_bytes(bad.read_bytes()[:-3])
    rc, out, err = run(["stats", "--data", "ncaltech101", "--root", str(root)], capsys)
    lines = [l for l in err.splitlines() if l.startswith("ckd-data: error")]
    assert rc == 2 and len(lines) == 1 and str(bad) in lines[0] and "truncated" in lines[0]
    rc, out, err = run(["stats", "--data", "ncaltech101", "--root", str(root), "--skip-bad"], capsys)
    assert rc == 0 and "skipped 1 bad file(s)" in err and f"warning: skipped {bad}" in err
    assert "9 samples" in out


def test_empty_root_and_one_sided_class(tmp_path, capsys):
    (tmp_path / "e").mkdir()
    rc, _, err = run(["show", "--data", "ncaltech101", "--root", str(tmp_path / "e")], capsys)
    assert rc == 2 and err.count("\n") == 1 and "expected" in err and "Caltech101/<class>" in err
    root = make_ncaltech_tree(tmp_path / "r", ["ant", "bee"], 3, rgb_classes=["ant"])
    rc, _, err = run(["stats", "--data", "ncaltech101", "--root", str(root)], capsys)
    assert rc == 2 and "'bee' is present on the DVS side" in err


def test_usage_errors_exit_2(capsys):
    rc, _, err = run(["synth", "--limit-per-class", "0"], capsys)
    assert rc == 2 and err.count("\n") == 1
    rc, _, err = run(["show", "--data", "imagenet"], capsys)
    assert rc == 2 and err.count("\n") == 1
