"""Train method M on pair P: the one entry point of every caller (CLI, benchmarks, pretraining,
sweep, visitors' live runs, the SKADA comparison).

    spec = RunSpec.resolve("mnist-usps", "dann", {"steps": 600}, seed=0)   # names resolved once
    job = TrainingJob(pair, spec)                                          # start model found
    for event in job.events(eval_every=100):                               # the engine's progress events
        ...
    job.save("runs/mnist-usps/dann.safetensors")                           # weights + metadata
"""

from __future__ import annotations

import copy
import functools
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..artifacts.checkpoints import (
    Checkpoint,
    CheckpointError,
    full_metadata,
    load_checkpoint,
    read_metadata,
    save_checkpoint,
)
from ..artifacts.manifest import read_manifest
from ..artifacts.schemas import CheckpointMetadata, ManifestEntry
from ..artifacts.store import SHIPPED_DIRECTORY, ModelStore, sha256, start_model_file, unchanged_file
from ..data import cache_dir
from ..data.pairs import DomainPair
from ..engine.runs import Run
from ..engine.spec import RunSpec
from ..engine.trainer import ProgressEvent
from ..models import DigitClassifier

#: wraps a run's events, e.g. in a progress bar: ``show(events, "mnist-usps dann") -> events``
EventFilter = Callable[[Iterator[ProgressEvent], str], Iterator[ProgressEvent]]


def _unchanged(events: Iterator[ProgressEvent], label: str) -> Iterator[ProgressEvent]:
    return events


def _silent(line: str) -> None:
    pass


