"""Fixed-point-aware training: grid values survive the Loihi mapper unchanged; the trained, baked,
exported and deployed networks spike identically; training through the grid works end to end."""
import contextlib

import numpy as np
import pytest
import torch

from ckd_toolchain.ckd_train.engine import DEFAULT_CONFIG, merge, train_student
from ckd_toolchain.ckd_train.engine.synthetic_pairs import SyntheticPairs
from ckd_toolchain.errors import InputError
from ckd_toolchain.ckd_train.models.fixed_point_training import bake_fixed_point, grid_plan
from ckd_toolchain.export.nir_from_student import student_to_nir
from ckd_toolchain.hardware.deploy.loihi_inference import run_loihi_batch
from ckd_toolchain.loihi2.quantization import on_loihi_grid, quantize_synapse
from ckd_toolchain.simulators.loihi.float_layers import run_layers
from ckd_toolchain.hardware.lowering.netx_mapping import write_mapped as write_netx
from ckd_toolchain.hardware.lowering.nir_to_loihi import map_graph
from ckd_toolchain.hardware.lowering.pool_as_conv import expand_for_thermometer
from ckd_toolchain.simulators.nir_float import run_nir
from export_helpers import small_student, spikes


def test_on_loihi_grid_by_hand():
    # s = min(254/0.5, 256/0.25, 131071/1) = 508 (weight); e = 1 (0.5*508 = 254 > 127.5)
    w = np.array([[0.5, -0.25, 0.1]])
    wg, bg = on_loihi_grid(w, np.array([0.03]), 1.0)
    W = np.array([254, -128, 50])        # 2*round(0.1*508/2 = 25.4) = 50
    vth = 508                            # round(1.0 * 508)
    c = 1.0 * 508 / (vth + 1 / 128)
    np.testing.assert_allclose(wg, c * W[None] / 508, rtol=1e-15)
    np.testing.assert_allclose(bg, c * np.array([15]) / 508, rtol=1e-15)   # round(0.03*508 = 15.24)
    # read-out layer (no threshold): c = 1
    wg, _ = on_loihi_grid(w, None, None)
    np.testing.assert_allclose(wg, W[None] / 508, rtol=1e-15)
    # after a 2x2 average pool the scale is set by w/4: s = 254/0.125 = 2032, W per thermometer synapse
    wg, _ = on_loihi_grid(w, None, None, pool_window=4)
    np.testing.assert_allclose(wg, 4 * W[None] / 2032, rtol=1e-15)


@pytest.mark.parametrize("n", [1, 4, 9])
def test_mapper_keeps_grid_values(n):
    """quantize_synapse of grid values gives back the same integers: no rounding error left."""
    rng = np.random.default_rng(n)
    for trial in range(40):
        w = rng.normal(0, rng.uniform(0.01, 2), (5, 3, 3, 3))
        b = rng.normal(0, [0.01, 1.0, 30.0][trial % 3], 5)
        th = None if trial % 4 == 0 else float(rng.uniform(0.2, 3))
        wg, bg = on_loihi_grid(w, b, th, n)
        syn = wg if n == 1 else expand_for_thermometer(wg, n, 1.0 / n)
        q = quantize_synapse(syn, bg, th, thermometer=None if n == 1 else (n, 9))
        # independent: the integers on the original scale s
        q0 = quantize_synapse(w / n if n > 1 else w, b, th)
        s = q0.scale
        W_expected = np.clip(np.rint(w * s / n / 2**q0.mant_exp), -128, 127) * 2**q0.mant_exp
        stored = q.weight if n == 1 else q.weight.reshape(5, 3, n, 9)[:, :, 0].reshape(w.shape)
        np.testing.assert_array_equal(stored, W_expected)
        if n > 1:   # every thermometer copy carries the same integer (nothing left to round)
            np.testing.assert_array_equal(q.weight.reshape(5, 3, n, 9), np.repeat(W_expected.reshape(5, 3, 1, 9), n, 2))
        np.testing.assert_array_equal(q.bias, np.clip(np.rint(b * s), -4096, 4095))
        if th is not None:
            assert q.vth_mant == int(np.rint(th * s))


def test_plan_and_errors():
    m = small_student("vgg")
    plan = grid_plan(m)
    assert [p.pool_window for p in plan] == [1, 1, 4, 1, 4, 1, 4, 1, 4]   # VGG: AP after blocks 2, 4, 6, 8
    assert plan[-1].conv is None and plan[-1].threshold is None
    with pytest.raises(ValueError, match="SpikingBasicBlock|fixed-point training supports"):
        grid_plan(small_student("resnet18-post"))
    with pytest.raises(ValueError, match="must be followed by"):  # pre-activation: stem conv has no LIF
        grid_plan(small_student("resnet18"))
    cfg = merge(DEFAULT_CONFIG, {"student": {"arch": "resnet18-post"}, "train": {"fixed_point_epochs": 1}})
    with pytest.raises(InputError, match="supports the VGG student and the pre-activation resnet18"):
        train_student(cfg, "/nonexistent", data=SyntheticPairs(num_classes=2, per_class=(2, 1, 1), T=2))


