"""Feature-space views of models: features of a fixed sample of both test sets as each method sees
them, their 2-D projections and alignment figures; and the shipped projection cache built from them
(``python -m da_demo projections``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..artifacts.projections import ProjectionCache, write_projection_cache
from ..data.pairs import DomainPair
from ..engine.alignment import domain_probe_accuracy, mmd, sinkhorn_distance
from ..methods import get_method
from ..models import predict
from ..viz.projections import PROJECTIONS, project

SAMPLES_PER_DOMAIN = 1000


@dataclass
class FeatureSample:
    """A fixed, seeded subset of both test sets: images, labels and domain (0 source, 1 target)."""

    source_images: torch.Tensor
    target_images: torch.Tensor
    labels: np.ndarray
    domains: np.ndarray


def feature_sample(pair: DomainPair, per_domain: int = SAMPLES_PER_DOMAIN, seed: int = 0) -> FeatureSample:
    source, target = pair.source_test.subset(per_domain, seed), pair.target_test.subset(per_domain, seed + 1)
    labels = np.concatenate([source.labels.numpy(), target.labels.numpy()])
    domains = np.concatenate([np.zeros(len(source), np.int64), np.ones(len(target), np.int64)])
    return FeatureSample(source.images, target.images, labels, domains)


def model_features(
    method: str, model: torch.nn.Module, sample: FeatureSample
) -> tuple[np.ndarray, np.ndarray]:
    """Source and target features as the method sees them (see ``Method.feature_view``)."""
    _, source = predict(model, sample.source_images)
    _, target = predict(model, sample.target_images)
    source, target = get_method(method).feature_view(source.numpy(), target.numpy())
    return source, target


def alignment_figures(source: np.ndarray, target: np.ndarray) -> dict[str, float]:
    return {
        "domain_acc": domain_probe_accuracy(source, target),
        "mmd": mmd(source, target),
        "sinkhorn": sinkhorn_distance(source, target),
    }


def build_projection_cache(
    directory: Path,
    pair: DomainPair,
    models: dict[str, torch.nn.Module],
    kinds: tuple[str, ...] = PROJECTIONS,
    log=print,
) -> Path:
    """Project every model's test features in every way; store coordinates and alignment figures."""
    sample = feature_sample(pair)
    coordinates, alignment = {}, {}
    for method, model in models.items():
        source, target = model_features(method, model, sample)
        alignment[method] = alignment_figures(source, target)
        features = np.concatenate([source, target])
        for kind in kinds:
            coordinates[method, kind] = project(features, kind)
        log(f"{pair.name} {method}: {', '.join(f'{k} {v:.3f}' for k, v in alignment[method].items())}")
    cache = ProjectionCache(sample.labels, sample.domains, coordinates, alignment, pair.fingerprint)
    return write_projection_cache(directory, pair.name, cache, {"per_domain": SAMPLES_PER_DOMAIN, "seed": 0})
