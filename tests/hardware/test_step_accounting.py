"""Step accounting (issue 15): the GPU reference runs the float graph for T steps on every target;
Loihi counts split into the steady-state window and the single sample's fill/drain."""
from __future__ import annotations

import json

import numpy as np
import pytest

import mapping_graphs as mg
from ckd_toolchain.hardware.cli_deploy import main
from ckd_toolchain.hardware.deploy.loihi_inference import run_loihi_batch
from ckd_toolchain.hardware.energy.nir_cost import gpu_reference, graph_cost
from ckd_toolchain.hardware.lowering.netx_mapping import write_mapped
from ckd_toolchain.hardware.lowering.nir_to_loihi import map_graph

pytestmark = pytest.mark.timeout(300)


def _report(d, target):
    out = d / target
    assert main([str(d / "g.nir"), "--target", target, "--input", str(d / "X.npy"), "--out", str(out)]) == 0
    return json.loads((out / "report.json").read_text())


def test_gpu_reference_is_the_same_on_cpu_and_loihi_sim(demo_files):
    _, _, d = demo_files
    cpu, loihi = _report(d, "cpu"), _report(d, "loihi-sim")
    assert cpu["run"]["steps_per_sample"] == loihi["run"]["steps_per_sample"] == 6
    for r in (cpu, loihi):
        assert r["accounting"]["gpu_reference"]["steps"] == 6
    assert cpu["accounting"]["gpu_reference"] == loihi["accounting"]["gpu_reference"]
    assert cpu["flops"]["student_dense"] == loihi["flops"]["student_dense"]
    for view in ("gpu_student", "dense_45nm"):
        assert cpu["energy"][view]["per_inference"] == loihi["energy"][view]["per_inference"]
    assert cpu["latency"]["gpu_student"]["per_inference"]["kind"] == "measured"  # the cpu timing itself
    # loihi-sim states the fill/drain separately, cpu says it has none
    assert loihi["accounting"]["loihi_steps_single_sample"] == 6 + len(loihi["layers"])
    assert "loihi_single_sample" in loihi["energy"] and "loihi_single_sample" not in cpu["energy"]
    assert loihi["energy"]["loihi_single_sample"]["per_inference"]["value"] > loihi["energy"]["loihi"]["per_inference"]["value"]
    assert "steady state" in loihi["accounting"]["explain"] and "not simulated" in cpu["accounting"]["explain"]


def test_graph_cost_by_hand():
    """demo_like: conv 2->4 3x3 'same' on 8x8, LIF, avgpool 2, conv 4->6 3x3 'same' on 4x4, LIF,
    flatten, affine 96->5. MACs/step: 4*64*2*9 + 64*4 + 6*16*4*9 + 5*96 = 4608 + 256 + 3456 + 480;
    neurons: 4*64 + 6*16."""
    c = graph_cost(mg.demo_like(seed=3), (2, 8, 8), dt=1e-3)
    assert [(n["type"], n["macs"], n["neurons"]) for n in c["per_node"]] == [
        ("Conv2d", 4608, 0), ("LIF", 0, 256), ("AvgPool2d", 256, 0), ("Conv2d", 3456, 0), ("LIF", 0, 96),
        ("Affine", 480, 0)]
    assert c["macs_per_step"] == 8800 and c["neurons"] == 352
    ref = gpu_reference(mg.demo_like(seed=3), (2, 8, 8), T=6, dt=1e-3)
    assert ref["macs"] == 6 * 8800 and ref["flops"] == 2 * 6 * 8800 + 4 * 6 * 352


def test_window_counts_add_up_and_input_has_no_fill(tmp_path):
    g = mg.demo_like(seed=3)
    x = mg.spikes((3, 6, 2, 8, 8), seed=1)
    net = map_graph(g)
    path = str(tmp_path / "m.net")
    write_mapped(net, path, num_steps=6 + len(net.layers))
    _, total = run_loihi_batch(path, net, x, "fast")
    _, window, extra = run_loihi_batch(path, net, x, "fast", split=True)
    for t, w, e in zip(total, window, extra):
        np.testing.assert_array_equal(t, w + e)
    assert extra[0].sum() == 0                       # the input is zero after its T steps
    np.testing.assert_array_equal(window[0], (x > 0).sum(1).reshape(window[0].shape))
