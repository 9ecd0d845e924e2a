"""Running a network over a whole set of images: batched, in eval mode, results on the CPU."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def predict(
    classifier: nn.Module, images: torch.Tensor, batch_size: int = 1000, device: torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits (N, K), features (N, d))`` in float32 on the CPU, computed in eval mode (inside
    whatever autocast context the caller has entered)."""
    device = device or next(classifier.parameters()).device
    was_training = classifier.training
    classifier.eval()
    all_logits, all_features = [], []
    try:
        for start in range(0, images.shape[0], batch_size):
            batch = images[start : start + batch_size].to(device, non_blocking=True)
            if batch.dim() == 4:
                batch = batch.contiguous(memory_format=torch.channels_last)
            logits, features = classifier(batch)
            all_logits.append(logits.float().cpu())
            all_features.append(features.float().cpu())
    finally:
        classifier.train(was_training)
    return torch.cat(all_logits), torch.cat(all_features)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of ``argmax(logits) == labels``."""
    return (logits.argmax(dim=1) == labels.to(logits.device)).float().mean().item()
