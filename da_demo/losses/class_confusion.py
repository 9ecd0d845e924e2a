"""Minimum Class Confusion (Jin, Wang, Long and Wang, "Minimum Class Confusion for Versatile Domain
Adaptation", ECCV 2020)."""

from __future__ import annotations

import torch


def class_confusion_loss(logits: torch.Tensor, temperature: float = 2.5) -> torch.Tensor:
    """How much a batch of (target) predictions confuses classes with one another.

    With ``p = softmax(logits / T)`` ``(B, C)``, sample weights from certainty
    ``w_i = B · (1 + e^{−H(p_i)}) / Σ_j (1 + e^{−H(p_j)})``, the class-correlation matrix
    ``M = pᵀ diag(w) p`` ``(C, C)`` is normalised row by row (category normalisation,
    ``M̃_jk = M_jk / Σ_k' M_jk'``) and the loss is the off-diagonal mass per class:

        L_MCC = (Σ_jk M̃_jk − Σ_j M̃_jj) / C

    0 when every prediction is one-hot (no two classes ever share a sample); it rises as classes
    share probability mass. Temperature rescaling (``T`` > 1) keeps over-confident wrong
    predictions from looking unconfused. The certainty weights are constants for the gradient, as in
    the authors' code (``thuml/Versatile-Domain-Adaptation``): the loss moves predictions, never the
    weights it counts them with.
    """
    count, classes = logits.shape
    probabilities = torch.softmax(logits.float() / temperature, dim=1)
    entropy = -(probabilities * torch.log(probabilities + 1e-5)).sum(dim=1)
    weights = 1 + torch.exp(-entropy.detach())
    weights = (count * weights / weights.sum()).unsqueeze(1)
    confusion = (probabilities * weights).transpose(0, 1) @ probabilities
    confusion = confusion / confusion.sum(dim=1, keepdim=True)
    return (confusion.sum() - torch.trace(confusion)) / classes
