"""LumiNet, NLD and SAMD against values computed by hand from their formulas (the reference
code's formulas; file:line in the loss modules' docstrings) and their registry / config errors."""
import math

import pytest
import torch

from ckd_toolchain.ckd_train.losses import KD_LOSSES, luminet_loss, nld_loss, samd_loss
from ckd_toolchain.ckd_train.losses.luminet import perception
from ckd_toolchain.ckd_train.losses.samd import align_grids, class_activation_map, spike_activation_map

E = math.e


def test_luminet_hand_values():
    # columns of z_t: (1, 3) and (0, 2): mean 2 / 1, biased var 1 -> h_t = [[-1, -1], [1, 1]]: uniform rows
    z_t = torch.tensor([[1.0, 0.0], [3.0, 2.0]])
    # z_s columns (0, 2) -> (-1, 1); (0, 0) -> var 0 -> 0 / sqrt(eps) = 0: h_s = [[-1, 0], [1, 0]]
    z_s = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    # KL(uniform || softmax(-1, 0)) = .5 ln(.5 (1 + e)) + .5 ln(.5 (1 + e) / e) = ln((1 + e) / 2) - 1/2, both rows
    expected = math.log((1 + E) / 2) - 0.5
    assert luminet_loss(z_s, z_t, tau=1.0).item() == pytest.approx(expected, rel=1e-4)
    # tau = 2: softmax(h / 2); KL(uniform || softmax(-1/2, 0)) * tau^2
    e2 = math.exp(0.5)
    assert luminet_loss(z_s, z_t, tau=2.0).item() == pytest.approx(4 * (math.log((1 + e2) / 2) - 0.25), rel=1e-4)


def test_luminet_is_invariant_to_per_class_affine_maps():
    torch.manual_seed(0)
    z_s, z_t = torch.randn(8, 5), torch.randn(8, 5)
    shift, scale = torch.randn(1, 5), torch.rand(1, 5) + 0.5
    a = luminet_loss(z_s, z_t, tau=4.0).item()
    assert luminet_loss(z_s * scale + shift, z_t, tau=4.0).item() == pytest.approx(a, rel=1e-3)
    assert perception(z_s).mean(0).abs().max().item() < 1e-6
    assert luminet_loss(z_t, z_t, tau=4.0).item() == pytest.approx(0.0, abs=1e-6)


def test_nld_hand_values():
    z_s = torch.tensor([[2.0, 0.0]])
    eps = torch.tensor([[1.0, -1.0]])
    # noise = mean + eps * std^2 = 1 + eps * 2 (unbiased std of (2, 0) is sqrt 2) = (3, -1)
    p_smooth = 1 / (1 + math.exp(-2))            # softmax(2, 0)[0]
    p_noise = 1 / (1 + math.exp(-4))             # softmax(3, -1)[0]
    w = 0.5
    p0 = w * p_smooth + (1 - w) * p_noise
    # teacher uniform: KL(u || p) = .5 ln(.5 / p0) + .5 ln(.5 / (1 - p0))
    expected = 0.5 * math.log(0.5 / p0) + 0.5 * math.log(0.5 / (1 - p0))
    z_t = torch.zeros(1, 2)
    assert nld_loss(z_s, z_t, tau=1.0, nld_weight=w, noise=eps).item() == pytest.approx(expected, rel=1e-5)
    # tau = 2: logits and noise divided by 2, KL times 4
    p0 = w / (1 + math.exp(-1)) + (1 - w) / (1 + math.exp(-2))
    expected2 = 4 * (0.5 * math.log(0.5 / p0) + 0.5 * math.log(0.5 / (1 - p0)))
    assert nld_loss(z_s, z_t, tau=2.0, nld_weight=w, noise=eps).item() == pytest.approx(expected2, rel=1e-5)


def test_nld_weight_one_is_kd_and_noise_is_drawn_when_not_given():
    torch.manual_seed(1)
    z_s, z_t = torch.randn(6, 4), torch.randn(6, 4)
    assert nld_loss(z_s, z_t, tau=4.0, nld_weight=1.0).item() == pytest.approx(
        KD_LOSSES["kd"](z_s, z_t, tau=4.0).item(), rel=1e-5)
    torch.manual_seed(2)
    a = nld_loss(z_s, z_t, tau=2.0, nld_weight=0.5).item()
    torch.manual_seed(2)
    assert nld_loss(z_s, z_t, tau=2.0, nld_weight=0.5, noise=torch.randn_like(z_s)).item() == pytest.approx(a, rel=1e-6)
    with pytest.raises(ValueError, match="shape"):
        nld_loss(z_s, z_t, noise=torch.zeros(2, 4))


