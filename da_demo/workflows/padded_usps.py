"""The papers' MNIST → USPS, USPS padded rather than resized (``python -m da_demo.benchmarks.padded_usps``
runs it; the README's table is generated from its records).

This app resizes USPS's 16-px digits to fill the 28-px frame (thick, frame-filling digits, a larger
shift from MNIST's 20-px digits in a 28-px frame). DeepJDOT's reference code and SKADA-Bench pad
them into the frame instead, and their numbers are measured that way: DeepJDOT 95.7, and with
SKADA-Bench's prediction-entropy selection MCC 98.2, DANN 95.6, DeepCORAL 95.6 and source-only 94.2.
Here a method's settings are trained on the padded pair from the shipped source-only model (which
saw MNIST only) and measured on the whole padded USPS test set.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch.nn.functional as F

from ..artifacts.manifest import read_manifest
from ..artifacts.schemas import PaddedUSPSRecord, read_lines
from ..artifacts.store import SHIPPED_DIRECTORY
from ..data.images import LabeledImages
from ..data.pairs import DomainPair, load_pair
from ..data.usps import load_usps
from ..engine.evaluation import evaluate
from ..engine.spec import RunSpec
from ..methods import get_method
from ..reporting import format_markdown
from .training import TrainingJob, find_start_model

PAIR = "mnist-usps"
RECORDS = Path(__file__).resolve().parents[2] / "checkpoints" / "padded-usps.jsonl"
#: published accuracies (%) on MNIST → USPS with USPS padded to 28 px
PUBLISHED = {
    "source_only": "94.2 (SKADA-Bench)",
    "dann": "95.6 (SKADA-Bench)",
    "deepcoral": "95.6 (SKADA-Bench)",
    "mcc": "98.2 (SKADA-Bench)",
    "deepjdot": "95.7 (DeepJDOT paper; SKADA-Bench 95.5)",
}
#: pixels added on each side of USPS's 16-px digits (16 + 2 · 6 = 28)
PADDING = 6
PICK, DEFAULTS = "label-free pick", "default settings"


def pad(split: LabeledImages) -> LabeledImages:
    """USPS's 16-px digits in the middle of a 28-px black frame."""
    return LabeledImages(F.pad(split.images, (PADDING,) * 4), split.labels)


def padded_pair(data_dir: str | None = None) -> DomainPair:
    """MNIST → USPS with USPS padded, not resized; the source side is the app's pair's own."""
    pair = load_pair(PAIR, data_dir)
    train, test = (pad(load_usps(train, data_dir, size=16)) for train in (True, False))
    return replace(pair, target_train=train.without_labels(), target_test=test)


def measure(pair: DomainPair, method: str, settings: dict, step: int, device: str) -> float:
    """Full padded-USPS test accuracy of ``method``'s ``settings`` at ``step`` (its whole run for the
    source-only model: the shipped one, which never sees the target)."""
    spec = RunSpec.resolve(pair.spec, method, settings)
    if spec.start is None:
        model = spec.method.inference_model(find_start_model(pair, spec, device=device))
    else:
        job = TrainingJob(pair, spec, device=device)
        for event in job.events():  # no evaluation on the way: only the model at ``step`` is measured
            if event.step >= step:
                break
        model = job.run.method.evaluation_classifier()
    return evaluate(model, pair.target_test.images, pair.target_test.labels)


def table(rows: list[PaddedUSPSRecord]) -> str:
    """The newest record of each method and recipe, beside the method's shipped model on the resized
    pair and the papers' padded numbers. A pick's row is the shipped pick's own settings: a record of
    an earlier pick is left out until the benchmark runs the new one."""
    shipped = {entry.method: entry for entry in read_manifest(SHIPPED_DIRECTORY) if entry.pair == PAIR}
    picked = {method: entry.selection.settings for method, entry in shipped.items() if entry.selection}
    current = [row for row in rows if row.recipe != PICK or row.settings == picked.get(row.method)]
    # a method's newest pick; every length its default settings ran for
    newest = {(row.method, row.recipe, None if row.recipe == PICK else row.step): row for row in current}
    order = lambda item: (list(PUBLISHED).index(item[1].method), item[1].recipe != PICK, item[1].recipe, item[1].step)  # noqa: E731
    header = ["method", "settings", "step", "padded USPS %", "resized USPS % (shipped seed 0)", "published, padded %"]
    return format_markdown(
        header,
        [
            [
                get_method(row.method).title,
                row.recipe,
                f"{row.step:,}",
                f"{100 * row.target_acc:.1f}",
                f"{100 * shipped[row.method].target_acc:.1f}" if row.method in shipped and row.recipe == PICK else "—",
                PUBLISHED[row.method],
            ]
            for _, row in sorted(newest.items(), key=order)
        ],
    )


def read_records(path: Path = RECORDS) -> list[PaddedUSPSRecord]:
    return read_lines(path, PaddedUSPSRecord)
