"""A search that can afford long runs: successive halving over a method's grid of settings.

Every trial of the grid is set to run the full budget (``max_steps``), with its learning-rate and
weight schedules laid out over that budget, and is scored at **rungs**: ``min_steps``,
``min_steps·η``, ``min_steps·η²``, ... (η the reduction factor). At each rung, a trial trains on
only if its label-free **promotion score** is among the best ``1/η`` of the scores other trials had
at that rung; the rest stop there (*pruned*). The slow methods then get their papers' 10,000+
steps where it counts, for a fraction of the full grid's compute.

The scheduler is Optuna's ``SuccessiveHalvingPruner`` (asynchronous successive halving, ASHA): it
decides from inside our own training loop, so trials run on the sweep's executors (local processes
or Ray) unchanged, and its study lives in an append-only JSON-lines journal beside the records
(``<records>.optuna.jsonl``): an interrupted search resumes with every earlier decision. (Ray Tune's
ASHA would have needed its own trial runner and checkpoints instead of ours; on a Ray cluster that
spans machines, the journal must sit on a shared filesystem.)

The promotion score is one of the validators an evaluation point carries (``validators.VALIDATORS``),
behind the selection's two guards: a trial whose target predictions have collapsed, or that reads
drawn-style digits more than ``validators.HANDWRITING_MARGIN`` worse than the source-only model, scores −∞
and is pruned at the next rung. No target label is read. Each trial ends in an ordinary sweep record (key prefixed
``search/``), so ``select`` and ``pretrain`` read a search's trials like any other; a pruned trial's
record says ``ended_early: "pruned"`` and keeps the points it reached.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..artifacts.schemas import SweepRecord
from ..engine.trainer import ProgressEvent
from ..methods import get_method
from ..reporting import format_markdown
from ..validators import VALIDATORS
from .resuming import saved_step
from .sweep import PRUNED, Trial, plan_trials, run_sweep
from .tasks import Guards, TaskContext

OPTUNA_MISSING = "The search needs Optuna: `pip install -r requirements-search.txt`"


def _optuna():
    try:
        import optuna
    except ImportError:
        raise ValueError(OPTUNA_MISSING) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


@dataclass(frozen=True)
class Halving:
    """The scheduler's settings (``--scheduler NAME=VALUE``), checked before anything trains."""

    #: the first rung, and the steps between evaluation points
    min_steps: int = 500
    #: η: each rung keeps the best 1/η of the trials that reached it
    reduction_factor: int = 3
    #: the label-free score trials are promoted on (behind the collapse guard)
    promote_by: str = "information_maximization"

    OPTIONS: ClassVar[tuple[str, ...]] = ("min_steps", "reduction_factor", "promote_by")

    @classmethod
    def from_options(cls, options: dict[str, str]) -> Halving:
        unknown = sorted(set(options) - set(cls.OPTIONS))
        if unknown:
            raise ValueError(
                f"Unknown scheduler option {', '.join(map(repr, unknown))}; the search takes: {', '.join(cls.OPTIONS)}"
            )
        values: dict[str, Any] = dict(options)
        for name in ("min_steps", "reduction_factor"):
            if name in values:
                try:
                    values[name] = int(values[name])
                except ValueError:
                    raise ValueError(f"Scheduler option {name} must be a whole number, got {values[name]!r}") from None
        halving = cls(**values)
        if halving.min_steps < 1:
            raise ValueError(f"Scheduler option min_steps must be at least 1, got {halving.min_steps}")
        if halving.reduction_factor < 2:
            raise ValueError(
                f"Scheduler option reduction_factor must be at least 2 (each rung keeps 1/η), got {halving.reduction_factor}"
            )
        if halving.promote_by not in VALIDATORS:
            raise ValueError(
                f"Trials can be promoted by a validator each evaluation point scores ({', '.join(VALIDATORS)}), "
                f"not {halving.promote_by!r}"
            )
        return halving

    def rungs(self, max_steps: int) -> list[int]:
        """The steps where trials are judged (those before the end of training)."""
        rungs, step = [], self.min_steps
        while step < max_steps:
            rungs.append(step)
            step *= self.reduction_factor
        return rungs

    def pruner(self):
        return _pruner_without_earlier_runs(
            _optuna().pruners.SuccessiveHalvingPruner(min_resource=self.min_steps, reduction_factor=self.reduction_factor)
        )

    def describe(self) -> str:
        return f"min {self.min_steps} steps, η {self.reduction_factor}, promoted by {self.promote_by}"


def _pruner_without_earlier_runs(halving):
    """``halving`` (Optuna's successive-halving pruner), judging each trial against the other
    settings only. A trial an interrupted search left running is failed when the search resumes and
    runs again from the start under the same key; the first run's rung scores stay in the journal,
    and the rerun must not compete with them: they are its own, with last digits that differ when
    the thread count does (one such rerun was pruned by its own first run, 2.23676 against 2.23681)."""
    optuna = _optuna()

    class WithoutEarlierRuns(optuna.pruners.BasePruner):
        def prune(self, study, trial) -> bool:
            return halving.prune(_StudyWithoutEarlierRuns(study, trial), trial)

    return WithoutEarlierRuns()


