"""The N-MNIST / N-Caltech101 binary event format (ATIS "TD" events, 40 bits per event).

Spec (Orchard et al., Front. Neurosci. 2015, dataset README; reader: tonic 1.7
``tonic.io.read_mnist_file``, adapted from gorchard/event-Python ``eventvision.py``):

    every event is 5 bytes, big-endian bit order
    byte 0         x (unsigned 8 bit)
    byte 1         y (unsigned 8 bit)
    byte 2 bit 7   polarity (1 = ON / brighter, 0 = OFF / darker)
    byte 2 bits 6..0, byte 3, byte 4
                   timestamp in µs (23 bits)

    An event whose y byte is 240 is not a pixel event but a *timestamp overflow* marker: every
    later event gets ``2**13`` added to its timestamp.  (2**13 is what the reference readers
    -- eventvision.py and tonic -- add; a 23-bit counter would logically wrap at 2**23.  We
    reproduce the reference behaviour so our reader agrees event-for-event with tonic.)

Our writer never emits overflow markers: it refuses timestamps >= 2**23 µs (8.4 s, far longer
than the 300 ms N-Caltech101 recordings), x > 255 and y >= 240 (240 would read back as an
overflow marker).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ckd_toolchain.atomic_io import atomic_path
from ckd_toolchain.errors import InputError

EVENT_BYTES = 5
OVERFLOW_Y = 240
OVERFLOW_INCREMENT_US = 2**13
MAX_TIMESTAMP_US = 2**23

#: events as a structured array, the same field names and order as tonic's NCALTECH101.dtype
EVENT_DTYPE = np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])


def decode_atis(raw: bytes | np.ndarray, path: str | os.PathLike | None = None) -> np.ndarray:
    """Decode the 40-bit event bytes into a structured array (x, y, t, p); see module docstring."""
    data = np.frombuffer(raw, dtype=np.uint8) if isinstance(raw, (bytes, bytearray, memoryview)) else np.asarray(raw, np.uint8)
    if data.size == 0:
        raise InputError(path, "empty event file (N-Caltech101 .bin with 0 events)")
    if data.size % EVENT_BYTES:
        raise InputError(
            path,
            f"truncated N-Caltech101 .bin: {data.size} bytes is not a multiple of {EVENT_BYTES} "
            f"(the last event has {data.size % EVENT_BYTES} of its 5 bytes)",
        )
    ev = data.reshape(-1, EVENT_BYTES).astype(np.int64)
    x, y = ev[:, 0], ev[:, 1]
    p = (ev[:, 2] & 0x80) >> 7
    t = ((ev[:, 2] & 0x7F) << 16) | (ev[:, 3] << 8) | ev[:, 4]
    overflow = y == OVERFLOW_Y
    if overflow.any():
        # each marker adds 2**13 to itself and every later event (tonic's loop, vectorised)
        t = t + np.cumsum(overflow) * OVERFLOW_INCREMENT_US
    keep = ~overflow
    out = np.empty(int(keep.sum()), dtype=EVENT_DTYPE)
    out["x"], out["y"], out["t"], out["p"] = x[keep], y[keep], t[keep], p[keep]
    return out


def _check_plausible(path, t: np.ndarray) -> None:
    """Random bytes decode to "events" too: a recording file's timestamps never run backwards
    (:func:`read_atis_bin` also refuses y bytes above 240, which the sensor cannot produce)."""
    back = np.flatnonzero(np.diff(t) < 0)
    if back.size:
        raise InputError(path, f"not an N-Caltech101 event file: timestamps run backwards at event {int(back[0]) + 1} "
                               f"({int(t[back[0]])} -> {int(t[back[0] + 1])} us); corrupt or not events")


def read_atis_bin(path: str | os.PathLike) -> np.ndarray:
    """Read an N-Caltech101 ``.bin`` file into a structured (x, y, t, p) array (raw coordinates).
    A file that cannot be a recording (timestamps running backwards, y above 240) is refused."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read event file: {exc.strerror or exc}") from None
    ev = decode_atis(raw, path)
    if raw and np.frombuffer(raw, np.uint8)[1::EVENT_BYTES].max() > OVERFLOW_Y:
        raise InputError(path, "not an N-Caltech101 event file: a y byte is above 240 (the sensor has "
                               f"y < {OVERFLOW_Y}, 240 marks overflow); corrupt or not events")
    _check_plausible(path, ev["t"])
    return ev


def encode_atis(x, y, t, p) -> bytes:
    """Pack events into the 40-bit format (no overflow markers; see module docstring)."""
    x = np.asarray(x, np.int64)
    y = np.asarray(y, np.int64)
    t = np.asarray(t, np.int64)
    p = np.asarray(p, np.int64)
    if not (x.shape == y.shape == t.shape == p.shape and x.ndim == 1):
        raise ValueError("x, y, t, p must be 1-D arrays of the same length")
    if x.size and (x.min() < 0 or x.max() > 255):
        raise ValueError("x must be in [0, 255] for the N-Caltech101 format")
    if y.size and (y.min() < 0 or y.max() >= OVERFLOW_Y):
        raise ValueError("y must be in [0, 239] for the N-Caltech101 format (240 marks overflow)")
    if t.size and (t.min() < 0 or t.max() >= MAX_TIMESTAMP_US):
        raise ValueError("t must be in [0, 2**23) µs for the N-Caltech101 format")
    if p.size and not np.isin(p, (0, 1)).all():
        raise ValueError("p must be 0 or 1")
    out = np.empty((x.size, EVENT_BYTES), np.uint8)
    out[:, 0] = x
    out[:, 1] = y
    out[:, 2] = (p << 7) | (t >> 16)
    out[:, 3] = (t >> 8) & 0xFF
    out[:, 4] = t & 0xFF
    return out.tobytes()


def write_atis_bin(path: str | os.PathLike, x, y, t, p) -> Path:
    """Atomically write events as an N-Caltech101 ``.bin`` file."""
    data = encode_atis(x, y, t, p)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)
