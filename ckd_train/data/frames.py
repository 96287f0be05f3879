"""Events → T frames of 2 polarity channels, resized to size × size, encoded.

Input: integer arrays x, y, t (µs), p (1 = ON, 0 = OFF) of one sample and the sensor grid
(height, width) the coordinates live on. Output: float32 ``[T, 2, size, size]``; channel 0 holds
OFF events, channel 1 ON events (the baselines' convention: ``frames[t_bin, p, y, x] += 1``).

Binning (events are first sorted by time, stably):

* ``bins="count"`` (equal event count): with N events, event i (0-based, in time order) goes to
  bin ``floor(i * T / N)``; bins get ``N // T`` or ``N // T + 1`` events.
* ``bins="time"`` (equal duration): with ``t0 = t.min()`` and ``D = t.max() - t0``, event goes
  to bin ``min(T - 1, floor((t - t0) * T / D))`` (all in bin 0 when ``D == 0``). The last event
  (``t == t.max()``) lands in bin T-1.
* ``bins="tonic-time"``: exactly tonic 1.7's ``ToFrame(n_time_bins=T)`` (``tonic/slicers.py``
  ``SliceByTimeBins``, lines 149-156): window ``w = (t.max() - t0) // T`` (integer division) and
  bin ``i`` holds ``t0 + i w <= t < t0 + (i + 1) w``, i.e. ``(t - t0) // w``; events at or after
  ``t0 + T w`` (the remainder of the division, always including the last event when ``D`` is not
  a multiple of ``T``) are dropped, and all events are when ``w = 0``.
* ``bins="tonic-count"``: exactly tonic's ``ToFrame(n_event_bins=T)`` (``SliceByEventBins``,
  lines 234-240): ``c = N // T`` events per bin, event ``i`` in bin ``i // c``; the last
  ``N - T c`` events are dropped (all when ``c = 0``).

Dropped events (bin ``-1`` from :func:`bin_indices`) are not counted. ``count`` and ``time`` keep
every event; the ``tonic-*`` modes are for results comparable with a tonic pipeline.

Resizing: the count frame ``[T, 2, H, W]`` is resized to ``size × size`` with
``torch.nn.functional.interpolate(mode="bilinear", align_corners=False, antialias=True)``
(the antialiased bilinear filter that matches PIL's ``Image.resize(BILINEAR)``: on downsampling
its triangle kernel spans the whole source footprint, so no event falls between sample points).
That is ``resize: "antialias"`` (the default). ``resize: "he2024"`` is He et al.'s resize
(Brain-Cog-Lab/Transfer-for-DVS ``braincog/datasets/datasets.py:959`` and ``:998-1020``:
``F.interpolate(x, size=[48, 48], mode='bilinear', align_corners=True)``, no antialias): each output
pixel samples only the 2x2 source pixels around its grid point, so on a 180x240 -> 48 frame most
events fall between sample points and are lost (the paper recipes use it, to train what the paper
trained; the binary demo frames keep the antialiased filter, whose binary frames are exact footprints).

Encodings (``frame_encoding``):

* ``"binary"``:           ``1.0 where resized_count > 0 else 0.0`` (all filter weights are
  positive, so an output pixel is 1 exactly when its source footprint holds >= 1 event of that
  polarity in that bin). These are the spikes that go into Loihi.
* ``"count"``:            the resized counts themselves.
* ``"normalized-count"``: resized counts divided by their maximum over the whole sample
  (all zeros stay zeros), the baselines' ``frames / frames.max()``.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ckd_toolchain.ckd_train.data.config import BIN_MODES


def bin_indices(t: np.ndarray, T: int, bins: str) -> np.ndarray:
    """Bin index of every event, ``-1`` for an event the mode drops; ``t`` must already be sorted
    ascending (see module docstring)."""
    n = t.size
    if n == 0:
        return np.zeros(0, np.int64)
    if bins == "count":
        return (np.arange(n, dtype=np.int64) * T) // n
    if bins == "tonic-count":
        c = n // T
        b = np.arange(n, dtype=np.int64) // max(c, 1)
        return np.where((b < T) & (c > 0), b, -1)
    if bins == "tonic-time":
        w = (int(t[-1]) - int(t[0])) // T
        if w <= 0:
            return np.full(n, -1, np.int64)
        b = (t.astype(np.int64) - int(t[0])) // w
        return np.where(b < T, b, -1)
    if bins == "time":
        t0 = int(t[0])
        span = int(t[-1]) - t0
        if span <= 0:
            return np.zeros(n, np.int64)
        return np.minimum(T - 1, ((t.astype(np.int64) - t0) * T) // span)
    raise ValueError(f"bins must be one of {', '.join(BIN_MODES)}, got {bins!r}")


def event_counts(x, y, t, p, T: int, height: int, width: int, bins: str) -> np.ndarray:
    """Count frame float32 ``[T, 2, height, width]``; events outside the grid are dropped."""
    x = np.asarray(x, np.int64)
    y = np.asarray(y, np.int64)
    t = np.asarray(t, np.int64)
    p = np.asarray(p, np.int64)
    order = np.argsort(t, kind="stable")
    x, y, t, p = x[order], y[order], t[order], p[order]
    b = bin_indices(t, T, bins)
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height) & (b >= 0)
    flat = ((b[inside] * 2 + (p[inside] > 0)) * height + y[inside]) * width + x[inside]
    counts = np.bincount(flat, minlength=T * 2 * height * width).astype(np.float32)
    return counts.reshape(T, 2, height, width)


RESIZE_MODES = ("antialias", "he2024")


def resize_counts(counts: np.ndarray | torch.Tensor, size: int, resize: str = "antialias") -> torch.Tensor:
    """Bilinear resize of ``[T, 2, H, W]`` to ``[T, 2, size, size]`` (float32): ``"antialias"``
    (``align_corners=False, antialias=True``) or ``"he2024"`` (``align_corners=True``, no antialias)."""
    c = torch.as_tensor(counts, dtype=torch.float32)
    if resize not in RESIZE_MODES:
        raise ValueError(f"unknown resize {resize!r}; choose from {RESIZE_MODES}")
    if resize == "he2024":
        return F.interpolate(c, size=[size, size], mode="bilinear", align_corners=True)
    if c.shape[-2:] == (size, size):
        return c.clone()
    return F.interpolate(c, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def encode(resized: torch.Tensor, encoding: str) -> torch.Tensor:
    """Apply a frame encoding to resized counts (see module docstring)."""
    if encoding == "binary":
        return (resized > 0).to(torch.float32)
    if encoding == "count":
        return resized.to(torch.float32)
    if encoding == "normalized-count":
        m = float(resized.max()) if resized.numel() else 0.0
        return (resized / m).to(torch.float32) if m > 0 else torch.zeros_like(resized, dtype=torch.float32)
    raise ValueError(f"unknown frame encoding {encoding!r}")


def events_to_frames(x, y, t, p, *, T: int, size: int, height: int, width: int, bins: str = "count",
                     encoding: str = "binary", resize: str = "antialias") -> torch.Tensor:
    """The whole pipeline: count → resize → encode, float32 ``[T, 2, size, size]``."""
    counts = event_counts(x, y, t, p, T, height, width, bins)
    return encode(resize_counts(counts, size, resize), encoding)
