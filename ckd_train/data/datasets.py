"""`build_datasets(cfg) -> PairedData`: the paired RGB/DVS splits the trainer consumes.

Pipeline (each step in its own module):
``discover`` (files + explicit class alignment, :mod:`sources`) → decode every DVS file to
frames (:mod:`frames`) and every image to a resized RGB array, cached (:mod:`frame_cache`) →
per-class 90/10 split + seeded validation carve-out + DVS training limit (:mod:`splits`) →
torch Datasets. Bad files raise InputError, or with ``skip_bad`` are skipped before splitting
(a warning per file and a count).

Items:
* DVS datasets yield ``(frames float32 [T, 2, size, size], label int)``; the training split
  applies :func:`augment.augment_dvs` when ``cfg.augment`` (validation and test never do).
* RGB datasets yield ``(hsv float32 [3, size, size] in [0, 1], label int)``.
* ``PairedData.static_frames(hsv)`` → ``[T, 2, size, size]`` (V channel replicated, :mod:`hsv`).
* ``PairedData.pair_rgb_index(dvs_index, rng)`` → index into ``rgb_train`` of a random RGB
  training sample of the class of ``dvs_train[dvs_index]`` (:mod:`pairing`).
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from ckd_toolchain.ckd_train.data.augment import augment_dvs
from ckd_toolchain.ckd_train.data.caltech101 import load_image_rgb
from ckd_toolchain.ckd_train.data.class_alignment import Alignment
from ckd_toolchain.ckd_train.data.config import DataConfig
from ckd_toolchain.ckd_train.data.frame_cache import cached_decode
from ckd_toolchain.ckd_train.data.frames import events_to_frames
from ckd_toolchain.ckd_train.data.hsv import rgb_uint8_to_hsv_chw, static_frames
from ckd_toolchain.ckd_train.data.pairing import RgbPairing
from ckd_toolchain.ckd_train.data.sources import Source, discover
from ckd_toolchain.ckd_train.data.splits import SPLITS, split_per_class


class DvsFrames(Dataset):
    """DVS samples as frames; ``frames`` is ``[N, T, 2, S, S]`` (uint8 for binary, else float32)."""

    def __init__(self, frames: np.ndarray, labels: list[int], files: list[Path], *, augment: bool = False,
                 seed: int = 0, hflip: bool = True, rotate: bool = True):
        self.frames = torch.from_numpy(np.ascontiguousarray(frames))
        self.labels = list(labels)
        self.files = list(files)
        self.augment = augment
        self.seed = int(seed)
        self.hflip, self.rotate = hflip, rotate

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        x = self.frames[index].to(torch.float32)
        if self.augment:
            # reproducible given torch's global seed (set by the trainer); differs per epoch/worker
            draw = int(torch.randint(0, 2**31 - 1, ()).item())
            x = augment_dvs(x, np.random.default_rng([self.seed, int(index), draw]), hflip=self.hflip, rotation=self.rotate)
        return x, self.labels[index]


class RgbImages(Dataset):
    """RGB samples; ``images`` is uint8 ``[N, S, S, 3]``; items are HSV ``[3, S, S]`` in [0, 1]."""

    def __init__(self, images: np.ndarray, labels: list[int], files: list[Path]):
        self.images = np.ascontiguousarray(images)
        self.labels = list(labels)
        self.files = list(files)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return rgb_uint8_to_hsv_chw(self.images[index]), self.labels[index]

    def rgb(self, index: int) -> torch.Tensor:
        """The RGB image float32 ``[3, S, S]`` in [0, 1] (for display / an RGB teacher)."""
        return torch.from_numpy(self.images[index].transpose(2, 0, 1).astype(np.float32) / 255.0)


@dataclasses.dataclass
class PairedData:
    config: DataConfig
    classes: list[str]
    alignment: Alignment
    dvs_train: DvsFrames
    dvs_val: DvsFrames
    dvs_test: DvsFrames
    rgb_train: RgbImages
    rgb_val: RgbImages
    rgb_test: RgbImages
    skipped: list[str]

    def __post_init__(self) -> None:
        self._pairing = RgbPairing(self.rgb_train.labels, self.classes)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def static_frames(self, hsv: torch.Tensor) -> torch.Tensor:
        """HSV ``[3, S, S]`` → ``[T, 2, S, S]`` (or ``[B, 3, S, S]`` → ``[T, B, 2, S, S]``)."""
        return static_frames(hsv, self.config.T)

    def pair_rgb_index(self, dvs_index: int, rng: np.random.Generator | None = None) -> int:
        """Index into ``rgb_train`` of a random RGB training sample of ``dvs_train[dvs_index]``'s class."""
        rng = rng if rng is not None else np.random.default_rng()
        return self._pairing.pair(self.dvs_train.labels[int(dvs_index)], rng)

    def pair_rgb_for_label(self, label: int, rng: np.random.Generator | None = None) -> int:
        return self._pairing.pair(int(label), rng if rng is not None else np.random.default_rng())

    def summary(self) -> str:
        parts = [f"{s}: dvs {len(getattr(self, 'dvs_' + s))} / rgb {len(getattr(self, 'rgb_' + s))}" for s in SPLITS]
        return f"{self.config.name}: {len(self.classes)} classes; " + "; ".join(parts)


