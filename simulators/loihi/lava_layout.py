"""Recorded states from the simulator's storage order to Lava's result layout (compiled).

The fast back end stores a layer's states as ``[T, B, H, W, C]`` (time first, NHWC); ``run_netx``
returns Lava's ``[B, x, y, f, T]`` = ``[B, W, H, C, T]`` (time last). The transposition moves
time to the innermost axis; done per ``(b, w, h)`` as a small ``T x C`` block so that both reads
and writes stay in cache (``torch.permute(...).contiguous()`` was ~15% of a run).
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _transpose(x, out):
    T, B, H, W, C = x.shape
    for b in range(B):
        for w in range(W):
            for h in range(H):
                for t in range(T):
                    for c in range(C):
                        out[b, w, h, c, t] = x[t, b, h, w, c]


def to_lava_layout(x: np.ndarray) -> np.ndarray:
    """``[T, B, H, W, C]`` -> ``[B, W, H, C, T]``; ``[T, B, N]`` -> ``[B, N, T]`` (new arrays)."""
    x = np.ascontiguousarray(x)
    if x.ndim == 3:
        T, B, N = x.shape
        out = np.empty((B, N, 1, 1, T), dtype=x.dtype)
        _transpose(x.reshape(T, B, 1, N, 1), out)
        return out.reshape(B, N, T)
    if x.ndim != 5:
        raise ValueError(f"expected [T, B, H, W, C] or [T, B, N], got shape {x.shape}")
    T, B, H, W, C = x.shape
    out = np.empty((B, W, H, C, T), dtype=x.dtype)
    _transpose(x, out)
    return out
