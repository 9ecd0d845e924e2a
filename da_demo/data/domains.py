"""Every digit domain and every domain pair the project knows, as records.

A ``Domain`` knows its name, title, channels, how to load a split and how to render a drawn digit
in its style; both live in its *data builder*, the module ``da_demo.data.<module>`` with
``load(train, data_directory) -> LabeledImages`` and ``render(digit, photos) -> (C, 28, 28) | None``.
A ``PairSpec`` knows its two domains, the backbone its models use, and the published numbers ours
are compared with. Adding a pair is one record here (plus its target's data builder).

This module imports neither torch nor the builders, so ``python -m da_demo --help`` stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import torch

    from .images import LabeledImages


@dataclass(frozen=True)
class Domain:
    name: str  # "usps"
    title: str  # "USPS"
    channels: int  # as stored: 1 (grayscale) or 3 (colour)
    module: str  # its data builder, a module of this package
    #: how its look is described next to a rendered digit, e.g. "USPS-like"
    style: str

    def load(self, train: bool, data_directory: Any = None) -> LabeledImages:
        """One split, float32 ``(N, channels, 28, 28)`` in [0, 1] with labels."""
        return self._builder().load(train, data_directory)

    def render(self, digit: torch.Tensor, photos: Sequence[np.ndarray] = ()) -> torch.Tensor | None:
        """A prepared, MNIST-like digit ``(1, 28, 28)`` in this domain's style, or None when that
        needs something unavailable (MNIST-M needs BSDS500 photos)."""
        return self._builder().render(digit, photos)

    def _builder(self):
        return importlib.import_module(f"{__package__}.{self.module}")


#: every source a published number comes from, by the short name tables use: its full reference,
#: given once, here (the README's "Sources" list is generated from it)
SOURCES: dict[str, str] = {
    "lecture": "A university course's lecture notebook on domain adaptation (MNIST → USPS and MNIST → MNIST-M, "
    "Conv 7×7·32 → pool → Conv 7×7·64 → pool → FC 128 → FC 10). Its numbers came with the project's brief; "
    "we could not trace the notebook again, so treat them as second-hand.",
    "OT blog": 'E. F. Montesuma, "Optimal Transport for Domain Adaptation", blog post, 2022, '
    "https://eddardd.github.io/my-personal-blog/optimal%20transport/transfer%20learning/image%20classification/"
    "2022/05/04/Optimal-Transport-for-Transfer-Learning.html (LeNet-5 features, POT's SinkhornTransport).",
    "DANN paper": 'Y. Ganin and V. Lempitsky, "Unsupervised Domain Adaptation by Backpropagation", ICML 2015, '
    'arXiv:1409.7495; and Y. Ganin et al., "Domain-Adversarial Training of Neural Networks", JMLR 17(59), 2016.',
    "DeepJDOT paper": 'B. B. Damodaran, B. Kellenberger, R. Flamary, D. Tuia and N. Courty, "DeepJDOT: Deep Joint '
    'Distribution Optimal Transport for Unsupervised Domain Adaptation", ECCV 2018, arXiv:1803.10081.',
    "SHOT paper": 'J. Liang, D. Hu and J. Feng, "Do We Really Need to Access the Source Data? Source Hypothesis '
    'Transfer for Unsupervised Domain Adaptation", ICML 2020, arXiv:2002.08546.',
    "French et al.": 'G. French, M. Mackiewicz and M. Fisher, "Self-ensembling for Visual Domain Adaptation", '
    "ICLR 2018, arXiv:1706.05208.",
    "DIRT-T paper": 'R. Shu, H. H. Bui, H. Narui and S. Ermon, "A DIRT-T Approach to Unsupervised Domain '
    'Adaptation", ICLR 2018, arXiv:1802.08735.',
    "MaNi README": 'The README of a mutual-information-maximisation repository the project\'s brief named "MaNi"; '
    "the only MaNi we could find (Sharma et al., MICCAI 2022) segments nuclei and reports no digits, so this "
    "number is unconfirmed.",
    "SKADA-Bench": "Y. Lalou, T. Gnassounou, A. Collas et al., \"SKADA-Bench: Benchmarking Unsupervised Domain "
    "Adaptation Methods with Realistic Validation\", arXiv:2407.11676, 2024 (its USPS is padded to 28 px, not "
    "resized: another shift than ours).",
    "MMD vs LMMD tutorial": 'A. Ciprijanovic, ShiftKit, "Tutorial 2: MMD vs LMMD comparison", 2025, '
    "https://alekscipri.github.io/ShiftKit/tutorials/mmd_vs_lmmd/ (its table gives 96.x and 97.x: "
    "illustrative, not measured to the decimal).",
}


@dataclass(frozen=True)
class Reference:
    """A published target accuracy (%), the short name of its source (a key of ``SOURCES``) and
    what to know about the number."""

    value: float
    source: str
    detail: str = ""

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown source {self.source!r}: add its full reference to SOURCES")

    def __str__(self) -> str:
        return f"{self.value:g} ({self.source}{', ' + self.detail if self.detail else ''})"


@dataclass(frozen=True, eq=False)
class PairSpec:
    name: str
    source: Domain
    target: Domain
    title: str
    #: what differs between the two domains, in a few words
    shift: str
    #: the backbone every model of this pair uses (see ``da_demo.models.backbones``)
    backbone: str
    #: method name → the published number ours is compared with
    published: Mapping[str, Reference] = field(default_factory=dict)
    #: target-accuracy goals (%) set in the project's issues (label-free picks, 3-seed means): method
    #: name, or "best" over all methods. Our own bookkeeping (``results --goals``); students never see them.
    goals: Mapping[str, float] = field(default_factory=dict)
    #: the pair whose trained models runs on this one start from ("": this pair's own; a built
    #: domain starts from the MNIST source-only model of the shipped pair with its channels)
    models_from: str = ""

    @property
    def channels(self) -> int:
        return max(self.source.channels, self.target.channels)

    @property
    def model_pair(self) -> str:
        return self.models_from or self.name


MNIST = Domain("mnist", "MNIST", 1, "mnist", "MNIST-like")
USPS = Domain("usps", "USPS", 1, "usps", "USPS-like")
MNIST_M = Domain("mnistm", "MNIST-M", 3, "mnistm", "MNIST-M-like")
NOISY_MNIST = Domain("noisy", "Noisy MNIST", 1, "noisy_mnist", "noisy")

DOMAINS: dict[str, Domain] = {domain.name: domain for domain in (MNIST, USPS, MNIST_M, NOISY_MNIST)}

PAIRS: dict[str, PairSpec] = {
    spec.name: spec
    for spec in (
        PairSpec(
            "mnist-usps",
            MNIST,
            USPS,
            "MNIST → USPS",
            "handwriting style, digit size and stroke width",
            "lean",
            published={
                "source_only": Reference(74.1, "lecture"),
                "cyclegan": Reference(89.8, "lecture"),
                "dann": Reference(94.3, "lecture"),
                "deepcoral": Reference(90.4, "lecture"),
                "ot_sinkhorn": Reference(78.6, "OT blog", "LeNet features; 1-NN baseline 71.5"),
                "deepjdot": Reference(95.7, "DeepJDOT paper", "USPS padded to 28 px, not resized"),
                "ot_classreg": Reference(78.6, "OT blog", "LeNet features; 1-NN baseline 71.5"),
                "shot": Reference(97.9, "SHOT paper", "LeNet, 3 seeds"),
                "self_ensembling": Reference(98.3, "French et al."),
                "mcc": Reference(98.2, "SKADA-Bench", "padded USPS, picked by prediction entropy"),
            },
            goals={
                "self_ensembling": 97.0,
                "deepjdot": 95.7,
                "dann": 94.3,
                "deepcoral": 90.4,
                "ot_sinkhorn": 78.6,
                "mcc": 97.0,
                "best": 98.0,
            },
        ),
        PairSpec(
            "mnist-mnistm",
            MNIST,
            MNIST_M,
            "MNIST → MNIST-M",
            "digits blended over colour photo crops (BSDS500)",
            "wide_gn_in",
            published={
                "source_only": Reference(46.7, "lecture", "DANN paper 52.25"),
                "dann": Reference(82.1, "lecture", "DANN paper 76.7"),
                "mi_max": Reference(87.0, "MaNi README"),
                "deepjdot": Reference(92.4, "DeepJDOT paper"),
                "vada_dirtt": Reference(98.7, "DIRT-T paper", "instance-normalised inputs, larger CNN"),
            },
            goals={"source_only": 52.0, "vada_dirtt": 95.0, "deepjdot": 92.4, "mi_max": 87.0, "best": 97.0},
        ),
        PairSpec(
            "mnist-noisy",
            MNIST,
            NOISY_MNIST,
            "MNIST → Noisy MNIST",
            "Gaussian pixel noise, σ = 0.3",
            "lean",
            published={
                "mmd": Reference(96.0, "MMD vs LMMD tutorial", "96.x"),
                "lmmd": Reference(97.0, "MMD vs LMMD tutorial", "97.x"),
            },
            goals={"mmd": 96.0, "lmmd": 97.0, "best": 99.0},
        ),
    )
}


def resolve_pair(name: str) -> PairSpec:
    """The pair called ``name``; a clear error lists the known ones."""
    if name not in PAIRS:
        raise ValueError(f"Unknown domain pair {name!r}; choose one of: {', '.join(PAIRS)}")
    return PAIRS[name]


def resolve_domain(name: str) -> Domain:
    if name not in DOMAINS:
        raise ValueError(f"Unknown domain {name!r}; choose one of: {', '.join(DOMAINS)}")
    return DOMAINS[name]
