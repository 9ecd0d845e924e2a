"""Where sweep trials and pretraining seeds (``tasks.Task``) run. An executor's ``map(tasks, context)``
yields each task's record as it finishes (in any order); the caller appends it to the records file.
Every executor runs a task with ``tasks.run_task`` and records a task whose worker died with
``tasks.failed_record`` (its own pair and method), then goes on with the others.

* ``LocalExecutor``: one after another in this process (the default; resumable through the records).
* ``ProcessExecutor``: ``workers`` processes on this machine (``processes.WorkerProcess``), each with
  its own torch threads and its own copy of the data (loaded once per process); a dead one is
  replaced.
* ``RayExecutor``: each task a Ray task, on a cluster or on a local Ray instance.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from multiprocessing.connection import wait
from typing import Any

from .processes import CallFailed, WorkerDied, WorkerProcess
from .tasks import Task, TaskContext, failed_record, run_task

RunTask = Callable[[Task, TaskContext], dict[str, Any]]


class LocalExecutor:
    """Tasks one after another in this process."""

    name = "local"

    def __init__(self, run: RunTask = run_task) -> None:
        self.run = run

    def map(self, tasks: list[Task], context: TaskContext) -> Iterator[dict[str, Any]]:
        for task in tasks:
            yield self.run(task, context)


def _task_in_worker(context: TaskContext, task: Task, run: RunTask, stop) -> Iterator[dict[str, Any]]:
    yield run(task, context)


class ProcessExecutor:
    """Tasks in ``workers`` processes at once, ``threads`` torch threads each. A worker that dies
    (killed, out of memory) fails only its own task, and another takes its place. Ctrl-C stops
    every worker; finished tasks are already recorded."""

    name = "processes"

    def __init__(self, workers: int, threads: int = 1, run: RunTask = run_task) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers, self.threads, self.run = workers, threads, run

    def map(self, tasks: list[Task], context: TaskContext) -> Iterator[dict[str, Any]]:
        # the workers get the start models the main process built, not the data (each loads its own)
        shared = context.portable()
        queued = collections.deque(tasks)
        idle = [WorkerProcess(shared, threads=self.threads) for _ in range(min(self.workers, len(tasks)))]
        running: dict[WorkerProcess, tuple[Task, Iterator]] = {}
        try:
            while queued or running:
                while queued and idle:
                    worker, task = idle.pop(), queued.popleft()
                    try:
                        running[worker] = (task, worker.call(_task_in_worker, (task, self.run)))
                    except WorkerDied:  # died while idle: the task goes to a fresh one
                        queued.appendleft(task)
                        idle.append(worker.replacement())
                for worker, record in self._finished(running):
                    yield record
                    idle.append(worker if worker.alive else worker.replacement())
        finally:
            for worker in [*idle, *running]:
                worker.close()

    def _finished(self, running: dict) -> Iterator[tuple[WorkerProcess, dict[str, Any]]]:
        """The workers whose task has ended (with its record), once some have."""
        ready = wait([w.connection for w in running] + [w.process.sentinel for w in running], timeout=1)
        for worker in list(running):
            if worker.connection not in ready and worker.process.sentinel not in ready:
                continue
            task, records = running.pop(worker)
            try:
                record = next(records)
                for _ in records:  # the call's end
                    pass
            except (WorkerDied, CallFailed, StopIteration) as error:
                record = failed_record(task, f"{type(error).__name__}: {error}")
            yield worker, record


class ExecutorError(RuntimeError):
    """An executor cannot be used (Ray missing, a cluster unreachable); the message says what to do."""


_ray_context: TaskContext | None = None


def _run_on_ray(task: Task, context: TaskContext, run: RunTask) -> dict[str, Any]:
    """A Ray task: the worker process keeps its data between tasks (loaded once per pair)."""
    global _ray_context
    if _ray_context is None or (_ray_context.data_dir, _ray_context.device) != (
        context.data_dir,
        context.device,
    ):
        _ray_context = context
    return run(task, _ray_context)


def check_reachable(address: str, seconds: float = 3.0) -> None:
    """Ray waits minutes on an address nobody answers at: knock first (``host:port`` or
    ``ray://host:port``) and say so in one sentence."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ExecutorError(
            f"A Ray address looks like HOST:PORT (or ray://HOST:PORT, or auto), not {address!r}"
        )
    try:
        with socket.create_connection((host, int(port)), timeout=seconds):
            pass
    except OSError as error:
        raise ExecutorError(
            f"Could not reach the Ray cluster at {address} ({error.strerror or error}); "
            "check the address, or run without --ray"
        ) from None


class RayExecutor:
    """Each trial a Ray task asking for one CPU (and one GPU when the trials run on CUDA), on the
    cluster at ``address`` or on a local Ray instance started here. Records come back in the order
    trials finish; Ctrl-C cancels the tasks still queued or running."""

    name = "ray"

    def __init__(
        self, address: str | None = None, *, num_cpus: int | None = None, run: RunTask = run_task
    ) -> None:
        try:
            import ray
        except ImportError:
            raise ExecutorError(
                "Ray is not installed: `pip install -r requirements-scale.txt`, or run without --ray"
            ) from None
        self.ray, self.run = ray, run
        if address and address != "auto":
            check_reachable(address)
        try:
            if address:
                ray.init(
                    address=address, ignore_reinit_error=True, logging_level="WARNING", log_to_driver=False
                )
            else:
                ray.init(
                    num_cpus=num_cpus,
                    ignore_reinit_error=True,
                    include_dashboard=False,
                    logging_level="WARNING",
                    log_to_driver=False,
                )
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise ExecutorError(
                f"Could not reach the Ray cluster at {address!r}: "
                f"{str(error).splitlines()[0] if str(error) else type(error).__name__}"
            ) from None

    def map(self, tasks: list[Task], context: TaskContext) -> Iterator[dict[str, Any]]:
        ray = self.ray
        gpus = (
            1
            if context.device.startswith("cuda")
            or (context.device == "auto" and ray.cluster_resources().get("GPU"))
            else 0
        )
        remote = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=0)(_run_on_ray)
        shared = ray.put(context.portable())
        pending = [remote.remote(task, shared, self.run) for task in tasks]
        by_ref = dict(zip(pending, tasks))
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                try:
                    yield ray.get(done[0])
                except (
                    ray.exceptions.RayError
                ) as error:  # a task that died: recorded as failed, the rest go on
                    yield failed_record(by_ref[done[0]], f"{type(error).__name__}: {error}")
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
