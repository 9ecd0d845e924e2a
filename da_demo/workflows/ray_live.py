"""Visitors' live runs as Ray tasks, for a class bigger than one machine: with ``DA_DEMO_RAY_ADDRESS``
set, each run is a Ray task on that cluster (one CPU, or one GPU where the cluster has them) that
runs ``live.live_run`` and streams its messages back as they are made (a Ray streaming generator).
A visitor's Stop reaches the task through a small flag actor, so a stopped run still evaluates and
saves what it learned, as it does in a local worker process.

    trainer = RayTrainer("ray://head:10001", Environment(data_dir="/data"))
    for kind, payload in trainer.run(request, stop): ...

The model file is written by the task, so the cluster's workers and the app must share the folder
``request.output`` lies in (one machine, or a shared file system).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from .executors import ExecutorError, check_reachable
from .live import Environment, LiveRequest, RunMessage, live_run
from .workers import WorkerSetup

RAY_ADDRESS_ENV = "DA_DEMO_RAY_ADDRESS"
STOP_POLL_STEPS = 5


class _StopBoard:
    """A Ray actor (one per app) holding the runs visitors stopped, by the run's token: set by the
    app, read by the training tasks."""

    def __init__(self) -> None:
        self.stopped: set[str] = set()

    def stop(self, token: str) -> None:
        self.stopped.add(token)

    def is_stopped(self, token: str) -> bool:
        return token in self.stopped

    def forget(self, token: str) -> None:
        self.stopped.discard(token)


_setup: WorkerSetup | None = None


def _live_run_task(request: LiveRequest, environment: Environment, board) -> Iterator[RunMessage]:
    """The Ray task: ``live_run`` with this worker's data (loaded once per worker process)."""
    import ray

    global _setup
    if _setup is None or _setup.environment.data_dir != environment.data_dir:
        _setup = WorkerSetup(environment)
    calls, token = [0], request.output

    def stopped() -> bool:  # asks the board every few steps, not every step
        calls[0] += 1
        return calls[0] % STOP_POLL_STEPS == 0 and ray.get(board.is_stopped.remote(token))

    yield from live_run(request, _setup.data(request.spec), environment, stopped)


class RayTrainer:
    """Live runs as Ray tasks on the cluster at ``address`` (None: a local Ray instance here)."""

    def __init__(self, address: str | None, environment: Environment, *, num_cpus: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise ExecutorError(
                f"{RAY_ADDRESS_ENV} is set but Ray is not installed: `pip install -r requirements-scale.txt`"
            ) from None
        if address and address != "auto":
            check_reachable(address)
        if not ray.is_initialized():
            options = {"address": address} if address else {"num_cpus": num_cpus, "include_dashboard": False}
            ray.init(ignore_reinit_error=True, logging_level="WARNING", log_to_driver=False, **options)
        gpus = 1 if environment.device.startswith("cuda") else 0
        self.ray, self.environment = ray, environment
        self._task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=0, num_returns="streaming")(
            _live_run_task
        )
        self._board = ray.remote(num_cpus=0)(_StopBoard).remote()
        resources = ray.cluster_resources()
        #: runs at once: one per GPU of the cluster, else one per CPU
        self.slots = max(1, int(resources.get("GPU") or resources.get("CPU", 1)))

    def run(self, request: LiveRequest, stop: threading.Event) -> Iterator[RunMessage]:
        ray, board, token = self.ray, self._board, request.output
        watching = threading.Event()

        def pass_stop_on() -> None:  # the visitor's Stop, passed on to the task through the board
            while not watching.wait(0.2):
                if stop is not None and stop.is_set():
                    board.stop.remote(token)
                    return

        threading.Thread(target=pass_stop_on, daemon=True, name="da-demo-ray-stop").start()
        finished = False
        try:
            for reference in self._task.remote(request, self.environment, board):
                try:
                    message = ray.get(reference)
                except ray.exceptions.RayError as error:
                    finished = True
                    yield RunMessage(
                        "failed", f"The training task on the cluster failed ({type(error).__name__})."
                    )
                    return
                finished = message.kind in ("done", "failed")
                yield message
        finally:
            watching.set()
            if not finished:
                board.stop.remote(token)  # a visitor who left stops the task too
