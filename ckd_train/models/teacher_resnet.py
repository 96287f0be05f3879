"""ANN teacher: ResNet-18/34/50 and Wide-ResNet-50-2/101-2 in plain torch.

Module names reproduce torchvision's ``torchvision.models.resnet`` (v1.5: stride on the 3x3 conv of
Bottleneck) exactly, so ``state_dict`` keys are identical (``conv1, bn1, layer1.0.conv1, ...,
layerN.0.downsample.0/1, fc``) and a downloaded torchvision ``.pth`` loads with ``strict=True``
(:func:`load_torchvision_weights`). Wide-ResNet: ``width_per_group = 128`` (Zagoruyko & Komodakis
via torchvision). ``width`` (default 1) scales all channel counts for CPU demos; only ``width=1``
matches torchvision weights. Input: 3-channel HSV image ``[B, 3, H, W]``.
"""
from __future__ import annotations

import torch
from torch import nn

from ckd_toolchain.ckd_train.models.student import scaled


def _conv3x3(c_in, c_out, stride=1):
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)


def _conv1x1(c_in, c_out, stride=1):
    return nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, base_width=64):
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + idt)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, base_width=64):
        super().__init__()
        w = int(planes * (base_width / 64.0))
        self.conv1 = _conv1x1(inplanes, w)
        self.bn1 = nn.BatchNorm2d(w)
        self.conv2 = _conv3x3(w, w, stride)
        self.bn2 = nn.BatchNorm2d(w)
        self.conv3 = _conv1x1(w, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + idt)


TEACHER_ARCHS = {
    "resnet18": (BasicBlock, (2, 2, 2, 2), 64),
    "resnet34": (BasicBlock, (3, 4, 6, 3), 64),
    "resnet50": (Bottleneck, (3, 4, 6, 3), 64),
    "wide_resnet50_2": (Bottleneck, (3, 4, 6, 3), 128),
    "wide_resnet101_2": (Bottleneck, (3, 4, 23, 3), 128),
}


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000, width_per_group=64, width: float = 1.0,
                 in_channels: int = 3):
        super().__init__()
        planes = [scaled(p, width) for p in (64, 128, 256, 512)]
        self.inplanes = planes[0]
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(in_channels, self.inplanes, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, planes[0], layers[0])
        self.layer2 = self._make_layer(block, planes[1], layers[1], 2)
        self.layer3 = self._make_layer(block, planes[2], layers[2], 2)
        self.layer4 = self._make_layer(block, planes[3], layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(planes[3] * block.expansion, num_classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(_conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.base_width)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, base_width=self.base_width) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def feature_map(self, x):
        """The last feature map ``[B, D, H, W]`` (layer4 output, the input of avgpool + fc)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x):
        return self.fc(torch.flatten(self.avgpool(self.feature_map(x)), 1))


def build_teacher_net(arch: str = "resnet18", num_classes: int = 1000, width: float = 1.0) -> ResNet:
    if arch not in TEACHER_ARCHS:
        raise ValueError(f"unknown teacher arch {arch!r}; choose from {sorted(TEACHER_ARCHS)}")
    block, layers, wpg = TEACHER_ARCHS[arch]
    return ResNet(block, layers, num_classes=num_classes, width_per_group=wpg, width=width)


def load_torchvision_weights(model: ResNet, path, num_classes: int) -> ResNet:
    """Load a torchvision ImageNet ``.pth`` with ``strict=True``, then swap ``fc`` for ``num_classes``.

    The model must be built with 1000 classes and ``width=1`` so the keys and shapes match; the
    ImageNet ``fc`` is dropped and a freshly initialised ``Linear(in, num_classes)`` replaces it.
    """
    from ckd_toolchain.errors import InputError

    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a bad input
        raise InputError(path, f"cannot read teacher weights ({type(exc).__name__}: {exc})") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    try:
        model.load_state_dict(sd, strict=True)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise InputError(path, f"not a torchvision state_dict for this arch: {str(exc)[:300]}") from None
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model
