"""``python -m da_demo pretrain``: the shipped checkpoints, each a label-free pick.

For every pair and method: the settings the selection picked from the sweep (``selection.json``;
the method's defaults where there is no pick), trained with 3 seeds; in each seed's run the
training step is the one its pair's validator scores best (the sweep's cadence of evaluation
points). Seed 0 is shipped, chosen a priori; the manifest reports every seed and the mean ± std.
Seed 0's model is the sweep's own when the sweep kept its snapshot, so it is not trained twice.

Every model starts from the same source-only model (seed 0, default settings, trained on the
source training split), the one the sweep's trials started from; the shipped source-only model is
that very model. Accuracy is measured on the full test sets from the stored (float16) file, and on
the drawn-digits check set.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..artifacts.checkpoints import Checkpoint, copy_half_precision, load_checkpoint, save_checkpoint
from ..artifacts.manifest import seed_summary, update_manifest
from ..artifacts.records import append_record, check_writable, read_records
from ..artifacts.store import checkpoint_file, sha256
from ..data import cache_dir
from ..data.pairs import DomainPair
from ..engine.device import resolve_device
from ..engine.evaluation import evaluate
from ..methods import get_method, method_names
from .sweep import EVAL_SAMPLES, TrialContext, eval_every
from .training import TrainingJob, resolve_settings

FALLBACK_VALIDATOR = "source_accuracy"


@dataclass(frozen=True)
class PretrainTask:
    """One seed of one shipped model: a pure function of these fields → a record (what a local
    process or a Ray task runs)."""

    pair: str
    method: str
    settings: tuple[tuple[str, Any], ...]
    seed: int
    validator: str
    output: str
    reuse: str | None = (
        None  # a model file to measure instead of training (a sweep snapshot, the start model)
    )

    @property
    def key(self) -> str:
        return (
            f"pretrain/{self.pair}/{self.method}/{json.dumps(dict(self.settings), sort_keys=True)}/"
            f"{self.validator}/seed{self.seed}"
        )


def run_pretrain_task(task: PretrainTask, context: TrialContext) -> dict[str, Any]:
    """Train (or reuse) one seed, store it as float16 at ``task.output``, measure the stored file."""
    started = time.perf_counter()
    record: dict[str, Any] = {
        "key": task.key,
        "pair": task.pair,
        "method": task.method,
        "seed": task.seed,
        "settings": dict(task.settings),
        "output": task.output,
    }
    try:
        pair = context.pair(task.pair)
        if task.reuse is not None:
            copy_half_precision(task.reuse, task.output)
            origin = f"reused {Path(task.reuse).name}"
        else:
            hparams = resolve_settings(task.method, task.pair, dict(task.settings), only_known=True)
            start_method = get_method(task.method).warm_start_from(hparams)
            start = context.start(task.pair, start_method) if start_method else None
            _train_seed(
                pair,
                task.method,
                hparams,
                task.seed,
                start,
                task.validator,
                Path(task.output),
                context.device,
                context.precision,
            )
            origin = "trained"
        measured = _measure_stored(Path(task.output), pair, context.check(task.pair), context.device)
        record.update(
            status="ok",
            origin=origin,
            **{k: v for k, v in measured.items() if k != "metadata"},
            metadata=measured["metadata"],
        )
    except Exception as error:  # noqa: BLE001 - a failed seed is recorded; the others go on
        record.update(status="failed", error=f"{type(error).__name__}: {error}")
    record["wall_seconds"] = round(time.perf_counter() - started, 1)
    return record


def pretrain(
    pairs: list[str],
    methods: list[str],
    *,
    directory: Path,
    seeds: int = 3,
    device: str = "auto",
    precision: str = "auto",
    data_dir: str | None = None,
    selection: dict | None = None,
    records: list[dict] | None = None,
    snapshot_dir: Path | None = None,
    overrides: dict[str, str] | None = None,
    executor=None,
    progress_records: Path | None = None,
    context: TrialContext | None = None,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Train, measure and write checkpoints and manifest entries (see the module docstring).

    Every seed is a ``PretrainTask`` run by ``executor`` (one after another here by default; Ray, for
    a cluster); each finished seed is appended to ``progress_records`` (default: in the cache), so an
    interrupted pretraining resumes without training a finished seed again. ``overrides`` (e.g.
    ``{"steps": "50"}``) go to every method that has that setting, over the picks. Returns the new
    manifest entries; entries of pairs and methods not retrained are kept."""
    from .executors import LocalExecutor

    directory = Path(directory)
    methods = [name for name in method_names() if name in methods]  # teaching order: source-only first
    selection = selection or {}
    executor = executor or LocalExecutor(run_pretrain_task)
    progress_records = check_writable(progress_records or cache_dir() / "pretrain" / "records.jsonl")
    staging = progress_records.parent / "models"
    context = context or TrialContext(data_dir, device, precision)
    tasks: dict[tuple[str, str], list[PretrainTask]] = {}
    for pair_name in pairs:
        chosen = selection.get("pairs", {}).get(pair_name, {})
        validator = chosen.get("validator", FALLBACK_VALIDATOR)
        for method in methods:
            picked = (chosen.get("methods", {}).get(method) or {}).get("pick")
            settings = {**(picked["settings"] if picked else {}), **(overrides or {})}
            hparams = resolve_settings(
                method, pair_name, settings, only_known=True
            )  # checked before any training
            typed = tuple(
                sorted((name, getattr(hparams, name)) for name in settings if hasattr(hparams, name))
            )
            tasks[pair_name, method] = []
            for seed in range(seeds):
                task = PretrainTask(
                    pair_name,
                    method,
                    typed,
                    seed,
                    validator,
                    "",
                    _reuse(context, pair_name, method, seed, picked, validator, records, snapshot_dir, log),
                )
                slug = hashlib.sha256(task.key.encode()).hexdigest()[:12]
                tasks[pair_name, method].append(replace(task, output=str(staging / f"{slug}.safetensors")))
    done = {
        record["key"]: record
        for record in read_records(progress_records)
        if record.get("status") == "ok" and Path(record.get("output", "")).is_file()
    }
    todo = [task for group in tasks.values() for task in group if task.key not in done]
    log(f"pretraining: {len(done)} seeds already done, {len(todo)} to run on {executor.name}")
    for pair_name, method in {(task.pair, task.method) for task in todo if task.reuse is None}:
        start = get_method(method).warm_start_from(
            resolve_settings(method, pair_name, dict(tasks[pair_name, method][0].settings), only_known=True)
        )
        if start:
            context.start(pair_name, start, log)
    for record in executor.map(todo, context):
        append_record(progress_records, record)
        if record["status"] == "ok":
            done[record["key"]] = record
            log(
                f"{record['pair']} {record['method']} seed {record['seed']} ({record['origin']}): step {record['step']}, "
                f"target {100 * record['target_acc']:.2f}%, source {100 * record['source_acc']:.2f}%, drawn digits "
                f"{100 * record['drawn_acc']:.2f}%"
            )
        else:
            log(f"{record['key']} failed: {record['error']}")
    new_entries = []
    for (pair_name, method), group in tasks.items():
        results = [done.get(task.key) for task in group]
        if any(result is None for result in results):
            log(f"{pair_name} {method}: not every seed finished; its shipped model is unchanged")
            continue
        final_path = directory / checkpoint_file(pair_name, method)
        final_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(results[0]["output"], final_path)  # seed 0, chosen a priori
        chosen = selection.get("pairs", {}).get(pair_name, {}).get("methods", {}).get(method)
        entry = _entry(pair_name, method, final_path, results, group[0].validator, chosen)
        new_entries.append(entry)
        update_manifest(directory, entry)
    return new_entries


