"""CEP-DVS (Deng et al., IEEE TIP 2021, "Rethinking the performance comparison between SNNs and
ANNs"; used as a paired RGB/DVS dataset by He et al., AAAI 2024, "An efficient knowledge transfer
strategy for spiking neural networks from static to event domain", code: Brain-Cog-Lab/Transfer-for-DVS).

Layout read here -- what the public baseline code reads (``cepdvs.py`` of Transfer-for-DVS and a
later re-implementation of its RGB side):

    <root>/pathFile.csv          one header line, then one line per sample; line i (0-based,
                                 after the header) describes sample i. The class name is the 5th
                                 whitespace-separated token of the line: the baseline extracts it
                                 with ``re.search(r'(?:\\S*\\s){4}(\\S+)', line)`` and we apply the same
                                 regular expression. The line holds no commas (the baseline reads
                                 the file with ``numpy.genfromtxt(delimiter=",")`` and gets one
                                 string per line).
    <root>/data/MAT/img/<i>.mat  events of sample i (MATLAB file; ``int(stem)`` is the row index,
                                 zero padding allowed), variables ``x``, ``y``, ``ts`` (µs), ``p``
                                 (-1/+1; -1 is mapped to 0 = OFF, as the baseline does).
    <root>/data/img/<i>.jpg      the RGB image of sample i (the re-implementation lists
                                 ``data/img/*.jpg`` and labels them by the same row index).

Classes: the 20 CIFAR-100 super-classes, label ids in the order of the baseline's dictionary
(:data:`CEPDVS_CLASSES`). Sensor grid: 180 × 240 (height × width), what the re-implementation
bins on (``events_to_frames(height=180, width=240)``); a sample with events outside it uses its
extent instead.

NOT confirmed (no copy of the dataset was available): what the first four tokens of a
``pathFile.csv`` line hold (our writer puts index, image path, event path and label id there;
the reader ignores them), the exact zero padding of the file names, and the sensor size.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ckd_toolchain.atomic_io import atomic_path
from ckd_toolchain.ckd_train.data.atis_format import EVENT_DTYPE
from ckd_toolchain.errors import InputError

CEPDVS_CLASSES = (
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
    "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
    "vehicles_1", "vehicles_2",
)
SENSOR_HW = (180, 240)
LABEL_RE = re.compile(r"(?:\S*\s){4}(\S+)")
EXPECTED = "pathFile.csv, data/MAT/img/<i>.mat (x, y, ts, p) and data/img/<i>.jpg (CEP-DVS layout of the Transfer-for-DVS baseline)"


def read_pathfile(path: Path) -> dict[int, str]:
    """Row index → class name (rows whose 5th token is not one of the 20 classes are an error)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="strict").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read label table: {exc}") from None
    out: dict[int, str] = {}
    for i, line in enumerate(lines[1:]):
        if not line.strip():
            continue
        m = LABEL_RE.search(line)
        if not m or m.group(1) not in CEPDVS_CLASSES:
            got = m.group(1) if m else "fewer than 5 fields"
            raise InputError(path, f"line {i + 2}: 5th field must be one of the 20 CEP-DVS classes, got {got!r}")
        out[i] = m.group(1)
    if not out:
        raise InputError(path, "label table has no data rows")
    return out


def _indexed_files(folder: Path, suffix: str) -> dict[int, Path]:
    out: dict[int, Path] = {}
    if folder.is_dir():
        for f in sorted(folder.iterdir()):
            if f.is_file() and f.suffix.lower() == suffix and f.stem.isdigit():
                out[int(f.stem)] = f
    return out


def scan_cepdvs(root: str | os.PathLike, image_root: str | os.PathLike | None = None
                ) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """``(dvs {class: [.mat]}, rgb {class: [.jpg]})``, each in row-index order. Images come from
    ``<image_root>/data/img`` when ``image_root`` is given (else ``<root>/data/img``)."""
    root = Path(root)
    table = root / "pathFile.csv"
    mats = _indexed_files(root / "data" / "MAT" / "img", ".mat")
    jpgs = _indexed_files(Path(image_root or root) / "data" / "img", ".jpg")
    if not table.is_file() or not mats:
        raise InputError(root, f"no CEP-DVS data found; expected {root}/{EXPECTED}")
    labels = read_pathfile(table)
    dvs: dict[str, list[Path]] = {}
    rgb: dict[str, list[Path]] = {}
    for kind, files, out in (("event", mats, dvs), ("image", jpgs, rgb)):
        for idx in sorted(files):
            if idx not in labels:
                raise InputError(files[idx], f"{kind} file index {idx} has no row in {table}")
            out.setdefault(labels[idx], []).append(files[idx])
    return dvs, rgb


def load_cepdvs_events(path: str | os.PathLike) -> tuple[np.ndarray, int, int]:
    """Structured (x, y, t, p) events and the grid (height, width) of one ``.mat`` sample."""
    from scipy.io import loadmat

    try:
        data = loadmat(path, verify_compressed_data_integrity=True)
    except Exception as exc:  # scipy raises ValueError/TypeError/OSError/MatReadError on corrupt files
        raise InputError(path, f"corrupt or truncated .mat event file: {type(exc).__name__}: {exc}") from None
    missing = [k for k in ("x", "y", "ts", "p") if k not in data]
    if missing:
        raise InputError(path, f".mat event file lacks variable(s) {', '.join(missing)} (needs x, y, ts, p)")
    cols = {k: np.asarray(data[k]).reshape(-1).astype(np.int64) for k in ("x", "y", "ts", "p")}
    n = cols["x"].size
    if any(c.size != n for c in cols.values()):
        raise InputError(path, "x, y, ts, p have different lengths")
    if n == 0:
        raise InputError(path, "event file holds no events")
    if not np.isin(cols["p"], (-1, 0, 1)).all():
        raise InputError(path, "polarity p must be -1/+1 (or 0/1)")
    if cols["x"].min() < 0 or cols["y"].min() < 0:
        raise InputError(path, "negative pixel coordinates")
    ev = np.empty(n, EVENT_DTYPE)
    ev["x"], ev["y"], ev["t"] = cols["x"], cols["y"], cols["ts"]
    ev["p"] = np.where(cols["p"] == -1, 0, cols["p"])
    h = max(SENSOR_HW[0], int(ev["y"].max()) + 1)
    w = max(SENSOR_HW[1], int(ev["x"].max()) + 1)
    return ev, h, w


def write_cepdvs_events(path: str | os.PathLike, x, y, ts, p) -> Path:
    """Write one sample as the baseline expects it (p in -1/+1), atomically."""
    from scipy.io import savemat

    p = np.asarray(p, np.int64)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            savemat(fh, {"x": np.asarray(x, np.int32).reshape(-1, 1), "y": np.asarray(y, np.int32).reshape(-1, 1),
                         "ts": np.asarray(ts, np.int64).reshape(-1, 1),
                         "p": np.where(p > 0, 1, -1).astype(np.int8).reshape(-1, 1)})
    return Path(path)


def pathfile_text(class_names: list[str]) -> str:
    """``pathFile.csv`` text for samples 0..n-1 with the given classes (writer-side format)."""
    rows = ["index image events label_id label_name"]
    for i, name in enumerate(class_names):
        rows.append(f"{i:05d} data/img/{i:05d}.jpg data/MAT/img/{i:05d}.mat {CEPDVS_CLASSES.index(name)} {name}")
    return "\n".join(rows) + "\n"
