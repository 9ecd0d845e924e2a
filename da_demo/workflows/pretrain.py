"""``python -m da_demo pretrain``: the shipped checkpoints, each a label-free pick.

For every pair and method: the settings the selection picked from the sweep (``selection.json``;
the method's defaults where there is no pick), trained with 3 seeds; in each seed's run the
training step is the one its pair's validator scores best (the sweep's cadence of evaluation
points). Seed 0 is shipped, chosen a priori; the manifest reports every seed and the mean ± std.
Seed 0's model is the sweep's own when the sweep kept its snapshot, or the shipped file when that
already is this pick's seed 0, so it is not trained twice (``--retrain`` trains it anyway).

Every model starts from the same source-only model (seed 0, default settings, trained on the source training
split), the one the sweep's trials started from; the shipped source-only model is that very model. Accuracy is
measured on the full test sets from the stored (float16) file, and on the drawn-digits check set.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..artifacts.checkpoints import copy_half_precision, load_checkpoint
from ..artifacts.manifest import read_manifest, seed_summary, update_manifest
from ..artifacts.records import check_writable
from ..artifacts.schemas import (
    FALLBACK_VALIDATOR,
    ManifestEntry,
    ManifestSelection,
    MethodSelection,
    PretrainRecord,
    SeedResult,
    SelectedPoint,
    SelectionFile,
    SweepRecord,
    parse,
    read_lines,
)
from ..artifacts.store import checkpoint_file, sha256, unchanged_file
from ..data import cache_dir
from ..data.pairs import DomainPair
from ..engine.device import resolve_device
from ..engine.evaluation import evaluate
from ..engine.spec import RunSpec
from ..engine.trainer import ProgressEvent
from ..methods import method_names
from ..validators import PRIOR_MATCHED, classes_from_text, prior_matched_im
from .resuming import resume_directory
from .start_models import ship_start_models
from .tasks import (
    EVAL_SAMPLES,
    BestSnapshots,
    GuardReader,
    Task,
    TaskContext,
    build_start_models,
    drawn_accuracy,
    eval_every,
    run_recorded,
)
from .training import code_version


@dataclass(frozen=True)
class PretrainTask(Task):
    """One seed of one shipped model: trained (or ``reuse``d), stored as float16 at ``output``,
    then measured from the stored file."""

    validator: str = FALLBACK_VALIDATOR
    output: str = ""
    #: a model file to measure instead of training (a sweep snapshot, the start model)
    reuse: str | None = None
    #: the pick's step (None when the pick waived the handwriting guard): where a seed stops if the
    #: guards let none of its points through
    pick_step: int | None = None
    #: the pair's estimated target class mix, for a validator that reads it (``prior_matched_im``)
    prior: tuple[float, ...] | None = None
    prefix: ClassVar[str] = "pretrain"

    def key_extra(self) -> list[str]:
        return [self.validator]

    def header(self) -> dict[str, Any]:
        return {**super().header(), "output": self.output}

    def execute(self, context: TaskContext) -> dict[str, Any]:
        pair = context.pair(self.pair)
        if self.reuse is not None:
            copy_half_precision(self.reuse, self.output)
            origin = f"reused {Path(self.reuse).name}"
        else:
            self._train(context)
            origin = "trained"
        measured = _measure_stored(
            self.spec, Path(self.output), pair, context.check(self.pair), context.device
        )
        return {"origin": origin, **measured}

    def _train(self, context: TaskContext) -> None:
        """Train and save the model at the step the validator scores best among those the guards let
        through (the last step for source-only, which every method starts from)."""
        job = context.job(self.spec)
        adapting = self.spec.start is not None
        # the selection's guards hold for every seed's step, not only seed 0's: the validator's best
        # among the points they let through; where they let none through, the pick's own step (its
        # guarded pick sits just before the guard's edge, where another seed can fall short), or,
        # for a pick that waived the handwriting guard, the validator's best among all
        kept = {name: BestSnapshots([self.validator]) for name in ("guarded", "at_pick", "anyway")}
        guard = GuardReader(context, job) if adapting else None
        resume = context.resume_file(self, job)  # a long seed cut short goes on where it was saved
        if resume is not None and (saved := resume.load()) is not None:
            kept.update(saved)
        for event in job.events(
            eval_every=eval_every(self.spec), eval_samples=EVAL_SAMPLES, validate=adapting
        ):
            event = self._scored(event)
            kept["anyway"].offer(job, event)
            if event.step == self.pick_step:
                kept["at_pick"].offer(job, event)
            if guard is not None and event.target_acc is not None and not guard.at(event).reject(event):
                kept["guarded"].offer(job, event)
            if resume is not None:
                resume.offer(event, lambda: kept)
        found = [kept[name] for name in ("guarded", "at_pick") if self.validator in kept[name].best]
        best = found[0] if found else kept["anyway"]
        if adapting and self.validator in best.best:
            best.save(self.validator, Path(self.output), job)
        else:
            job.save(self.output, half_precision=True)
        if resume is not None:
            resume.remove()

    def _scored(self, event: ProgressEvent) -> ProgressEvent:
        """``event`` with the prior-matched IM among its scores, where this seed's validator is that one
        (it needs the pair's estimated prior, which a single run cannot know)."""
        if self.validator != PRIOR_MATCHED or not event.target_classes or self.prior is None:
            return event
        entropy = event.validators.get("target_entropy")
        if entropy is None:
            return event
        score = prior_matched_im(classes_from_text(event.target_classes), entropy, np.asarray(self.prior))
        return replace(event, validators={**event.validators, PRIOR_MATCHED: score})


def plan_pretraining(
    pairs: list[str],
    methods: list[str],
    *,
    seeds: int,
    selection: SelectionFile,
    overrides: dict[str, str],
    staging: Path,
    reuse,
) -> dict[tuple[str, str], list[PretrainTask]]:
    """Per (pair, method), one task per seed: the pick's settings (the method's defaults where there
    is none) under ``overrides``, each checked before anything trains."""
    tasks: dict[tuple[str, str], list[PretrainTask]] = {}
    for pair_name in pairs:
        chosen = selection.pairs.get(pair_name)
        prior = tuple(chosen.target_prior) if chosen and chosen.target_prior else None
        for method in methods:
            selected = selection.method(pair_name, method)
            validator = selection.validator_for(pair_name, method)
            picked = selected.pick if selected else None
            settings = {**(picked.settings if picked else {}), **(overrides or {})}
            spec = RunSpec.resolve(pair_name, method, settings, only_known=True)
            named = tuple(sorted(name for name in settings if hasattr(spec.hparams, name)))
            group = []
            for seed in range(seeds):
                task = PretrainTask(replace(spec, seed=seed), named, validator)
                task = replace(
                    task,
                    output=str(staging / f"{task.slug}.safetensors"),
                    reuse=reuse(task, picked),
                    pick_step=picked.step if picked and not selected.handwriting_waived else None,
                    prior=prior,
                )
                group.append(task)
            tasks[pair_name, method] = group
    return tasks


def pretrain(
    pairs: list[str],
    methods: list[str],
    *,
    directory: Path,
    seeds: int = 3,
    device: str = "auto",
    precision: str = "auto",
    data_dir: str | None = None,
    selection: SelectionFile | None = None,
    records: list[SweepRecord] | None = None,
    snapshot_dir: Path | None = None,
    overrides: dict[str, str] | None = None,
    retrain: bool = False,
    executor=None,
    progress_records: Path | None = None,
    context: TaskContext | None = None,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Train, measure and write checkpoints and manifest entries (see the module docstring).

    Every seed is a ``PretrainTask`` run by ``executor`` (one after another here by default; Ray, for
    a cluster); each finished seed is appended to ``progress_records`` (default: in the cache), so an
    interrupted pretraining resumes without training a finished seed again. ``overrides`` (e.g.
    ``{"steps": "50"}``) go to every method that has that setting, over the picks. ``retrain``: every seed
    trains with this code, seed 0 too (no sweep snapshot or shipped file reused: after a fix to a
    method). Returns the new manifest entries; those of pairs and methods not retrained are kept."""
    from .executors import LocalExecutor

    directory = Path(directory)
    methods = [name for name in method_names() if name in methods]  # teaching order: source-only first
    selection = selection or SelectionFile()
    executor = executor or LocalExecutor()
    progress_records = check_writable(progress_records or cache_dir() / "pretrain" / "records.jsonl")
    context = context or TaskContext(data_dir, device, precision, resume_dir=resume_directory())

    shipped = {(entry.pair, entry.method): entry for entry in read_manifest(directory)}

    def reuse(task: PretrainTask, picked: SelectedPoint | None) -> str | None:
        if retrain:  # only the start model, which source-only's seed 0 is
            return _reuse(context, task, None, None, None, log)
        return _reuse(context, task, picked, records, snapshot_dir, log) or _shipped_seed(
            directory, shipped.get((task.pair, task.method)), task, picked
        )

    tasks = plan_pretraining(
        pairs,
        methods,
        seeds=seeds,
        selection=selection,
        overrides=overrides or {},
        staging=progress_records.parent / "models",
        reuse=reuse,
    )
    done = {
        record.key: record
        for record in read_lines(progress_records, PretrainRecord)
        if record.ok and Path(record.output).is_file()  # retraining keeps only seeds this code trained
        and not (retrain and (record.origin != "trained" or record.code_version != code_version()))
    }
    todo = [task for group in tasks.values() for task in group if task.key not in done]
    log(f"pretraining: {len(done)} seeds already done, {len(todo)} to run on {executor.name}")
    build_start_models([task for task in todo if task.reuse is None], context, log)
    for written in run_recorded(todo, progress_records, executor, context):
        record = parse(PretrainRecord, written, f"the record of {written.get('key')}")
        if not record.ok:
            log(f"{record.key} failed: {record.error}")
            continue
        done[record.key] = record
        log(
            f"{record.pair} {record.method} seed {record.seed} ({record.origin}): step {record.step}, "
            f"target {100 * record.target_acc:.2f}%, source {100 * record.source_acc:.2f}%, "
            f"drawn digits {100 * record.drawn_acc:.2f}%"
        )
    entries = _ship(tasks, done, directory, selection, log)
    ship_start_models(directory, context, log)
    return entries


def _ship(
    tasks, done: dict[str, PretrainRecord], directory: Path, selection: SelectionFile, log
) -> list[ManifestEntry]:
    """Seed 0 of every (pair, method) whose seeds all finished becomes the shipped file (chosen a
    priori), with its manifest entry; the others stay as they were."""
    new_entries = []
    for (pair_name, method), group in tasks.items():
        results = [done.get(task.key) for task in group]
        if any(result is None for result in results):
            log(f"{pair_name} {method}: not every seed finished; its shipped model is unchanged")
            continue
        final_path = directory / checkpoint_file(pair_name, method)
        final_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(results[0].output, final_path)
        entry = _entry(final_path, results, group[0].validator, selection.method(pair_name, method))
        new_entries.append(entry)
        update_manifest(directory, entry)
    return new_entries


def _reuse(
    context: TaskContext, task: PretrainTask, picked: SelectedPoint | None, records, snapshot_dir, log
) -> str | None:
    """A model seed 0 need not train again: the source-only start model itself (every seed-0 model
    starts from it), or the sweep's snapshot of the picked trial at the validator's best step."""
    if task.seed != 0:
        return None
    if task.spec.start is None and task.method == "source_only":
        return str(context.start(task.spec, log).path)
    if not (picked and records and snapshot_dir):
        return None
    record = next((r for r in records if r.key == picked.trial and r.ok), None)
    # the sweep keeps each validator's best point regardless of the guards: the pick's only where the
    # guards did not move it; any validator's snapshot at the picked step is the picked model (same
    # trial, same step), the pick's own validator's first
    snapshots = sorted((record.snapshots if record else {}).items(), key=lambda item: item[0] != task.validator)
    for _, snapshot in snapshots:
        if snapshot.step == picked.step and (Path(snapshot_dir) / snapshot.file).is_file():
            return str(Path(snapshot_dir) / snapshot.file)
    log(f"{task.pair} {task.method}: no sweep snapshot of the pick (step {picked.step})")
    return None


def _shipped_seed(
    directory: Path, entry: ManifestEntry | None, task: PretrainTask, picked: SelectedPoint | None
) -> str | None:
    """The shipped file, as seed 0, when it is the very model seed 0 would be: shipped as seed 0 of
    the same pick (settings, step and validator, on the same backbone) and still the file the
    manifest measured. More seeds for a shipped pick then train only the new ones."""
    if task.seed != 0 or entry is None or picked is None or entry.selection is None:
        return None
    same_pick = (
        entry.seed == 0
        and entry.backbone == task.spec.backbone
        and entry.validator == task.validator
        and entry.selection.settings == picked.settings
        and entry.steps == picked.step
    )
    path = unchanged_file(directory, entry) if same_pick else None
    return str(path) if path else None


def _measure_stored(spec: RunSpec, path: Path, pair: DomainPair, check, device: str) -> dict[str, Any]:
    """Accuracy of the model as stored (what users get): full test sets and drawn digits."""
    checkpoint = load_checkpoint(path, expect_pair=spec.pair.name, expect_method=spec.method.name)
    model = spec.method.inference_model(checkpoint).to(resolve_device(device))
    return {
        "source_acc": evaluate(model, pair.source_test.images, pair.source_test.labels),
        "target_acc": evaluate(model, pair.target_test.images, pair.target_test.labels),
        "drawn_acc": drawn_accuracy(model, check, pair),
        "step": checkpoint.metadata.steps,
        "metadata": checkpoint.metadata.to_json(),
    }


def _entry(
    path: Path, results: list[PretrainRecord], validator: str, selected: MethodSelection | None
) -> ManifestEntry:
    """The manifest entry of the shipped seed (``results[0]``), with every seed and their mean ± std."""
    shipped = results[0]
    metadata = shipped.metadata
    summary = {}
    for key in ("target_acc", "drawn_acc", "source_acc"):
        mean, std = seed_summary([getattr(r, key) for r in results])
        summary[f"{key}_mean"], summary[f"{key}_std"] = round(mean, 4), round(std, 4)
    return ManifestEntry(
        pair=shipped.pair,
        method=shipped.method,
        file=checkpoint_file(shipped.pair, shipped.method),
        sha256=sha256(path),
        bytes=path.stat().st_size,
        backbone=metadata.backbone,
        seed=shipped.seed,
        source_acc=round(shipped.source_acc, 4),
        target_acc=round(shipped.target_acc, 4),
        drawn_acc=round(shipped.drawn_acc, 4),
        steps=shipped.step,
        train_seconds=metadata.train_seconds,
        hyperparameters=metadata.hyperparameters,
        warm_start_from=metadata.warm_start_from,
        code_version=metadata.code_version,
        data_fingerprint=metadata.data_fingerprint,
        device=metadata.device,
        picked_by=metadata.picked_by,
        validator=validator,
        extra_metrics={k: v for k, v in metadata.metrics.items() if k not in ("source_acc", "target_acc")},
        seeds=[
            SeedResult(
                seed=r.seed,
                step=r.step,
                source_acc=round(r.source_acc, 4),
                target_acc=round(r.target_acc, 4),
                drawn_acc=round(r.drawn_acc, 4),
                train_seconds=r.metadata.train_seconds,
                origin=r.origin,
            )
            for r in results
        ],
        selection=_selection_summary(selected),
        **summary,
    )


def _selection_summary(selected: MethodSelection | None) -> ManifestSelection | None:
    if selected is None:
        return None
    pick, oracle = selected.pick, selected.oracle
    return ManifestSelection(
        validator=selected.validator,
        settings=pick.settings if pick else None,
        sweep_pick_target_acc=pick.target_acc if pick else None,
        oracle_target_acc=oracle.target_acc if oracle else None,
        oracle_settings=oracle.settings if oracle else None,
        oracle_step=oracle.step if oracle else None,
        gap_points=selected.gap_points,
        handwriting_waived=selected.handwriting_waived,
    )
