"""Residual graphs through ``ckd-deploy`` on every target, and bit-exact with genuine Lava: a
two-block residual net built from nir primitives (identity and stride-2 1x1-conv shortcuts) and
both Spiking ResNet-18 variants at small width (s, u, v of every block at every step)."""
import nir
import numpy as np
import pytest
import torch

from export_helpers import small_student, spikes
from mapping_graphs import residual
from ckd_toolchain.export.nir_from_student import student_to_nir
from ckd_toolchain.hardware.deploy.pipeline import deploy
from ckd_toolchain.hardware.lowering.netx_mapping import nir_to_netx
from ckd_toolchain.netx import load_netx
from ckd_toolchain.simulators.loihi import run_netx
from ckd_toolchain.simulators.loihi.api import torch_order_to_lava


def _inputs(tmp_path, shape=(2, 8, 8), n=4, T=6):
    x = spikes((n, T, *shape), p=0.3, seed=3).numpy().astype(np.float32)
    path = tmp_path / "x.npy"
    np.save(path, x)
    return x, path


def test_foreign_residual_graph_deploys_on_cpu_and_loihi_sim(tmp_path):
    nir_path = tmp_path / "res.nir"
    nir.write(nir_path, residual())
    x, xp = _inputs(tmp_path)
    cpu = deploy(nir_path, tmp_path / "cpu", target="cpu", input_npy=xp, log=lambda m: None)
    sim = deploy(nir_path, tmp_path / "sim", target="loihi-sim", input_npy=xp, log=lambda m: None)
    assert load_netx(tmp_path / "sim" / "model.net").is_graph
    out_cpu = np.load(tmp_path / "cpu" / "outputs.npy")
    out_sim = np.load(tmp_path / "sim" / "outputs.npy")
    assert out_cpu.shape == out_sim.shape == (4, 6, 5)
    # same graph on both targets: the Loihi logits are the float ones up to 8-bit rounding
    assert np.corrcoef(out_cpu.ravel(), out_sim.ravel())[0, 1] > 0.9
    l5 = next(e for e in sim["layers"] if e["name"] == "l5")
    assert l5["synapse_groups"] == 2 and l5["synaptic_ops_per_inference"] > 0
    assert (tmp_path / "sim" / "report.json").is_file() and (tmp_path / "cpu" / "report.json").is_file()


def _lava_exact(path, x_lava, steps, reset):
    fast = run_netx(path, steps, input_spikes=x_lava, reset_interval=reset)
    lava = run_netx(path, steps, input_spikes=x_lava, reset_interval=reset, sim="lava")
    assert len(fast) == len(lava)
    for k, (f, g) in enumerate(zip(fast, lava)):
        for var in "suv":
            diff = np.argwhere(f[var] != g[var])
            assert diff.size == 0, f"block {k} {var}: first differences at {diff[:5].tolist()}"
    silent = [k for k, f in enumerate(fast[:-1]) if f["s"].sum() == 0]
    assert not silent, f"blocks {silent} never spike: the comparison would be weak"


@pytest.mark.lava
@pytest.mark.slow
def test_residual_graph_bit_exact_with_genuine_lava(tmp_path):
    net = nir_to_netx(residual(), tmp_path / "res.net", dt=1.0)
    x, _ = _inputs(tmp_path, n=1, T=4)
    D = net.readout_depth
    xs = np.zeros((1, 4 + D, 2, 8, 8), dtype=np.int8)
    xs[:, :4] = x
    _lava_exact(tmp_path / "res.net", torch_order_to_lava(xs), 4 + D, 4 + D)


@pytest.mark.lava
@pytest.mark.slow
@pytest.mark.parametrize("arch", ["resnet18", "resnet18-post"])
def test_resnet18_variants_bit_exact_with_genuine_lava(arch, tmp_path):
    m = small_student(arch, T=2, size=16, width=0.0625).eval()
    g = student_to_nir(m, (2, 16, 16), metadata={"T": 2}).graph
    net = nir_to_netx(g, tmp_path / "r.net", dt=1.0)
    D = net.readout_depth
    x = spikes((1, 2 + D, 2, 16, 16), p=0.4, seed=5).numpy().astype(np.int8)
    _lava_exact(tmp_path / "r.net", torch_order_to_lava(x), 2 + D, 2 + D)


def test_ckd_deploy_reports_a_graph_net_file(tmp_path):
    """``ckd-deploy model.net`` on a graph file: synaptic ops of a block sum its groups, each
    over its source block's spikes (checked against the simulator's own spike counts)."""
    from ckd_toolchain.hardware.deploy.netx_deploy import layer_records, synapse_groups
    from ckd_toolchain.hardware.cli_deploy import main

    net = nir_to_netx(residual(), tmp_path / "res.net", dt=1.0)
    x, _ = _inputs(tmp_path, n=2, T=4)
    D = net.readout_depth
    xs = np.zeros((2, 4 + D, 2, 8, 8), dtype=np.int8)
    xs[:, :4] = x
    np.save(tmp_path / "in.npy", torch_order_to_lava(xs))
    rc = main([str(tmp_path / "res.net"), "--steps", str(4 + D), "--reset-interval", str(4 + D),
               "--input-spikes", str(tmp_path / "in.npy"), "--out", str(tmp_path / "rep")])
    assert rc in (0, None)
    import json
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    spec = load_netx(tmp_path / "res.net")
    k = next(i for i, layer in enumerate(spec.layers) if len(layer.synapse_groups(i)) > 1)
    res = run_netx(tmp_path / "res.net", 4 + D, input_spikes=torch_order_to_lava(xs), reset_interval=4 + D)
    from ckd_toolchain.hardware.energy.op_counts import fanout, geometry
    expected = 0.0
    for src, geo in synapse_groups(spec, k):
        s = np.transpose(res[src]["s"].sum(axis=(0, -1)), (2, 1, 0)).reshape(-1).astype(np.float64)
        expected += float(s @ fanout(geometry(geo)).reshape(-1)) / 2
    entry = rep["layers"][k]
    assert expected > 0 and entry["counts"]["synaptic_ops"]["value"] == pytest.approx(expected)
    assert layer_records(spec)[k]["synapse_groups"] == len(spec.layers[k].synapse_groups(k))


@pytest.mark.lava
@pytest.mark.slow
def test_ckd_deploy_sim_lava_on_a_residual_graph_gives_the_fast_outputs(tmp_path):
    """The whole deploy path (graph file written by ckd-deploy, inputs, timing, read-out) on genuine
    Lava: the same outputs as --sim fast."""
    nir_path = tmp_path / "res.nir"
    nir.write(nir_path, residual())
    _, xp = _inputs(tmp_path, n=2)
    for sim in ("fast", "lava"):
        deploy(nir_path, tmp_path / sim, target="loihi-sim", input_npy=xp, sim=sim, log=lambda m: None)
    np.testing.assert_array_equal(np.load(tmp_path / "fast" / "outputs.npy"), np.load(tmp_path / "lava" / "outputs.npy"))
