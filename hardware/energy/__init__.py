"""Op counting and energy/latency models for the deployment report.

- :mod:`hardware.energy.profiles` loads per-operation figures from cited YAML data files.
- :mod:`hardware.energy.op_counts` counts spikes, synaptic ops, neuron updates, spike messages, MACs.
- :mod:`hardware.energy.flops` counts MACs/FLOPs of any ``nn.Module`` from the shapes its layers see.
- :mod:`hardware.energy.loihi_energy`, :mod:`hardware.energy.horowitz_45nm`,
  :mod:`hardware.energy.gpu_energy`: energy = counts x the profile's figures.
"""
