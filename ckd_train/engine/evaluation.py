"""Evaluation: student on DVS frames through the DVS head (what gets deployed), teacher on HSV.

Prediction of the SNN = argmax of the time-averaged logits (mean over T of ``head_dvs``).
"""
from __future__ import annotations

import contextlib

import torch


@torch.no_grad()
def student_correct(student, dataset, device, batch_size: int = 256, autocast=None) -> list[int]:
    """Per sample of ``dataset``: 1 if the student's DVS-head prediction is right, else 0."""
    autocast = autocast or contextlib.nullcontext
    was = student.training
    student.eval()
    out: list[int] = []
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start, min(len(dataset), start + batch_size))]
        x = torch.stack([it[0] for it in items]).transpose(0, 1).to(device)
        y = torch.tensor([it[1] for it in items], device=device)
        with autocast():
            logits = student(x, head="dvs").float().mean(0)
        out += [int(v) for v in (logits.argmax(1) == y).tolist()]
    student.train(was)
    return out


def evaluate_student(student, dataset, device, batch_size: int = 256, autocast=None) -> float:
    """Accuracy of :func:`student_correct` (NaN for an empty dataset)."""
    if len(dataset) == 0:
        return float("nan")
    return sum(student_correct(student, dataset, device, batch_size, autocast)) / len(dataset)


@torch.no_grad()
def teacher_logits(teacher, dataset, device, batch_size: int = 256) -> torch.Tensor:
    """Logits ``[N, classes]`` of a frozen teacher over a whole HSV dataset (eval mode)."""
    teacher.eval()
    out = []
    for start in range(0, len(dataset), batch_size):
        x = torch.stack([dataset[i][0] for i in range(start, min(len(dataset), start + batch_size))]).to(device)
        out.append(teacher(x).float().cpu())
    return torch.cat(out) if out else torch.zeros(0)


@torch.no_grad()
def teacher_class_maps(teacher, dataset, device, batch_size: int = 256) -> torch.Tensor:
    """Class activation maps ``[N, h, w]`` of a frozen teacher for its predicted class (eval mode;
    :func:`ckd_toolchain.ckd_train.losses.samd.class_activation_map` of ``teacher.feature_map``)."""
    from ckd_toolchain.ckd_train.losses.samd import class_activation_map

    teacher.eval()
    out = []
    for start in range(0, len(dataset), batch_size):
        x = torch.stack([dataset[i][0] for i in range(start, min(len(dataset), start + batch_size))]).to(device)
        fmap = teacher.feature_map(x).float()
        pred = teacher.fc(torch.flatten(teacher.avgpool(fmap), 1)).argmax(1)
        out.append(class_activation_map(fmap, teacher.fc.weight, pred).cpu())
    return torch.cat(out) if out else torch.zeros(0)


@torch.no_grad()
def evaluate_teacher(teacher, dataset, device, batch_size: int = 256) -> float:
    if len(dataset) == 0:
        return float("nan")
    was = teacher.training
    logits = teacher_logits(teacher, dataset, device, batch_size)
    teacher.train(was)
    y = torch.tensor([dataset[i][1] for i in range(len(dataset))])
    return (logits.argmax(1) == y).float().mean().item()
