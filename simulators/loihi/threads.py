"""How many CPU threads one synapse call of the fast simulator gets: all of them for large calls,
one for small ones.

oneDNN splits a convolution / GEMM over the torch threads; for a call of only a few thousand
multiply-accumulates the split costs more than it saves. Measured on the 2-core CPU (quiet,
``/work`` session 4, torch 2.13.0, exact int8 / fp32 synapse calls of ``synapses.py`` on 0/1
spikes, best of 5): 2 threads were 0.85x (3.7e4 MACs) and 0.91x (3.2e4) of 1 thread on tiny
calls, and 1.3x (3.7e5 MACs) up to 2.2x (1.3e8) on larger ones — so below
:data:`SMALL_CALL_MACS` a call runs on one thread, above it on every thread the user allowed
(``torch.set_num_threads``). The compiled neuron scan and sum-pools (numba) are single-threaded
anyway. Re-measure with ``benchmarks/bench_threads.py`` on another CPU.
"""
from __future__ import annotations

import contextlib

import torch

#: multiply-accumulates per synapse call below which one thread is used (crossover measured
#: between 3.7e4 (2 threads slower) and 3.7e5 (2 threads 1.3x faster): module docstring)
SMALL_CALL_MACS = 100_000


def threads_for(macs: int, max_threads: int) -> int:
    """Threads for one call of ``macs`` multiply-accumulates when ``max_threads`` are allowed."""
    return 1 if macs < SMALL_CALL_MACS else max(1, int(max_threads))


@contextlib.contextmanager
def call_threads(macs: int, max_threads: int):
    """Run the enclosed synapse call with :func:`threads_for` threads, then restore the setting."""
    n = threads_for(macs, max_threads)
    old = torch.get_num_threads()
    if n == old:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
