"""Multi-step leaky integrate-and-fire neuron on snnTorch's ``Leaky``.

Dynamics (snnTorch 1.0 ``Leaky`` with ``reset_mechanism="zero"``, ``reset_delay=True``; see
``snntorch/_neurons/leaky.py``: the reset is computed from the *previous* membrane)::

    R[t]  = H(U[t-1] - V_th)                  (detached)
    U[t]  = beta * (1 - R[t]) * U[t-1] + X[t]
    S[t]  = H(U[t] - V_th),   H(x) = 1 if x > 0 else 0

with ``beta = 0.5``, ``V_th = 1.0``, ``U[-1] = 0``: "U <- beta*U + X, spike when U > 1, hard reset
to 0". The returned/recorded membrane is the pre-reset ``U[t]``.

Equivalence with the baseline formulation (He et al. AAAI 2024 / SpikingJelly LIF, tau = 2,
V_th' = 0.5, decay_input=True, hard reset to 0)::

    H[t] = H[t-1] + (X[t] - H[t-1]) / tau = 0.5 * H[t-1] + 0.5 * X[t],   spike when H[t] >= 0.5

Substituting ``U = 2 H`` gives ``U[t] = 0.5 * U[t-1] + X[t]`` and the spike condition
``U[t] >= 1``; hard reset ``H = 0`` is ``U = 0``. So both produce the same spikes for the same
input (up to the measure-zero case ``U == V_th`` exactly) with ``U = 2 H``
(``tests/ckd_train/test_models_lif.py::test_equivalent_to_tau2_vth05``).

Surrogate gradient: triangle of half-width ``1/alpha``, ``alpha = 2`` (:mod:`.surrogate`).

:class:`MultiStepLIF` steps the state over ``T`` in one call. Input either ``[T, B, ...]``
(``time_steps is None``) or the flattened ``[T*B, ...]`` tensor when ``time_steps = T`` is set (that
is how :class:`ckd_toolchain.ckd_train.models.student.SpikingStudent` runs its ``features``: stateless layers once
over all ``T*B`` frames, only this module loops over time). ``beta`` and ``threshold`` are plain
floats (the exporter reads them); they are not in the ``state_dict``.
"""
from __future__ import annotations

import snntorch
import torch

from ckd_toolchain.ckd_train.models.surrogate import Triangle


def lif_step(x_t: torch.Tensor, mem: torch.Tensor, beta: float, threshold: float, spike_fn):
    """One step of the pure state update above. Returns ``(spike, new_mem)`` (pre-reset mem)."""
    reset = (mem > threshold).to(mem.dtype)  # detached: H(U[t-1] - V_th) as snnTorch's mem_reset
    mem = beta * (1.0 - reset) * mem + x_t
    return spike_fn(mem - threshold), mem


def lif_multistep(x: torch.Tensor, beta: float, threshold: float, spike_fn, mem0=None):
    """Run :func:`lif_step` over ``x[T, ...]``. Returns ``(spikes[T, ...], mems[T, ...])``."""
    mem = torch.zeros_like(x[0]) if mem0 is None else mem0
    spikes, mems = [], []
    for t in range(x.shape[0]):
        s, mem = lif_step(x[t], mem, beta, threshold, spike_fn)
        spikes.append(s)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)


def lif_scan(x: torch.Tensor, beta: float, threshold: float, want_keep: bool = True):
    """The forward recurrence of :func:`lif_multistep` without autograd, in preallocated buffers.

    Returns ``(mems[T, ...], keep[T, ...] | None)`` with ``keep[t] = 1 - S[t] = (U[t] <= V_th)``
    (``x.dtype``, so ``1 - R[t+1] = keep[t]``). Per step two vectorised kernels write straight into
    the output slices: ``keep[t] = le(U[t], V_th)`` and ``U[t+1] = addcmul(X[t+1], U[t], keep[t],
    value=beta)`` = ``X[t+1] + beta * (U[t] * keep[t])`` — the same rounding as :func:`lif_step`.
    (Float ``out=`` comparisons: a ``bool`` mask is several times slower on CPU.) The buffers take
    ``x``'s memory layout (``empty_like``), so a ``channels_last`` input stays ``channels_last``.
    """
    T = x.shape[0]
    mems = torch.empty_like(x)
    keep = torch.empty_like(x) if want_keep else torch.empty_like(x[0])
    mems[0].copy_(x[0])  # U[0] = beta * U[-1] + X[0] = X[0]
    for t in range(T):
        k = keep[t] if want_keep else keep
        if want_keep or t + 1 < T:
            torch.le(mems[t], threshold, out=k)
        if t + 1 < T:
            torch.addcmul(x[t + 1], mems[t], k, value=beta, out=mems[t + 1])
    return mems, (keep if want_keep else None)


def triangle_grad_(u: torch.Tensor, threshold: float, alpha: float) -> torch.Tensor:
    """In place: ``u <- alpha * max(0, 1 - alpha |u - V_th|)`` (:mod:`.surrogate`, same op order)."""
    return u.sub_(threshold).abs_().mul_(-alpha).add_(1.0).clamp_(min=0.0).mul_(alpha)