def _frame_decoder(source: Source, cfg: DataConfig) -> Callable[[Path], np.ndarray]:
    def decode(path: Path) -> np.ndarray:
        ev, h, w = source.read_events(path)
        fr = events_to_frames(ev["x"], ev["y"], ev["t"], ev["p"], T=cfg.T, size=cfg.size, height=h, width=w,
                              bins=cfg.bins, encoding=cfg.frame_encoding, resize=cfg.resize)
        return fr.numpy()
    return decode


def build_datasets(cfg: DataConfig, log: Callable[[str], None] | None = None) -> PairedData:
    """Build the paired splits for ``cfg`` (see module docstring). ``log`` gets progress lines."""
    log = log or (lambda m: print(m, file=sys.stderr))
    source = discover(cfg)
    log(source.alignment.describe())
    classes = source.classes
    cache_dir = cfg.resolved_cache_dir()

    dvs_list = [(f, label) for label, c in enumerate(classes) for f in source.dvs_files[c]]
    binary = cfg.frame_encoding == "binary"
    frames, good, bad_dvs = cached_decode(
        "dvs", {"name": cfg.name, "T": cfg.T, "size": cfg.size, "bins": cfg.bins, "encoding": cfg.frame_encoding,
                **({"resize": cfg.resize} if cfg.resize != "antialias" else {})},  # earlier caches stay valid
        [f for f, _ in dvs_list], source.root, cache_dir, _frame_decoder(source, cfg), skip_bad=cfg.skip_bad,
        pack_bits_last=cfg.size if binary else None, dtype=np.uint8 if binary else np.float32, log=log)
    rgb_list = [(f, label) for label, c in enumerate(classes) for f in source.rgb_files[c]]
    images, good_rgb, bad_rgb = cached_decode(
        "rgb", {"name": cfg.name, "size": cfg.size}, [f for f, _ in rgb_list], source.rgb_root, cache_dir,
        lambda p: load_image_rgb(p, cfg.size), skip_bad=cfg.skip_bad, dtype=np.uint8, log=log)
    skipped = bad_dvs + bad_rgb
    for line in skipped:
        log(f"warning: skipped {line}")
    if skipped:
        log(f"warning: skipped {len(skipped)} bad file(s) ({len(bad_dvs)} event, {len(bad_rgb)} image)")

    def by_class(items, good_idx):
        out: dict[str, list[int]] = {c: [] for c in classes}
        for row, i in enumerate(good_idx):
            out[classes[items[i][1]]].append(row)
        return out

    split_args = dict(train_fraction=cfg.train_fraction, val_fraction=cfg.val_fraction, seed=cfg.seed,
                      test_fraction=cfg.test_fraction)
    dvs_split = split_per_class(by_class(dvs_list, good), classes, limit=cfg.dvs_train_limit, **split_args)
    rgb_split = split_per_class(by_class(rgb_list, good_rgb), classes, **split_args)

    def dvs_ds(split: str) -> DvsFrames:
        rows = [r for r, _ in dvs_split[split]]
        return DvsFrames(frames[rows], [l for _, l in dvs_split[split]], [dvs_list[good[r]][0] for r in rows],
                         augment=cfg.augment and split == "train", seed=cfg.seed, hflip=cfg.hflip, rotate=cfg.rotate)

    def rgb_ds(split: str) -> RgbImages:
        rows = [r for r, _ in rgb_split[split]]
        return RgbImages(images[rows], [l for _, l in rgb_split[split]], [rgb_list[good_rgb[r]][0] for r in rows])

    data = PairedData(config=cfg, classes=list(classes), alignment=source.alignment,
                      dvs_train=dvs_ds("train"), dvs_val=dvs_ds("val"), dvs_test=dvs_ds("test"),
                      rgb_train=rgb_ds("train"), rgb_val=rgb_ds("val"), rgb_test=rgb_ds("test"), skipped=skipped)
    log(data.summary())
    return data
