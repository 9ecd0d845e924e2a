"""Visitors' training runs, off the request path: a few worker processes (one per training slot),
each with one torch thread at a lower scheduling priority, so predictions in the serving process
never wait behind a training step. A run streams its progress events back to the visitor's
generator; Stop, a closed tab and a dead worker are all handled here.

    workers = TrainingWorkers(2)
    for kind, payload in workers.run(RunRequest(...), stop=threading.Event()):
        ...   # ("event", ProgressEvent) ..., then ("done", checkpoint path) or ("failed", message)
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

LOG = logging.getLogger("da_demo.workers")
NICENESS = 10
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class RunRequest:
    """Everything a worker needs to train one visitor's model (plain, picklable values)."""

    pair: str
    method: str
    hyperparameters: dict[str, Any]
    seed: int
    output: str
    train_options: dict[str, Any] = field(default_factory=dict)
    data_dir: str | None = None


class WorkerDied(RuntimeError):
    pass


def _serve(connection, stop, niceness: int) -> None:
    """A worker's loop: one run at a time, events sent back as they come."""
    import torch

    torch.set_num_threads(1)
    try:
        os.nice(niceness)
    except OSError:
        pass
    from ..artifacts.checkpoints import CheckpointError
    from ..data.pairs import load_pair
    from ..methods import get_method
    from ..workflows.training import TrainingJob

    pairs, preload = {}, []
    while True:
        if preload and not connection.poll(0):  # idle: load the next pair before anyone asks for it
            name, data_dir = preload.pop(0)
            try:
                pairs.setdefault(name, load_pair(name, data_dir))
            except Exception:  # noqa: BLE001 - a pair that cannot load fails its runs with a message later
                LOG.exception("could not preload %s", name)
            continue
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message[0] == "quit":
            return
        if message[0] == "preload":  # one pair at a time, between runs, so a visitor never waits for all
            preload += [(name, message[2]) for name in message[1]]
            continue
        request: RunRequest = message[1]
        try:
            if request.pair not in pairs:
                pairs[request.pair] = load_pair(request.pair, request.data_dir)
            hparams = get_method(request.method).hyperparameters_class.from_dict(request.hyperparameters)
            job = TrainingJob(
                pairs[request.pair],
                request.method,
                hparams,
                seed=request.seed,
                device="cpu",
                train_missing_start=False,
            )
            for event in job.events(stop=stop, **request.train_options):
                connection.send(("event", event))
            job.save(request.output)
            connection.send(("done", request.output))
        except CheckpointError as error:
            connection.send(("failed", str(error)))
        except Exception as error:  # noqa: BLE001 - the visitor gets a sentence, the log the details
            LOG.exception("training run failed")
            connection.send(("failed", f"{type(error).__name__}: {error}"))


class _Worker:
    def __init__(self, context, niceness: int) -> None:
        self.connection, child = context.Pipe()
        self.stop = context.Event()
        self.process = context.Process(
            target=_serve, args=(child, self.stop, niceness), daemon=True, name="da-demo-training"
        )
        self.process.start()
        child.close()

    def close(self) -> None:
        try:
            self.connection.send(("quit",))
        except OSError:
            pass
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()


class TrainingWorkers:
    """``count`` worker processes; ``run`` borrows a free one for a run (the app's queue makes sure
    no more than ``count`` runs ask at once)."""

    def __init__(self, count: int, niceness: int = NICENESS) -> None:
        self.count, self.niceness = count, niceness
        self._context = multiprocessing.get_context("spawn")
        self._free: queue.Queue[_Worker] = queue.Queue()
        self._started = False
        self._lock = threading.Lock()
        self._busy: set[_Worker] = set()

    def start(self) -> None:
        """Start the processes (they import torch once, then wait for runs)."""
        with self._lock:
            if not self._started:
                for _ in range(self.count):
                    self._free.put(_Worker(self._context, self.niceness))
                self._started = True

    def preload(self, pairs: list[str], data_dir: str | None) -> None:
        """Have every idle worker load these pairs' data now (memory then stays flat under load)."""
        self.start()
        for worker in list(self._free.queue):
            worker.connection.send(("preload", list(pairs), data_dir))

    def processes(self) -> list[multiprocessing.Process]:
        """The worker processes that are idle now (for tests and diagnostics)."""
        return [worker.process for worker in list(self._free.queue)]

    def busy_processes(self) -> list[multiprocessing.Process]:
        """The worker processes running a visitor's run now."""
        return [worker.process for worker in list(self._busy)]

    def run(self, request: RunRequest, stop: threading.Event) -> Iterator[tuple[str, Any]]:
        """Train in a worker, yielding its messages until ``("done", path)`` or ``("failed", text)``.

        Setting ``stop`` stops the run at its next step (it still evaluates and saves). If the consumer
        goes away (the visitor closed the tab), the run is stopped and the worker freed once it has
        finished. A worker that dies is replaced and the visitor told so."""
        self.start()
        worker = self._free.get()
        self._busy.add(worker)
        finished = False
        try:
            worker.stop.clear()
            worker.connection.send(("run", request))
            while True:
                if stop.is_set():
                    worker.stop.set()
                if not worker.connection.poll(POLL_SECONDS):
                    if not worker.process.is_alive():
                        raise WorkerDied()
                    continue
                kind, payload = worker.connection.recv()
                if kind in ("done", "failed"):
                    finished = True
                yield kind, payload
                if finished:
                    return
        except (WorkerDied, EOFError, OSError):
            LOG.warning("a training worker died (exit code %s); starting another", worker.process.exitcode)
            self._busy.discard(worker)
            worker = self._replace(worker)
            finished = True
            yield (
                "failed",
                (
                    "The training process stopped unexpectedly (it may have run out of memory), so this "
                    "run is lost; your previous model is kept. Please start again."
                ),
            )
        finally:
            self._busy.discard(worker)
            if finished:
                self._free.put(worker)
            else:  # the consumer left mid-run: stop it, and free the worker when it has wound down
                worker.stop.set()
                threading.Thread(
                    target=self._drain, args=(worker,), daemon=True, name="da-demo-drain"
                ).start()

    def _drain(self, worker: _Worker) -> None:
        deadline = time.monotonic() + 120
        try:
            while time.monotonic() < deadline:
                if worker.connection.poll(POLL_SECONDS):
                    if worker.connection.recv()[0] in ("done", "failed"):
                        self._free.put(worker)
                        return
                elif not worker.process.is_alive():
                    break
        except (EOFError, OSError):
            pass
        self._free.put(self._replace(worker))

    def _replace(self, worker: _Worker) -> _Worker:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5)
        return _Worker(self._context, self.niceness)

    def close(self) -> None:
        while not self._free.empty():
            self._free.get_nowait().close()
