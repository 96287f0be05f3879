"""The numbers of Loihi 2's CUBA-LIF fixed point as Lava implements it: one name each.

Sources (in ``.lava-venv/lib/python3.10/site-packages/lava``):

* lava-nc 0.10 ``proc/lif/models.py::AbstractPyLifModelFixed.__init__``: ``decay_shift = 12``,
  ``decay_unity = 2**12``, ``act_shift = 6``, ``vth_shift = 6``, ``uv_bitwidth = 24``,
  ``max_uv_val = 2**23`` (``u`` wraps there, ``v`` is clipped to ``±(max_uv_val - 1)``);
* lava-dl 0.6 ``lib/dl/netx/hdf5.py::Network.get_neuron_params``: ``bias_exp = 6`` for every
  netx layer;
* lava-dl 0.6 ``lib/dl/netx/utils.py::optimize_weight_bits``: stored weights outside
  ``[-256, 254]`` are clipped (for mixed-sign matrices), the synapse keeps an 8-bit mantissa;
* lava-nc 0.10 ``proc/conv/models.py::PyConvModelFixed``: ``utils.signed_clamp(x, bits=24)`` on
  the convolution output.

The field widths of the threshold and bias mantissas (17 and 13 bits) are those of
``hardware/data/loihi2_limits.yaml`` (``fixed_point``), from the ``PyLifModelBitAcc`` docstring.
"""
from __future__ import annotations

DECAY_SHIFT = 12                  # decays are 12-bit fractions: x·(DECAY_UNITY - d) >> DECAY_SHIFT
DECAY_UNITY = 1 << DECAY_SHIFT    # 2^12; iDecay / vDecay = DECAY_UNITY: nothing kept from the last step
STATE_SHIFT = 6                   # Lava act_shift = vth_shift = netx bias_exp = 6: a_in << 6,
                                  # vThMant << 6, bias_mant << 6 (one stored-weight unit = 2^6 of u / v)
UV_BITS = 24                      # u and v are 24-bit signed
UV_WRAP = 1 << (UV_BITS - 1)      # 2^23, Lava's max_uv_val: u wraps by 2·UV_WRAP beyond it
UV_MAX = UV_WRAP - 1              # v is clipped to [-UV_MAX, UV_MAX]
CONV_OUT_BITS = 24                # PyConvModelFixed wraps its output to 24-bit two's complement

VTH_MANT_MAX = (1 << 17) - 1                            # unsigned 17-bit threshold mantissa
BIAS_MANT_MIN, BIAS_MANT_MAX = -(1 << 12), (1 << 12) - 1  # signed 13-bit bias mantissa
WEIGHT_MANT_MIN, WEIGHT_MANT_MAX = -128, 127             # signed 8-bit weight mantissa
W_STORED_MIN, W_STORED_MAX = -256, 254                   # stored weights optimize_weight_bits takes unclipped
