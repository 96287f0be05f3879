"""Surrogate gradient of the Heaviside spike function: a triangle.

Forward: ``S = H(x)`` with ``H(x) = 1 if x > 0 else 0`` (``x = U - V_th``), exactly snnTorch's
``(input_ > 0).float()`` (``snntorch.surrogate``).
Backward (TET / He et al. AAAI 2024 ``ZIF``-style triangle, here parameterised by ``alpha``):

    dS/dx = alpha * max(0, 1 - alpha * |x|)

a triangle of half-width ``1/alpha`` and peak ``alpha`` whose area is 1. ``alpha = 2`` by default
(support ``|U - V_th| < 0.5``).
"""
from __future__ import annotations

import torch


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
