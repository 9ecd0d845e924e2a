"""CycleGAN's losses (least-squares GAN, cycle consistency, identity), as pure functions."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def least_squares_gan_loss(scores: torch.Tensor, real: bool) -> torch.Tensor:
    """LSGAN: ``mean((D(x) − 1)²)`` for ``real``, else ``mean(D(x)²)``; ``scores`` of any shape."""
    return (scores.float() - (1.0 if real else 0.0)).pow(2).mean()


def cycle_consistency_loss(
    source: torch.Tensor, source_cycled: torch.Tensor, target: torch.Tensor, target_cycled: torch.Tensor
) -> torch.Tensor:
    """``|F(G(s)) − s|₁ + |G(F(t)) − t|₁`` (means over pixels): a round trip must give the image back."""
    return F.l1_loss(source_cycled.float(), source.float()) + F.l1_loss(target_cycled.float(), target.float())


def identity_loss(
    source: torch.Tensor, source_through_f: torch.Tensor, target: torch.Tensor, target_through_g: torch.Tensor
) -> torch.Tensor:
    """``|G(t) − t|₁ + |F(s) − s|₁``: a generator leaves images already in its output style alone."""
    return F.l1_loss(target_through_g.float(), target.float()) + F.l1_loss(
        source_through_f.float(), source.float()
    )
