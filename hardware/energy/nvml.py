"""The NVML device a CUDA device index names, through NVIDIA's maintained binding ``nvidia-ml-py``
(``import pynvml``; pinned in ``requirements/main.txt``).

NVML numbers GPUs in PCI order over the whole machine; CUDA numbers the devices it can see, after
``CUDA_VISIBLE_DEVICES`` and in ``CUDA_DEVICE_ORDER`` (fastest first by default). The two indices
differ in general, so the device is matched by UUID: ``torch.cuda.get_device_properties(i).uuid``
against ``nvmlDeviceGetUUID`` (``"GPU-<uuid>"``; MIG instances ``"MIG-<uuid>"``).

:class:`NvmlDevice` exposes what :func:`ckd_toolchain.hardware.energy.gpu_energy.measure_energy`
reads: ``device_name()`` and ``total_energy_mj()`` (``nvmlDeviceGetTotalEnergyConsumption``:
millijoules since the driver loaded, Volta and newer).
"""
from __future__ import annotations

from typing import Any


class NvmlUnavailable(RuntimeError):
    """No binding, no NVML library, no matching device, or the energy counter is unsupported."""


def _text(v: Any) -> str:
    return v.decode(errors="replace") if isinstance(v, bytes) else str(v)


def normalise_uuid(uuid: Any) -> str:
    """``"GPU-1a2b..."``, ``"1A2B..."`` or a ``uuid.UUID`` → lower-case hex with dashes, no prefix."""
    text = _text(uuid).strip().lower()
    for prefix in ("gpu-", "mig-"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text


def cuda_uuid(cuda_index: int) -> str:
    """The UUID of CUDA device ``cuda_index`` as torch sees it (after ``CUDA_VISIBLE_DEVICES``)."""
    import torch

    props = torch.cuda.get_device_properties(cuda_index)
    uuid = getattr(props, "uuid", None)
    if uuid is None:
        raise NvmlUnavailable("this torch build does not report CUDA device UUIDs")
    return normalise_uuid(uuid)


def find_handle(nvml: Any, uuid: str) -> Any:
    """The NVML handle whose UUID is ``uuid`` (``nvml``: the ``pynvml`` module or a stand-in)."""
    want = normalise_uuid(uuid)
    seen = []
    for i in range(int(nvml.nvmlDeviceGetCount())):
        h = nvml.nvmlDeviceGetHandleByIndex(i)
        got = normalise_uuid(nvml.nvmlDeviceGetUUID(h))
        if got == want:
            return h
        seen.append(got)
    raise NvmlUnavailable(f"no NVML device has the CUDA device's UUID {want} (NVML sees {seen})")


class NvmlDevice:
    """NVML's view of CUDA device ``cuda_index`` (or of the device with ``uuid``)."""

    def __init__(self, cuda_index: int = 0, uuid: str | None = None, module: Any = None):
        if module is None:
            try:
                import pynvml as module
            except ImportError:
                raise NvmlUnavailable("the NVML binding is not installed (pip install nvidia-ml-py)") from None
        self._nvml = module
        try:
            module.nvmlInit()
        except Exception as exc:  # pynvml.NVMLError and OSError from a missing libnvidia-ml
            raise NvmlUnavailable(f"nvmlInit failed: {exc}") from None
        try:
            self.uuid = normalise_uuid(uuid) if uuid is not None else cuda_uuid(cuda_index)
            self._handle = find_handle(module, self.uuid)
        except NvmlUnavailable:
            self.close()
            raise

    def device_name(self) -> str:
        return _text(self._nvml.nvmlDeviceGetName(self._handle))

    def total_energy_mj(self) -> int:
        try:
            return int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))
        except Exception as exc:
            raise NvmlUnavailable(f"nvmlDeviceGetTotalEnergyConsumption failed: {exc}") from None

    def close(self) -> None:
        try:
            self._nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001 - shutting down a half-initialised library
            pass
