"""The lava-dl netx ``.net`` file format, in one place (spec: ``README.md`` beside this file).

* :mod:`~ckd_toolchain.netx.model` -- the typed model of a file (:class:`NetxNetwork` of
  :class:`LayerSpec` blocks with their :class:`NeuronSpec`), in Lava's conventions;
* :func:`load_netx` (:mod:`~ckd_toolchain.netx.reader`) -- read and validate any netx file that
  lava-dl 0.6 loads with CUBA-LIF neurons, one-line ``InputError`` otherwise;
* :func:`write_netx` (:mod:`~ckd_toolchain.netx.writer`) -- write the model as lava-dl's exporter
  does;
* graph files (README "Graph files"): blocks with several incoming synapse groups, for residual
  networks; read and written by the same two functions.

Stage-neutral (like :mod:`ckd_toolchain.nir_metadata`): the Loihi mapper (``hardware``) builds
the model and writes it, the simulators (``simulators.loihi``) read it. Imports only numpy, h5py
and the neutral :mod:`ckd_toolchain.errors` / :mod:`ckd_toolchain.atomic_io` /
:mod:`ckd_toolchain.geometry`.
"""
from ckd_toolchain.netx.model import (BIAS_EXP, DEFAULT_DENSE_NEURON, FORMAT, GRAPH_FORMAT, LIF_TYPES,
                                      PASS_THROUGH_NEURON, LayerSpec, NetxNetwork, NeuronSpec, SynapseSpec)
from ckd_toolchain.netx.reader import load_netx
from ckd_toolchain.netx.writer import write_netx

__all__ = ["load_netx", "write_netx", "NetxNetwork", "LayerSpec", "NeuronSpec", "SynapseSpec", "FORMAT",
           "GRAPH_FORMAT", "BIAS_EXP",
           "LIF_TYPES", "DEFAULT_DENSE_NEURON", "PASS_THROUGH_NEURON"]