class _StudyWithoutEarlierRuns:
    """``study`` as the pruner sees it while judging ``trial``: the other runs of the same task left out."""

    def __init__(self, study, trial) -> None:
        self._study, self._trial = study, trial

    def get_trials(self, deepcopy: bool = True, states=None) -> list:
        key, number = self._trial.user_attrs.get("key"), self._trial.number
        trials = self._study.get_trials(deepcopy=deepcopy, states=states)
        return [t for t in trials if t.number == number or key is None or t.user_attrs.get("key") != key]

    def __getattr__(self, name: str):
        return getattr(self._study, name)


def promotion_score(event: ProgressEvent, promote_by: str, guards: Guards) -> float:
    """The score ``event``'s model is promoted on: its validator's score, or −∞ when the selection's
    guards reject it (collapsed target predictions, or drawn-style digits read more than the margin
    worse than the source-only model reads them), or the score is missing or not finite."""
    score = event.validators.get(promote_by)
    if score is None or not math.isfinite(score):
        return -math.inf
    return -math.inf if guards.reject(event) else float(score)


@dataclass(frozen=True)
class SearchTrial(Trial):
    """A sweep trial under the search's scheduler: evaluated every ``min_steps``, and stopped at a
    rung where its promotion score is not among the best (``journal``: the study's file)."""

    halving: Halving = Halving()
    journal: str = ""
    study: str = ""
    prefix: ClassVar[str] = "search"

    def evaluation_interval(self) -> int:
        return self.halving.min_steps

    def execute(self, context: TaskContext) -> dict[str, Any]:
        with _OptunaJudge.open(self) as judge:
            fields = self.train(context, judge)
            judge.pruned = fields["ended_early"] == PRUNED
            return fields


class _OptunaJudge:
    """One Optuna trial bound to a ``SearchTrial``: reports each evaluation point's promotion score
    and asks the pruner whether to go on; told the outcome when the run ends."""

    def __init__(self, task: SearchTrial) -> None:
        optuna = _optuna()
        self.optuna, self.promote_by = optuna, task.halving.promote_by
        self.study = optuna.load_study(
            study_name=task.study,
            storage=_storage(task.journal),
            sampler=optuna.samplers.RandomSampler(seed=0),
            pruner=task.halving.pruner(),
        )
        # the pruner needs no parameters: the trial is named by its task's key (the settings are in the records)
        self.trial = self.study.ask()
        self.trial.set_user_attr("key", task.key)
        self.score, self.pruned = -math.inf, False
        #: every (step, score) reported, for a resumed run of the trial (``restore``)
        self.reports: list[tuple[int, float]] = []

    @classmethod
    @contextlib.contextmanager
    def open(cls, task: SearchTrial) -> Iterator[_OptunaJudge]:
        judge = cls(task)
        state = judge.optuna.trial.TrialState
        try:
            yield judge
        except BaseException:
            judge.study.tell(judge.trial, state=state.FAIL)
            raise
        if judge.pruned:
            judge.study.tell(judge.trial, state=state.PRUNED)
        else:
            judge.study.tell(judge.trial, judge.score if math.isfinite(judge.score) else -1e30)

    def stops(self, event: ProgressEvent, guards: Guards) -> bool:
        self.score = promotion_score(event, self.promote_by, guards)
        self._report(event.step, self.score if math.isfinite(self.score) else -1e30)
        return not event.done and self.trial.should_prune()

    def _report(self, step: int, value: float) -> None:
        self.trial.report(value, step)
        self.reports.append((step, value))

    def state(self) -> list[tuple[int, float]]:
        return list(self.reports)

    def restore(self, state: list[tuple[int, float]]) -> None:
        """Report the interrupted run's scores again, asking the pruner at each as that run did, so
        this trial holds the rungs it had passed; the decisions it made then stand (ASHA never takes
        a promotion back)."""
        for step, value in state:
            self._report(step, value)
            self.trial.should_prune()


def _storage(journal: str):
    optuna = _optuna()
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal))


def journal_of(records: Path) -> Path:
    """The search's Optuna journal beside its records file."""
    return records.with_name(records.stem + ".optuna.jsonl")


