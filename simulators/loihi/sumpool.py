"""Pool-as-conv layers as the sum-pools they are (compiled, NHWC, binary input).

The mapper writes pooling as a grouped convolution with one input channel per group and a
constant kernel per output channel (``weight[o] = w_o * ones(kH, kW)``; thermometer pooling makes
several output channels per input channel). For such a layer the correlation of
``PyConvModelFixed`` (``utils.conv_scipy``, lava-nc 0.10 ``proc/conv``) reduces to

    out[m, i, j, o] = w_o * sum_{p < kH, q < kW} x[m, i*sH + p, j*sW + q, o // (K / C)]

(padding 0, dilation 1), an integer sum computed here exactly in int64 and returned as int32 (the
caller checks ``sum_in |W| < 2^23``, so Lava's 24-bit clamp is idle).
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _sumpool(x, kh, kw, sh, sw, src_ch, w_out, out):
    M, H, W, C = x.shape
    _, Ho, Wo, K = out.shape
    acc = np.zeros(C, dtype=np.int64)
    for m in range(M):
        for i in range(Ho):
            for j in range(Wo):
                acc[:] = 0
                for p in range(kh):
                    for q in range(kw):
                        for c in range(C):
                            acc[c] += x[m, i * sh + p, j * sw + q, c]
                for o in range(K):
                    out[m, i, j, o] = acc[src_ch[o]] * w_out[o]


def pool_weights(weight: np.ndarray, groups: int, padding, dilation):
    """``(src_ch, w_out)`` when ``weight`` [K, 1, kH, kW] is a sum-pool (constant kernel per output
    channel, one input channel per group, padding 0, dilation 1), else None."""
    w = np.asarray(weight, dtype=np.int64)
    if w.shape[1] != 1 or tuple(padding) != (0, 0) or tuple(dilation) != (1, 1):
        return None
    flat = w.reshape(w.shape[0], -1)
    if not np.all(flat == flat[:, :1]):
        return None
    per_group = w.shape[0] // int(groups)
    return np.arange(w.shape[0], dtype=np.int64) // per_group, np.ascontiguousarray(flat[:, 0])


def sumpool_nhwc(x: np.ndarray, kernel, stride, src_ch: np.ndarray, w_out: np.ndarray) -> np.ndarray:
    """``x`` uint8 0/1 [M, H, W, C] -> int32 [M, H', W', K] (module docstring)."""
    M, H, W, _ = x.shape
    Ho, Wo = (H - kernel[0]) // stride[0] + 1, (W - kernel[1]) // stride[1] + 1
    out = np.empty((M, Ho, Wo, len(w_out)), dtype=np.int32)
    _sumpool(x, int(kernel[0]), int(kernel[1]), int(stride[0]), int(stride[1]), src_ch, w_out, out)
    return out
