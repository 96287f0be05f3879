"""`DataConfig`: everything that decides which paired RGB/DVS tensors a run sees.

It is stored in checkpoints (`DataConfig.to_dict()`), so every field is a JSON-able scalar and
`DataConfig.from_dict(cfg.to_dict()) == cfg`. Unknown keys in `from_dict` are an error (a typo in
a config file must not silently fall back to a default).

Root resolution (ARCHITECTURE.md, "Data"): ``root=None`` means ``$CKD_DATA_DIR/<name>`` when the
environment variable is set, else ``<repo>/data/<name>``.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from ckd_toolchain.errors import InputError

DATASET_NAMES = ("n-digits", "ncaltech101", "cepdvs")
BIN_MODES = ("count", "time", "tonic-time", "tonic-count")  # semantics: frames.py
FRAME_ENCODINGS = ("binary", "count", "normalized-count")

REPO_ROOT = Path(__file__).resolve().parents[2]


def default_data_root() -> Path:
    """``$CKD_DATA_DIR`` if set, else ``<repo>/data``."""
    env = os.environ.get("CKD_DATA_DIR")
    return Path(env) if env else REPO_ROOT / "data"


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Which dataset, and how events become frames.

    name            "n-digits" (embedded, `ckd-data synth`), "ncaltech101" (+ Caltech101) or "cepdvs".
    root            dataset folder; None → `default_data_root() / name`.
                    n-digits/ncaltech101: holds `Caltech101/<class>/*.bin` (N-Caltech101) and
                    `101_ObjectCategories/<class>/*.jpg|png` (Caltech101).
                    cepdvs: holds `pathFile.csv`, `data/MAT/img/*.mat`, `data/img/*.jpg`.
    rgb_root        optional separate folder for the RGB side (holding `101_ObjectCategories/`;
                    for cepdvs `data/img/`), for users whose images live elsewhere; None → `root`.
    T               number of time bins (frames) per DVS sample.
    size            frames and images are `size × size`.
    bins            "count": equal event-count bins; "time": equal-duration bins; "tonic-time" /
                    "tonic-count": exactly tonic's ToFrame(n_time_bins=T) / ToFrame(n_event_bins=T)
                    (they drop the remainder events; see frames.py).
    resize          "antialias" (default) or "he2024" (bilinear, align_corners=True, no antialias:
                    He et al.'s resize, the paper recipes; frames.py).
    frame_encoding  "binary" (1.0 where the resized count is > 0: the spikes fed to Loihi),
                    "count" (bilinearly resized event counts), "normalized-count" (count / max).
    val_fraction    fraction of each class's training part carved out (seeded) for validation.
    train_fraction  per class, the first `train_fraction` of the files (file order) are train+val,
                    the rest test (the baselines' 90/10 rule).
    test_fraction   None: the rest after the training part is the test split; else only the next
                    `n - round(n * (1 - test_fraction))` files per class (He et al.'s CEP-DVS "100 per
                    class": 0.2 of 500 after a 0.5 training part; splits.py).
    seed            seeds the validation carve-out, the DVS train limit and augmentation.
    dvs_train_limit None, or the number of DVS training samples kept per class.
    cache_dir       where event frames are cached; None → `<root>/.frames-cache`.
    augment         DVS train augmentation (random crop with `size // 12` px padding, h-flip, ±15° rotation).
    hflip, rotate   sub-switches of `augment` (both false: random crop only, He et al.'s N-Caltech101 and
                    CEP-DVS training transform, augment.py).
    skip_bad        skip corrupt files with a warning and a count instead of failing.
    """

    name: str = "n-digits"
    root: str | None = None
    rgb_root: str | None = None
    T: int = 8
    size: int = 48
    bins: str = "count"
    frame_encoding: str = "binary"
    resize: str = "antialias"
    val_fraction: float = 0.1
    train_fraction: float = 0.9
    test_fraction: float | None = None
    seed: int = 0
    dvs_train_limit: int | None = None
    cache_dir: str | None = None
    augment: bool = False
    hflip: bool = True
    rotate: bool = True
    skip_bad: bool = False

    def __post_init__(self) -> None:
        for key in ("root", "rgb_root", "cache_dir"):  # keep to_dict() JSON-able when given a Path
            value = getattr(self, key)
            if value is not None and not isinstance(value, str):
                object.__setattr__(self, key, os.fspath(value))
        problems = []
        if self.name not in DATASET_NAMES:
            problems.append(f"name must be one of {', '.join(DATASET_NAMES)}, got {self.name!r}")
        if self.bins not in BIN_MODES:
            problems.append(f"bins must be one of {', '.join(BIN_MODES)}, got {self.bins!r}")
        if self.resize not in ("antialias", "he2024"):
            problems.append(f"resize must be one of antialias, he2024, got {self.resize!r}")
        if self.frame_encoding not in FRAME_ENCODINGS:
            problems.append(f"frame_encoding must be one of {', '.join(FRAME_ENCODINGS)}, got {self.frame_encoding!r}")
        if not (isinstance(self.T, int) and self.T >= 1):
            problems.append(f"T must be an int >= 1, got {self.T!r}")
        if not (isinstance(self.size, int) and self.size >= 4):
            problems.append(f"size must be an int >= 4, got {self.size!r}")
        if not (0.0 <= float(self.val_fraction) < 1.0):
            problems.append(f"val_fraction must be in [0, 1), got {self.val_fraction!r}")
        if not (0.0 < float(self.train_fraction) <= 1.0):
            problems.append(f"train_fraction must be in (0, 1], got {self.train_fraction!r}")
        if self.test_fraction is not None and not (0.0 < float(self.test_fraction) <= 1.0 - float(self.train_fraction) + 1e-9):
            problems.append(f"test_fraction must be None or in (0, 1 - train_fraction], got {self.test_fraction!r}")
        if self.dvs_train_limit is not None and not (isinstance(self.dvs_train_limit, int) and self.dvs_train_limit >= 1):
            problems.append(f"dvs_train_limit must be None or an int >= 1, got {self.dvs_train_limit!r}")
        if problems:
            raise InputError(None, "bad data config: " + "; ".join(problems))

    # -- paths -----------------------------------------------------------------------------
    def resolved_root(self) -> Path:
        return Path(self.root) if self.root else default_data_root() / self.name

    def resolved_rgb_root(self) -> Path:
        return Path(self.rgb_root) if self.rgb_root else self.resolved_root()

    def resolved_cache_dir(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else self.resolved_root() / ".frames-cache"

    # -- (de)serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DataConfig":
        if not isinstance(d, dict):
            raise InputError(None, f"data config must be a mapping, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(None, f"unknown data config key(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**d)

    def replace(self, **changes: Any) -> "DataConfig":
        return dataclasses.replace(self, **changes)
