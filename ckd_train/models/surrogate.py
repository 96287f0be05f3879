"""Surrogate gradient of the Heaviside spike function: a triangle.

Forward: ``S = H(x)`` with ``H(x) = 1 if x > 0 else 0`` (``x = U - V_th``), exactly snnTorch's
``(input_ > 0).float()`` (``snntorch.surrogate``).
Backward (TET / He et al. AAAI 2024 ``ZIF``-style triangle, here parameterised by ``alpha``):

    dS/dx = alpha * max(0, 1 - alpha * |x|)

a triangle of half-width ``1/alpha`` and peak ``alpha`` whose area is 1. ``alpha = 2`` is the
library default (support ``|U - V_th| < 0.5``; the demo recipe).

``alpha = 1`` (:data:`HE2024_QGATE_ALPHA`, the paper recipes ``configs/ncaltech101-vggsnn.yaml`` and
``configs/cepdvs-resnet18.yaml``) is He et al.'s surrogate expressed in our parametrisation. Their
LIF (Brain-Cog-Lab/Transfer-for-DVS ``braincog/base/node/node.py:498-503``, ``LIFNode``, tau = 2,
V_th' = 0.5) is ``H <- H + (X - H)/2``, ``S = g(H - 0.5)``, ``H <- H (1 - S.detach())`` with
``QGateGrad`` (``braincog/base/strategy/surrogate.py:183-230``, alpha' = 2, set in node.py:494)::

    g'(x') = alpha' max(0, 1 - alpha' |x'|),   x' = H - 0.5

With ``U = 2 H`` (see :mod:`.lif`) ``x' = (U - 1)/2 = x/2`` and ``dS/dU = g'(x/2)/2 = max(0, 1 - |x|)``,
i.e. our triangle at ``alpha = 1``: peak 1, half-width 1 in U (alpha = 2 is twice as tall and half as
wide). ``tests/ckd_train/test_models_lif.py::test_alpha1_reproduces_he2024_qgategrad_input_gradient``
checks dL/dX of a whole multi-step LIF against that reference code.
"""
from __future__ import annotations

import torch

HE2024_QGATE_ALPHA = 1.0  # He et al.'s QGateGrad (alpha' = 2 on H - 0.5, H = U/2) in our units
DEFAULT_ALPHA = 2.0


class _TriangleSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float) -> torch.Tensor:  # noqa: D401
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        (x,) = ctx.saved_tensors
        a = ctx.alpha
        grad = a * torch.clamp(1.0 - a * x.abs(), min=0.0)
        return grad_out * grad, None


def triangle_spike(x: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """Heaviside forward, triangle surrogate backward (see module docstring)."""
    return _TriangleSpike.apply(x, float(alpha))


class Triangle:
    """Callable usable as snnTorch's ``spike_grad`` argument: ``Triangle(alpha)(mem - thr)``."""

    def __init__(self, alpha: float = 2.0):
        self.alpha = float(alpha)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return triangle_spike(x, self.alpha)

    def __repr__(self) -> str:
        return f"Triangle(alpha={self.alpha})"
