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

import hashlib
import itertools
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..artifacts.checkpoints import Checkpoint, save_checkpoint
from ..artifacts.records import append_record, check_writable, read_records
from ..artifacts.store import ModelStore
from ..data import cache_dir, resolve_pair
from ..data.drawn_digits import drawn_digits
from ..data.pairs import DomainPair, load_pair
from ..methods import get_method, method_names
from .training import TrainingJob, code_version, find_start_model

#: evaluation points per trial (the last one is the end of training)
EVAL_POINTS = 6
#: test images per domain at the intermediate points (the final point uses the full test sets):
#: reported beside the validators, never used to choose
EVAL_SAMPLES = 1000
DEFAULT_RECORDS = Path(__file__).resolve().parents[2] / "checkpoints" / "sweep.jsonl"


@dataclass(frozen=True)
class Trial:
    """One run of the sweep. ``settings`` are overrides of the method's defaults for the pair."""

    pair: str
    method: str
    settings: tuple[tuple[str, Any], ...]
    seed: int = 0

    @classmethod
    def of(cls, pair: str, method: str, settings: dict[str, Any], seed: int = 0) -> Trial:
        return cls(pair, method, tuple(sorted(settings.items())), seed)

    @property
    def key(self) -> str:
        """A stable name: the same trial always has the same key, in any process."""
        return f"{self.pair}/{self.method}/{json.dumps(dict(self.settings), sort_keys=True)}/seed{self.seed}"

    @property
    def slug(self) -> str:
        return hashlib.sha256(self.key.encode()).hexdigest()[:12]


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
                try:
                    hparams = method_class.hyperparameters_for(pair, settings)
                except ValueError as error:
                    raise ValueError(f"{method} on {pair}, settings {settings}: {error}") from None
                typed = {name: getattr(hparams, name) for name in settings}  # "16" from a command line → 16
                trials += [Trial.of(pair, method, typed, seed) for seed in seeds]
    if not trials:
        raise ValueError("The sweep is empty: choose at least one pair and one method")
    return trials


