"""SAMD in training: the student's static-stream spike map, the teacher's class activation maps,
the objective's SAMD term (replaced samples left out), NLD noise from the epoch plan."""
import numpy as np
import pytest
import torch

from ckd_toolchain.ckd_train.engine import DEFAULT_CONFIG
from ckd_toolchain.ckd_train.engine.epoch_plan import make_epoch_plan, shard
from ckd_toolchain.ckd_train.engine.evaluation import teacher_class_maps
from ckd_toolchain.ckd_train.engine.objective import StudentObjective, published_beta
from ckd_toolchain.ckd_train.losses import class_activation_map, samd_loss, spike_activation_map
from ckd_toolchain.ckd_train.models import build_student, build_teacher

T, B = 2, 3


def _student():
    torch.manual_seed(0)
    return build_student({"arch": "vgg", "width": 0.125, "num_classes": 4, "T": T, "in_channels": 2,
                          "input_size": 48})


def _x(seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, 2, 48, 48, generator=g) < 0.3).float()


def test_forward_both_spike_map_is_the_static_streams_last_spikes():
    m = _student().eval()
    x_d, x_d2, x_s = _x(1), _x(2), _x(3)
    out = m.forward_both(x_d, x_s, spike_map=True)
    assert len(out) == 5 and out[4].shape == (T, B, 64, 6, 6)   # VGG width 1/8: 512 / 8 channels at 6 x 6
    assert set(out[4].unique().tolist()) <= {0.0, 1.0}
    same = m.forward_both(x_d2, x_s, spike_map=True)[4]      # other DVS input, same static stream
    assert torch.equal(out[4], same)
    sep = m.forward_both(x_d, x_s, separate_bn=True, spike_map=True)[4]
    assert torch.equal(out[4], sep)                           # eval: both paths see the same static frames
    assert len(m.forward_both(x_d, x_s)) == 4


def test_dvs_head_input_gives_the_dvs_logits():
    m = _student().eval()
    x = _x(4)
    torch.testing.assert_close(m.head_dvs(m.dvs_head_input(x)), m(x, head="dvs"))


def test_teacher_class_maps_are_the_predicted_class_cams():
    torch.manual_seed(0)
    t = build_teacher({"arch": "resnet18", "num_classes": 4, "width": 0.125}).eval()
    hsv = torch.rand(5, 3, 48, 48)
    ds = [(hsv[i], 0) for i in range(5)]
    cams = teacher_class_maps(t, ds, torch.device("cpu"), batch_size=2)
    assert cams.shape == (5, 2, 2)                            # 48 px -> ResNet-18 layer4 2 x 2
    with torch.no_grad():
        fmap = t.feature_map(hsv)
        pred = t(hsv).argmax(1)
    torch.testing.assert_close(cams, class_activation_map(fmap, t.fc.weight, pred))


def test_objective_samd_term_and_replaced_samples():
    m = dict(DEFAULT_CONFIG["method"], name="ckd", samd_weight=2.0)
    obj = StudentObjective(_student(), m, T).eval()
    x_d, x_s = _x(5), _x(6)
    y = torch.tensor([0, 1, 2])
    z_t, cam = torch.randn(B, 4), torch.rand(B, 2, 2)
    keep = torch.tensor([True, False, True])
    loss, stats, _ = obj(x_d, y, x_static=x_s, teacher_logits=z_t, kd_weight=0.5, teacher_cam=cam, samd_keep=keep)
    spk = obj.student.forward_both(x_d, x_s, spike_map=True)[4]
    expected = samd_loss(spike_activation_map(spk)[keep], cam[keep])
    assert stats["samd"].item() == pytest.approx(expected.item(), rel=1e-6) and expected.item() > 0
    none = obj(x_d, y, x_static=x_s, teacher_logits=z_t, kd_weight=0.5, teacher_cam=cam,
               samd_keep=torch.zeros(B, dtype=torch.bool))
    assert none[1]["samd"].item() == 0.0
    # the total: gamma * (KD + w * SAMD) on top of the transfer terms
    s = stats
    total = m["alpha"] * s["cls_s"] + published_beta(m) * s["da"] + 0.5 * (s["kd"] + 2.0 * s["samd"]) + s["cls_e"]
    assert loss.item() == pytest.approx(total.item(), rel=1e-5)
    plain = StudentObjective(_student(), dict(m, samd_weight=0.0), T).eval()
    assert "samd" not in plain(x_d, y, x_static=x_s, teacher_logits=z_t, kd_weight=0.5)[1]


def test_epoch_plan_noise_is_independent_of_the_split():
    labels = [0, 1, 2] * 4
    a = make_epoch_plan(3, 1, labels, 6, noise_classes=5)
    b = make_epoch_plan(3, 1, labels, 6)
    assert a.nld_noise.shape == (2, 6, 5) and a.nld_noise.dtype == np.float32 and b.nld_noise is None
    assert np.array_equal(a.dvs_idx, b.dvs_idx) and np.array_equal(a.replace_u, b.replace_u)  # drawn last
    row = a.nld_noise[0]
    halves = [shard(row, r, 2, axis=0) for r in range(2)]
    assert np.array_equal(np.concatenate(halves), row) and halves[1].shape == (3, 5)
    assert abs(float(a.nld_noise.mean())) < 0.5 and 0.5 < float(a.nld_noise.std()) < 1.5