@functools.cache
def code_version() -> str:
    """The package version, plus the git commit when run from a checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+{commit}" if commit else __version__


class TrainingJob:
    """The run ``spec`` on ``pair`` (its data, loaded), start model found (or trained), ready to train.

    A warm-starting method begins from ``start`` when given, else from the model
    ``find_start_model`` finds for ``spec.start``; ``train_missing_start=False`` makes a missing one
    an error (the app does not train a start model inside a visitor's capped session).
    """

    def __init__(
        self,
        pair: DomainPair,
        spec: RunSpec,
        *,
        device: str = "auto",
        precision: str = "auto",
        start: Checkpoint | None = None,
        store: ModelStore | None = None,
        train_missing_start: bool = True,
        show: EventFilter = _unchanged,
        log: Callable[[str], None] = _silent,
    ) -> None:
        if spec.pair.name != pair.name:
            raise ValueError(f"the run is for {spec.pair.name}, not for the {pair.name} data it was given")
        self.pair = pair
        self.spec = spec
        self.method_class = spec.method
        self.hparams = spec.hparams
        self.backbone = spec.backbone
        self.show = show
        if spec.start is not None and start is None:
            start = find_start_model(
                pair,
                spec.start,
                device=device,
                precision=precision,
                store=store,
                train_missing=train_missing_start,
                show=show,
                log=log,
            )
        if spec.start is not None:
            found = (start.method, start.pair, start.metadata.backbone)
            wanted = (spec.start.method.name, pair.spec.model_pair, self.backbone)
            if found != wanted:
                raise ValueError(
                    f"{self.method_class.name} starts from {wanted[0]} on {pair.name} with the "
                    f"{self.backbone} backbone, not from {'/'.join(found)}"
                )
        self.start = start if spec.start is not None else None
        self.run = Run(
            pair,
            spec,
            device=device,
            precision=precision,
            start_classifier=self.start.classifier if self.start else None,
        )

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def result(self) -> ProgressEvent | None:
        """The final event once the run has finished."""
        return self.run.result

    def events(self, **train_options) -> Iterator[ProgressEvent]:
        """Train, yielding progress events (options as ``engine.trainer.train``)."""
        return self.run.events(**train_options)

    def run_to_end(self, **train_options) -> ProgressEvent:
        """Train to the end (through ``show``, e.g. a progress bar) and return the final event."""
        for _ in self.show(self.events(**train_options), self.label):
            pass
        return self.result

    def metadata(self) -> dict[str, Any]:
        return {**self.run.metadata(), "code_version": code_version()}

    def snapshot(self) -> tuple[DigitClassifier, dict[str, torch.nn.Module]]:
        """Copies of the classifier and the extra networks as they are now (for saving later)."""
        method = self.run.method
        return copy.deepcopy(method.kept_classifier()), {
            name: copy.deepcopy(module) for name, module in method.extra_state().items()
        }

    def checkpoint(self) -> Checkpoint:
        """The trained model as a checkpoint in memory (what ``save`` would write)."""
        method = self.run.method
        extras = {name: module.state_dict() for name, module in method.extra_state().items()}
        classifier = method.kept_classifier()
        metadata = CheckpointMetadata.model_validate(full_metadata(classifier, self.metadata()))
        return Checkpoint(classifier, metadata, extras)

    def save(self, path: str | Path, half_precision: bool = False) -> Path:
        """Write the trained model and its metadata (see ``artifacts.checkpoints``)."""
        method = self.run.method
        return save_checkpoint(
            path, method.kept_classifier(), self.metadata(), method.extra_state(), half_precision
        )


def find_start_model(
    pair: DomainPair,
    spec: RunSpec,
    *,
    device: str = "auto",
    precision: str = "auto",
    store: ModelStore | None = None,
    train_missing: bool = True,
    show: EventFilter = _unchanged,
    log: Callable[[str], None] = _silent,
) -> Checkpoint:
    """The trained model of ``spec`` (the start of another run) to warm-start from.

    The published one (Hub repo when ``DA_DEMO_HUB_REPO`` is set, else the shipped file) when it has
    this backbone, or the shipped start model of this backbone (``ModelStore.load_start``); else one
    cached by an earlier call; else one trained now (after its own start model, if it has one) and
    cached. ``show`` wraps the events of any training done here, e.g. in a progress bar; ``log``
    hears where the model came from.
    """
    method, backbone = spec.method.name, spec.backbone
    store = store or ModelStore()
    try:
        published = store.load(pair.spec.model_pair, method)
    except CheckpointError:
        published = None
    for note in store.notes:
        log(note)
    if published is None or published.checkpoint.metadata.backbone != backbone:
        published = store.load_start(pair.spec.model_pair, method, backbone)
    if published is not None:
        log(f"starting from the {method} model of {published.origin}")
        return published.checkpoint
    cached = start_model_path(pair, spec)
    if cached.is_file():
        log(f"starting from the {method} model cached at {cached}")
        return load_checkpoint(cached, expect_pair=pair.name, expect_method=method)
    if not train_missing:
        raise CheckpointError(
            f"There is no trained {method} model for {pair.name} ({backbone} backbone) to start from."
        )
    job = TrainingJob(pair, spec, device=device, precision=precision, store=store, show=show, log=log)
    for _ in show(job.events(), f"{job.label} (to start from)"):
        pass
    job.save(cached)
    log(f"trained the {method} model to start from; cached at {cached}")
    return load_checkpoint(cached)


def start_model_path(pair: DomainPair, spec: RunSpec) -> Path:
    """Where the trained model of ``spec`` (a start spec) is cached for ``pair``'s data."""
    name = f"{spec.method.name}-{spec.backbone}-seed{spec.seed}-{pair.fingerprint}.safetensors"
    return cache_dir() / "models" / pair.name / name


def restore_start_model(
    pair: DomainPair, spec: RunSpec, directory: Path = SHIPPED_DIRECTORY, log: Callable[[str], None] = _silent
) -> bool:
    """Cache the shipped model of ``spec`` as the start model when the shipped files say it *is* that
    model: either the method's seed-0 model, reused from a cached start model of this very name
    (training split only, this data), or a shipped start model on a backbone variant
    (``start_model_file``) that a manifest entry vouches for by its SHA-256 and whose header names this
    data and seed; in both cases the file unchanged since. Every session and machine then starts its
    runs from the model the shipped ones started from, as the app does, instead of one trained again
    whose floating-point rounding, and so its weights, differ. Returns whether it did."""
    cached = start_model_path(pair, spec)
    if cached.is_file():
        return False
    entries = read_manifest(directory)
    shipped = _shipped_model(entries, pair, spec, directory, cached) or _shipped_start(entries, pair, spec, directory)
    if shipped is None:
        return False
    cached.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shipped, cached)
    log(f"the shipped {shipped.relative_to(directory)} is the {pair.name} start model; cached at {cached}")
    return True


def _shipped_model(
    entries: list[ManifestEntry], pair: DomainPair, spec: RunSpec, directory: Path, cached: Path
) -> Path | None:
    """The shipped seed-0 model of ``spec``'s method, if its manifest entry says it was reused from ``cached``."""
    entry = next((e for e in entries if e.pair == pair.name and e.method == spec.method.name), None)
    if entry is None or entry.seed != 0 or not entry.seeds or entry.seeds[0].origin != f"reused {cached.name}":
        return None
    return unchanged_file(directory, entry)


def _shipped_start(entries: list[ManifestEntry], pair: DomainPair, spec: RunSpec, directory: Path) -> Path | None:
    """The shipped start model of ``spec`` (a seed-0 start on a backbone variant), if a manifest entry
    names it with its SHA-256 and its header says it was trained on this data."""
    name = start_model_file(pair.name, spec.method.name, spec.backbone)
    path = Path(directory) / name
    vouched = {e.start_model.sha256 for e in entries if e.start_model and e.start_model.file == name}
    if spec.seed != 0 or not path.is_file() or sha256(path) not in vouched:
        return None
    header = read_metadata(path)
    same = (header.data_fingerprint, header.backbone, header.seed) == (pair.fingerprint, spec.backbone, 0)
    return path if same else None