def _reuse(
    context: TrialContext,
    pair: str,
    method: str,
    seed: int,
    picked: dict | None,
    validator: str,
    records,
    snapshot_dir,
    log,
) -> str | None:
    """A model seed ``seed`` need not train again: the source-only start model itself (every seed-0
    model starts from it), or the sweep's snapshot of the picked trial at the validator's best step."""
    if seed != 0:
        return None
    if method == "source_only":
        return str(context.start(pair, "source_only", log).path)
    if not (picked and records and snapshot_dir):
        return None
    record = next((r for r in records if r.get("key") == picked["trial"] and r.get("status") == "ok"), None)
    snapshot = (record or {}).get("snapshots", {}).get(validator)
    if snapshot and (Path(snapshot_dir) / snapshot["file"]).is_file():
        return str(Path(snapshot_dir) / snapshot["file"])
    log(f"{pair} {method}: no sweep snapshot of the pick, training seed 0 again")
    return None


def _train_seed(
    pair: DomainPair,
    method: str,
    hparams,
    seed: int,
    start: Checkpoint | None,
    validator: str,
    path: Path,
    device: str,
    precision: str,
) -> None:
    """Train one seed and save the model at the step ``validator`` scores best (the last step for
    source-only, which every method starts from)."""
    job = TrainingJob(pair, method, hparams, seed=seed, device=device, precision=precision, start=start)
    total = job.method_class.total_steps(hparams)
    best: tuple[float, int, Any] | None = None
    for event in job.events(
        eval_every=eval_every(job.method_class, total),
        eval_samples=EVAL_SAMPLES,
        validate=method != "source_only",
    ):
        score = event.validators.get(validator)
        if score is not None and math.isfinite(score) and (best is None or score > best[0]):
            best = (score, event.step, job.snapshot())
    if method == "source_only" or best is None:
        job.save(path, half_precision=True)
        return
    _, step, (classifier, extras) = best
    save_checkpoint(
        path,
        classifier,
        {**job.metadata(), "steps": step, "picked_by": validator},
        extras,
        half_precision=True,
    )


