"""The trained models the app predicts with, loaded once per process and only read afterwards.

Shipped (or Hub) checkpoints are shared by every visitor; models a visitor trains live in that
visitor's session state (see ``session.py``) and never here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from torch import nn

from ..artifacts.checkpoints import CheckpointError
from ..artifacts.schemas import CheckpointMetadata, ManifestEntry, SelectionFile
from ..artifacts.store import ModelStore
from ..methods import get_method, method_names
from ..methods.cyclegan import load_generators
from ..models.cyclegan import Generator
from ..workflows.digit_check import load_detector
from ..workflows.selection import read_selection


@dataclass
class ZooModel:
    """One predicting model: ``model(images) → (logits, features)``."""

    pair: str
    method: str
    model: nn.Module
    metadata: CheckpointMetadata
    origin: str
    owner: str = "shipped"  # "yours" for a model the visitor trained in this session
    #: CycleGAN only: (source→target, target→source) generators
    generators: tuple[Generator, Generator] | None = None
    #: a shipped model's manifest entry: what was measured from this very file
    entry: ManifestEntry | None = None

    @property
    def title(self) -> str:
        title = get_method(self.method).title
        return f"{title} (yours)" if self.owner == "yours" else title

    @property
    def target_acc(self) -> float | None:
        """Target-test accuracy as the Results tab reports it: a shipped model's from its manifest
        entry (the file as stored, full test set); a visitor's own from the end of their run."""
        if self.owner == "shipped":
            return self.entry.target_acc if self.entry else None
        return self.metadata.metrics.get("target_acc")


@dataclass
class PairModels:
    models: list[ZooModel] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # method → why it is not there
    generators: tuple[Generator, Generator] | None = None  # CycleGAN: (source→target, target→source)


class ModelZoo:
    """Loads each pair's models on first use (thread-safe)."""

    def __init__(self, store: ModelStore | None = None, selection: SelectionFile | None = None) -> None:
        self.store = store or ModelStore()
        self._selection = selection
        self._lock = threading.Lock()
        self._pairs: dict[str, PairModels] = {}
        self._digit_check: tuple | None = None

    def pair(self, pair: str) -> PairModels:
        with self._lock:
            if pair not in self._pairs:
                self._pairs[pair] = self._load(pair)
            return self._pairs[pair]

    def notes(self) -> list[str]:
        return list(self.store.notes)

    def picked_settings(self, pair: str, method: str) -> dict:
        """The settings the label-free selection picked for the shipped model ({} without a pick):
        the Adapt tab starts from them."""
        if self._selection is None:
            self._selection = read_selection()
        return self._selection.picked_settings(pair, method)

    def digit_check(self) -> tuple[nn.Module, float] | None:
        """The "is this a digit?" detector and its threshold (``workflows.digit_check``), loaded
        once; None where it has not been trained."""
        if self._digit_check is None:  # loaded once; every prediction asks, so no lock after that
            with self._lock:
                if self._digit_check is None:
                    self._digit_check = (load_detector(),)
        return self._digit_check[0]

    def _load(self, pair: str) -> PairModels:
        loaded = PairModels()
        for method in method_names():
            try:
                found = self.store.load(pair, method)
            except CheckpointError as error:
                loaded.missing[method] = str(error)
                continue
            model = zoo_model(found.checkpoint, found.origin, entry=self.store.entry(pair, method))
            loaded.models.append(model)
            loaded.generators = loaded.generators or model.generators
        return loaded


def zoo_model(
    checkpoint, origin: str, owner: str = "shipped", entry: ManifestEntry | None = None
) -> ZooModel:
    """A loaded checkpoint as a predicting model (frozen, eval mode), with CycleGAN's generators."""
    method = checkpoint.metadata.method
    model = get_method(method).inference_model(checkpoint).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    generators = None
    if method == "cyclegan":
        generators = load_generators(
            checkpoint.extras, checkpoint.metadata.hyperparameters, checkpoint.metadata.in_channels
        )
    return ZooModel(
        checkpoint.metadata.pair, method, model, checkpoint.metadata, origin, owner, generators, entry
    )
