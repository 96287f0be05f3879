"""report.json (ckd-report/1) from raw deploy results: units and kinds, round trip through the
schema, measured vs estimated GPU, missing optional keys, files written (budget < 30 s)."""
from __future__ import annotations

import copy
import json

import pytest

from ckd_toolchain.errors import InputError
from ckd_toolchain.hardware.report import build_report, load_report, validate_report, write_deploy_report
from ckd_toolchain.hardware.report.schema import KINDS, UNITS

pytestmark = pytest.mark.timeout(60)


def raw_results(target="loihi-sim"):
    """A hand-made 3-layer deploy result: conv (padded 3x3) -> pool -> dense, T = 4."""
    layers = [
        dict(name="conv0", kind="conv", in_shape=[2, 6, 6], out_shape=[3, 6, 6], kernel=[3, 3], stride=[1, 1],
             padding=[1, 1], groups=1, neurons=108, synapses=2 * 3 * (4 * 4 + 16 * 6 + 16 * 9),
             weight_exponent=6, quant_error_rms=0.002, quant_error_max=0.007, saturated=1,
             spikes_per_inference=40.0, input_spikes_per_inference=30.0, synaptic_ops_per_inference=600.0, cores=1),
        dict(name="pool1", kind="pool", in_shape=[3, 6, 6], out_shape=[3, 3, 3], kernel=[2, 2], stride=[2, 2],
             padding=[0, 0], groups=3, neurons=27, synapses=108, weight_exponent=0, quant_error_rms=0.0,
             quant_error_max=0.0, saturated=0, spikes_per_inference=9.0, input_spikes_per_inference=40.0,
             synaptic_ops_per_inference=40.0, cores=1),
        dict(name="fc2", kind="dense", in_shape=[27], out_shape=[5], neurons=5, synapses=135, weight_exponent=5,
             quant_error_rms=0.001, quant_error_max=0.003, saturated=0, spikes_per_inference=3.0,
             input_spikes_per_inference=9.0, synaptic_ops_per_inference=45.0, cores=1),
    ]
    if target != "loihi-sim":
        for l in layers:
            for k in ("weight_exponent", "quant_error_rms", "quant_error_max", "saturated", "cores"):
                l.pop(k)
    return dict(source=dict(nir="runs/s/model.nir", net="out/model.net", arch="vgg", method="ckd",
                            classes=list("abcde"), T=4, input_shape=[2, 6, 6]),
                target=target, sim="fast" if target == "loihi-sim" else None, device="cpu", num_samples=8,
                steps_per_sample=4, accuracy=0.75, reference_accuracy=0.875, wall_time_s=0.4,
                input_spikes_per_inference=30.0, layers=layers, mapping=dict(cores=3, chips=1))


