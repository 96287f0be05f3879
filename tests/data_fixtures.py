"""Tiny datasets in the real on-disk formats, generated in a temporary folder (test helpers).

* N-Caltech101: ``Caltech101/<class>/image_XXXX.bin`` (40-bit ATIS events, our writer)
* Caltech101:   ``101_ObjectCategories/<class>/image_XXXX.jpg`` (JPEG via Pillow)
* CEP-DVS:      ``pathFile.csv``, ``data/MAT/img/<i>.mat`` (x, y, ts, p=-1/+1), ``data/img/<i>.jpg``

Every DVS sample shows a bright square whose position encodes the class, so a class mix-up
is visible in the frames.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ckd_toolchain.ckd_train.data.atis_format import write_atis_bin
from ckd_toolchain.ckd_train.data.cepdvs import pathfile_text, write_cepdvs_events


def events_for(label: int, rng: np.random.Generator, n: int = 300, width: int = 40, height: int = 30):
    x0 = 5 + 7 * (label % 4)
    y0 = 5 + 5 * (label // 4 % 4)
    x = np.clip(x0 + rng.integers(0, 6, n), 0, width - 1)
    y = np.clip(y0 + rng.integers(0, 6, n), 0, height - 1)
    t = np.sort(rng.integers(0, 300_000, n))
    p = rng.integers(0, 2, n)
    # pin the extent so every sample has the same grid after tonic's min-subtraction
    x[0], y[0], x[-1], y[-1] = 0, 0, width - 1, height - 1
    return x, y, t, p


def image_for(label: int, rng: np.random.Generator, h: int = 36, w: int = 44) -> np.ndarray:
    img = rng.integers(0, 60, (h, w, 3)).astype(np.uint8)
    img[..., label % 3] = np.clip(img[..., label % 3].astype(int) + 150, 0, 255).astype(np.uint8)
    return img


def make_ncaltech_tree(root: Path, classes: list[str], n_per_class: int | dict[str, int], seed: int = 0,
                       rgb_classes: list[str] | None = None) -> Path:
    rng = np.random.default_rng(seed)
    counts = n_per_class if isinstance(n_per_class, dict) else {c: n_per_class for c in classes}
    for label, c in enumerate(classes):
        for i in range(counts[c]):
            write_atis_bin(root / "Caltech101" / c / f"image_{i + 1:04d}.bin", *events_for(label, rng))
    for label, c in enumerate(rgb_classes if rgb_classes is not None else classes):
        d = root / "101_ObjectCategories" / c
        d.mkdir(parents=True, exist_ok=True)
        for i in range(counts.get(c, 3)):
            Image.fromarray(image_for(label, rng)).save(d / f"image_{i + 1:04d}.jpg", quality=95)
    return root


def make_cepdvs_tree(root: Path, labels: list[str], seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    (root / "data" / "MAT" / "img").mkdir(parents=True, exist_ok=True)
    (root / "data" / "img").mkdir(parents=True, exist_ok=True)
    (root / "pathFile.csv").write_text(pathfile_text(labels))
    for i, name in enumerate(labels):
        label = sorted(set(labels)).index(name)
        x, y, t, p = events_for(label, rng, width=240, height=180)
        write_cepdvs_events(root / "data" / "MAT" / "img" / f"{i:05d}.mat", x, y, t, p)
        Image.fromarray(image_for(label, rng)).save(root / "data" / "img" / f"{i:05d}.jpg", quality=95)
    return root
