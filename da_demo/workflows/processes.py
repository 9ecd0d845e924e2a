"""A worker process that runs one call at a time and streams its results back: what visitors' live
runs (``workers.TrainingWorkers``) and sweep and pretraining tasks (``executors.ProcessExecutor``)
both run on.

A call is a module-level generator function ``function(setup, *args, stop=event)``: ``setup`` is
made once per process (the data it loads stays there between calls), each item it yields comes
back as it is made, and ``stop`` is set by the parent to end it early. A process that dies
mid-call (killed, out of memory) is noticed by the parent, which raises ``WorkerDied`` and can
start another; a worker whose parent is killed ends itself within a second, rather than training on
for nobody.

    worker = WorkerProcess(setup=context)
    for item in worker.call(run_task, (task,)):
        ...
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

LOG = logging.getLogger("da_demo.workers")
POLL_SECONDS = 0.2


class WorkerDied(RuntimeError):
    """The worker process ended in the middle of a call."""

    def __init__(self, exitcode: int | None) -> None:
        super().__init__(f"the worker process died (exit code {exitcode})")
        self.exitcode = exitcode


class CallFailed(RuntimeError):
    """The call raised in the worker (the worker itself lives on); the message is the error's."""


def _end_with(parent: int) -> None:
    """Ends this process once ``parent`` is no longer its parent (killed rather than shut down, so
    it never said quit): an orphan would otherwise train on, unheard, until its call ends."""
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os._exit(1)


def _serve(connection, stop, setup, niceness: int, threads: int, parent: int) -> None:
    """A worker's loop: one call at a time, each yielded item sent back as it comes; idle work
    (e.g. loading data) runs only while no call is waiting."""
    threading.Thread(target=_end_with, args=(parent,), daemon=True, name="parent-watch").start()
    import torch

    torch.set_num_threads(threads)
    if niceness:
        try:
            os.nice(niceness)
        except OSError:
            pass
    idle: list[tuple[Callable, tuple]] = []
    while True:
        if idle and not connection.poll(0):
            function, args = idle.pop(0)
            try:
                function(setup, *args)
            except Exception:  # noqa: BLE001 - idle work is an optimisation; the call that needs it reports
                LOG.exception("idle work %s failed", getattr(function, "__name__", function))
            continue
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        kind = message[0]
        if kind == "quit":
            return
        if kind == "idle":
            idle.append((message[1], message[2]))
            continue
        _, function, args = message
        try:
            for item in function(setup, *args, stop=stop):
                connection.send(("item", item))
            connection.send(("end", None))
        except Exception as error:  # noqa: BLE001 - the parent decides what a failed call means
            LOG.exception("a call in a worker process failed")
            connection.send(("error", f"{type(error).__name__}: {error}"))


class WorkerProcess:
    """One spawned process (``threads`` torch threads, ``niceness`` added to its priority)."""

    def __init__(self, setup: Any = None, *, niceness: int = 0, threads: int = 1) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.stop = context.Event()
        self.process = context.Process(
            target=_serve,
            args=(child, self.stop, setup, niceness, threads, os.getpid()),
            daemon=True,
            name="da-demo-worker",
        )
        self.process.start()
        child.close()
        self.setup, self.niceness, self.threads = setup, niceness, threads

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def idle_work(self, function: Callable, args: tuple = ()) -> None:
        """``function(setup, *args)`` when the worker has nothing else to do (in the order given)."""
        self.connection.send(("idle", function, args))

    def call(self, function: Callable, args: tuple = (), stop=None) -> Iterator[Any]:
        """Run ``function(setup, *args, stop=...)`` in the worker, yielding its items as they come;
        setting ``stop`` (an event in this process) stops it.

        Raises ``WorkerDied`` when the process ends mid-call and ``CallFailed`` when the call
        raised. A caller that stops consuming early must ``finish()`` before the next call. The call
        is sent at once, before the first item is asked for."""
        self.stop.clear()
        try:
            self.connection.send(("call", function, args))
        except OSError:  # the process is gone (a broken pipe)
            self.process.join(timeout=5)
            raise WorkerDied(self.process.exitcode) from None
        return self._results(stop)

    def _results(self, stop) -> Iterator[Any]:
        while True:
            kind, payload = self.receive(stop=stop)
            if kind == "end":
                return
            if kind == "error":
                raise CallFailed(payload)
            yield payload

    def receive(self, timeout: float | None = None, stop=None) -> tuple[str, Any]:
        """The next message (waiting up to ``timeout`` seconds, forever when None); ``("wait",
        None)`` when none came in time. A set ``stop`` is passed on to the worker meanwhile."""
        waited = 0.0
        while not self.connection.poll(POLL_SECONDS):
            if stop is not None and stop.is_set():
                self.stop.set()
            if not self.process.is_alive():
                raise WorkerDied(self.process.exitcode)
            waited += POLL_SECONDS
            if timeout is not None and waited >= timeout:
                return "wait", None
        try:
            return self.connection.recv()
        except (EOFError, OSError):
            self.process.join(timeout=5)
            raise WorkerDied(self.process.exitcode) from None

    def finish(self, seconds: float = 120) -> bool:
        """Stop the current call and wait until it has wound down; False if the worker died or
        did not finish in time (then it should be replaced)."""
        self.stop.set()
        waited = 0.0
        try:
            while waited < seconds:
                kind, _ = self.receive(timeout=POLL_SECONDS)
                if kind in ("end", "error"):
                    return True
                waited += POLL_SECONDS
        except WorkerDied:
            return False
        return False

    def replacement(self) -> WorkerProcess:
        """This worker killed if still running, and a fresh one with the same setup."""
        self.kill()
        return WorkerProcess(self.setup, niceness=self.niceness, threads=self.threads)

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)

    def close(self) -> None:
        try:
            self.connection.send(("quit",))
        except OSError:
            pass
        self.process.join(timeout=2)
        self.kill()
