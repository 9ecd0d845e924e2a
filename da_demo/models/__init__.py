"""Networks: digit classifiers returning ``(logits, features)``, heads, gradient reversal, CycleGAN nets."""

from .backbones import (
    BACKBONES,
    DigitClassifier,
    backbone_variants,
    bounded,
    build_classifier,
    lean_cnn,
    lecture_cnn,
    standardised,
)
from .grl import GradientReversal, grl_lambda, reverse_gradient
from .heads import SeparableCritic, domain_classifier
from .inference import accuracy, predict
from .norm import forward_domains, frozen_batch_norm_statistics

__all__ = [
    "BACKBONES",
    "DigitClassifier",
    "GradientReversal",
    "SeparableCritic",
    "accuracy",
    "backbone_variants",
    "bounded",
    "build_classifier",
    "domain_classifier",
    "forward_domains",
    "frozen_batch_norm_statistics",
    "grl_lambda",
    "lean_cnn",
    "lecture_cnn",
    "predict",
    "reverse_gradient",
    "standardised",
]
