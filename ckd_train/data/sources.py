"""Find the files of a paired dataset on disk and align its classes (no decoding yet).

``discover(cfg)`` returns a :class:`Source`: the aligned class list, the DVS and RGB files per
class (file order), and the event reader of the format:

* ``n-digits`` and ``ncaltech101``: N-Caltech101 layout for events, Caltech101 layout for images
  (:mod:`ckd_toolchain.ckd_train.data.ncaltech101`, :mod:`ckd_toolchain.ckd_train.data.caltech101`);
* ``cepdvs``: :mod:`ckd_toolchain.ckd_train.data.cepdvs`.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from ckd_toolchain.ckd_train.data.caltech101 import scan_caltech101
from ckd_toolchain.ckd_train.data.cepdvs import CEPDVS_CLASSES, load_cepdvs_events, scan_cepdvs
from ckd_toolchain.ckd_train.data.class_alignment import Alignment, align_classes
from ckd_toolchain.ckd_train.data.config import DataConfig
from ckd_toolchain.ckd_train.data.ncaltech101 import load_ncaltech101_events, scan_ncaltech101
from ckd_toolchain.errors import InputError

EventReader = Callable[[Path], "tuple[np.ndarray, int, int]"]


@dataclasses.dataclass
class Source:
    root: Path
    rgb_root: Path
    alignment: Alignment
    dvs_files: dict[str, list[Path]]
    rgb_files: dict[str, list[Path]]
    read_events: EventReader

    @property
    def classes(self) -> list[str]:
        return self.alignment.classes


def discover(cfg: DataConfig) -> Source:
    root = cfg.resolved_root()
    rgb_root = cfg.resolved_rgb_root()
    if not root.exists():
        hint = " (run `ckd-data synth` to make it)" if cfg.name == "n-digits" else ""
        raise InputError(root, f"dataset root does not exist{hint}")
    if cfg.name == "cepdvs":
        dvs, rgb = scan_cepdvs(root, image_root=rgb_root)
        alignment = align_classes(dvs, rgb, dvs_root=root, rgb_root=rgb_root, known={}, order=list(CEPDVS_CLASSES))
        reader = load_cepdvs_events
    else:
        dvs = scan_ncaltech101(root)
        rgb = scan_caltech101(rgb_root)
        alignment = align_classes(dvs, rgb, dvs_root=root, rgb_root=rgb_root)
        reader = load_ncaltech101_events
    return Source(root=root, rgb_root=rgb_root, alignment=alignment,
                  dvs_files={c: dvs[c] for c in alignment.classes},
                  rgb_files={c: rgb[c] for c in alignment.classes}, read_events=reader)
