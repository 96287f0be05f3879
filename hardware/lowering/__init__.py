"""Lowering a NIR graph to Loihi 2: CUBA-LIF layers in fixed point, written as a lava-dl netx file.

* :mod:`.nir_to_loihi` -- ``map_graph``: walk the NIR DAG, fold gains/thresholds/pools, quantise.
* :mod:`.pool_as_conv` -- pooling as grouped strided convolutions (netx has no pool layer).
* :mod:`.loihi_layer` -- ``LoihiLayer``/``MappedNetwork``: the float view + quantisation beside the
  netx block (:mod:`ckd_toolchain.netx`).
* :mod:`.netx_mapping` -- ``nir_to_netx``: the public entry point (map + write the ``.net``).
* :mod:`.core_allocation`, :mod:`.mapping_report` -- neurocores against the Loihi 2 limits, and the
  per-layer mapping block of the report.
"""
