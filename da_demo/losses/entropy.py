"""Prediction entropy, used to push target predictions away from class boundaries."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def entropy_loss(logits: torch.Tensor) -> torch.Tensor:
    """Mean Shannon entropy ``−Σ_k p_k log p_k`` of ``softmax(logits)`` over a batch ``(B, K)`` → scalar."""
    log_probabilities = F.log_softmax(logits.float(), dim=1)
    return -(log_probabilities.exp() * log_probabilities).sum(dim=1).mean()
