"""Atomic file output: write to a temporary file beside the target, then rename.

A crash, an exception or a bad input part-way through never leaves a half-written artifact at
the target path: either the previous file (or nothing) is there, or the complete new one.
``os.replace`` is atomic on POSIX when source and target are on the same file system, which is
why the temporary file is created in the target's directory.

Temporary names carry the writer's process id, ``.<name>.<pid>.<random>.tmp`` (the deploy stage's
``.model.net.<pid>.partial`` follows the same pattern): a writer killed with ``kill -9`` leaves its
file behind, and the next write of the same target removes every such leftover whose process is
gone (:func:`remove_stale_partials`). Output locations are checked before any work starts
(:func:`check_output_dir`, :func:`check_output_file`); an unwritable location is one
:class:`~ckd_toolchain.errors.InputError`, never a traceback.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from ckd_toolchain.errors import InputError


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path; on success it is renamed onto ``target``, on error removed."""
    target = Path(target)
    check_output_file(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(target, f"cannot create its folder: {exc.strerror or exc}") from None
    remove_stale_partials(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise InputError(target, f"cannot write here: {exc.strerror or exc}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp creates 0600; give the artifact the permissions a plain open() would (0666 & ~umask).
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(target: str | os.PathLike) -> list[Path]:
    """Delete ``.<name>.<pid>.*.tmp`` / ``.<name>.<pid>.partial`` beside ``target`` whose writer
    process no longer runs; returns what was removed."""
    target = Path(target)
    removed = []
    if not target.parent.is_dir():
        return removed
    prefix = f".{target.name}."
    for p in target.parent.iterdir():
        if not (p.name.startswith(prefix) and p.name.endswith((".tmp", ".partial"))):
            continue
        pid = p.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed


def check_output_dir(path: str | os.PathLike) -> Path:
    """``path`` is, or can be created as, a writable directory (nothing is created here: the nearest
    existing ancestor must be a writable directory)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(path, "output directory is an existing file")
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(path, f"cannot create the output directory: {probe} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(path, f"output directory is not writable (no write permission in {probe})")
    return path


def check_output_file(path: str | os.PathLike) -> Path:
    """``path`` can be written: not a directory, its folder exists or can be created, writable."""
    path = Path(path)
    if path.is_dir():
        raise InputError(path, "output path is a directory")
    check_output_dir(path.parent)
    return path


def write_text(target: str | os.PathLike, text: str) -> Path:
    """Atomically write a text file."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)
    return Path(target)


def write_json(target: str | os.PathLike, obj: Any) -> Path:
    """Atomically write ``obj`` as indented JSON."""
    return write_text(target, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_torch(target: str | os.PathLike, obj: Any) -> Path:
    """Atomically ``torch.save`` an object (checkpoints)."""
    import torch

    with atomic_path(target) as tmp:
        torch.save(obj, tmp)
    return Path(target)


def save_numpy(target: str | os.PathLike, array: Any) -> Path:
    """Atomically ``numpy.save`` an array (``.npy``)."""
    import numpy as np

    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, array)
    return Path(target)
