"""Decode every DVS sample (→ frames) and every image (→ resized RGB) once, cached on disk.

Cache files live in ``cfg.resolved_cache_dir()`` (default ``<root>/.frames-cache``) and are named
``<kind>-<sha256[:16]>.npz`` where the hash covers a format version, the dataset name, the
parameters that change the arrays (T, size, bins, frame_encoding for frames; size for images)
and, for every input file, its path relative to the root, byte size and mtime (ns) -- so editing,
adding or removing a file, or changing a parameter, is a different cache entry. Files are written
atomically (:mod:`ckd_toolchain.atomic_io`); an unwritable cache folder only prints a warning. At
most ``KEEP_PER_KIND`` entries per kind are kept (the oldest by mtime are deleted).

Binary frames are stored bit-packed (``numpy.packbits`` along the last axis) and held in memory
as uint8; other encodings as float32. Bad files (InputError while decoding) are either raised
(default) or, with ``skip_bad``, recorded in the cache entry and reported again on every load.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ckd_toolchain.atomic_io import atomic_path
from ckd_toolchain.errors import InputError

CACHE_VERSION = 1
#: entries kept per kind (dvs / rgb) in one cache folder; older ones (by mtime) are deleted
KEEP_PER_KIND = 6


def _fingerprint(kind: str, params: dict, files: Sequence[Path], root: Path) -> str:
    entries = []
    for f in files:
        st = f.stat()
        try:
            rel = str(f.relative_to(root))
        except ValueError:
            rel = str(f)
        entries.append([rel, st.st_size, st.st_mtime_ns])
    blob = json.dumps({"v": CACHE_VERSION, "kind": kind, "params": params, "files": entries}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _load(path: Path) -> dict | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception:  # a damaged cache entry is rebuilt, never trusted
        return None


def _save(path: Path, arrays: dict[str, np.ndarray], warn: Callable[[str], None]) -> None:
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
    except OSError as exc:
        warn(f"warning: cannot write frame cache {path}: {exc.strerror or exc}")
        return
    kind = path.name.split("-", 1)[0]
    entries = sorted(path.parent.glob(f"{kind}-*.npz"), key=lambda f: f.stat().st_mtime_ns, reverse=True)
    for old in entries[KEEP_PER_KIND:]:
        if old != path:
            old.unlink(missing_ok=True)


def cached_decode(kind: str, params: dict, files: Sequence[Path], root: Path, cache_dir: Path | None,
                  decode: Callable[[Path], np.ndarray], *, skip_bad: bool, pack_bits_last: int | None = None,
                  dtype=np.float32, log: Callable[[str], None] | None = None) -> tuple[np.ndarray, list[int], list[str]]:
    """Decode ``files`` (or load them from the cache). Returns ``(stacked arrays of the good files,
    indices of the good files, ["<path>: <problem>" for bad files])``.

    ``pack_bits_last``: store uint8 0/1 arrays bit-packed; the value is the unpacked last-axis size.
    """
    log = log or (lambda m: print(m, file=sys.stderr))
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"{kind}-{_fingerprint(kind, params, files, root)}.npz"
        hit = _load(cache_file) if cache_file.is_file() else None
        if hit is not None and {"data", "good", "bad"} <= set(hit):
            bad = [str(b) for b in hit["bad"]]
            if bad and not skip_bad:
                raise InputError(bad[0].split(": ", 1)[0], bad[0].split(": ", 1)[1])
            data = hit["data"]
            if pack_bits_last is not None:
                data = np.unpackbits(data, axis=-1, count=pack_bits_last)
            return data, [int(i) for i in hit["good"]], bad
    from tqdm import tqdm

    arrays, good, bad = [], [], []
    log(f"decoding {len(files)} {kind} file(s) under {root}" + (" (cached for the next run)" if cache_file else ""))
    for i, f in enumerate(tqdm(files, desc=f"decode {kind}", unit="file", file=sys.stderr, disable=None, leave=False)):
        try:
            arrays.append(np.asarray(decode(f), dtype=dtype))
            good.append(i)
        except InputError as exc:
            if not skip_bad:
                raise
            bad.append(str(exc))
    if not arrays:
        raise InputError(root, f"no readable {kind} file among {len(files)}")
    data = np.stack(arrays)
    if cache_file is not None:
        stored = np.packbits(data.astype(np.uint8), axis=-1) if pack_bits_last is not None else data
        _save(cache_file, {"data": stored, "good": np.asarray(good, np.int64), "bad": np.asarray(bad, dtype=str)}, log)
    return data, good, bad
