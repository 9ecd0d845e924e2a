"""Noisy MNIST: MNIST plus Gaussian pixel noise, clipped to [0, 1]; deterministic for a seed."""

from __future__ import annotations

from pathlib import Path

import torch

from .images import LabeledImages
from .mnist import load_mnist

DEFAULT_SIGMA = 0.3


def add_gaussian_noise(images: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    """``clip(x + sigma * N(0, 1), 0, 1)`` with noise drawn from a generator seeded by ``seed``."""
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(images.shape, generator=generator, dtype=images.dtype)
    return (images + sigma * noise).clamp_(0.0, 1.0)


def load(train: bool, data_directory: str | Path | None = None) -> LabeledImages:
    """This domain's split (see ``domains.Domain``)."""
    return load_noisy_mnist(train, data_directory)


def render(digit: torch.Tensor, photos=(), sigma: float = DEFAULT_SIGMA, seed: int = 0) -> torch.Tensor:
    """Noisy MNIST's corruption of one digit (seeded, so the same drawing gets the same noise)."""
    return add_gaussian_noise(digit.unsqueeze(0), sigma, seed)[0]


def load_noisy_mnist(
    train: bool, data_directory: str | Path | None = None, sigma: float = DEFAULT_SIGMA, seed: int = 0
) -> LabeledImages:
    """MNIST with noise of standard deviation ``sigma``, float32 ``(N, 1, 28, 28)``."""
    mnist = load_mnist(train, data_directory)
    return LabeledImages(
        add_gaussian_noise(mnist.images, sigma, seed * 2 + (0 if train else 1)), mnist.labels
    )
