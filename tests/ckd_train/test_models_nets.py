"""Student SNNs (contract), teacher torchvision keys, checkpoint reader. Budget: < 20 s."""
import pytest
import torch
from torch import nn

from ckd_toolchain.ckd_train.checkpoint import load_student
from ckd_toolchain.errors import InputError
from ckd_toolchain.ckd_train.models import build_student, build_teacher
from ckd_toolchain.ckd_train.models.lif import MultiStepLIF
from ckd_toolchain.ckd_train.models.resnet import SpikingBasicBlock

from ckd_toolchain.ckd_train.models.resnet_preact import PreActBasicBlock

ALLOWED = (nn.Conv2d, nn.BatchNorm2d, MultiStepLIF, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Flatten,
           SpikingBasicBlock, PreActBasicBlock)


@pytest.mark.parametrize("arch", ["vgg", "resnet18", "resnet18-post"])
def test_student_contract(arch):
    m = build_student({"arch": arch, "num_classes": 7, "width": 0.125, "T": 3})
    assert all(isinstance(l, ALLOWED) for l in m.features)
    assert all(l.bias is None for l in m.modules() if isinstance(l, nn.Conv2d))
    assert isinstance(m.head_dvs, nn.Linear) and isinstance(m.head_static, nn.Linear)
    x = (torch.rand(3, 2, 2, 48, 48) > 0.7).float()
    assert m(x).shape == (3, 2, 7) and m(x, head="static").shape == (3, 2, 7)


def test_vgg_full_width_shapes():
    m = build_student({"arch": "vgg", "num_classes": 101})
    convs = [l.out_channels for l in m.features if isinstance(l, nn.Conv2d)]
    assert convs == [64, 128, 256, 256, 512, 512, 512, 512]
    assert m.head_dvs.in_features == 512 * 3 * 3


def test_resnet_blocks():
    m = build_student({"arch": "resnet18-post", "num_classes": 10})
    blocks = [l for l in m.features if isinstance(l, SpikingBasicBlock)]
    assert [b.conv1.stride[0] for b in blocks] == [1, 1, 2, 1, 2, 1, 2, 1]
    assert [len(b.shortcut) for b in blocks] == [0, 0, 2, 0, 2, 0, 2, 0]
    assert m.features[0].stride == (1, 1) and m.features[0].in_channels == 2


def test_multistep_equals_per_step_network():
    """Stateless layers over T*B frames == running the whole net one time step at a time."""
    torch.manual_seed(0)
    m = build_student({"arch": "resnet18", "num_classes": 5, "width": 0.0625}).eval()
    x = (torch.rand(4, 2, 2, 48, 48) > 0.6).float()
    ref = []
    lifs = m.lif_modules()
    import snntorch
    leaky = {id(l): snntorch.Leaky(beta=0.5, threshold=1.0, reset_mechanism="zero") for l in lifs}
    # Implement the per-step reference by monkeypatching each MultiStepLIF's forward
    originals = {}
    for l in lifs:
        originals[id(l)] = l.forward
        mem = {"u": None}

        def step(inp, _l=l, _mem=mem):
            lk = leaky[id(_l)]
            if _mem["u"] is None:
                _mem["u"] = torch.zeros_like(inp)
            s, _mem["u"] = lk(inp, _mem["u"])
            return s
        l.forward = step
    with torch.no_grad():
        for t in range(4):
            ref.append(m.head_dvs(m.features(x[t])))
        for l in lifs:
            l.forward = originals[id(l)]
        out = m(x)
    torch.testing.assert_close(out, torch.stack(ref))


def _torchvision_resnet_keys(blocks, bottleneck):
    """Reference key list written from torchvision's documented ResNet architecture."""
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    keys = ["conv1.weight"] + [f"bn1.{k}" for k in bn]
    n_conv = 3 if bottleneck else 2
    for li, n in enumerate(blocks, start=1):
        for b in range(n):
            p = f"layer{li}.{b}"
            for c in range(1, n_conv + 1):
                keys.append(f"{p}.conv{c}.weight")
                keys += [f"{p}.bn{c}.{k}" for k in bn]
            if b == 0 and (li > 1 or bottleneck):
                keys.append(f"{p}.downsample.0.weight")
                keys += [f"{p}.downsample.1.{k}" for k in bn]
    return keys + ["fc.weight", "fc.bias"]


@pytest.mark.parametrize("arch,blocks,bottleneck", [
    ("resnet18", (2, 2, 2, 2), False), ("resnet34", (3, 4, 6, 3), False),
    ("resnet50", (3, 4, 6, 3), True), ("wide_resnet50_2", (3, 4, 6, 3), True),
    ("wide_resnet101_2", (3, 4, 23, 3), True)])
def test_teacher_keys_match_torchvision(arch, blocks, bottleneck):
    t = build_teacher({"arch": arch, "num_classes": 1000})
    assert list(t.state_dict().keys()) == _torchvision_resnet_keys(blocks, bottleneck)


def test_teacher_param_counts_match_torchvision():
    # torchvision documents 11,689,512 (resnet18) and 68,883,240 (wide_resnet50_2) parameters
    assert sum(p.numel() for p in build_teacher({"arch": "resnet18", "num_classes": 1000}).parameters()) == 11689512
    assert sum(p.numel() for p in build_teacher({"arch": "wide_resnet50_2", "num_classes": 1000}).parameters()) == 68883240
    assert build_teacher({"arch": "wide_resnet50_2", "num_classes": 1000}).layer1[0].conv1.out_channels == 128


