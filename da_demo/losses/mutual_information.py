"""Mutual-information pieces for MI maximization: confident pseudo-labels and a Jensen-Shannon bound."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def confident_pseudo_labels(
    logits: torch.Tensor, threshold: float = 0.9
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices and labels of the samples whose top softmax probability is at least ``threshold``.

    ``logits (B, K)`` → ``(indices (M,), labels (M,))`` with ``M ≤ B``; no sample below the
    threshold is ever returned.
    """
    probabilities = F.softmax(logits.detach().float(), dim=1)
    confidence, labels = probabilities.max(dim=1)
    keep = confidence >= threshold
    return keep.nonzero(as_tuple=True)[0], labels[keep]


def jsd_mi_bound(scores: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """Jensen-Shannon lower bound on mutual information (f-GAN / Deep InfoMax form):

        Î_JSD = E_{(a,b) ~ joint}[−softplus(−T(a, b))] − E_{(a,b) ~ marginals}[softplus(T(a, b))]

    ``scores (n, m)`` holds the critic ``T`` for every pair; ``positive (n, m)`` (bool) marks the
    pairs drawn from the joint (here: a source and a target sample of the same class); the
    others stand for the product of marginals. Higher means the critic tells matched pairs from
    unmatched ones, i.e. more shared information. Needs at least one pair of each kind.
    """
    positive_scores, negative_scores = scores[positive], scores[~positive]
    if positive_scores.numel() == 0 or negative_scores.numel() == 0:
        return scores.sum() * 0.0
    return -F.softplus(-positive_scores).mean() - F.softplus(negative_scores).mean()
