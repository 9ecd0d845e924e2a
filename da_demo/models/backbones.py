"""Digit classifiers. Every classifier returns ``(logits, features)``.

* ``lecture``: the lecture's CNN, Conv 7x7·32 → pool → Conv 7x7·64 → pool → FC 128 → FC 10
  (about 21 M multiply-adds per 28x28 image).
* ``lean``: 3x3 conv-BN-ReLU blocks (16, 32, 64 channels), several times cheaper per image, for
  live sessions on a 2-core CPU.
* ``wide``: the same with twice the channels (32, 64, 128) (the MNIST-M backbone until this
  project's models were chosen without target labels; its older checkpoints still load).
* ``wide_gn``: ``wide`` with group normalisation (per image) instead of batch normalisation, the
  MNIST-M backbone. Batch statistics learned on MNIST's black backgrounds do not hold for photo
  backgrounds; among four candidates (wide, lecture, wide without normalisation, wide_gn), trained
  source-only on MNIST alone, DEV and information maximisation both chose this one, without a
  target label (``python -m da_demo.benchmarks.backbones`` reproduces the comparison).
* ``lean_in``, ``wide_gn_in``: the same behind an **instance-normalised input**: each image's
  channels standardised to zero mean and unit variance before the first convolution, the
  per-image standardisation of self-ensembling (French et al., 2018) and the input instance norm of
  VADA/DIRT-T (Shu et al., 2018). Brightness, contrast and a background's colour cast then never
  reach the network. Candidates of the same label-free backbone choice.
* ``<backbone>_sigmoid`` (e.g. ``lean_sigmoid``): any of the above with a **bounded embedding**, its
  128 features squashed by a sigmoid instead of a ReLU, as in DeepJDOT's and JUMBOT's reference code
  (Damodaran et al., 2018; Fatras et al., 2021), whose distance weights are set for features in
  [0, 1]. A method chooses it through a setting (``Method.backbone_for``), never a pair.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class DigitClassifier(nn.Module):
    """``features = extractor(images)`` (a ``feature_dim`` vector), ``logits = head(features)``."""

    def __init__(
        self, extractor: nn.Module, feature_dim: int, num_classes: int, in_channels: int, image_size: int
    ) -> None:
        super().__init__()
        self.feature_dim = feature_dim
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.image_size = image_size
        self.extractor = extractor
        self.head = nn.Linear(feature_dim, num_classes)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``images (B, C, H, W)`` in [0, 1] → ``(logits (B, num_classes), features (B, feature_dim))``."""
        features = self.extractor(images)
        return self.head(features), features


def lecture_cnn(in_channels: int = 1, num_classes: int = 10, image_size: int = 28) -> DigitClassifier:
    """The lecture network: two 7x7 convolutions with max pooling, then FC 128 → FC ``num_classes``."""
    pooled = image_size // 4
    extractor = nn.Sequential(
        nn.Conv2d(in_channels, 32, kernel_size=7, padding=3),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, kernel_size=7, padding=3),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * pooled * pooled, 128),
        nn.ReLU(inplace=True),
    )
    return DigitClassifier(extractor, 128, num_classes, in_channels, image_size)


def _conv_norm_relu(in_channels: int, out_channels: int, norm: str) -> list[nn.Module]:
    layers: dict[str, nn.Module] = {
        "batch": nn.BatchNorm2d(out_channels),
        "group": nn.GroupNorm(8, out_channels),
    }
    if norm == "none":
        return [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        layers[norm],
        nn.ReLU(inplace=True),
    ]


def lean_cnn(
    in_channels: int = 1, num_classes: int = 10, image_size: int = 28, width: int = 16, norm: str = "batch"
) -> DigitClassifier:
    """Three conv-norm-ReLU blocks (``width``, 2·``width``, 4·``width`` channels) each halving the size, FC 128."""
    pooled = image_size // 8
    extractor = nn.Sequential(
        *_conv_norm_relu(in_channels, width, norm),
        nn.MaxPool2d(2),
        *_conv_norm_relu(width, 2 * width, norm),
        nn.MaxPool2d(2),
        *_conv_norm_relu(2 * width, 4 * width, norm),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * width * pooled * pooled, 128),
        nn.ReLU(inplace=True),
    )
    return DigitClassifier(extractor, 128, num_classes, in_channels, image_size)


def wide_cnn(in_channels: int = 1, num_classes: int = 10, image_size: int = 28) -> DigitClassifier:
    """``lean_cnn`` with twice the channels."""
    return lean_cnn(in_channels, num_classes, image_size, width=32)


def standardised_input(build: Callable[..., DigitClassifier]) -> Callable[..., DigitClassifier]:
    """``build``'s classifier with every image standardised per channel before its first layer."""

    def standardised(**kw) -> DigitClassifier:
        classifier = build(**kw)
        classifier.extractor = nn.Sequential(
            nn.InstanceNorm2d(classifier.in_channels, affine=False), *classifier.extractor
        )
        return classifier

    return standardised


def wide_gn_cnn(**kw) -> DigitClassifier:
    """``lean_cnn`` with twice the channels and group normalisation."""
    return lean_cnn(width=32, norm="group", **kw)


def bounded_embedding(build: Callable[..., DigitClassifier]) -> Callable[..., DigitClassifier]:
    """``build``'s classifier with its embedding's final ReLU replaced by a sigmoid (features in [0, 1])."""

    def build_bounded(**kw) -> DigitClassifier:
        classifier = build(**kw)
        assert isinstance(classifier.extractor[-1], nn.ReLU), "the embedding should end in a ReLU"
        classifier.extractor[-1] = nn.Sigmoid()
        return classifier

    return build_bounded


#: the name suffix of a backbone's bounded-embedding variant
BOUNDED = "_sigmoid"


def bounded(backbone: str) -> str:
    """The name of ``backbone``'s bounded-embedding variant (itself if it is one)."""
    return backbone if backbone.endswith(BOUNDED) else backbone + BOUNDED


#: the name suffix of a backbone whose input is standardised per image (instance-normalised)
STANDARDISED = "_in"


def standardised(backbone: str) -> str:
    """The name of ``backbone``'s standardised-input variant (itself if its input already is)."""
    base = backbone.removesuffix(BOUNDED)
    if base.endswith(STANDARDISED):
        return backbone
    return bounded(base + STANDARDISED) if base != backbone else base + STANDARDISED


def backbone_variants(backbone: str) -> tuple[str, ...]:
    """``backbone`` and the variants of it that a method's settings may train on instead
    (``Method.backbone_for``): bounded embedding, standardised input, both."""
    names = (backbone, bounded(backbone), standardised(backbone), bounded(standardised(backbone)))
    return tuple(dict.fromkeys(names))


_BASES: dict[str, Callable[..., DigitClassifier]] = {
    "lecture": lecture_cnn,
    "lean": lean_cnn,
    "wide": wide_cnn,
    "wide_gn": wide_gn_cnn,
    "lean_in": standardised_input(lean_cnn),
    "wide_gn_in": standardised_input(wide_gn_cnn),
}
BACKBONES: dict[str, Callable[..., DigitClassifier]] = {
    **_BASES,
    **{bounded(name): bounded_embedding(build) for name, build in _BASES.items()},
}


def build_classifier(
    backbone: str, in_channels: int, num_classes: int = 10, image_size: int = 28
) -> DigitClassifier:
    if backbone not in BACKBONES:
        raise ValueError(f"Unknown backbone {backbone!r}; choose one of: {', '.join(BACKBONES)}")
    return BACKBONES[backbone](in_channels=in_channels, num_classes=num_classes, image_size=image_size)
