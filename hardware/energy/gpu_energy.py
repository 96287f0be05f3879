"""GPU energy per inference: **measured** with NVML where a CUDA GPU exists, else **estimated**.

Measured (:func:`measure_energy`): NVML's total-energy counter (millijoules since driver load,
read through :class:`ckd_toolchain.hardware.energy.nvml.NvmlDevice`: ``nvidia-ml-py``, the device
matched to the CUDA device by UUID) is read around the timed inference. The board's idle power is
measured first with the same counter over an idle window and subtracted::

    E_inference = [(E_after - E_before) - P_idle * (t_after - t_before)] / n_inferences

The counter counts whole millijoules and the driver refreshes it every few tens of ms, so the
inference is repeated until the timed window lasts at least ``min_duration_s`` (default 2 s) and
the counter has advanced by at least ``min_counts`` (default 1,000 mJ): the quantisation error is
then below 0.1 % and the refresh jitter below a few %. When there is no CUDA device, no binding or
no counter the result says so, with the reason, and the report falls back to the estimate,
labelled *estimated*.

Estimated (:func:`estimate`): the run's FLOPs at the profile's peak FP32 rate and board power::

    t = FLOPs / peak_FLOP/s,   E = t * P_board

(peak utilisation at TDP: the time is a lower bound; the power is an upper bound).

FLOPs of the student run densely over ``T`` steps: ``2 * T * sum_L MACs_L`` plus
``LIF_FLOPS_PER_UPDATE`` per neuron per step (``U = beta U + I``: 2, threshold compare: 1, reset: 1).
"""
from __future__ import annotations

import time
from typing import Any, Callable

from ckd_toolchain.hardware.energy.nvml import NvmlDevice, NvmlUnavailable  # noqa: F401 (re-exported)
from ckd_toolchain.hardware.energy.profiles import Profile

LIF_FLOPS_PER_UPDATE = 4


def student_dense_flops(dense_macs_per_step: float, neurons: float, steps: int) -> float:
    return 2.0 * dense_macs_per_step * steps + LIF_FLOPS_PER_UPDATE * neurons * steps


def estimate(flops: float, p: Profile) -> dict:
    """``{"energy": J, "latency": s}`` at peak FP32 throughput and board power."""
    t = flops / p.si("peak_flops_fp32")
    return {"energy": t * p.si("board_power"), "latency": t}


def _cuda_available() -> tuple[bool, str]:
    try:
        import torch
    except ImportError:
        return False, "torch is not installed"
    if not torch.cuda.is_available():
        return False, "no CUDA device (torch.cuda.is_available() is False)"
    return True, ""


def _unmeasured(fn: Callable[[], Any], reason: str, clock: Callable[[], float]) -> dict:
    t0 = clock()
    fn()
    return {"available": False, "reason": reason, "duration_s": clock() - t0}


def measure_energy(fn: Callable[[], Any], num_inferences: int, *, device_index: int = 0, nvml: Any = None,
                   idle_s: float = 1.0, min_duration_s: float = 2.0, min_counts: int = 1000,
                   max_repetitions: int = 10_000, clock: Callable[[], float] = time.perf_counter,
                   sleep: Callable[[float], None] = time.sleep) -> dict:
    """Run ``fn`` (``num_inferences`` inferences per call; it must finish its GPU work, e.g. end
    with ``torch.cuda.synchronize()``) between two reads of the NVML energy counter, repeated
    until the window lasts ``min_duration_s`` and the counter advanced ``min_counts`` mJ.

    Returns ``{"available": True, "device", "energy_J" (net, all inferences),
    "energy_per_inference_J", "gross_energy_J", "idle_power_W", "duration_s", "num_inferences",
    "repetitions", "method"}`` or ``{"available": False, "reason": ..., "duration_s": ...}``
    (``fn`` then runs once). ``nvml`` may be any object with ``device_name()`` and
    ``total_energy_mj()`` (tests pass a fake); ``None`` opens CUDA device ``device_index`` through
    :class:`~ckd_toolchain.hardware.energy.nvml.NvmlDevice` when CUDA exists.
    """
    own = nvml is None
    if own:
        ok, why = _cuda_available()
        if ok:
            try:
                nvml = NvmlDevice(device_index)
            except NvmlUnavailable as exc:
                ok, why = False, str(exc)
        if not ok:
            return _unmeasured(fn, why, clock)
    try:
        name = nvml.device_name()
        e0, t0 = nvml.total_energy_mj(), clock()
        sleep(idle_s)
        e1, t1 = nvml.total_energy_mj(), clock()
        idle_w = (e1 - e0) * 1e-3 / (t1 - t0) if t1 > t0 else 0.0
        e2, t2 = nvml.total_energy_mj(), clock()
        reps = 0
        while True:
            fn()
            reps += 1
            e3, t3 = nvml.total_energy_mj(), clock()
            if (t3 - t2 >= min_duration_s and e3 - e2 >= min_counts) or reps >= max_repetitions:
                break
    except NvmlUnavailable as exc:
        return {"available": False, "reason": str(exc)}  # fn may have run: its time is not trusted
    finally:
        if own and hasattr(nvml, "close"):
            nvml.close()
    gross = (e3 - e2) * 1e-3
    dur = t3 - t2
    net = max(gross - idle_w * dur, 0.0)
    n = max(int(num_inferences), 1) * reps
    return {"available": True, "device": name, "gross_energy_J": gross, "idle_power_W": idle_w,
            "duration_s": dur, "energy_J": net, "num_inferences": n, "repetitions": reps,
            "energy_per_inference_J": net / n,
            "method": f"NVML total energy counter (nvidia-ml-py, device matched by UUID) around {reps} "
                      f"repetitions ({dur:.3g} s, {e3 - e2} mJ counted); idle power measured over {idle_s:g} s "
                      "before and subtracted"}
