"""Random perturbations of digit batches, for methods that compare two views of one image."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def augment_digits(
    images: torch.Tensor,
    generator: torch.Generator | None = None,
    *,
    shift: float = 2.0,
    scale: float = 0.1,
    rotation: float = 10.0,
    gain: float = 0.25,
    offset: float = 0.1,
    noise: float = 0.05,
) -> torch.Tensor:
    """A randomly moved and re-lit copy of ``images (B, C, H, W)`` in [0, 1] (the same shape):
    translation up to ``shift`` pixels, scaling by up to ``±scale``, rotation up to ``±rotation``
    degrees, per-image intensity ``x · (1 ± gain) ± offset`` and Gaussian noise of std ``noise``."""
    batch, _, height, width = images.shape
    device = images.device

    def uniform(size, bound):
        return (torch.rand(size, generator=generator) * 2 - 1).mul_(bound).to(device)

    angle = uniform(batch, math.radians(rotation))
    zoom = 1 + uniform(batch, scale)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [
            torch.stack([cos, -sin, uniform(batch, 2 * shift / width)], 1),
            torch.stack([sin, cos, uniform(batch, 2 * shift / height)], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    moved = F.grid_sample(images, grid, align_corners=False, padding_mode="border")
    lit = moved * (1 + uniform((batch, 1, 1, 1), gain)) + uniform((batch, 1, 1, 1), offset)
    noisy = lit + noise * torch.randn(lit.shape, generator=generator).to(device, lit.dtype)
    return noisy.clamp_(0.0, 1.0)
