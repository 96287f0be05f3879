"""N-Caltech101 (Orchard et al., Front. Neurosci. 2015) from a local root (no download).

Layout (as unpacked from the official archive, and as tonic's ``NCALTECH101`` walks it):
``<root>/Caltech101/<class>/image_XXXX.bin``; ``<root>`` may also be the ``Caltech101`` folder
itself. 101 classes (100 object classes + ``BACKGROUND_Google``). Files are listed per class
sorted by name. Each ``.bin`` is in the 40-bit ATIS format (:mod:`ckd_toolchain.ckd_train.data.atis_format`).

Sensor grid: N-Caltech101 recordings have no fixed size (tonic: ``sensor_size = None``); like
tonic's ``NCALTECH101.__getitem__`` we subtract the per-sample minimum x and y, and the frame
grid is the sample's extent ``(max(y) + 1, max(x) + 1)`` after that shift.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ckd_toolchain.ckd_train.data.atis_format import read_atis_bin
from ckd_toolchain.ckd_train.data.caltech101 import reject_empty_class_folders
from ckd_toolchain.errors import InputError

FOLDER = "Caltech101"
EXPECTED = f"{FOLDER}/<class>/image_XXXX.bin (N-Caltech101 layout)"


def scan_ncaltech101(root: str | os.PathLike) -> dict[str, list[Path]]:
    """``{class: [.bin paths in file order]}``; InputError saying the expected layout if empty."""
    root = Path(root)
    base = root / FOLDER if (root / FOLDER).is_dir() else root
    out: dict[str, list[Path]] = {}
    empty = []
    if base.is_dir():
        for d in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
            files = sorted(f for f in d.iterdir() if f.is_file() and f.suffix == ".bin")
            if files:
                out[d.name] = files
            else:
                empty.append(d)
    reject_empty_class_folders(out, empty, (".bin",))
    if not out:
        raise InputError(root, f"no N-Caltech101 event files found; expected {root}/{EXPECTED}")
    return out


def load_ncaltech101_events(path: str | os.PathLike) -> tuple[np.ndarray, int, int]:
    """Events with x, y shifted to start at 0 (tonic's convention) and the grid (height, width)."""
    ev = read_atis_bin(path)
    if ev.size == 0:
        raise InputError(path, "event file holds only timestamp-overflow markers, no events")
    ev["x"] -= ev["x"].min()
    ev["y"] -= ev["y"].min()
    return ev, int(ev["y"].max()) + 1, int(ev["x"].max()) + 1
