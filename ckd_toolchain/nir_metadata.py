"""The ``graph.metadata`` of an exported student and its encoding in the ``.nir`` (HDF5) file.

``nir.write`` stores metadata as HDF5 datasets: ``str`` → string, ``int``/``float`` → scalar,
numpy arrays → arrays; ``nir.read`` gives back ``str``, numpy scalars and arrays. A Python list of
strings has no HDF5 mapping there, so ``classes`` is stored as a JSON string. Keys (schema
``ckd-nir/1``):

=================  =========================  ==================================================
key                stored as                  meaning
=================  =========================  ==================================================
``format``         str ``"ckd-nir/1"``        this schema
``T``              int                        time steps per sample (frame bins)
``dt``             float ``1.0``              Euler step of every LIF node (one frame bin)
``input_shape``    int64 array ``[C, H, W]``  unbatched input of the ``input`` node
``classes``        JSON list of str           class names, index = output unit
``num_classes``    int                        ``len(classes)``
``frame_encoding`` str                        ``"binary"`` | ``"count"`` (ckd_train.data)
``source_sha256``  str                        SHA-256 of the checkpoint file bytes
``arch``           str                        ``"vgg"`` | ``"resnet18"``
``method``         str                        ``config["method"]["name"]`` of the checkpoint, or ``""``
``beta``           float                      snnTorch decay of every LIF
``threshold``      float                      snnTorch threshold of every LIF
``node_order``     JSON list of str           the nodes in evaluation (topological) order
``weights``        str                        ``"float"``, or the Loihi weight grid of a student
                                              fine-tuned with fixed-point weights (the stored
                                              weights are already on it; absent in older files)
``nir_profile``    str                        ``"snntorch"`` | ``"norse"``: written for that
                                              importer (``export.nir_profiles``); absent = spec
=================  =========================  ==================================================

:func:`read_metadata` decodes all of it back to plain Python types.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import numpy as np

FORMAT = "ckd-nir/1"
JSON_KEYS = ("classes", "node_order")
INT_KEYS = ("T", "num_classes")
FLOAT_KEYS = ("dt", "beta", "threshold")


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def encode_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """Python values → what ``nir.write`` stores losslessly."""
    out: dict[str, Any] = {}
    for k, v in meta.items():
        if k in JSON_KEYS:
            out[k] = json.dumps(list(v))
        elif k == "input_shape":
            out[k] = np.asarray(v, dtype=np.int64)
        elif k in INT_KEYS:
            out[k] = int(v)
        elif k in FLOAT_KEYS:
            out[k] = float(v)
        elif isinstance(v, (list, tuple, dict)):
            out[k] = json.dumps(v)
        elif v is None:
            out[k] = ""
        else:
            out[k] = v
    return out


def _scalar(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf8")
    if isinstance(v, np.ndarray) and v.ndim == 0:
        return v.item()
    if isinstance(v, np.generic):
        return v.item()
    return v


def read_metadata(graph_or_meta: Any) -> dict[str, Any]:
    """Decode ``graph.metadata`` (after ``nir.read`` or as built) into plain Python types."""
    meta = getattr(graph_or_meta, "metadata", graph_or_meta) or {}
    out: dict[str, Any] = {}
    for k, v in meta.items():
        v = _scalar(v)
        if k in JSON_KEYS and isinstance(v, str):
            v = json.loads(v)
        elif k == "input_shape":
            v = [int(x) for x in np.asarray(v).reshape(-1)]
        elif k in INT_KEYS:
            v = int(v)
        elif k in FLOAT_KEYS:
            v = float(v)
        out[k] = v
    return out


def student_metadata(ckpt: dict[str, Any], source_sha256: str, node_order: list[str], dt: float) -> dict[str, Any]:
    """Metadata of a student checkpoint (``ckd-checkpoint`` v1 dict)."""
    cfg = ckpt.get("config", {}) or {}
    s = cfg.get("student", {}) or {}
    data = cfg.get("data", {}) or {}
    classes = [str(c) for c in (ckpt.get("classes") or [])]
    size = int(s.get("input_size", data.get("size", 48)))
    method = cfg.get("method") or (cfg.get("train") or {}).get("method") or ""
    if isinstance(method, dict):  # ckd-train stores {"name": ..., loss settings...}
        method = method.get("name", "")
    return {
        "format": FORMAT,
        "T": int(s.get("T", data.get("T", 0))),
        "dt": float(dt),
        "input_shape": [int(s.get("in_channels", 2)), size, size],
        "classes": classes,
        "num_classes": int(s.get("num_classes", len(classes))),
        "frame_encoding": str(data.get("frame_encoding", "")),
        "source_sha256": source_sha256,
        "arch": str(s.get("arch", "")),
        "method": str(method),
        "beta": float(s.get("beta", 0.5)),
        "threshold": float(s.get("threshold", 1.0)),
        "node_order": node_order,
        # "float" or the Loihi weight grid the student was fine-tuned on (weights already on it)
        "weights": str((ckpt.get("fixed_point") or {}).get("grid", "float")),
    }
