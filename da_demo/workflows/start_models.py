"""Start models shipped beside the models trained on a variant of their pair's backbone.

A shipped model whose settings train on a variant of the pair's backbone (DeepJDOT's bounded
embedding, MCC's standardised input) started from a source-only model of that variant. The app
starts a visitor's run of the same settings from that very model, so it ships too
(``start_model_file``), named with its SHA-256 in the model's manifest entry: the Hub copy is then
trusted like every other file.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from ..artifacts.manifest import read_manifest, update_manifest
from ..artifacts.schemas import ManifestEntry, StartModel
from ..artifacts.store import sha256, start_model_file
from ..engine.spec import RunSpec
from .tasks import TaskContext


def ship_start_models(directory: Path, context: TaskContext, log: Callable[[str], None] = print) -> None:
    """Beside the shipped models, the start model of each one trained on a variant of its pair's
    backbone (``start_model_file``), so the app starts visitors' runs of its settings from the same
    model without training one in their session; the entry names it with its SHA-256 (what lets the
    app take it from the Hub too). Start models no shipped model needs are removed."""
    entries = read_manifest(directory)
    starts = {(entry.pair, entry.method): _start_of(entry) for entry in entries}
    needed = dict(start for start in starts.values() if start is not None)
    for name, start in needed.items():
        cached, path = context.start(start, log).path, directory / name
        if cached is not None and (not path.is_file() or sha256(path) != sha256(cached)):
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cached, path)
            log(f"shipped the start model {name}")
    for stale in directory.glob("*/start/*.safetensors"):
        if stale.relative_to(directory).as_posix() not in needed:
            stale.unlink()
            log(f"removed the start model {stale.relative_to(directory)}: no shipped model starts from it")
    for entry in entries:
        start = starts[(entry.pair, entry.method)]
        path = directory / start[0] if start else None
        shipped = StartModel(file=start[0], sha256=sha256(path)) if path and path.is_file() else None
        if shipped != entry.start_model:
            update_manifest(directory, entry.model_copy(update={"start_model": shipped}))


def _start_of(entry: ManifestEntry) -> tuple[str, RunSpec] | None:
    """The start-model file a shipped entry's settings start from and its spec, when that start is on
    a variant of the pair's backbone (on the pair's own, every seed-0 model's start is shipped anyway)."""
    if entry.selection is None or entry.selection.settings is None or entry.backbone is None:
        return None
    spec = RunSpec.resolve(entry.pair, entry.method, entry.selection.settings, backbone=entry.backbone)
    if spec.start is None or spec.start.backbone == spec.pair.backbone:
        return None
    return start_model_file(entry.pair, spec.start.method.name, spec.start.backbone), spec.start
