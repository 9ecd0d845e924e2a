"""Small heads put on top of a classifier's features by some methods."""

from __future__ import annotations

import torch
from torch import nn


def domain_classifier(feature_dim: int, hidden: int = 256) -> nn.Sequential:
    """MLP ``features (B, feature_dim) → domain logit (B, 1)``; logit > 0 means "target"."""
    return nn.Sequential(
        nn.Linear(feature_dim, hidden),
        nn.ReLU(inplace=True),
        nn.Linear(hidden, hidden),
        nn.ReLU(inplace=True),
        nn.Linear(hidden, 1),
    )


class SeparableCritic(nn.Module):
    """Critic ``T(a, b) = ⟨h(a), h(b)⟩ / √k`` with a shared projection head ``h: d → k``.

    ``scores(source (n, d), target (m, d)) → (n, m)``: one score for every source/target pair.
    """

    def __init__(self, feature_dim: int, projection_dim: int = 64, hidden: int = 128) -> None:
        super().__init__()
        self.projection = nn.Sequential(
            nn.Linear(feature_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, projection_dim)
        )
        self.scale = projection_dim**-0.5

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.projection(source) @ self.projection(target).T * self.scale
