"""Batch-norm housekeeping: extra forward passes on perturbed images, and one pass per domain."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
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


def forward_domains(
    network: nn.Module, source_images: torch.Tensor, target_images: torch.Tensor, separate: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits, features)`` of ``[source; target]`` (source rows first).

    By default one pass over both batches, so batch norm normalises them with shared statistics.
    ``separate``: one pass per domain, so each is normalised by its own batch's statistics (the
    self-ensembling and DIRT-T papers' code); the source pass leaves the running statistics alone,
    so those kept for predicting are the target's (as in AdaBN)."""
    if not separate:
        return network(torch.cat([source_images, target_images]))
    with frozen_batch_norm_statistics(network):
        source_logits, source_features = network(source_images)
    target_logits, target_features = network(target_images)
    return torch.cat([source_logits, target_logits]), torch.cat([source_features, target_features])
