"""The training loop's batch draws: seeded, endless, resumable (their state goes into a run's
``LoopPosition``). A source batch is a shuffled slice of the training set, or, with a method's
``balanced_source`` setting, the same number of every class (DeepJDOT's and JUMBOT's reference code
draw their source batches so)."""

from __future__ import annotations

from typing import Any

import torch


class BatchSampler:
    """Endless shuffled batches over ``count`` items, reshuffled each pass (seeded)."""

    def __init__(self, count: int, batch_size: int, generator: torch.Generator) -> None:
        if count < batch_size:
            raise ValueError(f"batch size {batch_size} is larger than the {count} samples available")
        self.count, self.batch_size, self.generator = count, batch_size, generator
        self.order = torch.randperm(count, generator=generator)
        self.position = 0

    def next(self) -> torch.Tensor:
        if self.position + self.batch_size > self.count:
            self.order = torch.randperm(self.count, generator=self.generator)
            self.position = 0
        index = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return index

    def state(self) -> dict[str, Any]:
        return {"order": self.order.clone(), "position": self.position}

    def restore(self, state: dict[str, Any]) -> None:
        self.order, self.position = state["order"].clone(), state["position"]


class BalancedSampler:
    """Endless class-balanced batches: each holds ``batch_size / K`` items of each of the ``K``
    classes in ``labels`` (the first ``batch_size mod K`` classes one more), each class drawn from
    its own shuffled pass (seeded)."""

    def __init__(self, labels: torch.Tensor, batch_size: int, generator: torch.Generator) -> None:
        classes = torch.unique(labels)
        shares = [batch_size // len(classes) + (rank < batch_size % len(classes)) for rank in range(len(classes))]
        self.members = [torch.nonzero(labels == label).flatten() for label in classes]
        self.samplers = [
            BatchSampler(len(members), share, generator) for members, share in zip(self.members, shares, strict=True)
        ]

    def next(self) -> torch.Tensor:
        return torch.cat([members[sampler.next()] for members, sampler in zip(self.members, self.samplers, strict=True)])

    def state(self) -> dict[str, Any]:
        return {"classes": [sampler.state() for sampler in self.samplers]}

    def restore(self, state: dict[str, Any]) -> None:
        for sampler, kept in zip(self.samplers, state["classes"], strict=True):
            sampler.restore(kept)


class Draws:
    """A run's random batch draws: one seeded generator (shared with source augmentation) and a
    sampler per domain; ``source_labels`` (given) makes the source batches class-balanced."""

    def __init__(
        self, source_count: int, target_count: int, batch_size: int, seed: int, source_labels: torch.Tensor | None = None
    ) -> None:
        self.generator = torch.Generator().manual_seed(seed)
        self.source: BatchSampler | BalancedSampler = (
            BatchSampler(source_count, batch_size, self.generator)
            if source_labels is None
            else BalancedSampler(source_labels, batch_size, self.generator)
        )
        self.target = BatchSampler(target_count, batch_size, self.generator)

    def state(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "source": self.source.state(), "target": self.target.state()}

    def restore(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.source.restore(state["source"])
        self.target.restore(state["target"])