def eval_every(method_class, total_steps: int) -> int:
    """Steps between evaluation points: ``EVAL_POINTS`` along a trained run; a fitted method is
    scored once it is fitted (its intermediate stages are not models anyone would ship)."""
    return max(1, total_steps // EVAL_POINTS) if method_class.trained_by_steps else total_steps


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: a diverged score is recorded as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


@dataclass
class TrialContext:
    """What a process needs to run trials: the pairs' data (loaded once) and the start models."""

    data_dir: str | None = None
    device: str = "auto"
    precision: str = "auto"
    snapshot_dir: Path | None = None
    pairs: dict[str, DomainPair] = field(default_factory=dict)
    starts: dict[tuple[str, str], Checkpoint] = field(default_factory=dict)
    #: send the loaded pairs along to other processes (for data that cannot be loaded by name there)
    share_data: bool = False
    checks: dict[str, Any] = field(default_factory=dict)

    def check(self, name: str):
        """The drawn-digits check set of the pair's source test set (built once)."""
        if name not in self.checks:
            self.checks[name] = drawn_digits(self.pair(name).source_test)
        return self.checks[name]

    def portable(self) -> TrialContext:
        """What another process gets: settings and start models, and the data only if ``share_data``."""
        return TrialContext(
            self.data_dir,
            self.device,
            self.precision,
            self.snapshot_dir,
            pairs=dict(self.pairs) if self.share_data else {},
            starts=dict(self.starts),
            share_data=self.share_data,
        )

    def pair(self, name: str) -> DomainPair:
        if name not in self.pairs:
            self.pairs[name] = load_pair(name, self.data_dir)
        return self.pairs[name]

    def start(self, pair: str, method: str, log: Callable[[str], None] = lambda line: None) -> Checkpoint:
        """The model trials of ``pair`` start from: ``method`` trained with its defaults, seed 0, on the
        pair's training split (never the shipped file, which may have seen the validation split)."""
        if (pair, method) not in self.starts:
            self.starts[pair, method] = find_start_model(
                self.pair(pair),
                method,
                seed=0,
                device=self.device,
                precision=self.precision,
                store=ModelStore(directory=cache_dir() / "no-shipped-models", use_hub=False),
                log=log,
            )
        return self.starts[pair, method]


def run_trial(
    trial: Trial, context: TrialContext, log: Callable[[str], None] = lambda line: None
) -> dict[str, Any]:
    """Train one trial and return its record. A trial that raises is recorded as failed, with its error.

    With ``context.snapshot_dir``, the model at each validator's best point is kept, so a pick can
    ship without training it again."""
    started = time.perf_counter()
    record: dict[str, Any] = {
        "key": trial.key,
        "pair": trial.pair,
        "method": trial.method,
        "settings": dict(trial.settings),
        "seed": trial.seed,
        "code_version": code_version(),
    }
    try:
        pair = context.pair(trial.pair)
        method_class = get_method(trial.method)
        hparams = method_class.hyperparameters_for(trial.pair, dict(trial.settings))
        start_method = method_class.warm_start_from(hparams)
        start = context.start(trial.pair, start_method, log) if start_method else None
        job = TrainingJob(
            pair,
            trial.method,
            hparams,
            seed=trial.seed,
            device=context.device,
            precision=context.precision,
            start=start,
        )
        total = method_class.total_steps(hparams)
        points, best = [], {}
        for event in job.events(
            eval_every=eval_every(method_class, total), eval_samples=EVAL_SAMPLES, validate=True
        ):
            if event.target_acc is None:
                continue
            points.append(
                {
                    "step": event.step,
                    "source_acc": event.source_acc,
                    "target_acc": event.target_acc,
                    "validators": event.validators,
                }
            )
            if context.snapshot_dir is not None:
                _keep_best(job, event, best)
        result = job.result
        record.update(
            status="ok",
            hyperparameters=hparams.to_dict(),
            points=points,
            total_steps=total,
            ended_early=result.ended_early.value if result.ended_early else None,
            train_seconds=round(result.train_seconds, 1),
            data_fingerprint=pair.fingerprint,
            start=start.method if start else None,
            metrics={k: v for k, v in result.metrics.items() if k.endswith("_target_acc")},
        )
        if context.snapshot_dir is not None:
            record["snapshots"] = _write_snapshots(trial, job, best, context.snapshot_dir)
    except Exception as error:  # noqa: BLE001 - a failed trial is recorded and the sweep goes on
        record.update(status="failed", error=f"{type(error).__name__}: {error}")
    record["wall_seconds"] = round(time.perf_counter() - started, 1)
    record["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return _finite(record)


def _keep_best(job: TrainingJob, event, best: dict) -> None:
    """Remember the model at this point for every validator whose best score it is so far."""
    snapshot = None
    for name, score in event.validators.items():
        if score is not None and math.isfinite(score) and (name not in best or score > best[name][0]):
            snapshot = snapshot or job.snapshot()
            best[name] = (score, event.step, snapshot)


def _write_snapshots(trial: Trial, job: TrainingJob, best: dict, directory: Path) -> dict[str, Any]:
    written = {}
    for name, (_, step, (classifier, extras)) in best.items():
        path = Path(directory) / trial.slug / f"{name}.safetensors"
        metadata = {**job.metadata(), "steps": step, "picked_by": name}
        save_checkpoint(path, classifier, metadata, extras, half_precision=True)
        written[name] = {"step": step, "file": str(path.relative_to(directory))}
    return written


def pending(trials: list[Trial], records_path: Path) -> list[Trial]:
    """The trials without a successful record yet (failed ones are tried again)."""
    done = {record["key"] for record in read_records(records_path) if record.get("status") == "ok"}
    return [trial for trial in trials if trial.key not in done]


def start_methods(trials: list[Trial]) -> list[tuple[str, str]]:
    """The (pair, method) start models the trials need, in the order to build them."""
    needed = []
    for trial in trials:
        method_class = get_method(trial.method)
        start = method_class.warm_start_from(
            method_class.hyperparameters_for(trial.pair, dict(trial.settings))
        )
        if start and (trial.pair, start) not in needed:
            needed.append((trial.pair, start))
    return sorted(needed, key=lambda item: (item[0], method_names().index(item[1])))


def run_sweep(
    trials: list[Trial],
    records_path: Path,
    executor,
    *,
    context: TrialContext,
    log: Callable[[str], None] = print,
) -> Iterator[dict[str, Any]]:
    """Run the trials not yet recorded in ``records_path`` on ``executor``, appending each record as
    it finishes and yielding it. Start models are built first, once, in this process."""
    records_path = check_writable(records_path)
    todo = pending(trials, records_path)
    log(
        f"{len(trials) - len(todo)} of {len(trials)} trials already recorded in {records_path}; {len(todo)} to run"
    )
    for pair, method in start_methods(todo):
        context.start(pair, method, log)
    for record in executor.map(todo, context):
        append_record(records_path, record)
        yield record
