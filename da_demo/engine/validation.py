"""Scoring a model with the label-free validators (``da_demo.validators``) during training.

What the validators see: the labeled **source validation split** (never trained on), a fixed
subset of the **unlabeled target training images**, and a fixed subset of source training images
(for DEV's domain classifier). Target labels are not part of any of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .. import validators
from ..data.images import LabeledImages
from ..data.pairs import DomainPair
from ..models import predict
from .device import autocast

TARGET_SAMPLES = 2000
SOURCE_TRAIN_SAMPLES = 2000
SOURCE_VALIDATION_SAMPLES = 2000  # of the 5,000 held out: plenty for accuracies near 99%


@dataclass(frozen=True)
class ValidationSet:
    source_val: LabeledImages
    target_images: torch.Tensor  # unlabeled
    source_train_images: torch.Tensor

    @classmethod
    def of(
        cls,
        pair: DomainPair,
        target_samples: int = TARGET_SAMPLES,
        source_samples: int = SOURCE_TRAIN_SAMPLES,
        seed: int = 0,
    ) -> ValidationSet:
        """The fixed subsets of ``pair`` the validators score on (the same for every run of a pair)."""
        return cls(
            pair.source_val.subset(SOURCE_VALIDATION_SAMPLES, seed),
            pair.target_train.subset(target_samples, seed).images,
            pair.source_train.subset(source_samples, seed).images,
        )


@dataclass(frozen=True)
class Validation:
    """A model scored: every validator's score (higher is better), and its predicted classes on the
    unlabeled target images (``validators.classes_to_text``), which the selection needs for EnsV and
    the collapse guard."""

    scores: dict[str, float]
    target_classes: str


def validator_scores(
    classifier: nn.Module,
    validation: ValidationSet,
    *,
    device: torch.device | None = None,
    precision: torch.dtype | None = None,
) -> Validation:
    """Every validator's score for ``classifier`` on ``validation``, and its target predictions."""
    device = device or next(classifier.parameters()).device
    with autocast(device, precision):
        source_logits, source_features = predict(classifier, validation.source_val.images, device=device)
        target_logits, target_features = predict(classifier, validation.target_images, device=device)
        _, train_features = predict(classifier, validation.source_train_images, device=device)
    source_logits, target_logits = source_logits.numpy(), target_logits.numpy()
    labels = validation.source_val.labels.numpy()
    scores = {
        "source_accuracy": validators.source_accuracy(source_logits, labels),
        "target_entropy": validators.target_entropy(target_logits),
        "information_maximization": validators.information_maximization(target_logits),
        "soft_neighborhood_density": validators.soft_neighborhood_density(target_logits),
        "deep_embedded_validation": validators.deep_embedded_validation(
            train_features.numpy(), target_features.numpy(), source_features.numpy(), source_logits, labels
        ),
    }
    return Validation(scores, validators.classes_to_text(target_logits.argmax(axis=1)))
