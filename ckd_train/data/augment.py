"""DVS training augmentations on frames ``[T, 2, S, S]`` (same transform for every time step).

1. random crop with ``p = S // 12`` pixels of zero padding (He et al.'s
   ``transforms.RandomCrop(size, padding=size // 12)`` on the resized frames ``[T, 2, S, S]``,
   Brain-Cog-Lab/Transfer-for-DVS braincog/datasets/datasets.py:1291 N-Caltech101 and :1440 CEP-DVS, the branch without ``--DVS-DA``;
   one crop for all T and both polarities; p = 4 at S = 48): pad p px on every side, take an
   S × S window at a uniformly random offset in [0, 2p]² (torchvision ``RandomCrop.get_params``).
   With ``hflip`` and ``rotate`` off this is their whole training transform ("random crop only").
2. horizontal flip with probability 0.5 (``hflip``).
3. rotation by an angle uniform in [-15°, +15°] about the centre (``rotate``), zero fill,
   *nearest-neighbour* sampling so that binary frames stay binary and counts stay counts.

All randomness comes from the ``numpy.random.Generator`` passed in (seeded by the caller).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

PAD = 4  # S // 12 at S = 48


def crop_padding(size: int) -> int:
    """``size // 12`` (datasets.py:1291, 1440)."""
    return int(size) // 12
MAX_ROTATION_DEG = 15.0


def random_crop(frames: torch.Tensor, rng: np.random.Generator, pad: int = PAD) -> torch.Tensor:
    size_h, size_w = frames.shape[-2:]
    padded = F.pad(frames, (pad, pad, pad, pad))
    dy, dx = (int(v) for v in rng.integers(0, 2 * pad + 1, size=2))
    return padded[..., dy:dy + size_h, dx:dx + size_w].contiguous()


def rotate(frames: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate every ``[.., H, W]`` plane by ``degrees`` (counter-clockwise), nearest, zero fill."""
    if degrees == 0.0:
        return frames
    shape = frames.shape
    x = frames.reshape(-1, 1, *shape[-2:])
    a = math.radians(degrees)
    theta = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]], dtype=torch.float32)
    grid = F.affine_grid(theta.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return out.reshape(shape)


def augment_dvs(frames: torch.Tensor, rng: np.random.Generator, hflip: bool = True, rotation: bool = True) -> torch.Tensor:
    out = random_crop(frames, rng, pad=crop_padding(frames.shape[-1]))
    if hflip and rng.random() < 0.5:
        out = torch.flip(out, dims=(-1,))
    if rotation:
        out = rotate(out, float(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG)))
    return out
