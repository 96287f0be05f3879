"""Issue 12 item 3: BatchNorm statistics per stream and per time step (``method.bn_stats``), as He et
al.'s code computes them (Brain-Cog-Lab/Transfer-for-DVS braincog/model_zoo/vgg_snn.py:257-276: one
``self.feature(inputs[t])`` call per step, RGB stream first, then the DVS stream; every
``BaseConvModule`` has one ``nn.BatchNorm2d``, base_module.py:94,105). Budget: < 20 s."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from ckd_toolchain.ckd_train.models import build_student
from ckd_toolchain.ckd_train.models.bn_stats import per_step_batchnorm, resolve_bn_stats
from ckd_toolchain.ckd_train.models.lif import MultiStepLIF, lif_step

T, B = 3, 4


def _student(arch="vgg", seed=0):
    torch.manual_seed(seed)
    m = build_student({"arch": arch, "num_classes": 3, "width": 0.0625 if arch == "vgg" else 0.125, "T": T}).train()
    m.channels_last = False  # NCHW in both the model and the reference: equal up to summation order
    return m


def _inputs(seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, 2, 48, 48, generator=g) > 0.8).float(), torch.rand(T, B, 2, 48, 48, generator=g)


def _baseline_step_by_step(model, x, head):
    """He et al.'s forward, copied in structure (vgg_snn.py:270-275): for each step t the whole
    feature stack runs on ``x[t]`` alone (so every BN layer sees one step's batch and updates its
    running statistics once per step), LIF state carried over the steps, then the head."""
    mems = {}
    outs = []
    for t in range(x.shape[0]):
        h = x[t]
        for i, layer in enumerate(model.features):
            if isinstance(layer, MultiStepLIF):
                mem = mems.get(i, torch.zeros_like(h))
                h, mems[i] = lif_step(h, mem, layer.beta, layer.threshold, lambda u: (u > 0).to(u.dtype))
            else:
                h = layer(h)
        outs.append(getattr(model, "head_" + head)(h))
    return torch.stack(outs)


def _running(model):
    return {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}


@pytest.mark.parametrize("bn_running", ["both", "dvs"])
def test_per_stream_per_step_equals_he2024_step_by_step_loop(bn_running):
    m = _student()
    ref = copy.deepcopy(m)
    x_d, x_s = _inputs()
    ld, ls, _, _ = m.forward_both(x_d, x_s, bn_stats="per-stream-per-step", bn_running=bn_running)
    if bn_running == "both":  # the baseline: static stream first, both update the running statistics
        ls_ref = _baseline_step_by_step(ref, x_s, "static")
        ld_ref = _baseline_step_by_step(ref, x_d, "dvs")
    else:  # ours: only the DVS steps update them
        ld_ref = _baseline_step_by_step(ref, x_d, "dvs")
        frozen = copy.deepcopy(ref)
        ls_ref = _baseline_step_by_step(frozen, x_s, "static")
    torch.testing.assert_close(ld, ld_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ls, ls_ref, atol=1e-5, rtol=1e-5)
    got, want = _running(m), _running(ref)
    for k in want:
        torch.testing.assert_close(got[k], want[k], msg=k, atol=1e-6, rtol=1e-5)
    assert int(got["features.1.num_batches_tracked"]) == (2 * T if bn_running == "both" else T)


def test_running_stats_are_the_sequential_ema_over_steps():
    """Hand formula: T updates with momentum m: r_T = (1-m)^T r_0 + sum_t m (1-m)^(T-1-t) mu_t."""
    m = _student()
    bn = m.features[1]
    seen = []
    bn.register_forward_hook(lambda _m, inp, _out: seen.append(inp[0].detach().clone()))
    x_d, _ = _inputs()
    m.forward_dvs(x_d, "per-stream-per-step")
    (x_in,) = seen  # the module hook sees the whole [T*B] input once; the per-step calls are inside
    mom = bn.momentum
    r_mean = torch.zeros_like(bn.running_mean)               # r_0: mean 0, var 1 (fresh BN)
    r_var = torch.full_like(bn.running_var, (1 - mom) ** T)
    for t in range(T):
        xt = x_in[t * B:(t + 1) * B].transpose(0, 1).reshape(bn.num_features, -1)
        r_mean = r_mean + mom * (1 - mom) ** (T - 1 - t) * xt.mean(dim=1)
        r_var = r_var + mom * (1 - mom) ** (T - 1 - t) * xt.var(dim=1, unbiased=True)
    torch.testing.assert_close(bn.running_mean, r_mean, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(bn.running_var, r_var, atol=1e-6, rtol=1e-5)
    assert int(bn.num_batches_tracked) == T


@pytest.mark.parametrize("arch", ["vgg", "resnet18"])
def test_every_bn_normalises_each_step_with_its_own_batch_statistics(arch):
    """y = (x_t - mean_t) / sqrt(var_t + eps) * w + b for every step block, at every BN layer."""
    m = _student(arch)
    for bn in m.modules():
        if isinstance(bn, nn.BatchNorm2d):
            with torch.no_grad():
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-0.2, 0.2)
    records = []
    hooks = [bn.register_forward_hook(lambda mod, inp, out: records.append((mod, inp[0].detach(), out.detach())))
             for bn in m.modules() if isinstance(bn, nn.BatchNorm2d)]
    x_d, x_s = _inputs()
    m.forward_both(x_d, x_s, bn_stats="per-stream-per-step", bn_running="both")
    for h in hooks:
        h.remove()
    assert len(records) == 2 * sum(isinstance(b, nn.BatchNorm2d) for b in m.modules())
    differs = False
    for mod, x, y in records:
        for t in range(T):
            xt = x[t * B:(t + 1) * B]
            mu = xt.mean(dim=(0, 2, 3), keepdim=True)
            var = xt.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
            want = (xt - mu) / torch.sqrt(var + mod.eps) * mod.weight.view(1, -1, 1, 1) + mod.bias.view(1, -1, 1, 1)
            torch.testing.assert_close(y[t * B:(t + 1) * B], want, atol=1e-4, rtol=1e-4)
        mu_all = x.mean(dim=(0, 2, 3), keepdim=True)  # all T*B rows together (mode per-stream)
        var_all = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
        pooled = (x - mu_all) / torch.sqrt(var_all + mod.eps) * mod.weight.view(1, -1, 1, 1) + mod.bias.view(1, -1, 1, 1)
        differs = differs or not torch.allclose(pooled, y, atol=1e-3)
    assert differs  # the test would notice all-T statistics


def test_eval_mode_and_frozen_bn_ignore_the_per_step_mode():
    m = _student()
    x_d, _ = _inputs()
    m.forward_dvs(x_d, "per-stream-per-step")
    m.eval()
    before = _running(m)
    with torch.no_grad():
        a = m.forward_dvs(x_d, "per-stream-per-step")
        b = m(x_d)
    assert torch.equal(a, b)
    for k, v in _running(m).items():
        assert torch.equal(v, before[k]), k
    with per_step_batchnorm(m, T):  # the per-step forward is only installed inside the block
        assert all("forward" in vars(bn) for bn in m.modules() if isinstance(bn, nn.BatchNorm2d))
    assert not any("forward" in vars(bn) for bn in m.modules() if isinstance(bn, nn.BatchNorm2d))


def test_mode_resolution_keeps_separate_bn_meaning():
    assert resolve_bn_stats({}) == "mixed"
    assert resolve_bn_stats({"separate_bn": True}) == "per-stream"
    assert resolve_bn_stats({"bn_stats": "per-stream-per-step", "separate_bn": True}) == "per-stream-per-step"
    m = _student()
    x_d, x_s = _inputs()
    with pytest.raises(ValueError, match="bn_stats"):
        m.forward_both(x_d, x_s, bn_stats="per-step")


def test_fixed_point_training_and_nir_export_with_per_step_bn(tmp_path):
    """VGG, transfer, He et al.'s BN mode: the float epoch updates the running statistics per step,
    the fixed-point epoch freezes them, and the exported NIR (BN folded from the eval-mode
    statistics) runs like the loaded student."""
    from ckd_toolchain.ckd_train.checkpoint import load_student
    from ckd_toolchain.ckd_train.engine import DEFAULT_CONFIG, merge, train_student
    from ckd_toolchain.ckd_train.engine.student_trainer import Interrupted
    from ckd_toolchain.ckd_train.engine.synthetic_pairs import SyntheticPairs
    from ckd_toolchain.export.nir_from_student import student_to_nir
    from ckd_toolchain.simulators.nir_float import run_nir

    d = SyntheticPairs(num_classes=3, per_class=(6, 3, 3), rgb_per_class=(8, 3, 3), T=3)
    cfg = merge(DEFAULT_CONFIG, {
        "data": {"T": 3, "size": 48}, "student": {"width": 0.0625},
        "train": {"epochs": 2, "batch_size": 6, "lr": 3e-3, "warmup_epochs": 1, "progress": False,
                  "threads": 1, "eval_batch_size": 64, "fixed_point_epochs": 1},
        "method": {"name": "transfer", "bn_stats": "per-stream-per-step", "bn_running": "both"}})
    with pytest.raises(Interrupted):
        train_student(merge(cfg, {"train": {"_stop_after_epoch": 1}}), tmp_path / "r", data=d, log=lambda _m: None)
    after_float = torch.load(tmp_path / "r" / "last.pt", weights_only=False)
    # 3 batches x (T static + T DVS) per-step updates in the float epoch
    assert int(after_float["model"]["features.1.num_batches_tracked"]) == 3 * 2 * 3
    train_student(cfg, tmp_path / "r", data=d, resume=True, log=lambda _m: None)
    last = torch.load(tmp_path / "r" / "last.pt", weights_only=False)
    for k, v in last["model"].items():
        if k.endswith(("running_mean", "running_var", "num_batches_tracked")):
            assert torch.equal(v, after_float["model"][k]), k
    model, _ = load_student(tmp_path / "r" / "best.pt")
    x = (torch.rand(3, 5, 2, 48, 48, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    with torch.no_grad():
        want = model(x).transpose(0, 1)
    g = student_to_nir(model, (2, 48, 48), {"T": 3}).graph
    got = run_nir(g, x.transpose(0, 1), dt=1.0).reshape(want.shape)
    torch.testing.assert_close(got.float(), want.float(), atol=1e-4, rtol=1e-4)


def test_resnet18_trained_per_step_exports_to_nir():
    from ckd_toolchain.export.nir_from_student import student_to_nir
    from ckd_toolchain.simulators.nir_float import run_nir

    m = _student("resnet18")
    x_d, x_s = _inputs()
    for _ in range(2):
        m.forward_both(x_d, x_s, bn_stats="per-stream-per-step", bn_running="both")
    assert int(m.features[-3].num_batches_tracked) == 2 * 2 * T
    m.eval()
    with torch.no_grad():
        want = m(x_d).transpose(0, 1)
    g = student_to_nir(m, (2, 48, 48), {"T": T}).graph
    got = run_nir(g, x_d.transpose(0, 1), dt=1.0).reshape(want.shape)
    torch.testing.assert_close(got.float(), want.float(), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("bn_running", ["both", "dvs"])
def test_spike_map_is_the_static_streams_in_either_pass_order(bn_running):
    m = _student()
    ref = copy.deepcopy(m)
    x_d, x_s = _inputs()
    got = m.forward_both(x_d, x_s, bn_stats="per-stream-per-step", bn_running=bn_running, spike_map=True)[4]
    seen = []
    ref.spike_map_layer().register_forward_pre_hook(lambda _m, inp: seen.append(inp[0]))
    ref.forward_dvs(x_s, "per-stream-per-step")  # the static frames alone, per step (BN state as before either pass)
    want = seen[0].reshape(T, B, *seen[0].shape[1:])
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
