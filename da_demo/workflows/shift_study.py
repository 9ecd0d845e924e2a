"""Which shifts can adaptation fix? For every preset of the Shift tab (``data.shift.PRESETS``), a few
methods adapt to the preset's built domain as a student's quick run does there (the label-free pick's
settings on the base pair, ``STUDY_STEPS`` steps, from the shipped source-only model), and each run
records the source-only model's accuracy on the built test digits beside the adapted model's
(``python -m da_demo shift-study``; one line per run in ``checkpoints/shift-study.jsonl``, resumable).

The built domains' labels are known because we made them: they *report* here, and choose nothing.
The methods are fixed in advance (``STUDY_METHODS``), not picked by how well they did.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..artifacts.records import check_writable
from ..artifacts.schemas import ShiftStudyRecord, read_lines
from ..artifacts.store import ModelStore
from ..data.shift import PRESETS, ShiftRecipe, custom_spec
from ..engine.spec import RunSpec
from ..methods import get_method
from ..viz.results import shift_study_chart
from .live import PairData
from .selection import read_selection
from .tasks import Task, TaskContext, run_recorded, without_record
from .training import TrainingJob

STUDY_RECORDS = Path(__file__).resolve().parents[2] / "checkpoints" / "shift-study.jsonl"
#: the methods every preset is adapted with: the lesson's (DANN), the class-confusion one (MCC)
#: and the statistics-matching one (DeepCORAL); each starts from the source-only model
STUDY_METHODS = ("dann", "mcc", "deepcoral")
#: the Shift tab's default step budget: what a student's first run there trains for
STUDY_STEPS = 600


@dataclass(frozen=True)
class ShiftTrial(Task):
    """One method adapted to one preset's built domain; the key names the preset's recipe."""

    preset: str = ""
    prefix: ClassVar[str] = "shift"

    @property
    def recipe(self) -> ShiftRecipe:
        return self.spec.pair.target.recipe

    def key_extra(self) -> list[str]:
        return [json.dumps(self.recipe.changed(), sort_keys=True)]

    def header(self) -> dict[str, Any]:
        return {**super().header(), "preset": self.preset, "recipe": self.recipe.changed()}

    def execute(self, context: TaskContext) -> dict[str, Any]:
        """Build the domain, evaluate the start (source-only) model and the adapted one on its full
        test split."""
        pair = PairData(context.pair, context.data_dir)(self.spec)
        job = TrainingJob(
            pair,
            self.spec,
            device=context.device,
            precision=context.precision,
            store=ModelStore(),  # the shipped source-only model, as a visitor's run starts from it
            train_missing_start=False,
        )
        tests = len(pair.target_test.labels)
        measured = [
            event
            for event in job.events(eval_every=self.spec.total_steps, eval_samples=tests, evaluate_first=True)
            if event.target_acc is not None
        ]
        result = job.result
        return {
            "source_only_acc": measured[0].target_acc,
            "target_acc": result.target_acc,
            "source_acc": result.source_acc,
            "steps": result.step,
            "train_seconds": round(result.train_seconds, 1),
            "test_digits": tests,
        }


def plan_study(
    methods: tuple[str, ...] = STUDY_METHODS, steps: int = STUDY_STEPS, presets: dict[str, ShiftRecipe] | None = None
) -> list[ShiftTrial]:
    """Every preset (but MNIST itself) × method, each with its label-free pick's settings on the
    preset's base pair and ``steps`` steps."""
    selection = read_selection()
    trials = []
    for name, recipe in (presets or PRESETS).items():
        if not recipe.changed():
            continue
        spec_pair = custom_spec(recipe)
        for method in methods:
            method_class = get_method(method)
            if not method_class.trained_by_steps:
                raise ValueError(f"{method} is not trained by steps: the study gives every method {steps} steps")
            settings = {**selection.picked_settings(spec_pair.models_from, method), "steps": steps}
            spec = RunSpec.resolve(spec_pair, method_class, settings, seed=0)
            trials.append(ShiftTrial(spec, tuple(sorted(settings)), preset=name))
    return trials


def read_study(path: Path = STUDY_RECORDS) -> list[ShiftStudyRecord]:
    return read_lines(path, ShiftStudyRecord)


def run_study(
    trials: list[ShiftTrial],
    records_path: Path,
    executor,
    *,
    context: TaskContext,
    log: Callable[[str], None] = print,
) -> Iterator[dict[str, Any]]:
    """Run the trials without a successful record in ``records_path``, appending each as it ends."""
    records_path = check_writable(records_path)
    todo = without_record(trials, read_study(records_path))
    log(f"{len(trials) - len(todo)} of {len(trials)} runs already recorded in {records_path}; {len(todo)} to run")
    yield from run_recorded(todo, records_path, executor, context)


@dataclass(frozen=True)
class StudyRow:
    """One preset's line of the chart and table: source-only, then each method's adapted accuracy."""

    preset: str
    shift: str
    source_only: float
    adapted: dict[str, float]


def study_rows(records: list[ShiftStudyRecord], methods: tuple[str, ...] = STUDY_METHODS) -> list[StudyRow]:
    """The latest successful record of each (preset, method), in the presets' order."""
    latest: dict[tuple[str, str], ShiftStudyRecord] = {}
    for record in records:
        if record.ok and record.target_acc is not None:
            latest[(record.preset, record.method)] = record
    rows = []
    for name, recipe in PRESETS.items():
        found = {method: latest[(name, method)] for method in methods if (name, method) in latest}
        if found:
            first = next(iter(found.values()))
            rows.append(
                StudyRow(name, recipe.describe(), first.source_only_acc,
                         {method: record.target_acc for method, record in found.items()})
            )  # fmt: skip
    return rows


def study_table(rows: list[StudyRow], methods: tuple[str, ...] = STUDY_METHODS) -> str:
    """Markdown: source-only and each method's accuracy per preset, and the best gain."""
    if not rows:
        return "The study has not been run yet: `python -m da_demo shift-study --workers 2`."
    titles = [get_method(method).title for method in methods]
    lines = [
        "| preset | source-only % | " + " | ".join(f"{title} %" for title in titles) + " |",
        "|" + " --- |" * (2 + len(methods)),
    ]
    for row in rows:
        cells = [f"{100 * row.adapted[m]:.1f}" if m in row.adapted else "—" for m in methods]
        lines.append(f"| {row.preset} | {100 * row.source_only:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def study_chart(records: list[ShiftStudyRecord] | None = None):
    """The chart of ``study_rows`` (a matplotlib figure), None before the study has run."""
    rows = study_rows(read_study() if records is None else records)
    if not rows:
        return None
    lines = [
        (row.preset, 100 * row.source_only, {get_method(m).title: 100 * acc for m, acc in row.adapted.items()})
        for row in rows
    ]
    return shift_study_chart(lines, STUDY_STEPS)
