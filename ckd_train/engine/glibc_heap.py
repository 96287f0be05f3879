"""Keep freed memory in the process heap (glibc ``mallopt``) for CPU training.

The multi-step engine allocates activations of ``T*B`` frames (tens of MB per layer at batch 64).
glibc's ``malloc`` serves blocks above its mmap threshold (dynamic, at most 32 MiB on 64-bit)
with fresh ``mmap`` pages and unmaps them on ``free``, so every train step page-faults and zeroes
them again: on the 2-core CI machine the LIF layers ran ~3x slower at batch 64 because of it
(``benchmarks/bench_train.py``). ``mallopt(M_MMAP_MAX, 0)`` serves every block from the ``brk`` heap
and ``mallopt(M_TRIM_THRESHOLD, 1 GiB)`` keeps up to 1 GiB of freed top-of-heap memory, so freed
activations are reused (glibc ``malloc(3)``/``mallopt(3)``; same effect as the environment
variables ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1073741824``). Cost: the process keeps its
peak heap size. Process-wide; set ``CKD_GLIBC_HEAP=0`` to leave malloc untouched.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1  # <malloc.h>
M_MMAP_MAX = -4
TRIM_THRESHOLD_BYTES = 1 << 30


def keep_freed_heap() -> bool:
    """Apply the two ``mallopt`` settings above. Returns whether they were applied (glibc Linux only)."""
    if not sys.platform.startswith("linux") or os.environ.get("CKD_GLIBC_HEAP", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or no libc: nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
