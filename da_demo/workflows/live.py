"""A visitor's live run: one routine, ``live_run``, whatever carries it.

It takes a resolved ``RunSpec`` (inside a ``LiveRequest``, with where to save and how often to
report) and an ``Environment`` (device, precision, the model store start models come from),
trains, yields ``RunMessage``s and saves the model. The transports around it differ and nothing
else: ``InProcessTrainer`` (here), ``workers.TrainingWorkers`` (worker processes) and
``ZeroGPUTrainer`` (a Hugging Face ZeroGPU Space). Each has ``run(request, stop)``, yielding the
same messages:

    ("event", ProgressEvent) ...  then  ("done", path to the saved model)  or  ("failed", sentence)

A transport that must load the data first (a worker just after start-up) says so before the
events: ("preparing", what it is doing).
"""

from __future__ import annotations

import collections
import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..artifacts.checkpoints import CheckpointError
from ..artifacts.store import ModelStore
from ..data.pairs import DomainPair
from ..data.shift import custom_pair
from ..engine.spec import RunSpec
from .training import TrainingJob

LOG = logging.getLogger("da_demo.live")
BUILT_DOMAINS_KEPT = 2  # built domains a trainer keeps (each up to ~150 MB of images)
PHOTOS_FOR_BUILT_DOMAINS = 50


class RunMessage(NamedTuple):
    """One message of a live run: ``kind`` is "event", "done" or "failed"."""

    kind: str
    #: the ``ProgressEvent`` of an "event", the model's path when "done", a sentence when "failed"
    #: or "preparing"
    payload: Any


@dataclass(frozen=True)
class Environment:
    """Where a live run trains and what it starts from."""

    device: str = "cpu"
    precision: str = "auto"
    store: ModelStore = field(default_factory=ModelStore)
    #: the datasets' folder (None: the environment's, else downloads)
    data_dir: str | None = None


@dataclass(frozen=True)
class LiveRequest:
    """A visitor's run, resolved: the spec, where its model goes, and the trainer's options
    (``engine.trainer.train``'s: evaluation cadence, time budget, ...)."""

    spec: RunSpec
    output: str
    options: dict[str, Any] = field(default_factory=dict)
    #: what makes two requests the same run (spec identity, code and data version): identical runs
    #: are trained once (``sharing.SharedRuns``); "" never shares
    key: str = ""


def live_run(request: LiveRequest, pair: DomainPair, environment: Environment, stop) -> Iterator[RunMessage]:
    """Train ``request.spec`` on ``pair`` (its loaded data), stopping when ``stop`` is set,
    yielding each progress event, then save the model and say where; a run that cannot start or
    fails says why in one sentence (and the log has the details)."""
    try:
        job = TrainingJob(
            pair,
            request.spec,
            device=environment.device,
            precision=environment.precision,
            store=environment.store,
            train_missing_start=False,
        )
        for event in job.events(stop=stop, **request.options):
            yield RunMessage("event", event)
        job.save(request.output)
    except CheckpointError as error:
        yield RunMessage("failed", str(error))
        return
    except Exception as error:  # noqa: BLE001 - the visitor gets a sentence, the log the details
        LOG.exception("a live run failed")
        yield RunMessage("failed", f"{type(error).__name__}: {error}")
        return
    yield RunMessage("done", request.output)


class PairData:
    """The data a run's spec trains on: a shipped pair as ``load(name)`` gives it, or a built domain
    (``data.shift``) made from its recipe over the shipped pair with its channels; the latest
    ``keep`` built domains are kept (a visitor trying methods on one domain builds it once)."""

    def __init__(
        self, load: Callable[[str], DomainPair], data_dir: str | None = None, keep: int = BUILT_DOMAINS_KEPT
    ) -> None:
        self.load, self.data_dir, self.keep = load, data_dir, keep
        self._built: collections.OrderedDict[str, DomainPair] = collections.OrderedDict()
        self._lock = threading.Lock()

    def built(self, spec: RunSpec) -> bool:
        """Whether ``spec``'s built domain is kept here already (a shipped pair is never built)."""
        recipe = getattr(spec.pair.target, "recipe", None)
        if recipe is None:
            return True
        with self._lock:
            return recipe.model_dump_json() in self._built

    def __call__(self, spec: RunSpec) -> DomainPair:
        recipe = getattr(spec.pair.target, "recipe", None)
        if recipe is None:
            return self.load(spec.pair.name)
        key = recipe.model_dump_json()
        with self._lock:
            if key in self._built:
                self._built.move_to_end(key)
                return self._built[key]
        photos = None
        if recipe.background == "photos":
            from ..data.mnistm import bsds_photo_paths, load_photos

            photos = load_photos(bsds_photo_paths(self.data_dir)[:PHOTOS_FOR_BUILT_DOMAINS])
        built = custom_pair(recipe, self.load(spec.pair.model_pair), photos)
        with self._lock:
            self._built[key] = built
            while len(self._built) > self.keep:
                self._built.popitem(last=False)
        return built


class InProcessTrainer:
    """Live runs in this process (where worker processes are off, and for comparisons).
    ``pairs(name)`` gives a shipped pair's loaded data (built domains are made here: ``PairData``)."""

    def __init__(self, pairs: Callable[[str], DomainPair], environment: Environment | None = None) -> None:
        self.environment = environment or Environment()
        self.pairs = PairData(pairs, self.environment.data_dir)

    def run(self, request: LiveRequest, stop) -> Iterator[RunMessage]:
        return live_run(request, self.pairs(request.spec), self.environment, stop)


ZERO_GPU_ENV = "SPACES_ZERO_GPU"


class ZeroGPUTrainer(InProcessTrainer):
    """Live runs on a Hugging Face Space with ZeroGPU hardware: in this process, on the GPU the
    Space lends for ``seconds`` per run (``spaces.GPU``)."""

    def __init__(
        self, pairs: Callable[[str], DomainPair], environment: Environment, spaces_module, seconds: int
    ) -> None:
        super().__init__(pairs, environment)
        self._on_gpu = spaces_module.GPU(duration=seconds)(live_run)

    def run(self, request: LiveRequest, stop) -> Iterator[RunMessage]:
        return self._on_gpu(request, self.pairs(request.spec), self.environment, stop)


@functools.cache
def zero_gpu_spaces():
    """The ``spaces`` module on a ZeroGPU Space (``SPACES_ZERO_GPU`` set and the package there),
    None everywhere else, where live runs train as they always do."""
    if not os.environ.get(ZERO_GPU_ENV):
        return None
    try:
        import spaces
    except ImportError:
        LOG.warning("%s is set but the spaces package is missing: training on the CPU", ZERO_GPU_ENV)
        return None
    return spaces
