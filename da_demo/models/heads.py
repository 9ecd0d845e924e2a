"""Small heads put on top of a classifier's features by some methods."""

from __future__ import annotations

from torch import nn


def domain_classifier(feature_dim: int, hidden: int = 256) -> nn.Sequential:
    """MLP ``features (B, feature_dim) → domain logit (B, 1)``; logit > 0 means "target"."""
    return nn.Sequential(
        nn.Linear(feature_dim, hidden), nn.ReLU(inplace=True),
        nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
        nn.Linear(hidden, 1),
    )
