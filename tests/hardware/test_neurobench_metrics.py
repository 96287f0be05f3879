"""NeuroBench's metrics (issue 15), computed by the neurobench package itself on snnTorch's import of
the NIR graph: checked against values counted by hand on a 2-layer network, and against this
report's own counts (same spikes; different synaptic-op definition)."""
from __future__ import annotations

import json

import nir
import numpy as np
import pytest

import mapping_graphs as mg
from ckd_toolchain.hardware.cli_deploy import main
from ckd_toolchain.hardware.energy import neurobench_metrics as nb
from ckd_toolchain.hardware.report.compare import compare_reports

pytestmark = pytest.mark.timeout(300)

# 3 inputs -> Affine W1 (two zero weights) -> LIF (beta 0.5, threshold 1, reset to 0) -> Affine W2 -> 1 output
W1 = np.array([[1.5, 0.0, 0.6],
               [0.4, 0.4, 0.0]])
W2 = np.array([[0.7, -0.3]])
X = np.array([[[1, 0, 1], [0, 1, 0], [1, 1, 1]]], dtype=np.float32)   # [B=1, T=3, 3]


def two_layer_graph() -> nir.NIRGraph:
    return mg.chain([("fc1", nir.Affine(weight=W1, bias=np.zeros(2))), ("l1", mg.lif((2,))),
                     ("fc2", nir.Affine(weight=W2, bias=np.zeros(1)))], [3], 1, T=3, input_shape=np.array([3]))


# By hand. LIF u <- 0.5 u + W1 x, spike when u > 1, then u = 0:
#   neuron a (1.5 x0 + 0.6 x2): t0 u=2.1 spike -> 0;  t1 u=0;            t2 u=2.1 spike -> 0
#   neuron b (0.4 x0 + 0.4 x1): t0 u=0.4;            t1 u=0.2+0.4=0.6;  t2 u=0.3+0.8=1.1 spike -> 0
# spikes: t0 [1, 0], t1 [0, 0], t2 [1, 1]  -> 3 of 2 x 3 = 6 neuron-steps
# NeuroBench effective ACs (non-zero input x non-zero weight): fc1 t0 2+1, t1 0+1, t2 2+2 = 8;
#   fc2 (both weights non-zero) 1 + 0 + 2 = 3  -> 11; no MACs (every input is 0/1); dense 3 x (6 + 2) = 24
# MembraneUpdates: 2 neurons at t0; t1 only b changed (0.4 -> 0.6); t2 only b (0.6 -> 0; a: 0 -> 0) -> 4
# Footprint: parameters 6 + 2 + 2 + 1 float32 = 44 B; snnTorch Leaky buffers threshold, graded_spikes_factor
#   (float32 scalars, 8 B), reset_mechanism_val (int64, 8 B), beta (2 float32, 8 B), mem (empty) -> 68 B
# Ours: SOPs = spikes x fan-out (zero weights included): fc1 (2 + 1 + 3 input spikes) x 2 = 12, fc2 3 x 1 = 3 -> 15;
#   the 4 more are input spikes on zero weights (x1 -> a at t1, t2; x2 -> b at t0, t2).
HAND = {"effective_acs": 11.0, "effective_macs": 0.0, "dense": 24.0}


def test_neurobench_is_installed():
    assert nb.available() is None, nb.available()


def test_metrics_by_hand_on_a_two_layer_net():
    m = nb.neurobench_metrics(two_layer_graph(), [(X, np.array([0]))])
    assert m["package"].startswith("neurobench 2.3.")
    assert m["synaptic_ops"] == HAND
    assert m["activation_sparsity"] == pytest.approx(0.5)
    assert m["membrane_updates"] == 4.0
    assert m["footprint_bytes"] == 68.0
    assert m["classification_accuracy"] == 1.0 and m["num_samples"] == 1
    # unlabelled inputs: no accuracy, the same counts
    m2 = nb.neurobench_metrics(two_layer_graph(), [(X, None)])
    assert m2["classification_accuracy"] is None and m2["synaptic_ops"] == HAND


def test_deploy_report_puts_neurobench_beside_our_counts(tmp_path):
    nir.write(tmp_path / "g.nir", two_layer_graph())
    np.save(tmp_path / "X.npy", X)
    out = tmp_path / "cpu"
    assert main([str(tmp_path / "g.nir"), "--target", "cpu", "--input", str(tmp_path / "X.npy"), "--out", str(out)]) == 0
    r = json.loads((out / "report.json").read_text())
    block = r["neurobench"]
    assert block["available"] and block["num_samples"] == 1
    m, ours = block["metrics"], block["this_report"]
    assert m["synaptic_ops_effective_acs"] == {"value": 11.0, "unit": "SOPs", "kind": "counted"}
    assert m["footprint"] == {"value": 68.0, "unit": "bytes", "kind": "counted"}
    assert r["totals"]["synaptic_ops"]["value"] == ours["synaptic_ops"]["value"] == 15.0   # 11 + 4 on zero weights
    assert ours["activation_sparsity"]["value"] == m["activation_sparsity"]["value"] == 0.5
    assert ours["neuron_updates"]["value"] == 6 and m["membrane_updates"]["value"] == 4
    md = (out / "report.md").read_text()
    assert "## NeuroBench metrics (float student)" in md and "| ActivationSparsity | 50.00 % | 50.00 % |" in md
    compare_reports([out / "report.json"], tmp_path / "cmp")
    cmp_md = (tmp_path / "cmp" / "comparison.md").read_text()
    assert "NeuroBench SynOps/inf" in cmp_md and "| 11 | 50.00 % |" in cmp_md

    out2 = tmp_path / "off"
    assert main([str(tmp_path / "g.nir"), "--target", "cpu", "--input", str(tmp_path / "X.npy"), "--out", str(out2),
                 "--no-neurobench"]) == 0
    r2 = json.loads((out2 / "report.json").read_text())
    assert r2["neurobench"] == {"available": False, "reason": "not asked for (--no-neurobench)"}
    assert "Not computed: not asked for" in (out2 / "report.md").read_text()


def test_conv_pool_graph_same_spikes_and_pooled_inputs_are_macs(demo_files):
    """demo-like conv -> LIF -> AvgPool -> conv -> LIF -> Affine: NeuroBench's activation sparsity on
    the snnTorch import equals ours from the float reference (same spikes); the conv after the pool
    and the read-out see spike fractions, which NeuroBench counts as MACs."""
    _, x, d = demo_files
    out = d / "cpu"
    assert main([str(d / "g.nir"), "--target", "cpu", "--input", str(d / "X.npy"), "--out", str(out)]) == 0
    block = json.loads((out / "report.json").read_text())["neurobench"]
    m = block["metrics"]
    assert m["activation_sparsity"]["value"] == pytest.approx(block["this_report"]["activation_sparsity"]["value"],
                                                              abs=1e-12)
    assert m["synaptic_ops_effective_macs"]["value"] > 0 and m["synaptic_ops_effective_acs"]["value"] > 0
    # effective ops never exceed the dense count (every input and weight set to 1)
    assert m["synaptic_ops_effective_acs"]["value"] + m["synaptic_ops_effective_macs"]["value"] \
        <= m["synaptic_ops_dense"]["value"]
