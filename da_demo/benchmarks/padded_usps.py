"""The papers' MNIST → USPS, USPS padded rather than resized: ``python -m da_demo.benchmarks.padded_usps``.

Each method's shipped label-free pick (settings and step from ``checkpoints/selection.json``, chosen
on our resized pair; seed 0; from the shipped source-only model) is trained on the padded pair and
measured on the whole padded USPS test set, beside the shipped model's figure on the resized pair
and the papers' padded numbers: how much of a gap to a paper is the pair, and how much the method.
``--defaults`` runs each method's default settings instead (its paper's recipe where it has one),
to their default length or ``--steps``, with any ``--set NAME=VALUE`` changed (e.g. ``--set
bounded_embedding=true``: the recipe's name then says so). Nothing is chosen here, with target
labels or without. Each finished run is appended to ``checkpoints/padded-usps.jsonl`` and skipped when the benchmark
runs again; ``python -m da_demo results --write-readme`` puts the table in the README.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..artifacts.records import append_record, check_writable
from ..cli.common import add_overrides_argument, parse_overrides
from ..engine.spec import RunSpec
from ..workflows.padded_usps import (
    DEFAULTS,
    PAIR,
    PICK,
    PUBLISHED,
    RECORDS,
    measure,
    padded_pair,
    read_records,
    table,
)
from ..workflows.selection import read_selection


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
    add_overrides_argument(parser, "with --defaults: change one default setting (repeatable)")
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    if (args.steps or args.overrides) and not args.defaults:
        parser.error("--steps and --set go with --defaults: a pick trains its own settings to its own step")
    try:
        overrides = parse_overrides(args.overrides, args.steps)
    except ValueError as error:
        parser.error(str(error))
    records = check_writable(args.records)
    selection = read_selection()
    pair = padded_pair(args.data_dir)
    for method in args.methods:
        recipe = PICK
        if args.defaults:
            spec = RunSpec.resolve(pair.spec, method, overrides)
            settings, step = spec.typed(sorted(overrides)), spec.total_steps
            changed = [f"{name}={json.dumps(value)}" for name, value in settings.items() if name != "steps"]
            recipe = " + ".join([DEFAULTS, *changed])
        else:
            chosen = selection.method(PAIR, method).pick
            settings, step = chosen.settings, chosen.step
        key = json.dumps([method, settings, step], sort_keys=True)
        if key in {row.key for row in read_records(records)}:
            continue
        started = time.perf_counter()
        accuracy = measure(pair, method, settings, step, args.device)
        row = {"key": key, "method": method, "recipe": recipe, "settings": settings, "step": step}
        append_record(records, {**row, "target_acc": accuracy, "seconds": round(time.perf_counter() - started)})
        print(f"{method}: {100 * accuracy:.1f}% on padded USPS ({time.perf_counter() - started:.0f} s)", flush=True)
    print(table(read_records(records)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
