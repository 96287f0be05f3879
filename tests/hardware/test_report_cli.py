"""`ckd-report A.json B.json --out DIR`: comparison table and plot; bad reports are one line, exit 2
(budget < 30 s)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ckd_toolchain.hardware.cli_report import main
from ckd_toolchain.hardware.report import write_deploy_report
from paths import REPO

pytestmark = pytest.mark.timeout(90)



def raw(method, target="loihi-sim", acc=0.8):
    return dict(source=dict(nir=f"runs/{method}/model.nir", arch="vgg", method=method, classes=["a", "b"], T=2,
                            input_shape=[4]),
                target=target, device="cpu", num_samples=4, steps_per_sample=2, accuracy=acc,
                reference_accuracy=0.9, wall_time_s=0.1, input_spikes_per_inference=6.0,
                layers=[dict(name="fc", kind="dense", in_shape=[4], out_shape=[2], spikes_per_inference=1.0,
                             input_spikes_per_inference=6.0, synaptic_ops_per_inference=12.0, cores=1)])


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    return [write_deploy_report(d / m, raw(m, acc=a)) for m, a in (("dvs-only", 0.6), ("transfer", 0.7), ("ckd", 0.8))]


def test_comparison_written_and_path_printed(reports, tmp_path, capsys):
    assert main([*map(str, reports), "--out", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out.strip()
    assert out == str(tmp_path / "cmp" / "comparison.md")
    md = Path(out).read_text()
    for m in ("dvs-only", "transfer", "ckd"):
        assert f"| {m} / vgg / loihi-sim |" in md
    assert "60.00 %" in md and "80.00 %" in md
    assert (tmp_path / "cmp" / "comparison.png").read_bytes()[:4] == b"\x89PNG"


def test_labels(reports, tmp_path, capsys):
    main([*map(str, reports), "--out", str(tmp_path), "--labels", "A,B,C"])
    md = (tmp_path / "comparison.md").read_text()
    assert "| A | loihi-sim |" in md and "| C | loihi-sim |" in md


def one_line_error(argv, capsys):
    with pytest.raises(SystemExit) as ei:
        main(argv)
    err = capsys.readouterr().err
    assert ei.value.code == 2
    assert err.count("\n") == 1 and err.startswith("ckd-report: error: ")
    return err


def test_malformed_reports_are_one_line_errors(reports, tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    err = one_line_error([str(reports[0]), str(broken), "--out", str(tmp_path / "o")], capsys)
    assert str(broken) in err and "not valid JSON" in err
    wrong = tmp_path / "wrong.json"
    doc = json.loads(reports[0].read_text())
    doc["schema"] = "something-else/3"
    wrong.write_text(json.dumps(doc))
    err = one_line_error([str(wrong), "--out", str(tmp_path / "o")], capsys)
    assert str(wrong) in err and "unsupported schema" in err
    doc = json.loads(reports[0].read_text())
    del doc["energy"]["loihi"]
    wrong.write_text(json.dumps(doc))
    assert "missing 'loihi'" in one_line_error([str(wrong), "--out", str(tmp_path / "o")], capsys)
    missing = tmp_path / "nope.json"
    assert f"{missing}: no such file" in one_line_error([str(missing), "--out", str(tmp_path / "o")], capsys)
    assert "2 labels for 3 reports" in one_line_error([*map(str, reports), "--out", str(tmp_path), "--labels", "a,b"], capsys)
    assert not (tmp_path / "o" / "comparison.md").exists()


def test_usage_error_is_one_line():
    p = subprocess.run([sys.executable, "-m", "ckd_toolchain.hardware.cli_report", "x.json"], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "--out" in p.stderr


def test_accuracy_outside_0_1_is_refused(reports, tmp_path, capsys):
    """Issue 16: an accuracy of 1.5 was printed as "150.00 %"."""
    doc = json.loads(reports[0].read_text())
    doc["accuracy"]["deployed"]["value"] = 1.5
    bad = tmp_path / "acc.json"
    bad.write_text(json.dumps(doc))
    err = one_line_error([str(bad), "--out", str(tmp_path / "o")], capsys)
    assert str(bad) in err and "$.accuracy.deployed: must be in [0, 1]" in err


def test_out_that_is_a_file_is_one_line_before_reading(reports, tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    err = one_line_error([str(reports[0]), "--out", str(f)], capsys)
    assert str(f) in err and "is an existing file" in err
