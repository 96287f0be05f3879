"""A SHA-256 seal in the HDF5 user block of the files we write (issue 16: integrity of our artifacts).

HDF5 lets a file start with a *user block* (here :data:`USERBLOCK` = 512 bytes) that the library
skips: the superblock then sits at offset 512, and every HDF5 reader (h5py, lava-dl netx) reads the
file as usual. We write into it, after the file is complete::

    b"CKD-SEAL v1 sha256=" + <64 hex digits of sha256(file[512:])> + b"\n", zero-padded to 512

:func:`verify_seal` recomputes the digest BEFORE the HDF5 library parses anything, so a byte flip
anywhere in the payload is one clear error instead of a silently changed weight, an h5py exception
or a hang inside the HDF5 C library on a damaged B-tree. A file without the magic is a foreign file
(lava-dl's own, or written before the seal existed): it has no seal and is checked only by the
reader's range checks.
"""
from __future__ import annotations

import hashlib
import os

from ckd_toolchain.errors import InputError

USERBLOCK = 512
MAGIC = b"CKD-SEAL v1 sha256="


def _digest(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        fh.seek(USERBLOCK)
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def seal(path: str | os.PathLike) -> None:
    """Write the seal into the user block of ``path`` (created with ``userblock_size=USERBLOCK``)."""
    header = MAGIC + _digest(path).encode() + b"\n"
    with open(path, "r+b") as fh:
        fh.write(header.ljust(USERBLOCK, b"\0"))


def verify_seal(path: str | os.PathLike) -> bool:
    """True when ``path`` carries a matching seal, False when it has none; InputError on a mismatch."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(USERBLOCK)
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    if not head.startswith(MAGIC):
        return False
    want = head[len(MAGIC):len(MAGIC) + 64].decode("ascii", errors="replace")
    if _digest(path) != want:
        raise InputError(path, "corrupt file: its content does not match the sha256 sealed in its header "
                               "(changed after it was written)")
    return True