def quantities(obj, path="$"):
    if isinstance(obj, dict):
        if set(obj) == {"value", "unit", "kind"}:
            yield path, obj
            return
        for k, v in obj.items():
            if k not in ("profiles", "mapping"):
                yield from quantities(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from quantities(v, f"{path}[{i}]")


def test_report_numbers_and_round_trip():
    r = build_report(raw_results(), created_utc="2026-01-01T00:00:00Z")
    qs = dict(quantities(r))
    assert len(qs) > 60
    assert all(q["unit"] in UNITS and q["kind"] in KINDS for q in qs.values())
    again = json.loads(json.dumps(r))
    assert validate_report(again) == r
    t = r["totals"]
    assert t["synaptic_ops"]["value"] == 685 and t["synaptic_ops"]["kind"] == "counted"
    assert t["neuron_updates"]["value"] == (108 + 27 + 5) * 4
    assert t["dense_macs"]["value"] == 4 * (108 * 2 * 9 + 27 * 4 + 27 * 5)
    assert r["layers"][0]["counts"]["spike_rate"]["value"] == pytest.approx(40 / (108 * 4))
    assert r["energy"]["snn_45nm"]["per_inference"]["value"] == pytest.approx(685 * 0.9e-12)
    assert r["energy"]["dense_45nm"]["per_inference"]["value"] == pytest.approx(4 * (1944 + 108 + 135) * 4.6e-12)
    loihi = r["energy"]["loihi"]
    assert loihi["per_inference"]["value"] == pytest.approx(sum(q["value"] for q in loihi["breakdown"].values()))
    assert loihi["breakdown"]["synaptic_ops"]["value"] == pytest.approx(685 * 23.6e-12)
    assert r["energy"]["gpu_student"]["per_inference"]["kind"] == "estimated"
    assert "not measured" in r["energy"]["gpu_student"]["method"]
    assert r["accuracy"]["drop"]["value"] == pytest.approx(0.125)
    assert r["layers"][0]["quantisation"]["weight_exponent"] == 6
    assert r["latency"]["simulator"]["per_inference"] == {"value": 0.05, "unit": "s", "kind": "measured"}
    assert r["latency"]["loihi"]["per_inference"]["kind"] == "estimated"


def test_write_deploy_report_files(tmp_path):
    path = write_deploy_report(tmp_path, raw_results())
    assert path == tmp_path / "report.json"
    assert load_report(path)["schema"] == "ckd-report/1"
    for png in ("spike_rate.png", "energy.png", "accuracy.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (tmp_path / "report.md").read_text()
    assert "| conv0 | conv |" in md and "Davies" in md and "Horowitz" in md and "estimated" in md
    assert not list(tmp_path.glob(".*.tmp"))


def test_gpu_target_without_quantisation_or_cores():
    raw = raw_results("gpu")
    raw.pop("mapping")
    raw["accuracy"] = None
    r = build_report(raw)
    assert r["layers"][0]["quantisation"] is None
    assert r["accuracy"]["deployed"] is None and r["accuracy"]["drop"] is None
    assert r["layers"][0]["cores"] == 1 and any("ceil(neurons / 1024)" in a for a in r["assumptions"])
    lat = r["latency"]["gpu_student"]
    assert lat["per_inference"]["kind"] == "measured" and "not a CUDA GPU" in lat["method"]
    assert any("float reference" in n for n in r["notes"])


@pytest.mark.parametrize("target", ["loihi-sim", "cpu", "gpu"])
def test_cores_column_only_for_loihi_sim(target):
    """A float target lists its layers as a folded mapping: their Loihi core counts mean nothing for
    a CPU/GPU run, so report.md's per-layer table has no cores column there."""
    from ckd_toolchain.hardware.report.markdown import render_report

    md = render_report(build_report(raw_results(target)))
    table = md.split("## Per layer (per inference)")[1].split("\n\n")[1].splitlines()
    header, first = table[0], table[2]
    if target == "loihi-sim":
        assert "| neurons | cores | spikes |" in header and first.startswith("| conv0 | conv | 3×6×6 | 108 | 1 | 40 |")
    else:
        assert "cores" not in header and first.startswith("| conv0 | conv | 3×6×6 | 108 | 40 |")
    assert len(header.split("|")) == len(first.split("|"))


def test_measured_gpu_energy_is_reported_as_measured():
    raw = raw_results("gpu")
    raw["device"] = "cuda:0"
    raw["gpu_measurement"] = {"available": True, "device": "NVIDIA H100", "gross_energy_J": 5.0,
                              "idle_power_W": 70.0, "duration_s": 0.05, "energy_J": 1.5,
                              "num_inferences": 8, "energy_per_inference_J": 1.5 / 8, "method": "NVML"}
    r = build_report(raw)
    g = r["energy"]["gpu_student"]
    assert g["per_inference"] == {"value": 1.5 / 8, "unit": "J", "kind": "measured"}
    assert "70.0 W subtracted" in g["method"] and g["idle_power"]["value"] == 70.0
    assert "not a CUDA GPU" not in r["latency"]["gpu_student"]["method"]


def test_count_encoded_input_and_profile_override(tmp_path):
    raw = raw_results()
    raw["source"]["frame_encoding"] = "count"
    r = build_report(raw, gpu_profile="h100-sxm")
    assert r["run"]["input_is_spikes"] is False
    assert r["energy"]["snn_45nm"]["per_inference"]["value"] == pytest.approx((4 * 1944 * 4.6 + 85 * 0.9) * 1e-12)
    assert r["profiles"]["gpu"]["profile"] == "h100-sxm"


def test_bad_raw_and_bad_reports():
    with pytest.raises(InputError, match="missing 'layers'"):
        build_report({k: v for k, v in raw_results().items() if k != "layers"})
    raw = raw_results()
    raw["accuracy"] = 1.5
    with pytest.raises(InputError, match="fraction"):
        build_report(raw)
    good = build_report(raw_results())
    bad = copy.deepcopy(good)
    bad["energy"]["loihi"]["per_inference"] = 1e-6  # a bare number: no unit, no kind
    with pytest.raises(InputError, match=r"\$\.energy\.loihi\.per_inference"):
        validate_report(bad, "x.json")
    bad = copy.deepcopy(good)
    bad["totals"]["spikes"]["kind"] = "guessed"
    with pytest.raises(InputError, match="kind must be one of"):
        validate_report(bad)
    bad = copy.deepcopy(good)
    bad["schema"] = "ckd-report/2"
    with pytest.raises(InputError, match="unsupported schema"):
        validate_report(bad)
    bad = copy.deepcopy(good)
    bad["energy"]["loihi"]["per_inference"]["unit"] = "s"
    with pytest.raises(InputError, match="unit must be 'J'"):
        validate_report(bad)
