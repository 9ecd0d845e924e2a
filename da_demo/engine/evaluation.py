"""Accuracy, predictions and features of a classifier over whole image sets."""

from __future__ import annotations

import torch
from torch import nn

from .device import autocast


@torch.no_grad()
def predict(
    classifier: nn.Module,
    images: torch.Tensor,
    batch_size: int = 1000,
    device: torch.device | None = None,
    precision: torch.dtype | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits (N, K), features (N, d))`` in float32 on the CPU, computed in eval mode."""
    device = device or next(classifier.parameters()).device
    was_training = classifier.training
    classifier.eval()
    all_logits, all_features = [], []
    try:
        for start in range(0, images.shape[0], batch_size):
            batch = images[start : start + batch_size].to(device, non_blocking=True)
            if batch.dim() == 4:
                batch = batch.contiguous(memory_format=torch.channels_last)
            with autocast(device, precision):
                logits, features = classifier(batch)
            all_logits.append(logits.float().cpu())
            all_features.append(features.float().cpu())
    finally:
        classifier.train(was_training)
    return torch.cat(all_logits), torch.cat(all_features)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of ``argmax(logits) == labels``."""
    return (logits.argmax(dim=1) == labels.to(logits.device)).float().mean().item()


def evaluate(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor, **kwargs) -> float:
    """Classification accuracy of ``classifier`` on labeled images (a fraction in [0, 1])."""
    logits, _ = predict(classifier, images, **kwargs)
    return accuracy(logits, labels)
