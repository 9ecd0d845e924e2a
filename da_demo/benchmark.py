"""``python -m da_demo bench``: train and evaluate methods, print one row per run.

Rows hold pair, method, backbone, source and target test accuracy (%), the published number we
compare with, steps, training wall time and time per step. ``--json`` prints each row as a JSON
object on its own line instead of a table.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from typing import Iterable, Iterator

from .data import PAIRS
from .methods import get_method, method_names


@dataclass
class BenchRow:
    pair: str
    method: str
    backbone: str
    source_acc: float
    target_acc: float
    published: str
    steps: int
    wall_s: float
    ms_per_step: float


def published_number(method: str, pair: str) -> str:
    """The number our result is compared with, e.g. ``94.3 (lecture)``; ``—`` when none was published."""
    entry = get_method(method).published.get(pair)
    return f"{entry[0]:g} ({entry[1]})" if entry else "—"


def expand(values: Iterable[str], known: list[str], what: str) -> list[str]:
    names: list[str] = []
    for value in values:
        for name in (known if value == "all" else value.split(",")):
            name = name.strip().replace("-", "_") if what == "method" else name.strip()
            if name not in known:
                raise ValueError(f"Unknown {what} {name!r}; choose from: {', '.join(known)} or all")
            if name not in names:
                names.append(name)
    return names


def bench_rows(args: argparse.Namespace) -> Iterator[BenchRow]:
    from .cli import load_pair_for, parse_overrides, warm_start_model, with_progress_bar
    from .engine.runs import Run, default_backbone

    methods = expand(args.method, method_names(), "method")
    overrides = parse_overrides(args.overrides, args.steps)
    for name in overrides:
        if not any(name in get_method(method).hyperparameters_class.__dataclass_fields__ for method in methods):
            raise ValueError(f"None of the chosen methods has a hyperparameter {name!r}")
    for pair_name in expand(args.pair, list(PAIRS), "pair"):
        pair = load_pair_for(args, pair_name)
        backbone = args.backbone or default_backbone(pair_name)
        for method in methods:
            method_class = get_method(method)
            fields = method_class.hyperparameters_class.__dataclass_fields__
            # each setting goes to the methods that have it (--steps means nothing to a transport map)
            hparams = method_class.hyperparameters_for(pair_name, {k: v for k, v in overrides.items() if k in fields})
            start = warm_start_model(args, pair, method_class.warm_start_from(hparams), backbone)
            run = Run(pair, method, hparams, backbone=backbone, seed=args.seed, device=args.device,
                      precision=args.precision, start_model=start)
            for _ in with_progress_bar(run.events(time_budget=args.time_budget), f"{pair_name} {method}"):
                pass
            result = run.result
            yield BenchRow(pair_name, method, backbone, round(100 * result.source_acc, 2),
                           round(100 * result.target_acc, 2), published_number(method, pair_name), result.step,
                           round(result.train_seconds, 1), round(1000 * result.train_seconds / max(result.step, 1), 1))


COLUMNS = ("pair", "method", "backbone", "source_acc", "target_acc", "published", "steps", "wall_s", "ms_per_step")


def format_table(rows: list[BenchRow]) -> str:
    """A Markdown table of the rows (accuracies in %)."""
    return format_markdown(list(COLUMNS), [[_cell(getattr(row, column)) for column in COLUMNS] for row in rows])


def format_markdown(header: list[str], rows: list[list[str]]) -> str:
    """An aligned Markdown table."""
    cells = [header] + rows
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(value.ljust(width) for value, width in zip(line, widths)) + " |" for line in cells]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def _cell(value) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def bench_command(args: argparse.Namespace) -> int:
    rows = []
    for row in bench_rows(args):
        rows.append(row)
        if args.json:
            print(json.dumps(asdict(row)), flush=True)
    if not args.json:
        print(format_table(rows))
    return 0
