"""The two containers every domain is held in: labeled and unlabeled image tensors."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class UnlabeledImages:
    """Images without labels: what training code gets of the target domain.

    ``images`` is float32 ``(N, C, H, W)`` in [0, 1], held in memory so that a batch is one
    indexing operation (no per-sample PIL work in the training loop).
    """

    images: torch.Tensor

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, count: int, seed: int = 0) -> UnlabeledImages:
        """A reproducible random subset of ``count`` images (all of them if fewer)."""
        return UnlabeledImages(self.images[_pick(len(self), count, seed)])


@dataclass(frozen=True)
class LabeledImages:
    """Images with their class labels: float32 ``(N, C, H, W)`` in [0, 1] and int64 ``(N,)``."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.shape[0] != self.labels.shape[0]:
            raise ValueError(f"{self.images.shape[0]} images but {self.labels.shape[0]} labels")

    def __len__(self) -> int:
        return self.images.shape[0]

    def without_labels(self) -> UnlabeledImages:
        return UnlabeledImages(self.images)

    def subset(self, count: int, seed: int = 0) -> LabeledImages:
        """A reproducible random subset of ``count`` samples (all of them if fewer)."""
        index = _pick(len(self), count, seed)
        return LabeledImages(self.images[index], self.labels[index])

    def label_counts(self, num_classes: int = 10) -> list[int]:
        return torch.bincount(self.labels, minlength=num_classes).tolist()


def _pick(total: int, count: int, seed: int) -> torch.Tensor:
    if count >= total:
        return torch.arange(total)
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(total, generator=generator)[:count].sort().values


def fingerprint(*tensors: torch.Tensor) -> str:
    """A short content hash of tensors (shape, dtype and bytes): identifies the data a model saw."""
    digest = hashlib.sha256()
    for tensor in tensors:
        tensor = tensor.contiguous()
        digest.update(f"{tuple(tensor.shape)}{tensor.dtype}".encode())
        # uint8 views keep the hash exact without a float round trip
        digest.update(
            tensor.view(torch.uint8).numpy().tobytes()
            if tensor.dtype != torch.uint8
            else tensor.numpy().tobytes()
        )
    return digest.hexdigest()[:16]
