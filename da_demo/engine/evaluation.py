"""Accuracy of a classifier over whole image sets, in the run's precision."""

from __future__ import annotations

import torch
from torch import nn

from ..models import accuracy, predict
from .device import autocast


def evaluate(
    classifier: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    device: torch.device | None = None,
    precision: torch.dtype | None = None,
) -> float:
    """Classification accuracy of ``classifier`` on labeled images (a fraction in [0, 1])."""
    device = device or next(classifier.parameters()).device
    with autocast(device, precision):
        logits, _ = predict(classifier, images, device=device)
    return accuracy(logits, labels)
