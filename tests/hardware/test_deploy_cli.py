"""`ckd-deploy` end to end on small graphs: --input X.npy → outputs.npy, float targets, .net
dispatch, one-line errors with exit 2 and nothing half-written. Budget: < 40 s."""
from __future__ import annotations

import json

import nir
import numpy as np
import pytest
import torch

import mapping_graphs as mg
from ckd_toolchain.hardware.cli_deploy import main
from ckd_toolchain.simulators.loihi.float_layers import run_layers
from ckd_toolchain.hardware.lowering.nir_to_loihi import map_graph
from ckd_toolchain.simulators.nir_float import run_nir

pytestmark = pytest.mark.timeout(300)


def _one_line_error(capsys, argv, needle):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err.count("\n") == 1 and err.startswith("ckd-deploy: error:") and needle in err, err


def test_input_npy_writes_outputs_and_report(demo_files):
    g, x, d = demo_files
    out = d / "out"
    assert main([str(d / "g.nir"), "--input", str(d / "X.npy"), "--out", str(out)]) == 0
    y = np.load(out / "outputs.npy")
    assert y.shape == (5, 6, 5)
    q, _ = run_layers(map_graph(g), x, quantized=True)  # the default pool mode
    np.testing.assert_allclose(y, q, atol=1e-5)        # the fixed-point run, float32-stored
    assert (out / "model.net").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    rep = json.loads((out / "report.json").read_text())
    assert rep["run"]["target"] == "loihi-sim" and rep["mapping"]["pool_mode"] == "thermometer"
    assert [l["kind"] for l in rep["layers"]] == ["conv", "pool", "conv", "dense"]
    assert rep["mapping"]["cores"] == 4 and rep["mapping"]["chips"] == 1


def test_float_target_matches_nir_interpreter(demo_files):
    g, x, d = demo_files
    out = d / "cpu"
    assert main([str(d / "g.nir"), "--target", "cpu", "--input", str(d / "X.npy"), "--out", str(out)]) == 0
    ref = run_nir(g, torch.tensor(x)).numpy()
    np.testing.assert_allclose(np.load(out / "outputs.npy"), ref, atol=1e-5)
    assert not (out / "model.net").exists()


def test_unmappable_graph_exit_2_nothing_written(tmp_path, capsys):
    g = mg.chain([("fc", nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2))), ("leaky", mg.lif((2,), v_leak=0.2))],
                 [3], 2)
    nir.write(tmp_path / "bad.nir", g)
    np.save(tmp_path / "X.npy", np.ones((1, 4, 3), dtype=np.float32))
    out = tmp_path / "out"
    _one_line_error(capsys, [str(tmp_path / "bad.nir"), "--input", str(tmp_path / "X.npy"), "--out", str(out)],
                    "'leaky' (LIF): v_leak")
    assert not out.exists() or list(out.iterdir()) == []


def test_bad_input_shape_and_usage_errors(demo_files, capsys):
    _, _, d = demo_files
    np.save(d / "wrong.npy", np.zeros((2, 6, 3, 8, 8), dtype=np.float32))
    _one_line_error(capsys, [str(d / "g.nir"), "--input", str(d / "wrong.npy"), "--out", str(d / "o")],
                    "input must be (samples, T, 2, 8, 8)")
    _one_line_error(capsys, [str(d / "g.nir"), "--out", str(d / "o")], "exactly one of --data NAME and --input")
    _one_line_error(capsys, [str(d / "g.nir"), "--target", "tpu", "--out", str(d / "o")], "invalid choice")
    (d / "junk.nir").write_text("not hdf5")
    _one_line_error(capsys, [str(d / "junk.nir"), "--input", str(d / "X.npy"), "--out", str(d / "o")], "junk.nir")
    assert not (d / "o").exists() or list((d / "o").iterdir()) == []


def test_net_file_dispatches_to_simulator_cli(demo_files):
    from ckd_toolchain.hardware.lowering.netx_mapping import write_mapped as write_netx

    g, x, d = demo_files
    net = map_graph(g)
    write_netx(net, d / "m.net")
    xs = np.zeros((1, 10, 2, 8, 8), dtype=np.int8)
    xs[:, :6] = x[:1]
    np.save(d / "s.npy", xs)
    out = d / "run"
    assert main([str(d / "m.net"), "--steps", "10", "--input-spikes", str(d / "s.npy"), "--input-order", "torch",
                 "--reset-interval", "10", "--record", "v", "--out", str(out)]) == 0
    v = np.load(out / "layer-4-v.npy")
    q, _ = run_layers(net, x[:1], quantized=True)
    np.testing.assert_allclose(v[0, :, 4:10].T / (64 * net.layers[-1].quant.scale), q[0], atol=1e-9)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_gpu_target_without_cuda_is_one_line_error(demo_files, capsys):
    _, _, d = demo_files
    _one_line_error(capsys, [str(d / "g.nir"), "--target", "gpu", "--input", str(d / "X.npy"), "--out", str(d / "g")],
                    "no CUDA device")
    assert not (d / "g").exists()


def test_second_deploy_replaces_the_previous_runs_files_and_stale_partials(demo_files):
    """Issue 16, finding 9: no other run's model.net/report beside the new outputs, no partial
    .net left by a killed deploy."""
    import subprocess

    _, _, d = demo_files
    out = d / "same"
    assert main([str(d / "g.nir"), "--input", str(d / "X.npy"), "--out", str(out)]) == 0
    assert (out / "model.net").is_file()
    p = subprocess.Popen(["true"])
    p.wait()
    stale = out / f".model.net.{p.pid}.partial"       # what kill -9 during a deploy leaves
    stale.write_bytes(b"half")
    (out / "layer-0-v.npy").write_bytes(b"old")       # another run's .net output
    assert main([str(d / "g.nir"), "--target", "cpu", "--input", str(d / "X.npy"), "--out", str(out)]) == 0
    assert not (out / "model.net").exists() and not (out / "layer-0-v.npy").exists()
    assert (out / "report.json").is_file() and (out / "outputs.npy").is_file()
    assert main([str(d / "g.nir"), "--input", str(d / "X.npy"), "--out", str(out)]) == 0
    assert not stale.exists() and (out / "model.net").is_file()


def test_out_that_is_a_file_is_one_line_before_work(demo_files, capsys):
    _, _, d = demo_files
    (d / "taken").write_text("x")
    _one_line_error(capsys, [str(d / "g.nir"), "--input", str(d / "X.npy"), "--out", str(d / "taken")],
                    "is an existing file")
