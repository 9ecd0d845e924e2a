"""``python -m da_demo pretrain``: train every method on every pair, write the shipped checkpoints
and the manifest.

Adversarial methods (``Method.adversarial``) run over several seeds: the manifest reports each
seed, and the median seed's weights are shipped. Methods that warm-start use the model just
trained for the same pair (e.g. MI maximization starts from the DANN checkpoint written before it).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..artifacts.checkpoints import Checkpoint, load_checkpoint
from ..artifacts.manifest import seed_summary, update_manifest
from ..artifacts.store import checkpoint_file, sha256
from ..data.pairs import load_pair
from ..engine.device import resolve_device
from ..engine.evaluation import evaluate
from ..engine.trainer import ProgressEvent
from ..methods import get_method, method_names
from .training import TrainingJob, find_start_model, resolve_settings


def pretrain(
    pairs: list[str],
    methods: list[str],
    *,
    directory: Path,
    seeds: int = 3,
    device: str = "auto",
    precision: str = "auto",
    data_dir: str | None = None,
    overrides: dict[str, str] | None = None,
    show: Callable[[Iterator[ProgressEvent], str], Iterator[ProgressEvent]] = lambda events, label: events,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Train, evaluate on the full test sets from the stored files, write checkpoints and manifest.

    ``overrides`` (e.g. ``{"steps": "50"}``) go to every method that has that hyperparameter.
    Returns the new manifest entries; entries of pairs/methods not retrained are kept, and several
    processes (e.g. one per pair) may pretrain into the same folder at once.
    """
    directory = Path(directory)
    methods = [name for name in method_names() if name in methods]  # dependency order: starts come first
    new_entries = []
    for pair_name in pairs:
        pair = load_pair(pair_name, data_dir)
        trained: dict[str, Checkpoint] = {}
        for method in methods:
            method_class = get_method(method)
            hparams = resolve_settings(method, pair_name, overrides, only_known=True)
            start_method = method_class.warm_start_from(hparams)
            start = None
            if start_method:
                start = trained.get(start_method) or find_start_model(
                    pair, start_method, device=device, precision=precision, show=show
                )
            seed_results = []
            with tempfile.TemporaryDirectory() as staging:
                for seed in range(seeds if method_class.adversarial else 1):
                    job = TrainingJob(
                        pair, method, hparams, seed=seed, device=device, precision=precision, start=start
                    )
                    started = time.perf_counter()
                    for _ in show(job.events(), f"{pair_name} {method} seed {seed}"):
                        pass
                    path = job.save(Path(staging) / f"seed{seed}.safetensors", half_precision=True)
                    stored = _measure_stored(path, pair, device)
                    seed_results.append(
                        {
                            "seed": seed,
                            "path": path,
                            "metadata": job.metadata(),
                            **stored,
                            "wall_seconds": round(time.perf_counter() - started, 1),
                        }
                    )
                    log(
                        f"{pair_name} {method} seed {seed}: target {100 * stored['target_acc']:.2f}%, "
                        f"source {100 * stored['source_acc']:.2f}%, {job.result.train_seconds:.0f} s"
                    )
                chosen = _median_seed(seed_results)
                final_path = directory / checkpoint_file(pair_name, method)
                final_path.parent.mkdir(parents=True, exist_ok=True)
                final_path.write_bytes(chosen["path"].read_bytes())
            trained[method] = load_checkpoint(final_path)
            entry = _entry(pair_name, method, final_path, chosen, seed_results)
            new_entries.append(entry)
            update_manifest(directory, entry)  # after each method: a crash keeps what is done
    return new_entries


def _measure_stored(path: Path, pair, device: str) -> dict[str, float]:
    """Accuracy of the model as stored (what users get), on the full test sets."""
    checkpoint = load_checkpoint(path)
    model = get_method(checkpoint.method).inference_model(checkpoint).to(resolve_device(device))
    return {
        "source_acc": evaluate(model, pair.source_test.images, pair.source_test.labels),
        "target_acc": evaluate(model, pair.target_test.images, pair.target_test.labels),
    }


def _median_seed(results: list[dict]) -> dict:
    """The run whose target accuracy is the median (the lower middle one for an even count)."""
    ranked = sorted(results, key=lambda result: result["target_acc"])
    return ranked[(len(ranked) - 1) // 2]


def _entry(pair: str, method: str, path: Path, chosen: dict, seed_results: list[dict]) -> dict:
    metadata = chosen["metadata"]
    entry = {
        "pair": pair,
        "method": method,
        "file": checkpoint_file(pair, method),
        "sha256": sha256(path),
        "bytes": path.stat().st_size,
        "backbone": metadata["backbone"],
        "seed": chosen["seed"],
        "source_acc": round(chosen["source_acc"], 4),
        "target_acc": round(chosen["target_acc"], 4),
        "steps": metadata["steps"],
        "train_seconds": metadata["train_seconds"],
        "hyperparameters": metadata["hyperparameters"],
        "warm_start_from": metadata["warm_start_from"],
        "code_version": metadata["code_version"],
        "data_fingerprint": metadata["data_fingerprint"],
        "device": metadata["device"],
        "extra_metrics": {
            k: v for k, v in metadata["metrics"].items() if k not in ("source_acc", "target_acc")
        },
    }
    if len(seed_results) > 1:
        entry["seeds"] = [
            {
                "seed": r["seed"],
                "source_acc": round(r["source_acc"], 4),
                "target_acc": round(r["target_acc"], 4),
                "train_seconds": r["metadata"]["train_seconds"],
            }
            for r in seed_results
        ]
        mean, std = seed_summary([r["target_acc"] for r in seed_results])
        entry["target_acc_mean"], entry["target_acc_std"] = round(mean, 4), round(std, 4)
    return entry
