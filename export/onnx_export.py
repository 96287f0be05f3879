"""ONNX export (GPU reference): the student unrolled over ``T`` and the ANN teacher.

Student: :class:`UnrolledStudent` runs ``features`` + ``head_dvs`` one time step at a time with
each LIF's membrane an explicit tensor (``ckd_train.models.lif.lif_step``, the training update
``U ← beta (1 - H(U - V_th)) U + X``, spike ``H(U - V_th)`` as ``Greater`` + ``Cast``). The Python
loop over ``T`` is traced by ``torch.onnx.export`` (TorchScript exporter, ``dynamo=False``,
opset 17) into an unrolled graph. Layout: input ``frames[T, B, C, H, W]`` float32 (time first,
``T`` fixed by the unrolling, ``B`` dynamic; the frames of ``ckd_train.data``, e.g. binary
``[T, B, 2, 48, 48]``), output ``logits[T, B, classes]`` float32 (one logit vector per time step;
the prediction is the argmax of the mean over ``T``, as in training and ``ckd-deploy``). The
first step skips the membrane decay (``U = X`` exactly, as ``beta·0 + X``), so the graph needs no
batch-sized zeros tensor. ``torch.onnx.export(do_constant_folding=True)`` folds BatchNorm into the
convolutions; :mod:`ckd_toolchain.export.onnx_fold` then removes the remaining ``Constant`` /
``Identity`` nodes (the counts before and after are stored in the file's ``folding`` property).

Teacher: a plain ``hsv[B, 3, H, W] → logits[B, classes]`` export.

``metadata_props`` (schema ``ckd-onnx/1``, JSON values for non-strings): ``format``, ``model``
(student | teacher), ``input`` / ``output`` (the layouts above, in words), ``folding``, and for the
student ``T``, ``classes``, ``num_classes``, ``frame_encoding``, ``source_sha256`` (of the
checkpoint), ``arch``, ``method``, ``weights`` (``float`` or the Loihi grid), ``beta``,
``threshold`` (the keys of :mod:`ckd_toolchain.nir_metadata`); the teacher has ``classes`` and
``source_sha256``. :func:`run_onnx` checks the input against the file's fixed dims first: a wrong
``T`` is one line naming the file, its ``T`` and what to do (:func:`check_onnx_input`).

:func:`onnx_max_abs_diff` runs the file with onnxruntime (CPU) and returns the largest absolute
difference to the PyTorch logits on the same input; :func:`onnx_compare` also gives it per sample.

Tolerance. The teacher is continuous: onnxruntime matches PyTorch to ~1e-5 (check: 1e-4 on every
sample). The student thresholds membranes: onnxruntime's convolution (MLAS; onnxruntime has no
float64 Conv to compare exactly) rounds differently from PyTorch's, so a membrane within a few ulps
of the threshold can spike in one and not the other, and that flip changes the logits by a
weight-sized amount. Measured on the demo student (VGG width 0.125, N-Digits test split, 179
samples, T = 6): 177 samples within 1e-4, 2 with a flipped spike (max |diff| 0.41), predictions
equal on all 179. Same numbers with onnxruntime's graph optimisations off, so it is the conv
arithmetic, not the Conv+BN fusion. The student check is therefore: logits within 1e-4 on
≥ ``STUDENT_MIN_EXACT_FRACTION`` (95 %) of the samples and equal predictions on ≥ 95 %.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ckd_toolchain.atomic_io import atomic_path
from ckd_toolchain.errors import InputError

OPSET = 17
ONNX_FORMAT = "ckd-onnx/1"
TOLERANCE = 1e-4
STUDENT_MIN_EXACT_FRACTION = 0.95


def _heaviside(u: torch.Tensor) -> torch.Tensor:
    return (u > 0).to(u.dtype)


class UnrolledStudent(nn.Module):
    """``frames[T, B, C, H, W] → logits[T, B, K]`` stepping every layer per time step."""

    def __init__(self, student: nn.Module, T: int):
        super().__init__()
        self.student = student
        self.T = int(T)

    def _lif(self, mod, x, mems: dict):
        from ckd_toolchain.ckd_train.models.lif import lif_step

        mem = mems.get(id(mod))
        if mem is None:  # first step: U = beta (1 - H(0 - V_th)) 0 + X = X exactly (V_th > 0); no zeros tensor
            if not float(mod.threshold) > 0:
                raise ValueError("the ONNX export needs a positive LIF threshold")
            s, mem = _heaviside(x - mod.threshold), x
        else:
            s, mem = lif_step(x, mem, mod.beta, mod.threshold, _heaviside)
        mems[id(mod)] = mem
        return s

    def _run(self, module: nn.Module, x, mems: dict):
        from ckd_toolchain.ckd_train.models.lif import MultiStepLIF
        from ckd_toolchain.ckd_train.models.resnet import SpikingBasicBlock

        if isinstance(module, MultiStepLIF):
            return self._lif(module, x, mems)
        if isinstance(module, SpikingBasicBlock):
            out = self._lif(module.lif1, module.bn1(module.conv1(x)), mems)
            out = module.bn2(module.conv2(out)) + module.shortcut(x)
            return self._lif(module.lif2, out, mems)
        from ckd_toolchain.ckd_train.models.resnet_preact import PreActBasicBlock

        if isinstance(module, PreActBasicBlock):  # resnet_preact.py: conv2(lif2(bn2(conv1(lif1(bn1 x))))) + sc
            out = module.conv1(self._lif(module.lif1, module.bn1(x), mems))
            out = module.conv2(self._lif(module.lif2, module.bn2(out), mems))
            return out + self._run(module.shortcut, x, mems)
        if isinstance(module, nn.Sequential):
            for m in module:
                x = self._run(m, x, mems)
            return x
        return module(x)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        mems: dict = {}
        outs = []
        for t in range(self.T):
            h = self._run(self.student.features, frames[t], mems)
            outs.append(self.student.head_dvs(h))
        return torch.stack(outs)


def _export(module: nn.Module, example: torch.Tensor, out_path: str | os.PathLike, input_name: str,
            dynamic_axes: dict, metadata: dict) -> Path:
    """Export, fold constants (:mod:`ckd_toolchain.export.onnx_fold`), set ``metadata_props``
    (including ``folding``: the node count per op type before and after folding, JSON)."""
    import onnx

    from ckd_toolchain.export.onnx_fold import count_ops, fold_constants

    out_path = Path(out_path)
    with atomic_path(out_path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), str(tmp), dynamo=False, opset_version=OPSET,
                          input_names=[input_name], output_names=["logits"],
                          dynamic_axes=dynamic_axes, do_constant_folding=True)
        raw = onnx.load(str(tmp))
        model = fold_constants(raw)
        meta = {**metadata, "folding": {"exported": count_ops(raw), "folded": count_ops(model)}}
        onnx.helper.set_model_props(model, {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()})
        onnx.save(model, str(tmp))
    return out_path


def student_onnx_metadata(nir_meta: dict, T: int, input_shape) -> dict:
    """``metadata_props`` of a student file: the NIR metadata keys that describe the model
    (:mod:`ckd_toolchain.nir_metadata`) plus the tensor layouts (module docstring)."""
    keep = ("classes", "num_classes", "frame_encoding", "source_sha256", "arch", "method", "weights", "beta", "threshold")
    shape = ", ".join(str(int(s)) for s in input_shape)
    return {"format": ONNX_FORMAT, "model": "student", "T": int(T), **{k: nir_meta[k] for k in keep if k in nir_meta},
            "input": f"frames[T={int(T)}, B, {shape}] float32 ({nir_meta.get('frame_encoding', '')} frames, time first)",
            "output": "logits[T, B, num_classes] float32 (per time step; predict argmax of the mean over T)"}


def export_student_onnx(student: nn.Module, T: int, input_shape, out_path: str | os.PathLike,
                        metadata: dict | None = None) -> Path:
    """Write the unrolled student (``frames[T, B, C, H, W]``, ``B`` dynamic) to ``out_path``."""
    example = torch.zeros(int(T), 1, *[int(s) for s in input_shape])
    meta = metadata if metadata is not None else student_onnx_metadata({}, T, input_shape)
    return _export(UnrolledStudent(student.eval(), T).eval(), example, out_path, "frames",
                   {"frames": {1: "batch"}, "logits": {1: "batch"}}, meta)


def export_teacher_onnx(teacher: nn.Module, input_shape, out_path: str | os.PathLike,
                        metadata: dict | None = None) -> Path:
    """Write the ANN teacher (``hsv[B, 3, H, W]``, ``B`` dynamic) to ``out_path``."""
    example = torch.zeros(1, *[int(s) for s in input_shape])
    shape = ", ".join(str(int(s)) for s in input_shape)
    meta = {"format": ONNX_FORMAT, "model": "teacher", **(metadata or {}),
            "input": f"hsv[B, {shape}] float32 (HSV image in [0, 1])", "output": "logits[B, num_classes] float32"}
    return _export(teacher.eval(), example, out_path, "hsv", {"hsv": {0: "batch"}, "logits": {0: "batch"}}, meta)


def check_onnx_input(path: str | os.PathLike, sess, x: np.ndarray) -> None:
    """A one-line ``InputError`` when ``x`` does not fit the file's fixed input dims (e.g. a wrong
    ``T``: the student is unrolled over exactly ``T`` steps)."""
    inp = sess.get_inputs()[0]
    want = list(inp.shape)
    fixed_bad = [i for i, d in enumerate(want) if isinstance(d, int) and (i >= x.ndim or x.shape[i] != d)]
    if x.ndim != len(want) or fixed_bad:
        meta = sess.get_modelmeta().custom_metadata_map
        hint = ""
        if inp.name == "frames" and fixed_bad == [0] and x.ndim == len(want):
            hint = (f": this file is the student unrolled over T = {want[0]} time steps and cannot run T = "
                    f"{x.shape[0]}; export it again from a checkpoint with T = {x.shape[0]}")
        layout = meta.get("input", f"{inp.name}{[d if isinstance(d, int) else 'B' for d in want]}")
        raise InputError(path, f"input {inp.name} must be {layout}, got shape {list(x.shape)}{hint}")


def onnx_metadata(path: str | os.PathLike) -> dict:
    """``metadata_props`` of an ONNX file, JSON values decoded."""
    import onnx

    out = {}
    for p in onnx.load(str(path), load_external_data=False).metadata_props:
        try:
            out[p.key] = json.loads(p.value)
        except ValueError:
            out[p.key] = p.value
    return out


def run_onnx(path: str | os.PathLike, x: np.ndarray | torch.Tensor) -> np.ndarray:
    """onnxruntime (CPU) on the single input ``x``; returns the first output."""
    import onnxruntime as ort

    try:
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise InputError(path, f"onnxruntime cannot load it: {exc}") from None
    x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    check_onnx_input(path, sess, x)
    name = sess.get_inputs()[0].name
    return sess.run(None, {name: x.astype(np.float32)})[0]


def onnx_max_abs_diff(path: str | os.PathLike, module: nn.Module, x: torch.Tensor) -> float:
    """``max |onnxruntime(path, x) - module(x)|`` (``module`` as exported, e.g. UnrolledStudent)."""
    with torch.no_grad():
        ref = module(x).detach().cpu().numpy()
    got = run_onnx(path, x)
    if got.shape != ref.shape:
        raise InputError(path, f"ONNX output shape {got.shape} differs from PyTorch's {ref.shape}")
    return float(np.abs(got - ref).max())


def onnx_compare(path: str | os.PathLike, module: nn.Module, x: torch.Tensor, batch_axis: int) -> dict:
    """onnxruntime vs PyTorch on ``x``: max |diff| overall and per sample (``batch_axis`` of the
    logits: 1 for the unrolled student ``[T, B, K]``, 0 for the teacher), samples within
    :data:`TOLERANCE`, prediction agreement (argmax of the logits, time-mean for the student)."""
    with torch.no_grad():
        ref = module(x).detach().cpu().numpy()
    got = run_onnx(path, x)
    if got.shape != ref.shape:
        raise InputError(path, f"ONNX output shape {got.shape} differs from PyTorch's {ref.shape}")
    d = np.moveaxis(np.abs(got - ref), batch_axis, 0).reshape(ref.shape[batch_axis], -1).max(axis=1)
    if batch_axis == 1:
        pa, pb = ref.mean(0).argmax(-1), got.mean(0).argmax(-1)
    else:
        pa, pb = ref.argmax(-1), got.argmax(-1)
    return {"samples": int(d.size), "max_abs_diff": float(d.max()), "tolerance": TOLERANCE,
            "samples_within_tolerance": int((d <= TOLERANCE).sum()),
            "prediction_agreement": float((pa == pb).mean())}


def onnx_passes(result: dict, student: bool) -> bool:
    """The tolerance of the module docstring."""
    if not student:
        return result["max_abs_diff"] <= TOLERANCE
    return (result["samples_within_tolerance"] >= STUDENT_MIN_EXACT_FRACTION * result["samples"]
            and result["prediction_agreement"] >= STUDENT_MIN_EXACT_FRACTION)
