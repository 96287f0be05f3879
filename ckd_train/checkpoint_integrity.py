"""Integrity of a ``ckd-checkpoint``: a SHA-256 of its payload and a finiteness check of its weights.

``payload_sha256(ckpt)`` hashes, in this order: ``kind``, ``epoch``, ``classes`` and ``config``
(and ``fixed_point`` when present) as canonical JSON (``sort_keys=True``, non-JSON values by
``repr``), then every entry of ``ckpt["model"]`` sorted by name as ``name``, ``dtype``, ``shape`` and
the tensor's raw bytes (contiguous, CPU). Optimiser/scheduler/RNG state are not covered: they
only steer ``--resume``, which checks the config separately. ``make_checkpoint`` stores it as
``ckpt["sha256"]``; :func:`ckd_toolchain.ckd_train.checkpoint.read_checkpoint` recomputes it.
"""
from __future__ import annotations

import hashlib
import json

import torch


def payload_sha256(ckpt: dict) -> str:
    h = hashlib.sha256()
    head = {k: ckpt.get(k) for k in ("kind", "epoch", "classes", "config", "fixed_point")}
    h.update(json.dumps(head, sort_keys=True, default=repr).encode())
    model = ckpt["model"]
    for name in sorted(model):
        t = model[name]
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"model entry {name!r} is not a tensor")
        t = t.detach().cpu().contiguous()
        h.update(f"\0{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def nonfinite_tensors(state: dict) -> list[str]:
    """Names of floating-point tensors of a state dict holding NaN or +-Inf."""
    return [k for k, t in state.items()
            if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all())]
