"""Op counting and energy/latency models for the deployment report.

- :mod:`ckd_toolchain.hardware.energy.profiles` loads per-operation figures from cited YAML data files.
- :mod:`ckd_toolchain.hardware.energy.op_counts` counts spikes, synaptic ops, neuron updates, spike messages, MACs.
- :mod:`ckd_toolchain.hardware.energy.flops` counts MACs/FLOPs of any ``nn.Module`` from the shapes its layers see.
- :mod:`ckd_toolchain.hardware.energy.loihi_energy`, :mod:`ckd_toolchain.hardware.energy.horowitz_45nm`,
  :mod:`ckd_toolchain.hardware.energy.gpu_energy`: energy = counts x the profile's figures.
"""