def test_load_torchvision_weights_strict_then_fc_swap(tmp_path):
    from ckd_toolchain.ckd_train.models.teacher_resnet import load_torchvision_weights
    src = build_teacher({"arch": "resnet18", "num_classes": 1000})
    torch.save(src.state_dict(), tmp_path / "r18.pth")
    t = load_torchvision_weights(build_teacher({"arch": "resnet18", "num_classes": 1000}), tmp_path / "r18.pth", 10)
    assert t.fc.out_features == 10
    assert torch.equal(t.conv1.weight, src.conv1.weight)
    sd = src.state_dict()
    sd.pop("layer1.0.conv1.weight")
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(InputError, match="bad.pth"):
        load_torchvision_weights(build_teacher({"arch": "resnet18", "num_classes": 1000}), tmp_path / "bad.pth", 10)


def test_load_student_roundtrip_and_errors(tmp_path):
    m = build_student({"arch": "vgg", "num_classes": 4, "width": 0.125, "T": 2})
    ck = {"format": "ckd-checkpoint", "version": 1, "kind": "student", "model": m.state_dict(),
          "config": {"student": m.cfg}, "classes": list("abcd"), "epoch": 0}
    torch.save(ck, tmp_path / "ok.pt")
    m2, ck2 = load_student(tmp_path / "ok.pt")
    assert not m2.training and ck2["classes"] == list("abcd")
    x = (torch.rand(2, 1, 2, 48, 48) > 0.5).float()
    torch.testing.assert_close(m2(x), m.eval()(x))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="junk.pt"):
        load_student(tmp_path / "junk.pt")
    ck["config"]["student"] = {**m.cfg, "width": 0.25}
    torch.save(ck, tmp_path / "mismatch.pt")
    with pytest.raises(InputError, match="do not match"):
        load_student(tmp_path / "mismatch.pt")
    with pytest.raises(InputError, match="does not exist"):
        load_student(tmp_path / "missing.pt")


def test_forward_both_separate_bn_keeps_dvs_running_stats():
    torch.manual_seed(0)
    m = build_student({"arch": "vgg", "num_classes": 3, "width": 0.0625, "T": 2}).train()
    x_d = (torch.rand(2, 4, 2, 48, 48) > 0.8).float()
    x_s = torch.rand(2, 4, 2, 48, 48)
    ref = build_student({"arch": "vgg", "num_classes": 3, "width": 0.0625, "T": 2}).train()
    ref.load_state_dict(m.state_dict())
    ld, ls, fd, fs = m.forward_both(x_d, x_s, separate_bn=True)
    ld_ref, fd_ref = ref(x_d, return_features=True)
    torch.testing.assert_close(ld, ld_ref)
    torch.testing.assert_close(fd, fd_ref)
    for k, v in ref.state_dict().items():  # running stats: the DVS pass only
        torch.testing.assert_close(m.state_dict()[k], v, msg=k)
    assert ls.shape == (2, 4, 3) and fs.shape == fd.shape


def test_preact_resnet18_is_he2024_transfer_resnet18():
    """Issue 12 item 5: ``resnet18`` = He et al.'s pre-activation net (braincog/model_zoo/resnet.py)."""
    from ckd_toolchain.ckd_train.models.resnet_preact import PreActBasicBlock

    m = build_student({"arch": "resnet18", "width": 0.125, "num_classes": 3, "T": 2})
    f = list(m.features)
    assert isinstance(f[0], torch.nn.Conv2d) and isinstance(f[1], PreActBasicBlock)  # stem: conv only
    assert [type(x).__name__ for x in f[-3:]] == ["BatchNorm2d", "AdaptiveAvgPool2d", "Flatten"]
    assert sum(isinstance(x, PreActBasicBlock) for x in f) == 8 and m.cka_source == "pooled"
    blk = f[3]  # first block of layer2: stride 2, BN-LIF-conv1x1 downsample (resnet.py:623-636)
    assert [type(x).__name__ for x in blk.shortcut] == ["BatchNorm2d", "MultiStepLIF", "Conv2d"]
    # BasicBlock.forward (resnet.py:92-113), copied: bn1, node1, conv1, bn2, node2, conv2, += identity
    torch.manual_seed(0)
    blk.eval()
    for mod in blk.modules():
        if isinstance(mod, MultiStepLIF):
            mod.time_steps = 3
    x = torch.randn(3 * 2, blk.bn1.num_features, 8, 8) * 2
    out = blk.bn1(x)
    out = blk.lif1(out)
    out = blk.conv1(out)
    out = blk.bn2(out)
    out = blk.lif2(out)
    out = blk.conv2(out)
    identity = blk.shortcut(x)
    out += identity
    assert torch.equal(blk(x), out)
    y = m(torch.rand(2, 2, 2, 48, 48))
    assert y.shape == (2, 2, 3)
    assert build_student({"arch": "resnet18-post", "width": 0.125, "num_classes": 3, "T": 2}).features[2].__class__ is MultiStepLIF


def test_cka_membrane_after_reset_is_he2024_node_mem():
    """Issue 12 item 4: He et al. read ``node.mem`` after ``mem * (1 - spike)`` (node.py:503)."""
    torch.manual_seed(1)
    x = torch.rand(3, 4, 2, 48, 48)
    feats = {}
    for mode in ("before-reset", "after-reset"):
        torch.manual_seed(0)
        m = build_student({"arch": "vgg", "width": 0.125, "num_classes": 3, "T": 3, "cka_membrane": mode}).train()
        feats[mode] = m(x, return_features=True)[1]
    before, after = feats["before-reset"], feats["after-reset"]
    want = before * (1 - (before > 1.0).float())
    assert torch.equal(after, want) and (before > 1.0).any() and not torch.equal(after, before)
