"""PNG grids for a person to check a paired dataset by eye (`ckd-data show`).

One PNG per class (``<out>/<class>.png``): each row is one sample of the class (test split
first, then validation, then training) -- the RGB
image, its HSV V channel (what the student's static stream sees), then the T DVS frames of a
DVS sample of the same class, drawn as ON events green and OFF events magenta on black (the
frames as the network gets them, i.e. after the configured frame encoding). Plus
``<out>/overview.png``: the first sample of up to 20 classes, one row each.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ckd_toolchain.atomic_io import atomic_path
from ckd_toolchain.ckd_train.data.datasets import PairedData

MAX_OVERVIEW_CLASSES = 20


def polarity_rgb(frame: np.ndarray) -> np.ndarray:
    """``[2, S, S]`` (OFF, ON) → ``[S, S, 3]`` in [0, 1]: ON green, OFF magenta."""
    off, on = (np.clip(frame[c] / max(float(frame[c].max()), 1e-9), 0, 1) for c in (0, 1))
    return np.stack([off, on, off], axis=-1)


def _pick(dvs_or_rgb: list, label: int, n: int):
    """Up to n (dataset, index) of a class, from the test split first, then val, then train."""
    out = []
    for ds in dvs_or_rgb:
        out += [(ds, i) for i, l in enumerate(ds.labels) if l == label][: n - len(out)]
        if len(out) >= n:
            break
    return out


def _rows_for_class(data: PairedData, label: int, n: int):
    rgb = _pick([data.rgb_test, data.rgb_val, data.rgb_train], label, n)
    dvs = _pick([data.dvs_test, data.dvs_val, data.dvs_train], label, n)
    rows = []
    for (rds, r), (dds, d) in zip(rgb, dvs):
        hsv, _ = rds[r]
        frames = dds.frames[d].to(dtype=hsv.dtype)  # un-augmented frames, as the network gets them
        rows.append((rds.rgb(r).numpy().transpose(1, 2, 0), hsv[2].numpy(), frames.numpy(),
                     rds.files[r].name, dds.files[d].name))
    return rows


def _draw(rows, titles: list[str], path: Path, T: int) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncol = 2 + T
    fig, axes = plt.subplots(len(rows), ncol, figsize=(1.3 * ncol, 1.45 * len(rows) + 0.3), squeeze=False)
    for i, (rgb, v, frames, rgb_name, dvs_name) in enumerate(rows):
        axes[i, 0].imshow(rgb)
        axes[i, 0].set_ylabel(titles[i], fontsize=7)
        axes[i, 1].imshow(v, cmap="gray", vmin=0, vmax=1)
        for t in range(T):
            axes[i, 2 + t].imshow(polarity_rgb(frames[t]))
        axes[i, 0].set_title(f"RGB {rgb_name}" if i == 0 else rgb_name, fontsize=6)
        axes[i, 1].set_title("V channel", fontsize=6)
        for t in range(T):
            axes[i, 2 + t].set_title((f"DVS {dvs_name} " if t == 0 else "") + f"t{t}", fontsize=6)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def show(data: PairedData, out_dir: str | Path, per_class: int = 3) -> list[Path]:
    """Write the PNGs; returns their paths (overview first)."""
    out_dir = Path(out_dir)
    T = data.config.T
    written = []
    overview = []
    for label, name in enumerate(data.classes):
        rows = _rows_for_class(data, label, per_class)
        if not rows:
            continue
        if len(overview) < MAX_OVERVIEW_CLASSES:
            overview.append((rows[0], name))
        written.append(_draw(rows, [name] * len(rows), out_dir / f"{name}.png", T))
    if overview:
        written.insert(0, _draw([r for r, _ in overview], [n for _, n in overview], out_dir / "overview.png", T))
    return written
