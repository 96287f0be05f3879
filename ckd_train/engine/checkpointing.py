"""Writing run checkpoints (``ckd-checkpoint`` v1, see :mod:`ckd_toolchain.ckd_train.checkpoint`) atomically,
capturing/restoring RNG states, and the per-epoch metrics files (``metrics.csv``,
``summary.json``)."""
from __future__ import annotations

import csv
import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ckd_toolchain.atomic_io import save_torch, write_json, write_text
from ckd_toolchain.ckd_train.checkpoint import FORMAT, VERSION
from ckd_toolchain.ckd_train.checkpoint_integrity import payload_sha256


def rng_state() -> dict[str, Any]:
    st = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st: dict[str, Any]) -> None:
    torch.set_rng_state(st["torch"])
    np.random.set_state(st["numpy"])
    random.setstate(st["python"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def seed_epoch(seed: int, epoch: int, rank: int = 0) -> None:
    """Seed every global RNG from ``(seed, epoch, rank)`` at the start of an epoch."""
    s = (int(seed) * 1_000_003 + int(epoch) * 101 + int(rank)) % (2**31 - 1)
    torch.manual_seed(s)
    np.random.seed(s)
    random.seed(s)


def make_checkpoint(kind: str, model_state: dict, config: dict, classes: list[str], epoch: int,
                    optimizer=None, scheduler=None, metrics: dict | None = None, extra: dict | None = None) -> dict:
    ck = {"format": FORMAT, "version": VERSION, "kind": kind, "model": model_state, "config": config,
          "classes": list(classes), "epoch": int(epoch),
          "optimizer": None if optimizer is None else optimizer.state_dict(),
          "scheduler": None if scheduler is None else scheduler.state_dict(),
          "rng": rng_state(), "metrics": metrics or {}}
    if extra:
        ck.update(extra)
    ck["sha256"] = payload_sha256(ck)
    return ck


def save_checkpoint(path: Path, ckpt: dict) -> None:
    save_torch(path, ckpt)


def write_metrics_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    write_text(path, buf.getvalue())


def write_summary(path: Path, summary: dict) -> None:
    write_json(path, summary)
