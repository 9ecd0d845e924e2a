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

import math
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..artifacts.checkpoints import Checkpoint, copy_half_precision, load_checkpoint, save_checkpoint
from ..artifacts.manifest import seed_summary, update_manifest
from ..artifacts.store import ModelStore, checkpoint_file, sha256
from ..data import cache_dir
from ..data.drawn_digits import drawn_digits
from ..data.pairs import DomainPair, load_pair
from ..engine.device import resolve_device
from ..engine.evaluation import evaluate
from ..engine.trainer import ProgressEvent
from ..methods import get_method, method_names
from .sweep import EVAL_SAMPLES, eval_every
from .training import TrainingJob, find_start_model, resolve_settings

FALLBACK_VALIDATOR = "source_accuracy"


def no_shipped_models() -> ModelStore:
    """A store with nothing in it: start models are trained (and cached) from the training split."""
    return ModelStore(directory=cache_dir() / "no-shipped-models", use_hub=False)


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
    show: Callable[[Iterator[ProgressEvent], str], Iterator[ProgressEvent]] = lambda events, label: events,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Train, measure and write checkpoints and manifest entries (see the module docstring).

    ``overrides`` (e.g. ``{"steps": "50"}``) go to every method that has that setting, over the
    picks. Returns the new manifest entries; entries of pairs/methods not retrained are kept, and
    several processes (one per pair, say) may pretrain into the same folder at once."""
    directory = Path(directory)
    methods = [name for name in method_names() if name in methods]  # teaching order: source-only first
    selection = selection or {}
    new_entries = []
    for pair_name in pairs:
        pair = load_pair(pair_name, data_dir)
        check = drawn_digits(pair.source_test)
        chosen = selection.get("pairs", {}).get(pair_name, {})
        validator = chosen.get("validator", FALLBACK_VALIDATOR)
        for method in methods:
            picked = (chosen.get("methods", {}).get(method) or {}).get("pick")
            settings = {**(picked["settings"] if picked else {}), **(overrides or {})}
            hparams = resolve_settings(method, pair_name, settings, only_known=True)
            method_class = get_method(method)
            start_method = method_class.warm_start_from(hparams)
            start = (
                find_start_model(
                    pair,
                    start_method,
                    device=device,
                    precision=precision,
                    store=no_shipped_models(),
                    show=show,
                    log=log,
                )
                if start_method
                else None
            )
            results = []
            with tempfile.TemporaryDirectory() as staging:
                for seed in range(seeds):
                    started = time.perf_counter()
                    path = Path(staging) / f"seed{seed}.safetensors"
                    reused = _reuse(
                        pair,
                        method,
                        seed,
                        picked,
                        validator,
                        records,
                        snapshot_dir,
                        device,
                        precision,
                        show,
                        log,
                    )
                    if reused is not None:
                        copy_half_precision(reused, path)
                        origin = f"reused {reused.name}"
                    else:
                        _train_seed(
                            pair, method, hparams, seed, start, validator, path, device, precision, show
                        )
                        origin = "trained"
                    measured = _measure_stored(path, pair, check, device)
                    results.append(
                        {
                            "seed": seed,
                            "path": path,
                            **measured,
                            "origin": origin,
                            "wall_seconds": round(time.perf_counter() - started, 1),
                        }
                    )
                    log(
                        f"{pair_name} {method} seed {seed} ({origin}): step {measured['step']}, target "
                        f"{100 * measured['target_acc']:.2f}%, source {100 * measured['source_acc']:.2f}%, "
                        f"drawn digits {100 * measured['drawn_acc']:.2f}%"
                    )
                shipped = results[0]  # seed 0, chosen a priori
                final_path = directory / checkpoint_file(pair_name, method)
                final_path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(shipped["path"], final_path)
            entry = _entry(
                pair_name, method, final_path, results, validator, chosen.get("methods", {}).get(method)
            )
            new_entries.append(entry)
            update_manifest(directory, entry)  # after each method: a crash keeps what is done
    return new_entries


def _reuse(
    pair: DomainPair,
    method: str,
    seed: int,
    picked: dict | None,
    validator: str,
    records,
    snapshot_dir,
    device,
    precision,
    show,
    log,
) -> Path | None:
    """A model seed ``seed`` need not train again: the source-only start model itself (every seed-0
    model starts from it), or the sweep's snapshot of the picked trial at the validator's best step."""
    if seed != 0:
        return None
    if method == "source_only":
        checkpoint = find_start_model(
            pair,
            "source_only",
            device=device,
            precision=precision,
            store=no_shipped_models(),
            show=show,
            log=log,
        )
        return checkpoint.path
    if not (picked and records and snapshot_dir):
        return None
    record = next((r for r in records if r.get("key") == picked["trial"] and r.get("status") == "ok"), None)
    snapshot = (record or {}).get("snapshots", {}).get(validator)
    if snapshot and (Path(snapshot_dir) / snapshot["file"]).is_file():
        return Path(snapshot_dir) / snapshot["file"]
    log(f"{pair.name} {method}: no sweep snapshot of the pick, training seed 0 again")
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
    show,
) -> None:
    """Train one seed and save the model at the step ``validator`` scores best (the last step for
    source-only, which every method starts from)."""
    job = TrainingJob(pair, method, hparams, seed=seed, device=device, precision=precision, start=start)
    total = job.method_class.total_steps(hparams)
    best: tuple[float, int, Any] | None = None
    for event in show(
        job.events(
            eval_every=eval_every(job.method_class, total),
            eval_samples=EVAL_SAMPLES,
            validate=method != "source_only",
        ),
        f"{job.label} seed {seed}",
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
