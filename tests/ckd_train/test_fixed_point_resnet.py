"""Fixed-point-aware training of the pre-activation ResNet-18 (ckd_train/models/fixed_point_resnet.py):
its grid forward is the deployed network (graph lowering + fast simulator) to float rounding, the
shared-scale grid is the one quantize_groups maps without rounding, and a training run with
fixed-point epochs deploys with the validated accuracy."""
import contextlib

import numpy as np
import pytest
import torch

from ckd_toolchain.ckd_train.engine import DEFAULT_CONFIG, merge, train_student
from ckd_toolchain.ckd_train.engine.synthetic_pairs import SyntheticPairs
from ckd_toolchain.export.nir_from_student import student_to_nir
from ckd_toolchain.hardware.deploy.loihi_inference import run_loihi_batch
from ckd_toolchain.hardware.lowering.netx_mapping import write_mapped
from ckd_toolchain.hardware.lowering.nir_to_loihi import map_graph
from ckd_toolchain.loihi2.quantization import grid_groups, quantize_groups
from export_helpers import small_student, spikes


def test_grid_groups_share_one_scale_and_map_back_unrounded():
    rng = np.random.default_rng(0)
    ws = [rng.normal(0, 0.3, (4, 3, 3, 3)), rng.normal(0, 0.05, (4, 2, 1, 1))]
    b, theta = np.array([0.1, -0.05, 0.02, 0.0]), 1.0
    grids, b_grid = grid_groups(ws, b, theta)
    q, stored = quantize_groups(ws, b, theta)
    s = min(254 / max(w.max() for w in ws), 256 / -min(w.min() for w in ws), (2 ** 17 - 1) / theta,
            4095 / b.max(), 4096 / -b.min())                       # the layer_scale rule over ALL groups
    assert q.scale == pytest.approx(s)
    c = theta * s / (q.vth_mant + 1 / 128)
    for g, W in zip(grids, stored):
        np.testing.assert_allclose(g, W * c / s, rtol=1e-15)
    q2, stored2 = quantize_groups(grids, b_grid, theta)              # the mapper sees the grid: no rounding
    for W, W2 in zip(stored, stored2):
        np.testing.assert_array_equal(W, W2)
    assert q2.vth_mant == q.vth_mant and np.array_equal(q2.bias, q.bias)


def test_grid_forward_is_the_deployed_network(tmp_path):
    torch.manual_seed(0)
    m = small_student("resnet18", T=4, size=16, width=0.0625)
    x = spikes((4, 6, 2, 16, 16), p=0.3)
    m.fixed_point = True
    with torch.no_grad():
        out_fp = m(x).double().numpy().transpose(1, 0, 2)
    m.fixed_point = False
    with torch.no_grad():
        out_float = m(x).double().numpy().transpose(1, 0, 2)
    assert np.abs(out_float - out_fp).max() > 1e-3        # the grid really differs from the float net
    g = student_to_nir(m, (2, 16, 16), {"T": 4}).graph
    net = map_graph(g, pool_mode="thermometer", dt=1.0)
    path = tmp_path / "m.net"
    write_mapped(net, path, num_steps=4 + net.readout_depth)
    deployed, counts = run_loihi_batch(str(path), net, x.transpose(0, 1).numpy(), "fast", None)
    np.testing.assert_allclose(deployed, out_fp, atol=1e-5)
    assert sum(int(c.sum() > 0) for c in counts) > len(counts) // 2


def test_training_resnet18_with_fixed_point_epochs_deploys_as_validated(tmp_path):
    from ckd_toolchain.ckd_train.checkpoint import load_student
    from ckd_toolchain.ckd_train.engine.evaluation import evaluate_student

    d = SyntheticPairs(num_classes=3, per_class=(6, 3, 3), rgb_per_class=(8, 3, 3), T=3, size=24)
    cfg = merge(DEFAULT_CONFIG, {
        "data": {"T": 3, "size": 24}, "student": {"arch": "resnet18", "width": 0.0625},
        "train": {"epochs": 2, "batch_size": 8, "lr": 3e-3, "warmup_epochs": 1, "progress": False,
                  "threads": 1, "eval_batch_size": 64, "fixed_point_epochs": 1},
        "method": {"name": "dvs-only"}})
    summary = train_student(cfg, tmp_path / "r", data=d, log=lambda _m: None)
    best = torch.load(tmp_path / "r" / "best.pt", weights_only=False)
    assert best["fixed_point"]["since_epoch"] == 2 and summary["best_epoch"] == 2
    model, _ = load_student(tmp_path / "r" / "best.pt")      # float parameters (not baked)
    model.fixed_point = True
    val = evaluate_student(model, d.dvs_val, torch.device("cpu"), 64, contextlib.nullcontext)
    assert val == pytest.approx(summary["best_val_acc"], abs=1e-12)
    # the deployed network's accuracy on the validation samples is the validated one
    model.fixed_point = False
    g = student_to_nir(model, (2, 24, 24), {"T": 3}).graph
    net = map_graph(g, pool_mode="thermometer", dt=1.0)
    write_mapped(net, tmp_path / "m.net", num_steps=3 + net.readout_depth)
    xs = np.stack([np.asarray(d.dvs_val[i][0]) for i in range(len(d.dvs_val))])
    ys = np.array([int(d.dvs_val[i][1]) for i in range(len(d.dvs_val))])
    logits, _ = run_loihi_batch(str(tmp_path / "m.net"), net, xs, "fast", None)
    assert float((logits.sum(1).argmax(1) == ys).mean()) == pytest.approx(val, abs=1e-12)
