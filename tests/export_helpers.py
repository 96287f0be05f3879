"""Small students for the exporter tests (hand-built ``features`` on the contract's module types)."""
from __future__ import annotations

import torch
from torch import nn

from ckd_toolchain.ckd_train.models import build_student
from ckd_toolchain.ckd_train.models.lif import MultiStepLIF
from ckd_toolchain.ckd_train.models.student import SpikingStudent


def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial eval statistics so that folding BN actually changes the conv weights."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)
            m.running_var.copy_(torch.rand(n, generator=g) * 0.8 + 0.2)
            m.weight.data.copy_(torch.rand(n, generator=g) * 2 + 1)
            m.bias.data.copy_(torch.rand(n, generator=g) * 0.5)
    return model.eval()


def tiny(features: list[nn.Module], feat_dim: int, classes: int = 4, seed: int = 0) -> SpikingStudent:
    torch.manual_seed(seed)
    return randomize_bn(SpikingStudent(nn.Sequential(*features), feat_dim, classes, {}, "pooled"), seed)


def lif() -> MultiStepLIF:
    return MultiStepLIF(0.5, 1.0)


def small_student(arch: str, T: int = 4, classes: int = 4, seed: int = 0, size: int = 48,
                  width: float = 0.125) -> SpikingStudent:
    torch.manual_seed(seed)
    cfg = {"arch": arch, "width": width, "num_classes": classes, "T": T, "in_channels": 2, "input_size": size}
    return randomize_bn(build_student(cfg), seed)


def spikes(shape, p=0.2, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=g) < p).float()


def class_frames(classes: int, per_class: int, T: int = 4, size: int = 48, seed: int = 0):
    """Class-structured spike frames ``([N, T, 2, size, size], labels)``: class ``k`` fires with
    probability 0.35 in horizontal band ``k`` of the image (ON polarity) and 0.05 elsewhere."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(classes * per_class, T, 2, size, size, generator=g) < 0.05).float()
    y = torch.arange(classes).repeat_interleave(per_class)
    band = size // classes
    for i, k in enumerate(y.tolist()):
        x[i, :, 0, k * band:(k + 1) * band] = (torch.rand(T, band, size, generator=g) < 0.35).float()
    return x, y


def fitted_student(arch: str = "vgg", classes: int = 4, T: int = 4, seed: int = 0) -> SpikingStudent:
    """A trained-like student: :func:`small_student` whose DVS head is the nearest-class-mean
    classifier of its own last-layer spike counts on :func:`class_frames` (seed ``seed + 100``):
    ``W_k = c_k``, ``b_k = -|c_k|^2 / 2`` for class mean ``c_k``, scaled by ``1/T`` so the
    time-mean logit is ``c_k·s - |c_k|^2/2`` (argmax = nearest mean), so predictions follow the input's class."""
    model = small_student(arch, T=T, classes=classes, seed=seed)
    x, y = class_frames(classes, 8, T, seed=seed + 100)
    feats = []
    hook = model.head_dvs.register_forward_hook(lambda _m, inp, _o: feats.append(inp[0].detach()))
    with torch.no_grad():
        model(x.transpose(0, 1), head="dvs")
    hook.remove()
    counts = feats[0].reshape(T, x.shape[0], -1).sum(0)  # spikes per feature over T
    c = torch.stack([counts[y == k].mean(0) for k in range(classes)])
    with torch.no_grad():
        model.head_dvs.weight.copy_(c)
        model.head_dvs.bias.copy_(-0.5 * (c * c).sum(1) / T)
    return model.eval()
