"""The sweep: train every method on every pair over a small grid of settings and seeds, scoring each
run with the label-free validators at evaluation points along the way.

A **trial** is a pure function of ``(pair, method, settings, seed)`` → one JSON record: the
settings, and at each evaluation point the validators' scores beside source- and target-test
accuracy (the latter for reporting and for judging the validators, never for choosing). Records
are appended to one file as trials finish, so an interrupted sweep resumes where it stopped, and
trials can run in any order, in any process (``executors``).

Each method declares its default grid next to its defaults (``Method.sweep_grid``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..artifacts.records import check_writable
from ..artifacts.schemas import SweepRecord, read_lines
from ..data import resolve_pair
from ..engine.spec import RunSpec
from ..engine.trainer import ProgressEvent
from ..methods import get_method
from .tasks import (
    EVAL_SAMPLES,
    BestSnapshots,
    GuardReader,
    Guards,
    Task,
    TaskContext,
    build_start_models,
    current,
    eval_every,
    run_recorded,
    without_record,
)

#: ``ended_early`` of a trial the search stopped at an evaluation point
PRUNED = "pruned"
DEFAULT_RECORDS = Path(__file__).resolve().parents[2] / "checkpoints" / "sweep.jsonl"


@dataclass(frozen=True)
class Trial(Task):
    """One run of the sweep: its key names the swept settings (``named``) and the seed."""

    @classmethod
    def of(cls, pair: str, method: str, settings: dict[str, Any], seed: int = 0) -> Trial:
        """A trial from names; ``settings`` override the method's defaults and name the trial."""
        return cls(RunSpec.resolve(pair, method, settings, seed=seed), tuple(sorted(settings)))

    def execute(self, context: TaskContext) -> dict[str, Any]:
        return self.train(context)

    def evaluation_interval(self) -> int:
        """Steps between the trial's evaluation points."""
        return eval_every(self.spec)

    def train(self, context: TaskContext, judge: Judge | None = None) -> dict[str, Any]:
        """Train, scoring every evaluation point; with ``context.snapshot_dir``, keep the model at
        each validator's best point, so a pick can ship without training it again. A ``judge``
        (the search's scheduler) hears every evaluation point and may end the run there. With
        ``context.resume_dir``, the training is saved as it goes and a trial cut short goes on from
        where it was saved (``workflows.resuming``)."""
        job = context.job(self.spec)
        guard = GuardReader(context, job)
        resume = context.resume_file(self, job)
        saved = resume.load() if resume else None
        points, best = (saved["points"], saved["best"]) if saved else ([], BestSnapshots())
        if saved and judge is not None:
            judge.restore(saved["judge"])
        last, pruned = None, False
        events = job.events(eval_every=self.evaluation_interval(), eval_samples=EVAL_SAMPLES, validate=True)
        for event in events:
            last = event
            if event.target_acc is not None:
                guards = guard.at(event)
                points.append(_point(event, guards))
                if context.snapshot_dir is not None:
                    best.offer(job, event)
                if judge is not None and judge.stops(event, guards):
                    pruned = True
                    events.close()
                    break
            if resume is not None:
                resume.offer(event, lambda: {"points": points, "best": best, "judge": judge.state() if judge else None})
        result = job.result or last
        fields = {
            "hyperparameters": self.spec.hparams.to_dict(),
            "points": points,
            "total_steps": self.spec.total_steps,
            "ended_early": PRUNED if pruned else (result.ended_early.value if result.ended_early else None),
            "train_seconds": round(result.train_seconds, 1),
            "data_fingerprint": job.pair.fingerprint,
            "start": self.spec.start.method.name if self.spec.start else None,
            # the collapse guard's reference: how evenly the source's own labels use the classes
            "source_class_entropy": guard.source_entropy,
            # the handwriting guard's reference: the pair's source-only model on the same digits
            "reference_drawn_acc": guard.reference_drawn_acc,
            "metrics": {} if pruned else {k: v for k, v in result.metrics.items() if k.endswith("_target_acc")},
            **({"resumed_at": job.run.resumed_at} if job.run.resumed_at else {}),
        }
        if context.snapshot_dir is not None and not pruned:  # a pruned run has no finished model to describe
            fields["snapshots"] = best.save_all(Path(context.snapshot_dir) / self.slug, job)
        if resume is not None:
            resume.remove()
        return fields


