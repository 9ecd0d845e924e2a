"""What a sweep trial and a pretraining seed have in common: a task has a key and runs to one record.

* ``Task``: a resolved ``RunSpec`` plus the names of the settings that tell tasks apart (its key);
  ``sweep.Trial`` and ``pretrain.PretrainTask`` add what they do with the trained run.
* ``run_task``: the one runner every executor calls: the record's common fields, the time taken,
  and a failure recorded (never raised) so the other tasks go on (its saved training, if any, set
  aside: a failed task starts afresh). ``failed_record`` is the same record for a task whose worker
  died (local process or Ray), with the task's own pair and method (its saved training kept).
* ``TaskContext``: what a process needs to run tasks: the pairs' data (loaded once per process) and
  the start models (built once, in the main process, by ``build_start_models``).
* ``BestSnapshots``: the model at each validator's best evaluation point, kept while training.
* ``without_record`` and ``run_recorded``: what a resumable records file still lacks, and running
  it there (each record appended as its task finishes).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..artifacts.checkpoints import Checkpoint, save_checkpoint
from ..artifacts.records import append_record
from ..artifacts.store import ModelStore
from ..data import cache_dir
from ..data.drawn_digits import drawn_digits
from ..data.pairs import DomainPair, load_pair
from ..engine.evaluation import evaluate
from ..engine.spec import RunSpec
from ..engine.trainer import ProgressEvent
from ..validators import class_entropy, classes_from_text, collapsed, unreadable
from .resuming import ResumeFile, set_aside
from .training import TrainingJob, code_version, find_start_model, restore_start_model

#: evaluation points per trained run (the last one is the end of training)
EVAL_POINTS = 6
#: test images per domain at the intermediate points (the final point uses the full test sets):
#: reported beside the validators, never used to choose
EVAL_SAMPLES = 1000


@dataclass(frozen=True)
class Task:
    """One run to a record: ``spec`` (resolved once, where the task was planned) and the names of
    the settings that tell it apart from its siblings, which go into its key."""

    spec: RunSpec
    named: tuple[str, ...] = ()
    #: the key's first part: what kind of task this is
    prefix: ClassVar[str] = ""

    @property
    def pair(self) -> str:
        return self.spec.pair.name

    @property
    def method(self) -> str:
        return self.spec.method.name

    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def settings(self) -> dict[str, Any]:
        return self.spec.typed(sorted(self.named))

    @property
    def key(self) -> str:
        """A stable name: the same task always has the same key, in any process. The backbone is
        part of it: a pair whose backbone changes starts its trials afresh, its earlier ones kept."""
        parts = [
            self.prefix,
            self.pair,
            self.method,
            json.dumps(self.settings, sort_keys=True),
            self.spec.backbone,
            *self.key_extra(),
        ]
        return "/".join(part for part in parts if part) + f"/seed{self.seed}"

    def key_extra(self) -> list[str]:
        return []

    @property
    def slug(self) -> str:
        """A short file name for what this task writes."""
        return hashlib.sha256(self.key.encode()).hexdigest()[:12]

    def header(self) -> dict[str, Any]:
        """The fields every record of this task has, finished or failed."""
        return {
            "key": self.key,
            "pair": self.pair,
            "method": self.method,
            "seed": self.seed,
            "settings": self.settings,
            "backbone": self.spec.backbone,
        }

    def execute(self, context: TaskContext) -> dict[str, Any]:
        """Run, returning the record's own fields (raise to fail)."""
        raise NotImplementedError


