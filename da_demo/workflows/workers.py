"""Visitors' live runs off the request path: a few worker processes (one per training slot), each
with one torch thread at a lower scheduling priority, so predictions in the serving process never
wait behind a training step. Each worker runs ``live.live_run``; Stop, a closed tab and a dead
worker are handled here.

    workers = TrainingWorkers(2, Environment())
    for kind, payload in workers.run(LiveRequest(spec, output, options), stop=threading.Event()):
        ...   # ("event", ProgressEvent) ..., then ("done", checkpoint path) or ("failed", sentence)
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..data.pairs import DomainPair, load_pair
from .live import Environment, LiveRequest, PairData, RunMessage, live_run
from .processes import CallFailed, WorkerDied, WorkerProcess

LOG = logging.getLogger("da_demo.workers")
NICENESS = 10
DIED = (
    "The training process stopped unexpectedly (it may have run out of memory), so this run is lost; "
    "your previous model is kept. Please start again."
)


@dataclass
class WorkerSetup:
    """What a training worker keeps between runs: its environment and the pairs it has loaded
    (and the latest built domains: ``live.PairData``)."""

    environment: Environment
    pairs: dict[str, DomainPair] = field(default_factory=dict)

    def pair(self, name: str) -> DomainPair:
        if name not in self.pairs:
            self.pairs[name] = load_pair(name, self.environment.data_dir)
        return self.pairs[name]

    @functools.cached_property
    def data(self) -> PairData:
        return PairData(self.pair, self.environment.data_dir)


PREPARING = "loading the training data into the training process (the app has just started)"


def _live_run_in_worker(setup: WorkerSetup, request: LiveRequest, stop) -> Iterator[RunMessage]:
    if request.spec.pair.model_pair not in setup.pairs:
        yield RunMessage("preparing", PREPARING)
    elif not setup.data.built(request.spec):
        yield RunMessage("preparing", "building your domain's training and test digits")
    try:
        pair = setup.data(request.spec)
    except Exception as error:  # noqa: BLE001 - data that cannot load fails this run with a sentence
        LOG.exception("could not load %s", request.spec.pair.name)
        yield RunMessage("failed", f"The data for {request.spec.pair.title} could not be loaded ({error}).")
        return
    yield from live_run(request, pair, setup.environment, stop)


def _preload(setup: WorkerSetup, name: str) -> None:
    setup.pair(name)


class TrainingWorkers:
    """``count`` worker processes; ``run`` borrows a free one for a run (the app's queue makes sure
    no more than ``count`` runs ask at once)."""

    def __init__(self, count: int, environment: Environment | None = None, niceness: int = NICENESS) -> None:
        self.count, self.niceness = count, niceness
        self.setup = WorkerSetup(environment or Environment())
        self._free: queue.Queue[WorkerProcess] = queue.Queue()
        self._busy: set[WorkerProcess] = set()
        self._started = False
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the processes (they import torch once, then wait for runs)."""
        with self._lock:
            if not self._started:
                for _ in range(self.count):
                    self._free.put(WorkerProcess(self.setup, niceness=self.niceness))
                self._started = True

    def preload(self, pairs: list[str]) -> None:
        """Have every idle worker load these pairs' data, one at a time between runs (memory then
        stays flat under load, and a visitor never waits for all of them)."""
        self.start()
        for worker in list(self._free.queue):
            for name in pairs:
                worker.idle_work(_preload, (name,))

    def processes(self):
        """The worker processes that are idle now (for tests and diagnostics)."""
        return [worker.process for worker in list(self._free.queue)]

    def busy_processes(self):
        """The worker processes running a visitor's run now."""
        return [worker.process for worker in list(self._busy)]

    def run(self, request: LiveRequest, stop: threading.Event) -> Iterator[RunMessage]:
        """Train in a worker, yielding its messages until "done" or "failed".

        Setting ``stop`` stops the run at its next step (it still evaluates and saves). If the consumer
        goes away (the visitor closed the tab), the run is stopped and the worker freed once it has
        wound down. A worker that dies is replaced and the visitor told so."""
        self.start()
        worker = self._free.get()
        self._busy.add(worker)
        finished = False
        try:
            results = worker.call(_live_run_in_worker, (request,), stop)
            for message in results:
                if stop.is_set():
                    worker.stop.set()
                if message.kind in ("done", "failed"):
                    for _ in results:  # the call's end, read now: the next run must not see it
                        pass
                    finished = True
                    yield message
                    return
                yield message
            finished = True
        except (WorkerDied, CallFailed) as error:
            LOG.warning("a training worker failed (%s); starting another", error)
            self._busy.discard(worker)
            worker = worker.replacement()
            finished = True
            yield RunMessage("failed", DIED)
        finally:
            self._busy.discard(worker)
            if finished:
                self._free.put(worker)
            else:  # the consumer left mid-run: stop it, and free the worker when it has wound down
                threading.Thread(
                    target=self._drain, args=(worker,), daemon=True, name="da-demo-drain"
                ).start()

    def _drain(self, worker: WorkerProcess) -> None:
        self._free.put(worker if worker.finish() else worker.replacement())

    def close(self) -> None:
        while not self._free.empty():
            self._free.get_nowait().close()
