"""Our event data in a tonic pipeline, and our frames from tonic events.

* :class:`TonicEventDataset` — the DVS files of a dataset (``ckd_train.data.sources.discover``:
  N-Digits, N-Caltech101, CEP-DVS layouts; class alignment as in training) as a tonic-style
  dataset: ``ds[i] -> (events, label)`` with ``events`` a structured array of tonic's dtype
  ``[("x", int), ("y", int), ("t", int), ("p", int)]`` sorted by ``t`` (what
  ``tonic.datasets.NCALTECH101`` yields), ``transform`` / ``target_transform`` applied as tonic
  does, plus tonic's attributes ``classes``, ``ordering = "xytp"`` and ``sensor_size`` (``None``:
  N-Caltech101 recordings differ in size; each item's grid is ``x.max()+1, y.max()+1`` after the
  reader's shift to 0, as tonic's). Any ``tonic.transforms`` composes with it.
* :class:`ToCkdFrames` — a tonic-style transform ``events -> frames float32 [T, 2, size, size]``
  through :func:`ckd_toolchain.ckd_train.data.frames.events_to_frames` (the one implementation
  of binning, resizing and encoding that training uses), so a tonic pipeline gets exactly the
  frames our students were trained on. The binning modes include tonic's own ``ToFrame``
  binnings (``bins="tonic-time"`` / ``"tonic-count"``, see :mod:`frames`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ckd_toolchain.ckd_train.data.config import BIN_MODES, FRAME_ENCODINGS, DataConfig
from ckd_toolchain.ckd_train.data.frames import events_to_frames

TONIC_DTYPE = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])


class TonicEventDataset:
    """``(events, label)`` per DVS file of ``cfg``'s dataset, in class then file order."""

    ordering = "xytp"
    sensor_size = None

    def __init__(self, cfg: DataConfig, transform: Callable | None = None, target_transform: Callable | None = None):
        from ckd_toolchain.ckd_train.data.sources import discover

        self.source = discover(cfg)
        self.classes = list(self.source.classes)
        self.files: list[Path] = []
        self.targets: list[int] = []
        for label, c in enumerate(self.classes):
            self.files += self.source.dvs_files[c]
            self.targets += [label] * len(self.source.dvs_files[c])
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return len(self.files)

    def events(self, index: int) -> tuple[np.ndarray, int, int]:
        """``(events sorted by t in TONIC_DTYPE, height, width)`` of item ``index``."""
        ev, h, w = self.source.read_events(self.files[index])
        out = np.empty(ev.size, TONIC_DTYPE)
        for k in TONIC_DTYPE.names:
            out[k] = ev[k]
        return out[np.argsort(out["t"], kind="stable")], h, w

    def __getitem__(self, index: int):
        ev = self.events(index)[0]
        target = self.targets[index]
        if self.transform is not None:
            ev = self.transform(ev)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return ev, target


class ToCkdFrames:
    """tonic-style transform: structured events → our frames ``[T, 2, size, size]`` (float32 numpy).

    ``sensor_size`` is tonic's ``(width, height, polarities)``; ``None`` takes the grid from the
    events (``x.max()+1``, ``y.max()+1``), as our readers do."""

    def __init__(self, T: int, size: int, bins: str = "count", encoding: str = "binary",
                 sensor_size: tuple[int, int, int] | None = None):
        if bins not in BIN_MODES:
            raise ValueError(f"bins must be one of {', '.join(BIN_MODES)}, got {bins!r}")
        if encoding not in FRAME_ENCODINGS:
            raise ValueError(f"encoding must be one of {', '.join(FRAME_ENCODINGS)}, got {encoding!r}")
        self.T, self.size, self.bins, self.encoding, self.sensor_size = int(T), int(size), bins, encoding, sensor_size

    @classmethod
    def from_config(cls, cfg: DataConfig, sensor_size=None) -> "ToCkdFrames":
        return cls(cfg.T, cfg.size, cfg.bins, cfg.frame_encoding, sensor_size)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        if self.sensor_size is not None:
            width, height = int(self.sensor_size[0]), int(self.sensor_size[1])
        else:
            width = int(events["x"].max()) + 1 if events.size else 1
            height = int(events["y"].max()) + 1 if events.size else 1
        return events_to_frames(events["x"], events["y"], events["t"], events["p"], T=self.T, size=self.size,
                                height=height, width=width, bins=self.bins, encoding=self.encoding).numpy()
