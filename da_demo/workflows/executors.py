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
        shared = TrialContext(
            context.data_dir,
            context.device,
            context.precision,
            context.snapshot_dir,
            starts=dict(context.starts),
        )
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