def test_samd_maps():
    spikes = torch.zeros(2, 1, 3, 2, 2)             # [T, B, C, H, W]
    spikes[0, 0, 0, 0, 0] = 1
    spikes[1, 0, 2, 0, 0] = 1
    spikes[1, 0, 1, 1, 1] = 1
    assert spike_activation_map(spikes).tolist() == [[[2.0, 0.0], [0.0, 1.0]]]
    feat = torch.tensor([[[[1.0, -2.0]], [[0.5, 1.0]]]])   # [B=1, D=2, H=1, W=2]
    w = torch.tensor([[1.0, 0.0], [2.0, -1.0]])            # [K=2, D=2]
    # class 1: 2 * (1, -2) - (0.5, 1) = (1.5, -5) -> relu (1.5, 0)
    assert class_activation_map(feat, w, torch.tensor([1])).tolist() == [[[1.5, 0.0]]]
    assert class_activation_map(feat, w, torch.tensor([0])).tolist() == [[[1.0, 0.0]]]
    a, b = align_grids(torch.arange(16.0).reshape(1, 4, 4), torch.zeros(1, 2, 2))
    assert a.tolist() == [[[2.5, 4.5], [10.5, 12.5]]] and b.shape == (1, 2, 2)


def test_samd_hand_value():
    sam = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    cam = torch.tensor([[[0.0, 0.0], [0.0, 2.0]]])
    # batch min-max: (a - min) / (max - min + 1e-3); softmax over the 4 cells of norm / tau (tau = 2)
    a, c = 1 / 1.001 / 2, 2 / 2.001 / 2
    ps = [math.exp(a) / (math.exp(a) + 3)] + [1 / (math.exp(a) + 3)] * 3
    pt = [1 / (math.exp(c) + 3)] * 3 + [math.exp(c) / (math.exp(c) + 3)]
    expected = sum(t * (math.log(t) - math.log(s)) for s, t in zip(ps, pt))
    assert samd_loss(sam, cam, tau=2.0).item() == pytest.approx(expected, rel=1e-4)
    assert samd_loss(cam, cam).item() == pytest.approx(0.0, abs=1e-7)
    # the min / max are over the whole batch (reference): a second sample changes the first's terms
    two = samd_loss(torch.cat([sam, 3 * sam]), torch.cat([cam, cam])).item()
    assert two != pytest.approx(expected, rel=1e-3)
    assert samd_loss(sam[:0], cam[:0]).item() == 0.0


def test_samd_gradient_reaches_the_spikes():
    spikes = torch.rand(2, 3, 4, 6, 6, requires_grad=True)
    loss = samd_loss(spike_activation_map(spikes), torch.rand(3, 2, 2))
    loss.backward()
    assert spikes.grad is not None and spikes.grad.abs().sum() > 0


def test_registry_and_config_errors():
    from ckd_toolchain.ckd_train.engine import DEFAULT_CONFIG, merge
    from ckd_toolchain.ckd_train.engine.run_config import validate
    from ckd_toolchain.errors import InputError

    assert list(KD_LOSSES) == ["kd", "dkd", "dist", "luminet", "nld"]
    with pytest.raises(InputError, match="kd_loss must be one of kd, dkd, dist, luminet, nld, got 'lumi'"):
        validate(merge(DEFAULT_CONFIG, {"method": {"kd_loss": "lumi"}}))
    for key, bad in (("samd_weight", -1), ("nld_weight", 1.5), ("samd_tau", 0), ("samd_weight", "x")):
        with pytest.raises(InputError, match=f"method.{key} must be"):
            validate(merge(DEFAULT_CONFIG, {"method": {key: bad}}))


def test_cli_kd_loss_choices_and_bad_name(capsys):
    from ckd_toolchain.ckd_train.cli_train import build_parser, main

    help_text = build_parser()._subparsers._group_actions[0].choices["student"].format_help()
    assert "luminet" in help_text and "nld" in help_text and "--samd-weight" in help_text
    with pytest.raises(SystemExit) as exc:
        main(["student", "--kd-loss", "lumi", "--out", "x"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "luminet" in err and "nld" in err
