"""A visitor's live run: one routine, ``live_run``, whatever carries it.

It takes a resolved ``RunSpec`` (inside a ``LiveRequest``, with where to save and how often to
report) and an ``Environment`` (device, precision, the model store start models come from),
trains, yields ``RunMessage``s and saves the model. The transports around it differ and nothing
else: ``InProcessTrainer`` (here), ``workers.TrainingWorkers`` (worker processes) and
``ZeroGPUTrainer`` (a Hugging Face ZeroGPU Space). Each has ``run(request, stop)``, yielding the
same messages:

    ("event", ProgressEvent) ...  then  ("done", path to the saved model)  or  ("failed", sentence)
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..artifacts.checkpoints import CheckpointError
from ..artifacts.store import ModelStore
from ..data.pairs import DomainPair
from ..engine.spec import RunSpec
from .training import TrainingJob

LOG = logging.getLogger("da_demo.live")


class RunMessage(NamedTuple):
    """One message of a live run: ``kind`` is "event", "done" or "failed"."""

    kind: str
    #: the ``ProgressEvent`` of an "event", the model's path when "done", a sentence when "failed"
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


class InProcessTrainer:
    """Live runs in this process (where worker processes are off, and for comparisons).
    ``pairs(name)`` gives a pair's loaded data."""

    def __init__(self, pairs: Callable[[str], DomainPair], environment: Environment | None = None) -> None:
        self.pairs, self.environment = pairs, environment or Environment()

    def run(self, request: LiveRequest, stop) -> Iterator[RunMessage]:
        return live_run(request, self.pairs(request.spec.pair.name), self.environment, stop)


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
        return self._on_gpu(request, self.pairs(request.spec.pair.name), self.environment, stop)


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