def test_trained_baked_exported_and_deployed_networks_agree(tmp_path):
    """fixed-point forward == baked student == NIR float reference == mapped integer network ==
    the fast Loihi simulator (24-bit state, truncating decays): same logits, up to float rounding."""
    torch.manual_seed(0)
    m = small_student("vgg", T=4)
    x = spikes((4, 6, 2, 48, 48), p=0.3)
    m.fixed_point = True
    with torch.no_grad():
        out_fp = m(x).double().numpy()
        with torch.autocast("cpu", dtype=torch.bfloat16):   # as CUDA training runs: must not leave the grid
            out_amp = m(x).double().numpy()
    np.testing.assert_array_equal(out_amp, out_fp)
    bake_fixed_point(m)
    with torch.no_grad():
        out_baked = m(x).double().numpy()
    np.testing.assert_allclose(out_baked, out_fp, atol=1e-5)
    g = student_to_nir(m, (2, 48, 48), {"T": 4}).graph
    net = map_graph(g, pool_mode="thermometer", dt=1.0)
    for layer in net.layers:
        q = layer.quant
        assert q.quant_error_max <= 1e-6 * np.abs(q.weight).max() / q.scale, layer.name
        assert q.saturated_weights == q.saturated_biases == 0
    xb = x.transpose(0, 1).numpy()
    ref = run_nir(g, torch.as_tensor(xb), dt=1.0).double().numpy().reshape(6, 4, -1)
    np.testing.assert_allclose(ref, out_fp.transpose(1, 0, 2), atol=1e-5)
    mapped, counts_f = run_layers(net, xb)
    integer, counts_q = run_layers(net, xb, quantized=True)
    for a, b in zip(counts_f, counts_q):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(integer, ref, atol=1e-5)
    path = tmp_path / "m.net"
    write_netx(net, path, num_steps=4 + len(net.layers))
    deployed, _ = run_loihi_batch(str(path), net, xb, "fast", None)
    np.testing.assert_allclose(deployed, ref, atol=1e-5)
    assert (deployed.sum(1).argmax(1) == ref.sum(1).argmax(1)).all()


def test_training_with_fixed_point_epochs(tmp_path):
    from ckd_toolchain.ckd_train.checkpoint import load_student
    from ckd_toolchain.ckd_train.engine.evaluation import evaluate_student
    from ckd_toolchain.ckd_train.engine.student_trainer import Interrupted

    d = SyntheticPairs(num_classes=3, per_class=(6, 3, 3), rgb_per_class=(8, 3, 3), T=3)
    cfg = merge(DEFAULT_CONFIG, {
        "data": {"T": 3, "size": 48}, "student": {"width": 0.0625},
        "train": {"epochs": 3, "batch_size": 8, "lr": 3e-3, "warmup_epochs": 1, "progress": False,
                  "threads": 1, "eval_batch_size": 64, "fixed_point_epochs": 2},
        "method": {"name": "dvs-only"}})
    with pytest.raises(Interrupted):   # stop after the one float epoch ...
        train_student(merge(cfg, {"train": {"_stop_after_epoch": 1}}), tmp_path / "r", data=d, log=lambda _m: None)
    after_float = torch.load(tmp_path / "r" / "last.pt", weights_only=False)
    assert "fixed_point" not in after_float
    summary = train_student(cfg, tmp_path / "r", data=d, resume=True, log=lambda _m: None)   # ... then finish
    assert summary["fixed_point_epochs"] == 2 and summary["best_epoch"] >= 2
    best = torch.load(tmp_path / "r" / "best.pt", weights_only=False)
    last = torch.load(tmp_path / "r" / "last.pt", weights_only=False)
    assert best["fixed_point"]["since_epoch"] == 2 == last["fixed_point"]["since_epoch"]
    # BN statistics are frozen during the fixed-point epochs; the other weights keep training
    for k, v in last["model"].items():
        if k.endswith(("running_mean", "running_var")):
            assert torch.equal(v, after_float["model"][k]), k
    assert not torch.equal(last["model"]["features.0.weight"], after_float["model"]["features.0.weight"])
    # the loaded student is the baked one (BN = y + b) and its validation accuracy is the one recorded
    model, _ = load_student(tmp_path / "r" / "best.pt")
    for layer in grid_plan(model)[:-1]:
        bn = model.features[layer.bn]
        assert float(bn.eps) == 0.0 and torch.all(bn.weight == 1) and torch.all(bn.running_var == 1)
    val = evaluate_student(model, d.dvs_val, torch.device("cpu"), 64, contextlib.nullcontext)
    assert val == pytest.approx(summary["best_val_acc"], abs=1e-12)
