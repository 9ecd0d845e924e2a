"""Domain pairs: labeled source, unlabeled target train, and both test sets at one common shape."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable

from .images import LabeledImages, UnlabeledImages, fingerprint
from .mnist import load_mnist
from .mnistm import load_mnistm
from .noisy_mnist import load_noisy_mnist
from .usps import load_usps

#: domain name -> (loader(train, data_directory) -> LabeledImages, channels, display name)
DOMAINS: dict[str, tuple[Callable[[bool, str | Path | None], LabeledImages], int, str]] = {
    "mnist": (load_mnist, 1, "MNIST"),
    "usps": (load_usps, 1, "USPS"),
    "mnistm": (load_mnistm, 3, "MNIST-M"),
    "noisy": (load_noisy_mnist, 1, "Noisy MNIST"),
}


@dataclass(frozen=True)
class PairSpec:
    name: str
    source: str
    target: str
    title: str

    @property
    def channels(self) -> int:
        return max(DOMAINS[self.source][1], DOMAINS[self.target][1])


PAIRS: dict[str, PairSpec] = {
    spec.name: spec
    for spec in (
        PairSpec("mnist-usps", "mnist", "usps", "MNIST → USPS"),
        PairSpec("mnist-mnistm", "mnist", "mnistm", "MNIST → MNIST-M"),
        PairSpec("mnist-noisy", "mnist", "noisy", "MNIST → Noisy MNIST"),
    )
}


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
            self.source_train.images, self.source_train.labels, self.target_train.images,
            self.source_test.images, self.source_test.labels, self.target_test.images, self.target_test.labels,
        )

    def limited(self, train: int | None = None, test: int | None = None, seed: int = 0) -> "DomainPair":
        """A smaller copy (random subsets of the given sizes) for quick runs and tests."""
        return DomainPair(
            self.spec,
            self.source_train.subset(train, seed) if train else self.source_train,
            self.target_train.subset(train, seed + 1) if train else self.target_train,
            self.source_test.subset(test, seed + 2) if test else self.source_test,
            self.target_test.subset(test, seed + 3) if test else self.target_test,
        )


def resolve_pair(name: str) -> PairSpec:
    if name not in PAIRS:
        raise ValueError(f"Unknown domain pair {name!r}; choose one of: {', '.join(PAIRS)}")
    return PAIRS[name]


def load_domain(name: str, train: bool, data_directory: str | Path | None = None, channels: int | None = None) -> LabeledImages:
    """One domain's split; grayscale domains are repeated to ``channels`` when asked (a view, no copy)."""
    if name not in DOMAINS:
        raise ValueError(f"Unknown domain {name!r}; choose one of: {', '.join(DOMAINS)}")
    loader, native_channels, _ = DOMAINS[name]
    split = loader(train, data_directory)
    if channels is not None and channels != native_channels:
        if native_channels != 1:
            raise ValueError(f"{name} has {native_channels} channels; cannot turn it into {channels}")
        split = LabeledImages(split.images.expand(-1, channels, -1, -1), split.labels)
    return split


def load_pair(name: str, data_directory: str | Path | None = None) -> DomainPair:
    """Load a domain pair (``mnist-usps``, ``mnist-mnistm``, ``mnist-noisy``) at a common shape."""
    spec = resolve_pair(name)
    channels = spec.channels

    def split(domain: str, train: bool) -> LabeledImages:
        return load_domain(domain, train, data_directory, channels)

    return DomainPair(
        spec=spec,
        source_train=split(spec.source, True),
        target_train=split(spec.target, True).without_labels(),
        source_test=split(spec.source, False),
        target_test=split(spec.target, False),
    )
