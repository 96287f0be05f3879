"""RGB → HSV, and the student's static stream (V channel repeated over 2 channels × T steps).

HSV follows Python's ``colorsys.rgb_to_hsv`` (Smith 1978) element-wise, vectorised:
``V = max(R, G, B)``, ``S = (V - min) / V`` (0 where V == 0), ``H`` in [0, 1) from the sector of
the maximum channel (0 where max == min). Inputs and outputs are in [0, 1].

The CKD paper (arXiv 2507.09269) and the He et al. (AAAI 2024) baseline feed the SNN student the
V channel of the HSV image as its "static" input, replicated to the 2 polarity channels and to
every time step: ``static_frames(hsv, T)[t, c] = hsv[2]`` for all t < T, c < 2.
"""
from __future__ import annotations

import numpy as np
import torch


def rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    """``[..., 3]`` RGB float in [0, 1] → ``[..., 3]`` HSV float in [0, 1] (colorsys semantics)."""
    rgb = np.asarray(rgb, dtype=np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    maxc = rgb.max(axis=-1)
    minc = rgb.min(axis=-1)
    v = maxc
    delta = maxc - minc
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(maxc > 0, delta / np.where(maxc > 0, maxc, 1.0), 0.0)
        safe = np.where(delta > 0, delta, 1.0)
        rc = (maxc - r) / safe
        gc = (maxc - g) / safe
        bc = (maxc - b) / safe
    h = np.where(r == maxc, bc - gc, np.where(g == maxc, 2.0 + rc - bc, 4.0 + gc - rc))
    h = np.where(delta > 0, (h / 6.0) % 1.0, 0.0)
    return np.stack([h, s, v], axis=-1)


def rgb_uint8_to_hsv_chw(rgb_hwc: np.ndarray) -> torch.Tensor:
    """uint8 ``[H, W, 3]`` RGB → float32 ``[3, H, W]`` HSV in [0, 1]."""
    hsv = rgb_to_hsv(np.asarray(rgb_hwc, np.float64) / 255.0)
    return torch.from_numpy(np.ascontiguousarray(hsv.transpose(2, 0, 1), dtype=np.float32))


def static_frames(hsv: torch.Tensor, T: int) -> torch.Tensor:
    """``[3, S, S]`` (or batched ``[B, 3, S, S]``) HSV → V replicated: ``[T, 2, S, S]`` (``[T, B, 2, S, S]``)."""
    if hsv.dim() == 3:
        v = hsv[2]
        return v.expand(T, 2, *v.shape).contiguous()
    if hsv.dim() == 4:
        v = hsv[:, 2]
        return v.unsqueeze(0).unsqueeze(2).expand(T, v.shape[0], 2, *v.shape[1:]).contiguous()
    raise ValueError(f"hsv must be [3,S,S] or [B,3,S,S], got {tuple(hsv.shape)}")