class _FusedLIF(torch.autograd.Function):
    """:func:`lif_multistep` with the triangle surrogate as one autograd node (hand-written BPTT).

    Forward (no graph, preallocated buffers in ``x``'s layout, one pass per time slice while it is
    in cache): ``keep[t] = (U[t] <= V_th)``, ``S[t] = (U[t] > V_th)``,
    ``U[t+1] = X[t+1] + beta (U[t] keep[t])`` (:func:`lif_scan`), then the membrane slice is
    overwritten in place by the surrogate derivative ``sg[t] = alpha max(0, 1 - alpha |U[t] - V_th|)``.
    Saved for backward: ``sg`` and ``keep = 1 - S``. Backward of ``U[t] = beta (1 - R[t]) U[t-1] +
    X[t]``, ``S[t] = H(U[t] - V_th)`` (R detached, ``1 - R[t+1] = keep[t]``), one reverse loop::

        dL/dU[t] = dL/dS[t] * sg[t] + dL/dU_out[t] + dL/dU[t+1] * beta * keep[t]
        dL/dX[t] = dL/dU[t]

    ``with_mem=True`` also returns the membrane ``U`` (differentiable, for the CKA alignment).
    Bit-identical spikes and input gradients to autograd through :func:`lif_step` without
    ``with_mem`` (with it, the three-term sum above is added in a different order: equal to
    rounding); ``tests/ckd_train/test_models_lif.py``.
    """

    @staticmethod
    def forward(ctx, x, beta: float, threshold: float, alpha: float, with_mem: bool):
        T = x.shape[0]
        mems, keep, spikes = torch.empty_like(x), torch.empty_like(x), torch.empty_like(x)
        mem_out = torch.empty_like(x) if with_mem else None
        mems[0].copy_(x[0])  # U[0] = X[0]  (U[-1] = 0)
        for t in range(T):
            torch.le(mems[t], threshold, out=keep[t])
            torch.gt(mems[t], threshold, out=spikes[t])
            if t + 1 < T:
                torch.addcmul(x[t + 1], mems[t], keep[t], value=beta, out=mems[t + 1])
            if with_mem:
                mem_out[t].copy_(mems[t])
            triangle_grad_(mems[t], threshold, alpha)  # U[t] no longer needed: becomes sg[t]
        ctx.save_for_backward(mems, keep)
        ctx.beta = beta
        ctx.set_materialize_grads(False)
        return (spikes, mem_out) if with_mem else spikes

    @staticmethod
    def backward(ctx, g_spk, g_mem=None):
        sg, keep = ctx.saved_tensors
        T = sg.shape[0]
        g = torch.empty_like(sg)
        for t in range(T - 1, -1, -1):
            if g_spk is None:
                g[t].zero_()
            else:
                torch.mul(g_spk[t], sg[t], out=g[t])
            if g_mem is not None:
                g[t].add_(g_mem[t])
            if t + 1 < T:  # dU[t+1]/dU[t] = beta * (1 - R[t+1]) = beta * keep[t]
                g[t].addcmul_(g[t + 1], keep[t], value=ctx.beta)
        return g, None, None, None, None


class MultiStepLIF(snntorch.Leaky):
    """snnTorch ``Leaky`` (hard reset to zero) stepped over all ``T`` time steps in one call.

    Attributes: ``beta: float``, ``threshold: float``, ``alpha: float`` (surrogate),
    ``time_steps: int | None`` (set by the owning network when its input is ``[T*B, ...]``),
    ``record_mem: bool`` (when true, ``last_mem`` keeps the membrane ``[T, B, ...]`` of the last call,
    used for the CKA domain alignment).
    """

    def __init__(self, beta: float = 0.5, threshold: float = 1.0, alpha: float = 2.0):
        super().__init__(beta=beta, threshold=threshold, spike_grad=Triangle(alpha),
                         reset_mechanism="zero", init_hidden=False)
        # snnTorch keeps these as tensor buffers; the contract wants plain floats and a state_dict
        # holding only learnable layers, so drop the buffers and keep the values as floats.
        for name in ("beta", "threshold", "graded_spikes_factor", "reset_mechanism_val", "mem"):
            self._buffers.pop(name, None)
        self.beta = float(beta)
        self.threshold = float(threshold)
        self.alpha = float(alpha)
        self.graded_spikes_factor = 1.0
        # snnTorch's class-level helpers (utils.reset, Leaky.reset_hidden/detach_hidden) visit every
        # Leaky ever created and touch ``.mem``: keep a plain (non-buffer) placeholder. The state of
        # this module lives only inside one forward call, so there is nothing to reset.
        self.mem = torch.zeros(0)
        self.time_steps: int | None = None
        self.record_mem = False
        self.fused = True  # hand-written BPTT (_FusedLIF); False: autograd through lif_step
        self.last_mem: torch.Tensor | None = None

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}, alpha={self.alpha}, reset=zero"

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        T = self.time_steps
        if T is None:
            xs = x
        else:
            if x.shape[0] % T:
                raise ValueError(f"MultiStepLIF: leading dim {x.shape[0]} is not a multiple of T={T}")
            xs = x.reshape(T, x.shape[0] // T, *x.shape[1:])
        mems = None
        if not (isinstance(self.spike_grad, Triangle) and self.fused):
            spikes, mems = lif_multistep(xs, self.beta, self.threshold, self.spike_grad)
        elif torch.is_grad_enabled() and xs.requires_grad:
            out = _FusedLIF.apply(xs, self.beta, self.threshold, self.spike_grad.alpha, self.record_mem)
            spikes, mems = out if self.record_mem else (out, None)
        else:  # inference: no graph, nothing saved
            mems, _ = lif_scan(xs, self.beta, self.threshold, want_keep=False)
            spikes = torch.empty_like(mems)
            torch.gt(mems, self.threshold, out=spikes)
        self.last_mem = mems if self.record_mem else None
        return spikes if T is None else spikes.reshape(x.shape)
