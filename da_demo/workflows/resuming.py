"""Long tasks that outlive their process: a task's training saved as it goes, resumed where it stopped.

A sweep or search trial, or a pretraining seed, of 10,000 steps on MNIST-M takes hours on a 2-core CPU, longer than a
working session; without this, a trial cut short starts again from step 0. Every ``every`` seconds
(at an event, between two steps) the run's whole state (``engine.runs.Run.state``: the method with
its networks, optimizers and counters, the loop's position and batch draws, the random state) and
the task's own progress (its evaluation points, best snapshots, the scheduler's reports) go to one
file named after the task's key; the next run of the same task loads it and goes on from that step.
The file is removed when the task finishes.

The file is a pickle (``torch.save`` of live objects), read back only from the directory this
program wrote it to (``cache_dir()/resume`` by default), never from elsewhere. Beside it, a small
JSON file says which task it is and the step it holds (``saved_step``), so ``--dry-run`` and the
search's summary can say where a long trial will resume without loading it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..data import cache_dir, whole_file
from ..engine.trainer import ProgressEvent
from .training import TrainingJob, code_version

#: seconds of training between two saves of a running trial
RESUME_EVERY = 600.0
LOG = logging.getLogger("da_demo.workflows")


def resume_directory() -> Path:
    """Where the command line's sweeps, searches and pretraining save running tasks."""
    return cache_dir() / "resume"


def saved_step(directory: Path | None, slug: str) -> int | None:
    """The step the saved training of the task named ``slug`` (``Task.slug``) holds, if any."""
    if directory is None:
        return None
    try:
        return int(json.loads((Path(directory) / f"{slug}.json").read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def set_aside(directory: Path | None, slug: str) -> None:
    """Keep the saved training of a task that failed from being resumed (its next run starts from
    step 0: a state that led to a failure, e.g. saved by code that has changed since, is not trusted);
    the file stays as ``<slug>.failed`` to look at."""
    if directory is None:
        return
    saved = Path(directory) / f"{slug}.pt"
    if saved.is_file():
        saved.replace(saved.with_suffix(".failed"))
    (Path(directory) / f"{slug}.json").unlink(missing_ok=True)


class ResumeFile:
    """Where one task's training (``job``) is saved while it runs: ``path``, every ``every`` seconds
    (default ``RESUME_EVERY``); ``key`` names the task in the JSON beside it."""

    def __init__(self, path: Path, job: TrainingJob, key: str, every: float | None = None) -> None:
        self.path, self.job, self.key = Path(path), job, key
        self.every = RESUME_EVERY if every is None else every
        self.saved_at = time.monotonic()

    @property
    def summary_path(self) -> Path:
        return self.path.with_suffix(".json")

    def load(self) -> dict[str, Any] | None:
        """Resume ``job`` from the saved state, if there is one, and return the task's progress saved
        with it (None: start from step 0). A file that cannot be read is set aside, not trusted."""
        if not self.path.is_file():
            return None
        try:
            saved = torch.load(self.path, map_location=self.job.run.device, weights_only=False)
            self.job.run.resume(saved["run"])
        except Exception as error:  # noqa: BLE001 - a half-written or foreign file: start afresh
            self.path.replace(self.path.with_suffix(".unreadable"))
            self.summary_path.unlink(missing_ok=True)
            LOG.warning("%s: could not resume (%s: %s); starting from step 0", self.path.name, type(error).__name__, error)
            return None
        return saved["task"]

    def due(self) -> bool:
        return time.monotonic() - self.saved_at >= self.every

    def offer(self, event: ProgressEvent, task_progress: Callable[[], dict[str, Any]]) -> None:
        """Save at ``event`` if a save is due (never at the final event: the task is about to end)."""
        if not event.done and self.due():
            self.save(task_progress())

    def save(self, task_progress: dict[str, Any]) -> None:
        """Write the run's state and ``task_progress`` (atomically: a process killed while writing
        leaves the previous file)."""
        state = {"run": self.job.run.state(), "task": task_progress, "code_version": code_version()}
        with whole_file(self.path) as partial:
            torch.save(state, partial)
        position = self.job.run.position
        summary = {"key": self.key, "step": position.step, "train_seconds": round(position.train_seconds, 1),
                   "saved": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}  # fmt: skip
        with whole_file(self.summary_path) as partial:
            partial.write_text(json.dumps(summary))
        self.saved_at = time.monotonic()

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        self.summary_path.unlink(missing_ok=True)
