"""The papers' MNIST → USPS, USPS padded rather than resized: ``python -m da_demo.benchmarks.padded_usps``.

This app resizes USPS's 16-px digits to fill the 28-px frame (thick, frame-filling digits, a larger
shift from MNIST's 20-px digits in a 28-px frame). DeepJDOT's reference code and SKADA-Bench pad
them into the frame instead, and their numbers are measured that way: DeepJDOT 95.7, and with
SKADA-Bench's prediction-entropy selection MCC 98.2, DANN 95.6, DeepCORAL 95.6 and source-only 94.2.

Here each method's shipped label-free pick (settings and step from ``checkpoints/selection.json``,
chosen on our resized pair; seed 0; from the shipped source-only model, which saw MNIST only) is
trained on the padded pair and measured on the whole padded USPS test set, beside the shipped
model's figure on the resized pair: how much of a gap to a paper is the pair, and how much the
method. ``--defaults`` runs each method's default settings instead (its paper's recipe where it has
one), to the end of their default length. Nothing is chosen here, with target labels or without.
Each finished run is appended to the records file and skipped when the benchmark runs again.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch.nn.functional as F

from ..artifacts.manifest import read_manifest
from ..artifacts.records import append_record, check_writable
from ..artifacts.store import SHIPPED_DIRECTORY
from ..data.images import LabeledImages
from ..data.pairs import DomainPair, load_pair
from ..data.usps import load_usps
from ..engine.evaluation import evaluate
from ..engine.spec import RunSpec
from ..methods import get_method
from ..reporting import format_markdown
from ..workflows.selection import read_selection
from ..workflows.tasks import eval_every
from ..workflows.training import TrainingJob, find_start_model

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
        for event in job.events(eval_every=eval_every(spec), eval_samples=200):
            if event.step >= step:
                break
        model = job.run.method.evaluation_classifier()
    return evaluate(model, pair.target_test.images, pair.target_test.labels)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m da_demo.benchmarks.padded_usps",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--methods", nargs="+", default=list(PUBLISHED), choices=list(PUBLISHED))
    parser.add_argument("--records", type=Path, default=RECORDS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--defaults", action="store_true", help="the methods' default settings, not the picks")
    parser.add_argument("--steps", type=int, help="with --defaults: train this long (e.g. a paper's length)")
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    if args.steps and not args.defaults:
        parser.error("--steps goes with --defaults: a pick trains to its own step")
    records = check_writable(args.records)
    selection = read_selection()
    pair = padded_pair(args.data_dir)
    recipe = DEFAULTS if args.defaults else PICK
    for method in args.methods:
        if args.defaults:
            settings = {"steps": args.steps} if args.steps else {}
            step = RunSpec.resolve(pair.spec, method, settings).total_steps
        else:
            chosen = selection.method(PAIR, method).pick
            settings, step = chosen.settings, chosen.step
        key = json.dumps([method, settings, step], sort_keys=True)
        if key in {row["key"] for row in _read(records)}:
            continue
        started = time.perf_counter()
        accuracy = measure(pair, method, settings, step, args.device)
        row = {"key": key, "method": method, "recipe": recipe, "settings": settings, "step": step}
        append_record(records, {**row, "target_acc": accuracy, "seconds": round(time.perf_counter() - started)})
        print(f"{method}: {100 * accuracy:.1f}% on padded USPS ({time.perf_counter() - started:.0f} s)", flush=True)
    print(table(_read(records)))
    return 0


def table(rows: list[dict]) -> str:
    """The newest record of each method and recipe, beside the method's shipped model on the resized
    pair and the papers' padded numbers."""
    shipped = {entry.method: entry for entry in read_manifest(SHIPPED_DIRECTORY) if entry.pair == PAIR}
    kind = lambda row: row.get("recipe", PICK)  # noqa: E731
    # a method's newest pick; every length its default settings ran for
    newest = {(row["method"], kind(row), None if kind(row) == PICK else row["step"]): row for row in rows}
    order = lambda item: (list(PUBLISHED).index(item[0][0]), item[0][1] != PICK, item[1]["step"])  # noqa: E731
    header = ["method", "settings", "step", "padded USPS %", "resized USPS % (shipped seed 0)", "published, padded %"]
    return format_markdown(
        header,
        [
            [
                get_method(method).title,
                recipe,
                f"{row['step']:,}",
                f"{100 * row['target_acc']:.1f}",
                f"{100 * shipped[method].target_acc:.1f}" if method in shipped and recipe == PICK else "—",
                PUBLISHED[method],
            ]
            for (method, recipe, _), row in sorted(newest.items(), key=order)
        ],
    )


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


if __name__ == "__main__":
    raise SystemExit(main())
