"""CORAL: align second-order statistics (Sun & Saenko, Deep CORAL, 2016)."""

from __future__ import annotations

import torch


def covariance(features: torch.Tensor) -> torch.Tensor:
    """Unbiased covariance ``C = (Xᵀ X − (1ᵀX)ᵀ(1ᵀX)/n) / (n − 1)`` of ``features (n, d)`` → ``(d, d)``."""
    count = features.shape[0]
    centred = features - features.mean(dim=0, keepdim=True)
    return centred.T @ centred / max(count - 1, 1)


def coral_loss(source_features: torch.Tensor, target_features: torch.Tensor) -> torch.Tensor:
    """``L_CORAL = ‖C_S − C_T‖²_F / (4 d²)`` for ``source (n_s, d)`` and ``target (n_t, d)`` features."""
    dim = source_features.shape[1]
    difference = covariance(source_features.float()) - covariance(target_features.float())
    return (difference * difference).sum() / (4.0 * dim * dim)
