"""Feature-space views of the shipped models, computed once and shipped, so the app's Feature
space tab opens instantly: 2-D projections (UMAP, PCA, t-SNE) of source and target test features,
and alignment figures (domain-classifier accuracy, MMD, Sinkhorn distance) per model.

``python -m da_demo projections`` writes ``checkpoints/<pair>/projections.safetensors``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..data import DomainPair
from ..engine.alignment import domain_probe_accuracy, mmd, sinkhorn_distance
from ..engine.evaluation import predict
from ..methods import get_method
from ..viz.projections import PROJECTIONS, project

SAMPLES_PER_DOMAIN = 1000
FILE_NAME = "projections.safetensors"


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


def model_features(method: str, model: torch.nn.Module, sample: FeatureSample) -> tuple[np.ndarray, np.ndarray]:
    """Source and target features as the method sees them (see ``Method.feature_view``)."""
    _, source = predict(model, sample.source_images)
    _, target = predict(model, sample.target_images)
    source, target = get_method(method).feature_view(source.numpy(), target.numpy())
    return source, target


def alignment_figures(source: np.ndarray, target: np.ndarray) -> dict[str, float]:
    return {"domain_acc": domain_probe_accuracy(source, target), "mmd": mmd(source, target),
            "sinkhorn": sinkhorn_distance(source, target)}


def write_projection_cache(directory: Path, pair: DomainPair, models: dict[str, torch.nn.Module],
                           kinds: tuple[str, ...] = PROJECTIONS, log=print) -> Path:
    """Project every model's test features in every way; store coordinates and alignment figures."""
    sample = feature_sample(pair)
    tensors = {"labels": torch.from_numpy(sample.labels), "domains": torch.from_numpy(sample.domains)}
    alignment = {}
    for method, model in models.items():
        source, target = model_features(method, model, sample)
        alignment[method] = alignment_figures(source, target)
        features = np.concatenate([source, target])
        for kind in kinds:
            tensors[f"{method}.{kind}"] = torch.from_numpy(project(features, kind)).to(torch.float16)
        log(f"{pair.name} {method}: {', '.join(f'{k} {v:.3f}' for k, v in alignment[method].items())}")
    path = Path(directory) / pair.name / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"per_domain": SAMPLES_PER_DOMAIN, "seed": 0, "data_fingerprint": pair.fingerprint, "alignment": alignment}
    save_file(tensors, path, metadata={"da_demo_projections": json.dumps(metadata)})
    return path


@dataclass
class ProjectionCache:
    labels: np.ndarray
    domains: np.ndarray
    coordinates: dict[tuple[str, str], np.ndarray]   # (method, kind) → (N, 2)
    alignment: dict[str, dict[str, float]]           # method → figures
    data_fingerprint: str


def read_projection_cache(directory: Path, pair: str) -> ProjectionCache | None:
    path = Path(directory) / pair / FILE_NAME
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = json.loads((handle.metadata() or {})["da_demo_projections"])
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    coordinates = {tuple(key.split(".", 1)): value.float().numpy() for key, value in tensors.items() if "." in key}
    return ProjectionCache(tensors["labels"].numpy(), tensors["domains"].numpy(), coordinates, metadata["alignment"],
                           metadata["data_fingerprint"])
