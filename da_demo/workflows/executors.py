"""Where sweep and pretraining trials run. An executor's ``map(trials, context)`` yields each trial's
record as it finishes (in any order); the caller appends it to the records file.

* ``LocalExecutor``: one after another in this process (the default; resumable through the records).
* ``ProcessExecutor``: ``workers`` processes on this machine, each with its own torch threads and
  its own copy of the data (loaded once per process).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from .sweep import Trial, TrialContext, run_trial

RunTrial = Callable[[Trial, TrialContext], dict[str, Any]]


class LocalExecutor:
    """Trials one after another in this process."""

    name = "local"

    def __init__(self, run: RunTrial = run_trial) -> None:
        self.run = run

    def map(self, trials: list[Trial], context: TrialContext) -> Iterator[dict[str, Any]]:
        for trial in trials:
            yield self.run(trial, context)


_worker_context: TrialContext | None = None


def _init_worker(context: TrialContext, threads: int) -> None:
    global _worker_context
    import torch

    torch.set_num_threads(threads)
    _worker_context = context


def _run_in_worker(trial: Trial, run: RunTrial) -> dict[str, Any]:
    return run(trial, _worker_context)


class ProcessExecutor:
    """Trials in ``workers`` processes at once, ``threads`` torch threads each. Ctrl-C cancels the
    trials not yet started; finished ones are already recorded."""

    name = "processes"

    def __init__(self, workers: int, threads: int = 1, run: RunTrial = run_trial) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers, self.threads, self.run = workers, threads, run

    def map(self, trials: list[Trial], context: TrialContext) -> Iterator[dict[str, Any]]:
        spawn = multiprocessing.get_context("spawn")
        # the workers get the start models the main process built, not the data (each loads its own)
        shared = context.portable()
        pool = ProcessPoolExecutor(
            self.workers, mp_context=spawn, initializer=_init_worker, initargs=(shared, self.threads)
        )
        try:
            running = {pool.submit(_run_in_worker, trial, self.run) for trial in trials}
            while running:
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class ExecutorError(RuntimeError):
    """An executor cannot be used (Ray missing, a cluster unreachable); the message says what to do."""


_ray_context: TrialContext | None = None


def _run_on_ray(trial: Trial, context: TrialContext, run: RunTrial) -> dict[str, Any]:
    """A Ray task: the worker process keeps its data between trials (loaded once per pair)."""
    global _ray_context
    if _ray_context is None or (_ray_context.data_dir, _ray_context.device) != (
        context.data_dir,
        context.device,
    ):
        _ray_context = context
    return run(trial, _ray_context)


def _check_reachable(address: str, seconds: float = 3.0) -> None:
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
        self, address: str | None = None, *, num_cpus: int | None = None, run: RunTrial = run_trial
    ) -> None:
        try:
            import ray
        except ImportError:
            raise ExecutorError(
                "Ray is not installed: `pip install -r requirements-scale.txt`, or run without --ray"
            ) from None
        self.ray, self.run = ray, run
        if address and address != "auto":
            _check_reachable(address)
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

    def map(self, trials: list[Trial], context: TrialContext) -> Iterator[dict[str, Any]]:
        ray = self.ray
        gpus = (
            1
            if context.device.startswith("cuda")
            or (context.device == "auto" and ray.cluster_resources().get("GPU"))
            else 0
        )
        task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=0)(_run_on_ray)
        shared = ray.put(context.portable())
        pending = [task.remote(trial, shared, self.run) for trial in trials]
        keys = {ref: trial.key for ref, trial in zip(pending, trials)}
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                try:
                    yield ray.get(done[0])
                except (
                    ray.exceptions.RayError
                ) as error:  # a task that died: recorded as failed, the rest go on
                    trial_key = keys[done[0]]
                    yield {
                        "key": trial_key,
                        "status": "failed",
                        "error": f"{type(error).__name__}: {error}"[:500],
                        "pair": trial_key.split("/")[0],
                        "method": trial_key.split("/")[1],
                    }
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
