"""A domain pair's data: labeled source training and validation splits, unlabeled target train, and
both test sets, at one shape.

The **source validation split** is a fixed part of the source training set (5,000 images, seed 0)
that no method trains on: label-free model selection scores models on it. The target's training
images stay unlabeled; its test set, with labels, is for reporting only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import torch

from .domains import PairSpec, resolve_domain, resolve_pair
from .images import LabeledImages, UnlabeledImages, fingerprint
from .locations import CACHE_DIR_ENV, data_dir

SOURCE_VALIDATION_SIZE = 5000
SOURCE_VALIDATION_SEED = 0


@dataclass(frozen=True)
class DomainPair:
    """One adaptation problem. ``target_train`` carries no labels: training code cannot reach them."""

    spec: PairSpec
    source_train: LabeledImages
    target_train: UnlabeledImages
    source_test: LabeledImages
    target_test: LabeledImages
    #: labeled source images held out of training, for label-free model selection
    source_val: LabeledImages

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
            self.source_val.images,
            self.source_val.labels,
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
            self.source_val.subset(test, seed + 4) if test else self.source_val,
        )


def load_domain(
    name: str, train: bool, data_directory: str | Path | None = None, channels: int | None = None
) -> LabeledImages:
    """One domain's split; grayscale domains are repeated to ``channels`` when asked (a view, no copy).
    Read once per process and data location, so pairs share a domain's tensors."""
    return with_channels(_read(name, train, *_location(data_directory)), name, channels)


def _location(data_directory: str | Path | None) -> tuple[Path | None, str]:
    """Where a split is read from, as a cache key: the data directory and the download cache."""
    return data_dir(data_directory), os.environ.get(CACHE_DIR_ENV, "")


@lru_cache(maxsize=8)
def _read(name: str, train: bool, directory: Path | None, cache: str) -> LabeledImages:
    """A stored split, read once per process and location: every pair's source is MNIST, and three
    pairs each holding their own copy cost a worker about 420 MB (the tensors are never changed in
    place; a pair shares them the way a worker's runs always have)."""
    return resolve_domain(name).load(train, directory)


@lru_cache(maxsize=4)
def _source_splits(name: str, directory: Path | None, cache: str) -> tuple[LabeledImages, LabeledImages]:
    """A source domain's training split without and with its held-out validation images, once (the
    whole split they are cut from is not kept)."""
    return hold_out(resolve_domain(name).load(True, directory), SOURCE_VALIDATION_SIZE, SOURCE_VALIDATION_SEED)


def with_channels(split: LabeledImages, name: str, channels: int | None) -> LabeledImages:
    native = resolve_domain(name).channels
    if channels is None or channels == native:
        return split
    if native != 1:
        raise ValueError(f"{name} has {native} channels; cannot turn it into {channels}")
    return LabeledImages(split.images.expand(-1, channels, -1, -1), split.labels)


def load_pair(name: str, data_directory: str | Path | None = None) -> DomainPair:
    """Load a domain pair (``mnist-usps``, ``mnist-mnistm``, ``mnist-noisy``) at a common shape."""
    spec = resolve_pair(name)

    def split(domain: str, train: bool) -> LabeledImages:
        return load_domain(domain, train, data_directory, spec.channels)

    # held out before any channel repeat, so both parts stay views of a 1-channel copy
    source_train, source_val = _source_splits(spec.source.name, *_location(data_directory))
    return DomainPair(
        spec=spec,
        source_train=with_channels(source_train, spec.source.name, spec.channels),
        target_train=split(spec.target.name, True).without_labels(),
        source_test=split(spec.source.name, False),
        target_test=split(spec.target.name, False),
        source_val=with_channels(source_val, spec.source.name, spec.channels),
    )


def hold_out(split: LabeledImages, count: int, seed: int) -> tuple[LabeledImages, LabeledImages]:
    """``(rest, held out)``: a fixed random ``count`` of ``split`` set apart (both keep their order)."""
    order = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))
    held, rest = order[:count].sort().values, order[count:].sort().values
    return LabeledImages(split.images[rest], split.labels[rest]), LabeledImages(
        split.images[held], split.labels[held]
    )
