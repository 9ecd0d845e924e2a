"""One training run: build the classifier and the method, warm-start it, train, describe the result.

The CLI, the benchmark, the pretraining command and the browser all start runs through ``Run``;
``start_model`` provides the trained model a method warm-starts from.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from .. import __version__
from ..artifacts.checkpoints import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from ..artifacts.store import ModelStore
from ..data import DomainPair, cache_dir
from ..methods import HyperparameterSet, Method, get_method
from ..models import build_classifier
from .device import resolve_device, resolve_precision
from .trainer import ProgressEvent

DEFAULT_BACKBONE = "lean"
#: the backbone each pair's shipped models use (one per pair, the same for every method)
PAIR_BACKBONES = {"mnist-usps": "lean", "mnist-noisy": "lean", "mnist-mnistm": "wide"}

EventFilter = Callable[[Iterator[ProgressEvent]], Iterator[ProgressEvent]]


class Run:
    """A method being trained on a domain pair with one backbone and seed.

    ``events()`` trains and yields progress; afterwards ``result`` holds the final event and
    ``save(path)`` writes the checkpoint with its metadata. A method that warm-starts needs the
    model it starts from as ``start_model`` (see ``start_model()``).
    """

    def __init__(
        self,
        pair: DomainPair,
        method: str,
        hparams: dict[str, Any] | HyperparameterSet | None = None,
        *,
        backbone: str | None = None,
        seed: int = 0,
        device: str = "auto",
        precision: str = "auto",
        start_model: Checkpoint | None = None,
    ) -> None:
        backbone = backbone or default_backbone(pair.name)
        self.pair = pair
        self.method_class = get_method(method)
        if not isinstance(hparams, HyperparameterSet):
            hparams = self.method_class.hyperparameters_for(pair.name, hparams)
        self.backbone, self.seed = backbone, seed
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        torch.manual_seed(seed)
        classifier = build_classifier(backbone, pair.channels, image_size=pair.image_size)
        self.method: Method = self.method_class(classifier, hparams)
        self.start_method = self.method_class.warm_start_from(hparams)
        if self.start_method is not None:
            if start_model is None:
                raise ValueError(f"{self.method_class.name} starts from the {self.start_method} model; pass start_model")
            found = (start_model.method, start_model.pair, start_model.metadata["backbone"])
            if found != (self.start_method, pair.name, backbone):
                raise ValueError(f"{self.method_class.name} starts from {self.start_method} on {pair.name} with the "
                                 f"{backbone} backbone, not from {'/'.join(found)}")
            classifier.load_state_dict(start_model.classifier.state_dict())
        self.method.to(self.device).to(memory_format=torch.channels_last)
        self.result: ProgressEvent | None = None

    @property
    def hparams(self) -> HyperparameterSet:
        return self.method.hparams

    def events(self, **train_options) -> Iterator[ProgressEvent]:
        """Train, yielding ``ProgressEvent``s (options as ``engine.trainer.train``)."""
        for event in self.method.fit(self.pair, seed=self.seed, device=self.device, precision=self.precision,
                                     **train_options):
            if event.done:
                self.result = event
            yield event

    def metadata(self) -> dict[str, Any]:
        """What a checkpoint of this run records about it (requires a finished run)."""
        if self.result is None:
            raise RuntimeError("the run has not finished")
        return {
            "method": self.method_class.name,
            "pair": self.pair.name,
            "backbone": self.backbone,
            "seed": self.seed,
            "hyperparameters": self.hparams.to_dict(),
            "warm_start_from": self.start_method,
            "steps": self.result.step,
            "ended_early": self.result.ended_early,
            "train_seconds": round(self.result.train_seconds, 2),
            "metrics": {"source_acc": self.result.source_acc, "target_acc": self.result.target_acc,
                        **self.result.metrics},
            "device": str(self.device),
            "precision": str(self.precision or torch.float32).replace("torch.", ""),
            "code_version": code_version(),
            "data_fingerprint": self.pair.fingerprint,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    def save(self, path: str | Path, half_precision: bool = False) -> Path:
        return save_checkpoint(path, self.method.classifier, self.metadata(), self.method.extra_state(), half_precision)


def code_version() -> str:
    """The package version, plus the git commit when run from a checkout."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                                cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+{commit}" if commit else __version__


def default_backbone(pair: str) -> str:
    return PAIR_BACKBONES.get(pair, DEFAULT_BACKBONE)


def start_model(
    pair: DomainPair,
    method: str = "source_only",
    backbone: str | None = None,
    *,
    seed: int = 0,
    device: str = "auto",
    precision: str = "auto",
    show: EventFilter = lambda events: events,
    log: Callable[[str], None] = lambda line: None,
) -> Checkpoint:
    """A trained ``method`` model to warm-start another method from.

    The published one (Hub repo when ``DA_DEMO_HUB_REPO`` is set, else the shipped file) when it has
    this backbone; else one cached by an earlier call; else one trained now with the method's
    default settings (after its own start model, if it has one) and cached. ``show`` wraps the
    events of any training done here, e.g. in a progress bar; ``log`` hears where the model came from.
    """
    backbone = backbone or default_backbone(pair.name)
    store = ModelStore()
    try:
        published = store.load(pair.name, method)
    except CheckpointError:
        published = None
    for note in store.notes:
        log(note)
    if published is not None and published.checkpoint.metadata["backbone"] == backbone:
        log(f"starting from the {method} model of {published.origin}")
        return published.checkpoint
    cached = cache_dir() / "models" / pair.name / f"{method}-{backbone}-seed{seed}-{pair.fingerprint}.safetensors"
    if cached.is_file():
        log(f"starting from the {method} model cached at {cached}")
        return load_checkpoint(cached, expect_pair=pair.name, expect_method=method)
    method_class = get_method(method)
    hparams = method_class.hyperparameters_for(pair.name)
    before = method_class.warm_start_from(hparams)
    start = start_model(pair, before, backbone, seed=seed, device=device, precision=precision, show=show,
                        log=log) if before else None
    run = Run(pair, method, hparams, backbone=backbone, seed=seed, device=device, precision=precision, start_model=start)
    for _ in show(run.events()):
        pass
    run.save(cached)
    log(f"trained the {method} model to start from; cached at {cached}")
    return load_checkpoint(cached)