def _point(event: ProgressEvent, guards: Guards) -> dict[str, Any]:
    """One evaluation point of a trial's record."""
    return {
        "step": event.step,
        "source_acc": event.source_acc,
        "target_acc": event.target_acc,
        "validators": event.validators,
        "target_classes": event.target_classes,
        "drawn_acc": guards.drawn_acc,
    }


class Judge(Protocol):
    """What decides, at each evaluation point, whether a trial trains on (the search's scheduler)."""

    def stops(self, event: ProgressEvent, guards: Guards) -> bool:
        """Whether the run ends at this evaluation point (never at the last one, ``event.done``)."""

    def state(self) -> Any:
        """What a resumed trial's judge needs to go on judging (``restore``)."""

    def restore(self, state: Any) -> None:
        """Go on from ``state`` (``state()`` of the judge of the trial's earlier, interrupted run)."""


def grid_points(grid: dict[str, Iterable[Any]]) -> list[dict[str, Any]]:
    """The cartesian product of a grid: ``{"a": (1, 2), "b": (3,)}`` → ``[{a: 1, b: 3}, {a: 2, b: 3}]``."""
    names = sorted(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(tuple(grid[name]) for name in names))]


def plan_trials(
    pairs: list[str],
    methods: list[str],
    seeds: Iterable[int] = (0,),
    grid_overrides: dict[str, list[Any]] | None = None,
) -> list[Trial]:
    """Every trial of the sweep, each checked before anything trains: unknown pairs, methods or
    settings, an empty grid and values of the wrong type are ``ValueError``s that say which."""
    grid_overrides = dict(grid_overrides or {})
    for name, values in grid_overrides.items():
        if not values:
            raise ValueError(f"The grid for {name} is empty: give at least one value")
        if not any(name in get_method(method).hyperparameters_class.settings() for method in methods):
            raise ValueError(f"None of the chosen methods has a setting {name!r} to sweep")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("No seeds to run: give at least one")
    trials = []
    for pair in pairs:
        resolve_pair(pair)
        for method in methods:
            method_class = get_method(method)
            known = method_class.hyperparameters_class.settings()
            grid = {**method_class.sweep_grid, **{k: v for k, v in grid_overrides.items() if k in known}}
            for settings in grid_points(grid):
                for seed in seeds:
                    try:
                        spec = RunSpec.resolve(pair, method_class, settings, seed=seed)
                    except ValueError as error:
                        raise ValueError(f"{method} on {pair}, settings {settings}: {error}") from None
                    trials.append(Trial(spec, tuple(sorted(settings))))
    if not trials:
        raise ValueError("The sweep is empty: choose at least one pair and one method")
    return trials


def read_sweep(path: Path = DEFAULT_RECORDS) -> list[SweepRecord]:
    """The standing records of a sweep's records file: a trial run again (``refresh``) is its newest
    successful record."""
    return current(read_lines(path, SweepRecord))


def pending(trials: list[Trial], records_path: Path, refresh: bool = False) -> list[Trial]:
    """The trials without a successful record yet (failed ones are tried again); with ``refresh``,
    also those whose record predates the handwriting guard, so that the guard can judge them."""
    records = read_sweep(records_path)
    return without_record(trials, [record for record in records if record.guarded or not refresh])


def run_sweep(
    trials: list[Trial],
    records_path: Path,
    executor,
    *,
    context: TaskContext,
    log: Callable[[str], None] = print,
    refresh: bool = False,
) -> Iterator[dict[str, Any]]:
    """Run the trials not yet recorded in ``records_path`` (``pending``) on ``executor``, appending
    each record as it finishes and yielding it. Start models are built first, once, in this process."""
    records_path = check_writable(records_path)
    todo = pending(trials, records_path, refresh)
    log(
        f"{len(trials) - len(todo)} of {len(trials)} trials already recorded in {records_path}; {len(todo)} to run"
    )
    build_start_models(todo, context, log)
    yield from run_recorded(todo, records_path, executor, context)