def run_task(task: Task, context: TaskContext) -> dict[str, Any]:
    """Run one task to its record; a task that raises is recorded as failed, with its error."""
    started = time.perf_counter()
    record = {**task.header(), "code_version": code_version()}
    try:
        record.update(status="ok", **task.execute(context))
    except Exception as error:  # noqa: BLE001 - a failed task is recorded and the others go on
        record.update(status="failed", error=f"{type(error).__name__}: {error}")
        set_aside(context.resume_dir, task.slug)  # tried again, it starts afresh
    record["wall_seconds"] = round(time.perf_counter() - started, 1)
    record["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return finite(record)


def failed_record(task: Task, error: str) -> dict[str, Any]:
    """The record of a task that never returned one (its worker died): its own pair and method."""
    return {
        **task.header(),
        "status": "failed",
        "error": error[:500],
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def finite(value: Any) -> Any:
    """JSON has no NaN or infinity: a diverged score is recorded as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite(item) for item in value]
    return value


def eval_every(spec: RunSpec) -> int:
    """Steps between evaluation points: ``EVAL_POINTS`` along a trained run; a fitted method is
    scored once it is fitted (its intermediate stages are not models anyone would ship)."""
    total = spec.total_steps
    return max(1, total // EVAL_POINTS) if spec.method.trained_by_steps else total


@dataclass
class TaskContext:
    """What a process needs to run tasks: the pairs' data (loaded once) and the start models."""

    data_dir: str | None = None
    device: str = "auto"
    precision: str = "auto"
    snapshot_dir: Path | None = None
    pairs: dict[str, DomainPair] = field(default_factory=dict)
    starts: dict[tuple[str, str, str], Checkpoint] = field(default_factory=dict)
    #: send the loaded pairs along to other processes (for data that cannot be loaded by name there)
    share_data: bool = False
    checks: dict[str, Any] = field(default_factory=dict)
    #: where running trials save their training to resume it (``workflows.resuming``); None: they do not
    resume_dir: Path | None = None

    def check(self, name: str):
        """The drawn-digits check set of the pair's source test set (built once)."""
        if name not in self.checks:
            self.checks[name] = drawn_digits(self.pair(name).source_test)
        return self.checks[name]

    def guard_digits(self, name: str):
        """Drawn-style digits made from the pair's source **validation** split (built once): what
        the handwriting guard reads while choosing; the test split's check set stays for reporting."""
        key = f"{name}/guard"
        if key not in self.checks:
            self.checks[key] = drawn_digits(self.pair(name).source_val)
        return self.checks[key]

    def reference_drawn_acc(self, spec: RunSpec) -> float | None:
        """``handwriting_reference``'s accuracy on ``guard_digits`` (None for source-only itself)."""
        if spec.method.name == "source_only":
            return None
        reference = handwriting_reference(spec)
        key = f"{spec.pair.name}/{reference.backbone}/reference"
        if key not in self.checks:
            model = self.start(reference).classifier
            self.checks[key] = drawn_accuracy(model, self.guard_digits(spec.pair.name), self.pair(spec.pair.name))
        return self.checks[key]

    def portable(self) -> TaskContext:
        """What another process gets: settings and start models, and the data only if ``share_data``."""
        return TaskContext(
            self.data_dir,
            self.device,
            self.precision,
            self.snapshot_dir,
            pairs=dict(self.pairs) if self.share_data else {},
            starts=dict(self.starts),
            share_data=self.share_data,
            resume_dir=self.resume_dir,
        )

    def pair(self, name: str) -> DomainPair:
        if name not in self.pairs:
            self.pairs[name] = load_pair(name, self.data_dir)
        return self.pairs[name]

    def start(self, spec: RunSpec, log: Callable[[str], None] = lambda line: None) -> Checkpoint:
        """The trained model of ``spec`` (a start spec: the method's defaults, seed 0) on the pair's
        training split: the shipped file only where the manifest says it is that very model
        (``restore_start_model``), else the cached or a newly trained one."""
        key = (spec.pair.name, spec.method.name, spec.backbone)
        if key not in self.starts:
            restore_start_model(self.pair(spec.pair.name), spec, log=log)
            self.starts[key] = find_start_model(
                self.pair(spec.pair.name),
                spec,
                device=self.device,
                precision=self.precision,
                store=ModelStore(directory=cache_dir() / "no-shipped-models", use_hub=False),
                log=log,
            )
        return self.starts[key]

    def resume_file(self, task: Task, job: TrainingJob) -> ResumeFile | None:
        """Where ``task``'s training (``job``) is saved while it runs, if this context resumes tasks."""
        if self.resume_dir is None:
            return None
        return ResumeFile(Path(self.resume_dir) / f"{task.slug}.pt", job, task.key)

    def job(self, spec: RunSpec) -> TrainingJob:
        """A training job for ``spec`` on this context's data, device and start model."""
        return TrainingJob(
            self.pair(spec.pair.name),
            spec,
            device=self.device,
            precision=self.precision,
            start=self.start(spec.start) if spec.start else None,
        )


def drawn_accuracy(model, digits, pair: DomainPair, **kwargs) -> float:
    """``model``'s accuracy on drawn-style ``digits`` (one channel, repeated for a colour pair)."""
    return evaluate(model, digits.images.expand(-1, pair.channels, -1, -1), digits.labels, **kwargs)


@dataclass(frozen=True)
class Guards:
    """What the selection's guards read at an evaluation point: the source labels' class entropy
    (collapse) and the drawn-style digits' accuracy beside the source-only model's (handwriting)."""

    source_entropy: float
    drawn_acc: float | None
    reference_drawn_acc: float | None

    def reject(self, event: ProgressEvent) -> bool:
        """Whether either guard rejects the model at ``event``: its target predictions collapsed, or
        it reads drawn-style digits more than the margin worse than the source-only model."""
        if event.target_classes and collapsed(classes_from_text(event.target_classes), self.source_entropy):
            return True
        return unreadable(self.drawn_acc, self.reference_drawn_acc)


class GuardReader:
    """The guards' readings along one run: built once (the digits, the references), read at each
    evaluation point with the model as it is then."""

    def __init__(self, context: TaskContext, job: TrainingJob) -> None:
        self.job = job
        self.source_entropy = class_entropy(job.pair.source_val.labels.numpy())
        self.digits = context.guard_digits(job.spec.pair.name)
        self.reference_drawn_acc = context.reference_drawn_acc(job.spec)

    def at(self, event: ProgressEvent) -> Guards:
        run = self.job.run
        drawn = drawn_accuracy(
            run.method.evaluation_classifier(), self.digits, self.job.pair, device=run.device, precision=run.precision
        )
        return Guards(self.source_entropy, drawn, self.reference_drawn_acc)


def handwriting_reference(spec: RunSpec) -> RunSpec:
    """The source-only model the handwriting guard compares ``spec``'s drawn-digit reading with: the
    pair's, on the backbone ``spec``'s is a variant of."""
    return RunSpec.resolve(spec.pair, "source_only", backbone=spec.base_backbone or spec.backbone)


def build_start_models(tasks: Iterable[Task], context: TaskContext, log: Callable[[str], None]) -> None:
    """Every start model the tasks need, and the pair's source-only model each non-source-only task
    compares drawn digits with, built once here (before the tasks go to other processes)."""
    needed: dict[tuple[str, str, str], RunSpec] = {}
    for task in tasks:
        spec = task.spec
        if spec.start is not None:
            needed.setdefault((spec.start.pair.name, spec.start.method.name, spec.start.backbone), spec.start)
        if spec.method.name != "source_only":  # the handwriting guard's reference (``reference_drawn_acc``)
            reference = handwriting_reference(spec)
            needed.setdefault((spec.pair.name, "source_only", reference.backbone), reference)
    for start in needed.values():
        context.start(start, log)


class BestSnapshots:
    """While a run trains: the model at the point each validator scores best so far."""

    def __init__(self, validators: Iterable[str] | None = None) -> None:
        #: the validators to follow (None: every one an event reports)
        self.validators = None if validators is None else set(validators)
        self.best: dict[str, tuple[float, int, Any]] = {}

    def offer(self, job: TrainingJob, event: ProgressEvent) -> None:
        snapshot = None
        for name, score in event.validators.items():
            if self.validators is not None and name not in self.validators:
                continue
            if (
                score is not None
                and math.isfinite(score)
                and (name not in self.best or score > self.best[name][0])
            ):
                snapshot = snapshot or job.snapshot()
                self.best[name] = (score, event.step, snapshot)

    def save(self, name: str, path: Path, job: TrainingJob) -> int:
        """Write the model at ``name``'s best point (float16); returns its step."""
        _, step, (classifier, extras) = self.best[name]
        save_checkpoint(path, classifier, {**job.metadata(), "steps": step, "picked_by": name}, extras, True)
        return step

    def save_all(self, directory: Path, job: TrainingJob) -> dict[str, dict[str, Any]]:
        """Every validator's best model under ``directory``: name → ``{"step", "file"}``."""
        written = {}
        for name in self.best:
            path = directory / f"{name}.safetensors"
            written[name] = {"step": self.save(name, path, job), "file": f"{directory.name}/{path.name}"}
        return written


def current(records: list[Any]) -> list[Any]:
    """The records that stand: a key recorded successfully more than once (a trial run again) keeps
    only its newest successful record; failures are kept as they are."""
    newest = {record.key: index for index, record in enumerate(records) if record.ok}
    return [record for index, record in enumerate(records) if not record.ok or newest[record.key] == index]


def without_record(tasks: list[Task], records: Iterable[Any]) -> list[Task]:
    """The tasks without a successful record among ``records`` (failed ones are tried again)."""
    done = {record.key for record in records if record.ok}
    return [task for task in tasks if task.key not in done]


def run_recorded(tasks: list[Task], records_path: Path, executor, context: TaskContext) -> Iterator[dict[str, Any]]:
    """Run ``tasks`` on ``executor``, appending each record to ``records_path`` as it finishes and
    yielding it (an interrupted run keeps every finished record)."""
    for record in executor.map(tasks, context):
        append_record(records_path, record)
        yield record
