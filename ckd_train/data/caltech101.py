"""Caltech101 (Fei-Fei et al. 2004) from a local ``101_ObjectCategories`` folder (no download).

Layout: ``<root>/101_ObjectCategories/<class>/image_XXXX.jpg`` (N-Digits writes ``.png``); the
loader also accepts ``<root>`` being the ``101_ObjectCategories`` folder itself. Files are
listed per class sorted by name (the file order the 90/10 split uses). Images are decoded with
Pillow, converted to RGB (Caltech101 has some grayscale JPEGs) and resized to ``size × size``
with ``Image.BILINEAR`` (aspect ratio not kept, as the baselines' ``Resize((s, s))``).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ckd_toolchain.errors import InputError

FOLDER = "101_ObjectCategories"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
EXPECTED = f"{FOLDER}/<class>/image_XXXX.jpg (Caltech101 layout; .png also accepted)"


def _class_dirs(base: Path, suffixes: tuple[str, ...]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    empty = []
    for d in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(f for f in d.iterdir() if f.is_file() and f.suffix.lower() in suffixes)
        if files:
            out[d.name] = files
        else:
            empty.append(d)
    reject_empty_class_folders(out, empty, suffixes)
    return out


def reject_empty_class_folders(found: dict, empty: list[Path], suffixes) -> None:
    """A class folder without samples beside classes with samples is a named error, not a class
    silently dropped (when no folder has samples the caller reports the expected layout)."""
    if found and empty:
        raise InputError(empty[0], f"class folder holds no {'/'.join(suffixes)} files "
                                   "(remove the folder or add its samples)")


def scan_caltech101(root: str | os.PathLike) -> dict[str, list[Path]]:
    """``{class: [image paths in file order]}``; InputError saying the expected layout if empty."""
    root = Path(root)
    base = root / FOLDER if (root / FOLDER).is_dir() else root
    found = _class_dirs(base, IMAGE_SUFFIXES) if base.is_dir() else {}
    if not found:
        raise InputError(root, f"no Caltech101 images found; expected {root}/{EXPECTED}")
    return found


def load_image_rgb(path: str | os.PathLike, size: int) -> np.ndarray:
    """uint8 ``[size, size, 3]``; a truncated/corrupt image raises InputError naming the file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            rgb = im.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(path, f"corrupt or truncated image: {exc}") from None
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)
