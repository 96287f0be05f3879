"""Device choice and mixed precision: CUDA with bf16 autocast when available, CPU otherwise."""
from __future__ import annotations

import contextlib
import os

import torch


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            local = int(os.environ.get("LOCAL_RANK", "0"))
            return torch.device("cuda", local)
        return torch.device("cpu")
    return torch.device(name)


def autocast_factory(device: torch.device, amp: bool):
    """bf16 autocast on CUDA when ``amp``; a no-op context on CPU."""
    if device.type == "cuda" and amp:
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext
