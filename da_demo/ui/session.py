"""Per-visitor state, kept in ``gr.State`` (one per browser tab or API client), never at module level."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..data.shift import ShiftRecipe
from ..workflows.classroom import Seat
from ..workflows.shifting import VisitorDomain
from .zoo import ZooModel


@dataclass
class FinishedRun:
    """One of this visitor's live sessions, for comparing runs: target-test accuracy by step."""

    pair: str
    method: str
    label: str
    steps: list[int]
    target: list[float]
    #: the run's trained model (kept for every run of the session, so any can be chosen again)
    model: ZooModel | None = None
    number: int = 0
    #: the model's file, offered for download
    path: Path | None = None


@dataclass
class Session:
    #: the last digit the visitor drew, uploaded or picked, prepared as MNIST digits are (1, 28, 28)
    digit: torch.Tensor | None = None
    #: models this visitor trained in the Adapt tab: (pair, method) → model; only they see them
    trained: dict[tuple[str, str], ZooModel] = field(default_factory=dict)
    #: set by the Stop button; the running adaptation session checks it every step
    stop_signal: threading.Event | None = None
    #: what ``digit`` came from, in words ("your drawing", "your upload (seven.png)", ...)
    input_name: str = ""
    #: this visitor's finished live sessions, oldest first (at most ``MAX_RUNS``)
    runs: list[FinishedRun] = field(default_factory=list)
    #: settings a lesson step set up: (pair, method) → settings the Adapt tab shows over the pick's
    presets: dict[tuple[str, str], dict] = field(default_factory=dict)
    #: the visitor's seat in a class (``workflows.classroom``), once they joined one
    seat: Seat | None = None
    #: the class whose board this visitor watches (the one they joined, or opened as a teacher)
    class_code: str = ""
    #: what the board showed this visitor last (so the timer sends a picture only when it changed)
    board_key: tuple = ()
    #: the domain this visitor built last in the Shift tab (the pair menu's "your domain")
    recipe: ShiftRecipe | None = None
    #: its built test digits, made when another tab first shows that domain (``ui.domains``)
    domain: VisitorDomain | None = None

    MAX_RUNS = 8

    def add_run(self, run: FinishedRun) -> None:
        self.runs = [*self.runs, run][-self.MAX_RUNS :]

    def choose_run(self, number: int) -> FinishedRun | None:
        """Make run ``number``'s model the one this visitor's other tabs use for its method."""
        run = next((run for run in self.runs if run.number == number and run.model is not None), None)
        if run is not None:
            self.trained[(run.pair, run.method)] = run.model
        return run

    def close(self) -> None:
        """The visitor has left: stop their run and let their models go."""
        if self.stop_signal is not None:
            self.stop_signal.set()
        self.trained.clear()
        self.runs.clear()
        self.digit = None
        self.domain = None

    def own_models(self, pair: str) -> list[ZooModel]:
        return [model for (model_pair, _), model in self.trained.items() if model_pair == pair]
