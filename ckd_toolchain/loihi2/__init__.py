"""Loihi 2 fixed-point arithmetic, written once for every stage (a leaf: imports nothing of ours).

What lava-nc 0.10 / lava-dl 0.6 (netx) compute for a CUBA-LIF network, and the rules that turn
float weights into the integers they read:

* :mod:`.arithmetic` — the named constants (decay unity, state shift, 24-bit state, field limits),
  the 12-bit decay, the CUBA-LIF step, the int32 / 24-bit wrap rules and the netx reset phase, in
  numpy (reference form, read by the tests and the mapper's hand checks);
* :mod:`.arithmetic_torch` — the same step on int64 torch tensors with Lava's int32 emulation, and
  its in-place kernel, for the fast simulator (``ckd_toolchain.simulators.loihi``);
* :mod:`.weight_bits` — the one port of netx's ``optimize_weight_bits`` (mapper and simulator);
* :mod:`.quantization` — float → integer: layer scale, weight mantissas/exponent, ``vThMant``,
  bias mantissas, thermometer rounding, the training grid (:func:`.quantization.on_loihi_grid`),
  12-bit decays from leak factors.
"""