def _measure_stored(path: Path, pair: DomainPair, check, device: str) -> dict[str, Any]:
    """Accuracy of the model as stored (what users get): full test sets and drawn digits."""
    checkpoint = load_checkpoint(path)
    model = get_method(checkpoint.method).inference_model(checkpoint).to(resolve_device(device))
    return {
        "source_acc": evaluate(model, pair.source_test.images, pair.source_test.labels),
        "target_acc": evaluate(model, pair.target_test.images, pair.target_test.labels),
        "drawn_acc": evaluate(model, check.images.expand(-1, pair.channels, -1, -1), check.labels),
        "step": checkpoint.metadata["steps"],
        "metadata": checkpoint.metadata,
    }


def _entry(
    pair: str, method: str, path: Path, results: list[dict], validator: str, selected: dict | None
) -> dict:
    shipped = results[0]
    metadata = shipped["metadata"]
    entry = {
        "pair": pair,
        "method": method,
        "file": checkpoint_file(pair, method),
        "sha256": sha256(path),
        "bytes": path.stat().st_size,
        "backbone": metadata["backbone"],
        "seed": shipped["seed"],
        "source_acc": round(shipped["source_acc"], 4),
        "target_acc": round(shipped["target_acc"], 4),
        "drawn_acc": round(shipped["drawn_acc"], 4),
        "steps": shipped["step"],
        "train_seconds": metadata["train_seconds"],
        "hyperparameters": metadata["hyperparameters"],
        "warm_start_from": metadata["warm_start_from"],
        "code_version": metadata["code_version"],
        "data_fingerprint": metadata["data_fingerprint"],
        "device": metadata["device"],
        "picked_by": metadata.get("picked_by"),
        "validator": validator,
        "extra_metrics": {
            k: v for k, v in metadata["metrics"].items() if k not in ("source_acc", "target_acc")
        },
        "seeds": [
            {
                "seed": r["seed"],
                "step": r["step"],
                "source_acc": round(r["source_acc"], 4),
                "target_acc": round(r["target_acc"], 4),
                "drawn_acc": round(r["drawn_acc"], 4),
                "train_seconds": r["metadata"]["train_seconds"],
                "origin": r["origin"],
            }
            for r in results
        ],
    }
    for key in ("target_acc", "drawn_acc", "source_acc"):
        mean, std = seed_summary([r[key] for r in results])
        entry[f"{key}_mean"], entry[f"{key}_std"] = round(mean, 4), round(std, 4)
    if selected:
        oracle = selected.get("oracle") or {}
        entry["selection"] = {
            "validator": selected.get("validator"),
            "settings": (selected.get("pick") or {}).get("settings"),
            "sweep_pick_target_acc": (selected.get("pick") or {}).get("target_acc"),
            "oracle_target_acc": oracle.get("target_acc"),
            "oracle_settings": oracle.get("settings"),
            "oracle_step": oracle.get("step"),
            "gap_points": selected.get("gap_points"),
        }
    return entry
