"""What a built shift costs (``data.shift``): the source-only model on the built domain's test digits
against the same digits unshifted, and how far apart the two look in its features (a domain
classifier's accuracy and MMD²). Labels are known because we built the domain: they only *report*.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..data.images import LabeledImages
from ..data.pairs import DomainPair
from ..data.shift import ShiftRecipe, build_shifted, custom_spec
from ..engine.alignment import domain_probe_accuracy, mmd
from ..models import predict

SHIFT_SAMPLES = 2000  # test digits a recipe is measured on (a second or so on one core)
PREVIEW_DIGITS = 24
PROBE_SAMPLES = 1000  # features per domain for the domain classifier and MMD
#: built test digits a visitor's domain keeps for the other tabs (examples, feature plots): ~9 MB
#: of colour digits (the feature plots use 1,000 of them)
VISITOR_DIGITS = 1000


@dataclass(frozen=True)
class ShiftSummary:
    recipe: ShiftRecipe
    #: the source-only model's accuracy on the built test digits, and on the same digits unshifted
    shifted_acc: float
    mnist_acc: float
    #: a logistic-regression domain classifier on the model's features (50% = the domains look alike)
    domain_acc: float
    mmd: float
    digits: int
    seconds: float

    def to_json(self) -> dict:
        return {
            "recipe": self.recipe.changed(),
            "shift": self.recipe.describe(),
            "source_only_accuracy": round(self.shifted_acc, 4),
            "source_only_accuracy_on_mnist": round(self.mnist_acc, 4),
            "domain_classifier_accuracy": round(self.domain_acc, 4),
            "mmd": round(self.mmd, 5),
            "test_digits": self.digits,
        }


def measure_shift(
    recipe: ShiftRecipe,
    mnist_test: LabeledImages,
    source_only: torch.nn.Module,
    photos: list[np.ndarray] | None = None,
    samples: int = SHIFT_SAMPLES,
) -> ShiftSummary:
    """``recipe`` applied to ``samples`` MNIST test digits, read by ``source_only`` (a model of the
    recipe's channels), against the same digits as MNIST has them."""
    started = time.perf_counter()
    digits = mnist_test.subset(samples, seed=0)
    digits = LabeledImages(digits.images[:, :1], digits.labels)
    shifted = build_shifted(digits.images, digits.labels, recipe, seed=2, photos=photos)
    channels = recipe.channels
    with torch.inference_mode():
        source_logits, source_features = predict(source_only, digits.images.expand(-1, channels, -1, -1))
        target_logits, target_features = predict(source_only, shifted.images)
    shifted_acc = float((target_logits.argmax(1) == shifted.labels).float().mean())
    mnist_acc = float((source_logits.argmax(1) == digits.labels).float().mean())
    source_features, target_features = (
        source_features[:PROBE_SAMPLES].numpy(),
        target_features[:PROBE_SAMPLES].numpy(),
    )
    return ShiftSummary(
        recipe,
        shifted_acc,
        mnist_acc,
        domain_probe_accuracy(source_features, target_features),
        mmd(source_features, target_features),
        len(shifted.labels),
        time.perf_counter() - started,
    )


def preview(
    recipe: ShiftRecipe, mnist_test: LabeledImages, photos: list[np.ndarray] | None = None, count: int = PREVIEW_DIGITS
) -> np.ndarray:
    """A grid of ``count`` MNIST test digits as the recipe shifts them, each drawn 3× (uint8
    ``(rows·84, 8·84, 3)``, so a phone shows it as large as a laptop does)."""
    digits = mnist_test.subset(count * 2, seed=3)  # twice as many, so a skew still leaves ``count``
    shifted = build_shifted(digits.images[:, :1], digits.labels, recipe, seed=4, photos=photos).images[:count]
    shifted = shifted.expand(-1, 3, -1, -1)
    columns = 8
    rows = -(-len(shifted) // columns)
    grid = torch.ones(rows * columns, 3, 28, 28)
    grid[: len(shifted)] = shifted
    grid = grid.view(rows, columns, 3, 28, 28).permute(0, 3, 1, 4, 2).reshape(rows * 28, columns * 28, 3)
    grid = grid.repeat_interleave(3, dim=0).repeat_interleave(3, dim=1)
    return (grid.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


@dataclass(frozen=True)
class VisitorDomain:
    """A visitor's built domain as the app's other tabs read it (Try it's examples, Feature space):
    ``pair`` shares the base pair's MNIST splits and holds only ``VISITOR_DIGITS`` built test
    digits of its own, so a visitor costs a few MB and frees them by dropping this object."""

    recipe: ShiftRecipe
    pair: DomainPair

    @property
    def nbytes(self) -> int:
        """The bytes this domain holds of its own (the MNIST splits are the base pair's)."""
        test = self.pair.target_test
        return test.images.nbytes + test.labels.nbytes


def visitor_domain(
    recipe: ShiftRecipe, base: DomainPair, photos: list[np.ndarray] | None = None, digits: int = VISITOR_DIGITS
) -> VisitorDomain:
    """``recipe`` applied to ``digits`` MNIST test digits of ``base`` (the shipped pair with the
    recipe's channels)."""
    test = base.source_test.subset(digits, seed=0)
    built = build_shifted(test.images[:, :1], test.labels, recipe, seed=2, photos=photos)
    pair = DomainPair(
        custom_spec(recipe), base.source_train, built.without_labels(), base.source_test, built, base.source_val
    )
    return VisitorDomain(recipe, pair)
