"""A domain pair's data: labeled source, unlabeled target train, and both test sets at one shape."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .domains import PairSpec, resolve_domain, resolve_pair
from .images import LabeledImages, UnlabeledImages, fingerprint


@dataclass(frozen=True)
class DomainPair:
    """One adaptation problem. ``target_train`` carries no labels: training code cannot reach them."""

    spec: PairSpec
    source_train: LabeledImages
    target_train: UnlabeledImages
    source_test: LabeledImages
    target_test: LabeledImages

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def channels(self) -> int:
        return self.source_train.images.shape[1]

    @property
    def image_size(self) -> int:
        return self.source_train.images.shape[-1]

    @cached_property
    def fingerprint(self) -> str:
        """Content hash of everything this pair holds (computed once per pair)."""
        return fingerprint(
            self.source_train.images,
            self.source_train.labels,
            self.target_train.images,
            self.source_test.images,
            self.source_test.labels,
            self.target_test.images,
            self.target_test.labels,
        )

    def limited(self, train: int | None = None, test: int | None = None, seed: int = 0) -> DomainPair:
        """A smaller copy (random subsets of the given sizes) for quick runs and tests."""
        return DomainPair(
            self.spec,
            self.source_train.subset(train, seed) if train else self.source_train,
            self.target_train.subset(train, seed + 1) if train else self.target_train,
            self.source_test.subset(test, seed + 2) if test else self.source_test,
            self.target_test.subset(test, seed + 3) if test else self.target_test,
        )


def load_domain(
    name: str, train: bool, data_directory: str | Path | None = None, channels: int | None = None
) -> LabeledImages:
    """One domain's split; grayscale domains are repeated to ``channels`` when asked (a view, no copy)."""
    domain = resolve_domain(name)
    split = domain.load(train, data_directory)
    if channels is not None and channels != domain.channels:
        if domain.channels != 1:
            raise ValueError(f"{name} has {domain.channels} channels; cannot turn it into {channels}")
        split = LabeledImages(split.images.expand(-1, channels, -1, -1), split.labels)
    return split


def load_pair(name: str, data_directory: str | Path | None = None) -> DomainPair:
    """Load a domain pair (``mnist-usps``, ``mnist-mnistm``, ``mnist-noisy``) at a common shape."""
    spec = resolve_pair(name)

    def split(domain: str, train: bool) -> LabeledImages:
        return load_domain(domain, train, data_directory, spec.channels)

    return DomainPair(
        spec=spec,
        source_train=split(spec.source.name, True),
        target_train=split(spec.target.name, True).without_labels(),
        source_test=split(spec.source.name, False),
        target_test=split(spec.target.name, False),
    )
