"""The projection cache file: 2-D projections (UMAP, PCA, t-SNE) of the shipped models' source and
target test features, with alignment figures per model, so the Feature space tab opens instantly.

``checkpoints/<pair>/projections.safetensors``: coordinates as float16 tensors named
``<method>.<projection>``, labels and domains, and JSON metadata. ``workflows.projections`` computes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

FILE_NAME = "projections.safetensors"
METADATA_KEY = "da_demo_projections"


@dataclass
class ProjectionCache:
    labels: np.ndarray
    domains: np.ndarray
    coordinates: dict[tuple[str, str], np.ndarray]  # (method, kind) → (N, 2)
    alignment: dict[str, dict[str, float]]  # method → figures
    data_fingerprint: str


def write_projection_cache(directory: Path, pair: str, cache: ProjectionCache, metadata: dict) -> Path:
    tensors = {"labels": torch.from_numpy(cache.labels), "domains": torch.from_numpy(cache.domains)}
    tensors.update(
        {
            f"{method}.{kind}": torch.from_numpy(coordinates).to(torch.float16)
            for (method, kind), coordinates in cache.coordinates.items()
        }
    )
    path = Path(directory) / pair / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {**metadata, "data_fingerprint": cache.data_fingerprint, "alignment": cache.alignment}
    save_file(tensors, path, metadata={METADATA_KEY: json.dumps(metadata)})
    return path


def read_projection_cache(directory: Path, pair: str) -> ProjectionCache | None:
    path = Path(directory) / pair / FILE_NAME
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = json.loads((handle.metadata() or {})[METADATA_KEY])
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    coordinates = {
        tuple(key.split(".", 1)): value.float().numpy() for key, value in tensors.items() if "." in key
    }
    return ProjectionCache(
        tensors["labels"].numpy(),
        tensors["domains"].numpy(),
        coordinates,
        metadata["alignment"],
        metadata["data_fingerprint"],
    )
