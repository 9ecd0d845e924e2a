"""Batch-norm housekeeping for methods that run extra forward passes on perturbed images."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn


@contextlib.contextmanager
def frozen_batch_norm_statistics(module: nn.Module) -> Iterator[None]:
    """Inside, batch-norm layers still normalise with the batch's statistics (in training mode) but
    leave their running statistics alone: passes on adversarially nudged or augmented copies of a
    batch then do not shift the statistics the model is evaluated with."""
    layers = [layer for layer in module.modules() if isinstance(layer, nn.modules.batchnorm._BatchNorm)]
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    try:
        yield
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