def plan_search(
    pair: str,
    method: str,
    grid: dict[str, list[Any]],
    max_steps: int,
    halving: Halving,
    records: Path,
    seed: int = 0,
) -> list[SearchTrial]:
    """The search's trials, every one checked before anything trains: the grid as the sweep checks
    it, plus a budget of at least one rung and a grid the scheduler can rank."""
    if not get_method(method).trained_by_steps:
        raise ValueError(
            f"{method} is fitted in stages, not trained by steps: successive halving has no steps to cut"
        )
    trials = plan_trials([pair], [method], [seed], {**grid, "steps": [max_steps]})
    if not halving.rungs(max_steps):
        raise ValueError(
            f"A budget of {max_steps} steps is below one evaluation (min_steps={halving.min_steps}): "
            "give more steps or a smaller min_steps"
        )
    if len(trials) < halving.reduction_factor:
        raise ValueError(
            f"A grid of {len(trials)} setting(s) is too small to rank: each rung keeps the best "
            f"1/{halving.reduction_factor}, so give at least {halving.reduction_factor} settings "
            "(or a smaller reduction_factor)"
        )
    study = f"{pair}/{method}/{max_steps} steps/{halving.describe()}"
    journal = str(journal_of(records))
    return [SearchTrial(trial.spec, trial.named, halving, journal, study) for trial in trials]


def run_search(
    trials: list[SearchTrial],
    records: Path,
    executor,
    *,
    context: TaskContext,
    log: Callable[[str], None] = print,
) -> Iterator[dict[str, Any]]:
    """Run the search's trials not yet recorded, appending each record as it finishes. A trial that
    an earlier, interrupted search left running is marked failed in the study first."""
    optuna = _optuna()
    first = trials[0]
    study = optuna.create_study(
        study_name=first.study,
        storage=_storage(first.journal),
        direction="maximize",
        load_if_exists=True,
    )
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
    rungs = ", ".join(map(str, first.halving.rungs(first.spec.total_steps)))
    log(f"search: {first.halving.describe()}; rungs at {rungs} steps")
    yield from run_sweep(trials, records, executor, context=context, log=log)


@dataclass(frozen=True)
class SearchSummary:
    """What a search trained, against what the full grid of the same trials would have."""

    table: str
    steps_trained: int
    steps_full_grid: int
    seconds_trained: float
    #: each trial's seconds per step times the full budget: what the grid without pruning would cost
    seconds_full_grid: float
    pick: SweepRecord | None
    #: trials with a record, of the grid's: the comparison covers those
    trials_run: int = 0
    trials: int = 0

    def text(self) -> str:
        saved = 1 - self.seconds_trained / self.seconds_full_grid if self.seconds_full_grid else 0.0
        lines = [
            self.table,
            "",
            f"steps trained: {self.steps_trained:,} of the full grid's {self.steps_full_grid:,} "
            f"({100 * self.steps_trained / max(self.steps_full_grid, 1):.0f}%)",
            f"training time: {self.seconds_trained:,.0f} s against about {self.seconds_full_grid:,.0f} s "
            f"for the full grid ({100 * saved:.0f}% saved)",
        ]
        if self.trials_run < self.trials:
            lines.append(f"{self.trials_run} of the grid's {self.trials} trials have run: the comparison covers those")
        if self.pick is not None:
            lines.append(f"best promotion score at the full budget: {self.pick.key}")
        return "\n".join(lines)


def summarize(trials: list[SearchTrial], records: list[SweepRecord], resume_dir: Path | None = None) -> SearchSummary:
    """The search's trials as a table (from their records), and its compute against the full grid's;
    a trial without a record whose training is saved in ``resume_dir`` says where it resumes."""
    by_key = {record.key: record for record in records if record.ok}
    halving, max_steps = trials[0].halving, trials[0].spec.total_steps
    columns = ["settings", "steps trained", "ended", f"{halving.promote_by} (last point)",
               "target acc % (reported, never used)", "train s"]  # fmt: skip
    rows, steps, seconds, full, finished, ran = [], 0, 0.0, 0.0, [], 0
    for trial in trials:
        record = by_key.get(trial.key)
        if record is None or not record.points:
            step = saved_step(resume_dir, trial.slug)
            ended = "not run yet" if step is None else f"cut short: resumes at step {step:,}"
            rows.append([_settings_text(trial.settings), "—", ended, "—", "—", "—"])
            continue
        last = record.points[-1]
        reached, ran = last.step, ran + 1
        steps += reached
        seconds += record.train_seconds or 0.0
        full += (record.train_seconds or 0.0) * max_steps / max(reached, 1)
        score = last.validators.get(halving.promote_by)
        if record.ended_early != PRUNED and reached == max_steps:
            finished.append((score if score is not None else -math.inf, record))
        rows.append(
            [
                _settings_text(trial.settings),
                f"{reached:,}",
                f"pruned at {reached:,}" if record.ended_early == PRUNED else (record.ended_early or "full budget"),
                "—" if score is None else f"{score:.4f}",
                f"{100 * last.target_acc:.2f}" if last.target_acc is not None else "—",
                f"{record.train_seconds or 0:.0f}",
            ]
        )
    pick = max(finished, key=lambda item: item[0])[1] if finished else None
    return SearchSummary(format_markdown(columns, rows), steps, max_steps * ran, seconds, full, pick, ran, len(trials))


def _settings_text(settings: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"
                     for name, value in settings.items() if name != "steps")  # fmt: skip
