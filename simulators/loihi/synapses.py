"""Fixed-point synapses of netx blocks: Dense (``PyDenseModelBitAcc``) and Conv (``PyConvModelFixed``).

Weight preparation, reproduced step by step from lava-dl 0.6 / lava-nc 0.10 numpy code:

* Dense: netx ``utils.optimize_weight_bits`` (:mod:`ckd_toolchain.loihi2.weight_bits`) rescales
  the file's integer weights by ``2**scale_bits`` and returns ``(weight, num_weight_bits,
  weight_exponent, sign_mode)``; the
  ``sign_mode`` is NOT passed on to the synapse, so ``PyDenseModelBitAcc`` recomputes it with
  ``weightutils.determine_sign_mode`` on the scaled weights, then applies ``clip_weights(.., 8)``
  and ``truncate_weights(.., num_weight_bits)``. At run time
  ``a = (W @ s) << weight_exp`` (or ``>> -weight_exp``, arithmetic) in int64, sent through an
  int32 channel (wraps). ``s`` is ``s != 0`` for unary input (message bits 0), else the value.
* Conv: netx passes the file's weights unchanged (no exponent, no clipping);
  ``utils.conv_scipy`` computes the correlation with the PyTorch-order kernel in float64,
  ``astype(int32)`` and ``signed_clamp(.., 24)`` (true 24-bit two's-complement wrap,
  :func:`ckd_toolchain.loihi2.arithmetic.signed_clamp24`).

Exactness of the float GEMM / conv used here: every product and every partial sum is an integer
whose magnitude is at most ``B = max_out sum_in |W| * max|s|``. IEEE float32 represents every
integer up to 2^24 and float64 up to 2^53 exactly, so whatever the summation order, a
float32 (float64) GEMM/conv returns the exact integer when ``B < 2^24`` (``B < 2^53``).
:func:`exact_float_dtype` picks the dtype from that bound at run time; beyond 2^53 dense falls
back to int64 matmul, and conv raises (Lava's own float64 scipy conv is no longer exact there).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ckd_toolchain.loihi2.arithmetic import signed_clamp24, wrap_int32
from ckd_toolchain.loihi2.constants import CONV_OUT_BITS
from ckd_toolchain.loihi2.weight_bits import optimize_weight_bits

F32_EXACT = 1 << 24
F64_EXACT = 1 << 53


def _lava_sign_mode(w: np.ndarray) -> str:
    """lava ``weightutils.determine_sign_mode``."""
    if np.min(w) >= 0:
        return "exc"
    if np.max(w) <= 0:
        return "inh"
    return "mixed"


def lava_dense_weights(file_weight: np.ndarray) -> tuple[np.ndarray, int]:
    """Effective int weights and weight exponent that ``PyDenseModelBitAcc`` uses."""
    w, num_bits, w_exp, _ = optimize_weight_bits(np.asarray(file_weight).astype(np.int64))
    mode = _lava_sign_mode(w)
    mixed, inh = int(mode == "mixed"), int(mode == "inh")
    # clip_weights(w, sign_mode, num_bits=8)
    w = w.astype(np.int32)
    if inh:
        w = -w
    w = np.clip(w, (-2 ** 8) * mixed, 2 ** 8 - 1).astype(np.int32)
    if inh:
        w = -w
    # truncate_weights(w, sign_mode, num_weight_bits)
    w = w.copy().astype(np.int32)
    if inh:
        w = -w
    ntb = 8 - num_bits + mixed
    w = np.left_shift(np.right_shift(w, np.int32(ntb)), np.int32(ntb))
    if inh:
        w = -w
    return w.astype(np.int64), w_exp


def exact_float_dtype(bound: float) -> torch.dtype | None:
    """float32 / float64 when a GEMM with partial sums bounded by ``bound`` is exact, else None."""
    if bound < F32_EXACT:
        return torch.float32
    if bound < F64_EXACT:
        return torch.float64
    return None


def _exact_input(s: torch.Tensor, message_bits: int, abs_sum: int):
    """The input as Lava's synapses read it — ``s != 0`` for unary spikes (message bits 0), else
    the graded values — with ``bound = abs_sum · max|s|`` on every partial sum and the float dtype
    that sums exactly below it (:func:`exact_float_dtype`, None beyond 2^53)."""
    if message_bits == 0:
        max_abs = 1
        s = s != 0
    else:
        max_abs = int(s.abs().max()) if s.numel() else 0
    bound = abs_sum * max_abs
    return s, bound, exact_float_dtype(bound)


class DenseSynapse:
    """``PyDenseModelBitAcc`` output for a batch of input vectors (all int64, CPU or CUDA)."""

    def __init__(self, file_weight: np.ndarray, message_bits: int, device: torch.device):
        w, self.weight_exp = lava_dense_weights(file_weight)
        self.message_bits = int(message_bits)
        self.w_int = torch.as_tensor(w, dtype=torch.int64, device=device)
        self.row_abs_sum = int(np.abs(w).sum(axis=1).max()) if w.size else 0
        self._wf = {}

    def out_bound(self, max_abs_in: int) -> int:
        """Upper bound of |output| before the int32 channel, for int32-wrap elision."""
        b = self.row_abs_sum * int(max_abs_in)
        return b << self.weight_exp if self.weight_exp > 0 else b >> -self.weight_exp

    def masked(self, keep: np.ndarray) -> "DenseSynapse":
        """The same prepared synapse restricted to the entries where ``keep`` (DelayDense split)."""
        sub = object.__new__(DenseSynapse)
        sub.weight_exp, sub.message_bits = self.weight_exp, self.message_bits
        sub.w_int = torch.where(torch.as_tensor(keep, device=self.w_int.device), self.w_int,
                                torch.zeros((), dtype=torch.int64, device=self.w_int.device))
        sub.row_abs_sum = int(sub.w_int.abs().sum(dim=1).max()) if sub.w_int.numel() else 0
        sub._wf = {}
        return sub

    def __call__(self, s: torch.Tensor) -> torch.Tensor:
        """``s`` [M, in] integer -> a [M, out] int32 (the value on Lava's int32 channel)."""
        return wrap_int32(self.accumulate(s)).to(torch.int32)

    def accumulate(self, s: torch.Tensor) -> torch.Tensor:
        """``(W @ s) << weight_exp`` (arithmetic ``>>`` for negative exponents) in int64."""
        s, bound, dtype = _exact_input(s, self.message_bits, self.row_abs_sum)
        if dtype is None:
            acc = (s.to(torch.int64).cpu() @ self.w_int.cpu().T).to(s.device)
        else:
            wf = self._wf.get(dtype)
            if wf is None:
                wf = self._wf[dtype] = self.w_int.to(dtype).T.contiguous()
            acc = s.to(dtype) @ wf  # exact integers (see module docstring)
            if self.weight_exp <= 0:  # floor(acc / 2^-e) is exact in float, then exact to int
                if self.weight_exp < 0:
                    acc = torch.floor(acc * (2.0 ** self.weight_exp))
                return acc.to(torch.int64)
            acc = acc.to(torch.int64)
        return acc << self.weight_exp if self.weight_exp > 0 else acc >> -self.weight_exp


def int8_scales(weight: np.ndarray) -> np.ndarray | None:
    """Per output channel the smallest power of two ``2^e_k`` with ``weight[k] / 2^e_k`` an integer
    in [-128, 127] (int8), as float64; None when some channel has none (then no int8 path)."""
    flat = np.asarray(weight, dtype=np.int64).reshape(weight.shape[0], -1)
    lo, hi = flat.min(axis=1), flat.max(axis=1)
    bits = np.bitwise_or.reduce(flat, axis=1)  # its trailing zeros: those every weight shares
    scales = np.zeros(flat.shape[0])
    for e in range(40):
        fits = ((bits & ((1 << e) - 1)) == 0) & ((hi >> e) <= 127) & ((lo >> e) >= -128)
        scales = np.where((scales == 0) & fits, float(1 << e), scales)
    return None if np.any(scales == 0) else scales


def _onednn_int8() -> bool:
    return bool(torch.backends.mkldnn.is_available()) and hasattr(torch.ops.onednn, "qconv2d_pointwise")


class ConvSynapse:
    """``PyConvModelFixed`` output: correlation in PyTorch layout [M, C, H, W] -> [M, K, H', W'].

    Three exact ways, chosen per call (results equal; tests/simulators/test_loihi_fast.py):

    * binary (0/1 ``uint8``) input on the CPU whose layer is a sum-pool (:mod:`.sumpool`): the
      compiled NHWC sum-pool, int32 out;
    * binary input on the CPU, weights ``2^e_k * m`` with int8 mantissas ``m``
      (:func:`int8_scales`) and ``sum |W| < 2^23``: oneDNN's u8 x s8 convolution
      (``torch.ops.onednn.qconv2d_pointwise``) with int32 accumulation and output scale ``2^e_k``,
      float32 out. Exact: every product is ``s * m`` with ``s`` in {0, 1} (no int16 saturation
      of u8·s8 pairs, whose sums stay within 2·128), the int32 accumulator never exceeds
      ``sum |m| < 2^31``, and ``acc * 2^e_k`` is an integer below 2^24, exact in float32;
    * otherwise float32 / float64 (:func:`exact_float_dtype`), as described in the module docstring.
    """

    def __init__(self, weight: np.ndarray, stride, padding, dilation, groups: int,
                 message_bits: int, device: torch.device):
        from ckd_toolchain.simulators.loihi.sumpool import pool_weights

        self.w_int = torch.as_tensor(np.asarray(weight, dtype=np.int64), device=device)
        self.stride, self.padding, self.dilation = tuple(stride), tuple(padding), tuple(dilation)
        self.groups = int(groups)
        self.message_bits = int(message_bits)
        self.out_abs_sum = int(np.abs(np.asarray(weight, dtype=np.int64)).reshape(weight.shape[0], -1)
                               .sum(axis=1).max())
        self._wf = {}
        cpu_exact = torch.device(device).type == "cpu" and self.out_abs_sum < (1 << (CONV_OUT_BITS - 1))
        self.pool = pool_weights(weight, groups, padding, dilation) if cpu_exact else None
        self._q = None
        if cpu_exact and self.pool is None and _onednn_int8():
            scales = int8_scales(weight)
            if scales is not None:
                k = len(scales)
                mant = (np.asarray(weight, dtype=np.int64) // scales.astype(np.int64).reshape(-1, 1, 1, 1))
                qw = torch.as_tensor(mant.astype(np.int8))
                packed = torch.ops.onednn.qconv_prepack(
                    qw, torch.ones(k, dtype=torch.float64), 1.0, 0, list(self.stride), list(self.padding),
                    list(self.dilation), self.groups, None)
                self._q = (packed, torch.as_tensor(scales), torch.zeros(k, dtype=torch.int64))

    def binary_call(self, s: torch.Tensor) -> torch.Tensor:
        """``s`` uint8 0/1 [M, C, H, W] (any layout) -> exact synaptic sums [M, K, H', W'] in NHWC
        storage, int32 or float32 holding integers (already inside Lava's 24 bits)."""
        if self.pool is not None:
            from ckd_toolchain.simulators.loihi.sumpool import sumpool_nhwc

            x = s.permute(0, 2, 3, 1).contiguous().numpy()
            out = sumpool_nhwc(x, tuple(self.w_int.shape[2:]), self.stride, *self.pool)
            return torch.from_numpy(out).permute(0, 3, 1, 2)
        if self._q is not None:
            packed, scales, zps = self._q
            x = s.contiguous(memory_format=torch.channels_last)
            return torch.ops.onednn.qconv2d_pointwise(
                x, 1.0, 0, packed, scales, zps, None, list(self.stride), list(self.padding),
                list(self.dilation), self.groups, 1.0, 0, torch.float32, "none", [], "")
        return self(s)

    @property
    def takes_binary(self) -> bool:
        """True when :meth:`binary_call` has a faster exact path than :meth:`__call__`."""
        return self.message_bits == 0 and (self.pool is not None or self._q is not None)

    def out_bound(self, max_abs_in: int) -> int:
        return min(self.out_abs_sum * int(max_abs_in), 1 << (CONV_OUT_BITS - 1))

    def __call__(self, s: torch.Tensor) -> torch.Tensor:
        """``s`` [M, C, H, W] integer -> a [M, K, H', W'] int32 (Lava's 24-bit clamped output)."""
        s, bound, dtype = _exact_input(s, self.message_bits, self.out_abs_sum)
        if dtype is None:
            raise ValueError(f"conv partial sums may reach {bound} >= 2^53: Lava's float64 "
                             "convolution is not exact there")
        wf = self._wf.get(dtype)
        if wf is None:
            wf = self._wf[dtype] = self.w_int.to(dtype).contiguous(memory_format=torch.channels_last)
        # NHWC (channels_last): oneDNN convolves without NCHW<->blocked reorders — measured on the
        # 2-core CPU 1.7x (dense) to 9x (depthwise pool-as-conv) faster per call; the dtype cast and
        # the layout change are one copy, and the output stays NHWC (the LIF update is elementwise;
        # converting back cost as much as the gain). Same exact integer sums in any layout.
        x = s.to(dtype, memory_format=torch.channels_last)
        out = F.conv2d(x, wf, stride=self.stride, padding=self.padding, dilation=self.dilation,
                       groups=self.groups)
        if bound < (1 << (CONV_OUT_BITS - 1)):  # exact and already inside 24 bits
            return out.to(torch.int32)
        out = out.to(torch.int64)
        if bound >= (1 << 31):  # numpy float64 -> int32 cast of out-of-range values (x86): INT32_MIN
            out = torch.where((out >= (1 << 31)) | (out < -(1 << 31)),
                              torch.full_like(out, -(1 << 31)), out)
        return signed_clamp24(out).to(torch.int32)
