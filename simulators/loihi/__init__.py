"""Loihi 2 simulators for lava-dl netx ``.net`` files: a fast bit-exact batched re-implementation
(``sim="fast"``) and genuine Lava in its own env (``sim="lava"``), behind :func:`run_netx`."""
from ckd_toolchain.simulators.loihi.api import lava_to_torch_order, run_netx, torch_order_to_lava
from ckd_toolchain.netx import LayerSpec, NetxNetwork, NeuronSpec, load_netx

__all__ = ["run_netx", "torch_order_to_lava", "lava_to_torch_order", "load_netx", "NetxNetwork",
           "LayerSpec", "NeuronSpec"]
