"""GPU energy per inference: **measured** with NVML where a CUDA GPU exists, else **estimated**.

Measured (:func:`measure_energy`): NVML's total-energy counter
(``nvmlDeviceGetTotalEnergyConsumption``, millijoules since driver load, Volta and newer) is read
around the timed inference. The board's idle power is measured first with the same counter over
an idle window and subtracted::

    E_inference = [(E_after - E_before) - P_idle * (t_after - t_before)] / n_inferences

NVML is reached through ``ctypes`` (``libnvidia-ml.so.1``); pynvml is not needed. When there is
no CUDA device or no NVML the result says so, with the reason, and the report falls back to the
estimate.

Estimated (:func:`estimate`): the run's FLOPs at the profile's peak FP32 rate and board power::

    t = FLOPs / peak_FLOP/s,   E = t * P_board

(peak utilisation at TDP: the time is a lower bound; the power is an upper bound).

FLOPs of the student run densely over ``T`` steps: ``2 * T * sum_L MACs_L`` plus
``LIF_FLOPS_PER_UPDATE`` per neuron per step (``U = beta U + I``: 2, threshold compare: 1, reset: 1).
"""
from __future__ import annotations

import ctypes
import time
from typing import Any, Callable

from ckd_toolchain.hardware.energy.profiles import Profile

LIF_FLOPS_PER_UPDATE = 4
NVML_SUCCESS = 0


def student_dense_flops(dense_macs_per_step: float, neurons: float, steps: int) -> float:
    return 2.0 * dense_macs_per_step * steps + LIF_FLOPS_PER_UPDATE * neurons * steps


def estimate(flops: float, p: Profile) -> dict:
    """``{"energy": J, "latency": s}`` at peak FP32 throughput and board power."""
    t = flops / p.si("peak_flops_fp32")
    return {"energy": t * p.si("board_power"), "latency": t}


class NvmlUnavailable(RuntimeError):
    """No NVML library, no device, or the energy counter is unsupported."""


class Nvml:
    """Minimal ctypes binding: init, device handle, name, total energy (mJ)."""

    def __init__(self, device_index: int = 0, library: str = "libnvidia-ml.so.1"):
        try:
            self._lib = ctypes.CDLL(library)
        except OSError as exc:
            raise NvmlUnavailable(f"NVML library not found ({library}: {exc})") from None
        self._check(self._lib.nvmlInit_v2(), "nvmlInit_v2")
        self._handle = ctypes.c_void_p()
        self._check(self._lib.nvmlDeviceGetHandleByIndex_v2(ctypes.c_uint(device_index), ctypes.byref(self._handle)),
                    f"nvmlDeviceGetHandleByIndex_v2({device_index})")

    def _check(self, rc: int, what: str) -> None:
        if rc != NVML_SUCCESS:
            raise NvmlUnavailable(f"{what} returned NVML error {rc}")

    def device_name(self) -> str:
        buf = ctypes.create_string_buffer(96)
        self._check(self._lib.nvmlDeviceGetName(self._handle, buf, ctypes.c_uint(96)), "nvmlDeviceGetName")
        return buf.value.decode(errors="replace")

    def total_energy_mj(self) -> int:
        val = ctypes.c_ulonglong()
        self._check(self._lib.nvmlDeviceGetTotalEnergyConsumption(self._handle, ctypes.byref(val)),
                    "nvmlDeviceGetTotalEnergyConsumption")
        return int(val.value)

    def close(self) -> None:
        self._lib.nvmlShutdown()


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
                   idle_s: float = 1.0, clock: Callable[[], float] = time.perf_counter,
                   sleep: Callable[[float], None] = time.sleep) -> dict:
    """Run ``fn`` (which must finish its GPU work, e.g. end with ``torch.cuda.synchronize()``)
    between two reads of the NVML energy counter.

    ``fn`` runs exactly once either way. Returns ``{"available": True, "device", "energy_J" (net, all inferences), "energy_per_inference_J",
    "gross_energy_J", "idle_power_W", "duration_s", "num_inferences", "method"}`` or
    ``{"available": False, "reason": ..., "duration_s": ...}``. ``nvml`` may be any object with ``device_name()`` and
    ``total_energy_mj()`` (tests pass a fake); ``None`` opens the real library when CUDA exists.
    """
    own = nvml is None
    if own:
        ok, why = _cuda_available()
        if ok:
            try:
                nvml = Nvml(device_index)
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
        fn()
        e3, t3 = nvml.total_energy_mj(), clock()
    except NvmlUnavailable as exc:
        return {"available": False, "reason": str(exc)}  # fn may have run: its time is not trusted
    finally:
        if own and hasattr(nvml, "close"):
            nvml.close()
    gross = (e3 - e2) * 1e-3
    dur = t3 - t2
    net = max(gross - idle_w * dur, 0.0)
    return {"available": True, "device": name, "gross_energy_J": gross, "idle_power_W": idle_w,
            "duration_s": dur, "energy_J": net, "num_inferences": int(num_inferences),
            "energy_per_inference_J": net / max(int(num_inferences), 1),
            "method": "NVML nvmlDeviceGetTotalEnergyConsumption around the timed inference; idle power "
                      f"measured over {idle_s:g} s before and subtracted"}
