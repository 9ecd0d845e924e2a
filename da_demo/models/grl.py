"""Gradient reversal (Ganin & Lempitsky, 2015) and its warm-up schedule."""

from __future__ import annotations

import math

import torch
from torch import nn


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, inputs: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return inputs.view_as(inputs)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.scale * grad_output, None


def reverse_gradient(inputs: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Identity on the forward pass; multiplies the gradient by ``-scale`` on the way back."""
    return _ReverseGradient.apply(inputs, scale)


def grl_lambda(progress: float, max_value: float = 1.0, gamma: float = 10.0) -> float:
    """DANN's schedule ``λ(p) = max_value · (2 / (1 + exp(-gamma·p)) - 1)``, ``p`` = training progress in [0, 1].

    It starts at 0 so the domain head can learn before it pushes the features, and tends to ``max_value``.
    """
    progress = min(max(progress, 0.0), 1.0)
    return max_value * (2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0)


class GradientReversal(nn.Module):
    """``reverse_gradient`` as a layer with a settable ``scale`` (set it each step from ``grl_lambda``)."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return reverse_gradient(inputs, self.scale)
