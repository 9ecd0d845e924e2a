"""``train`` and ``bench``: one method on one pair with a progress bar, or a table of runs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..data import PAIRS
from ..reporting import format_markdown, with_progress_bar
from .common import expand, log_line, parse_overrides

BENCH_COLUMNS = (
    "pair",
    "method",
    "backbone",
    "source_acc",
    "target_acc",
    "published",
    "steps",
    "wall_s",
    "ms_per_step",
)


def add_commands(commands, parents: dict[str, argparse.ArgumentParser], methods: str) -> None:
    train = commands.add_parser(
        "train", parents=[parents["run"]], help="train one method on one domain pair, with a progress bar"
    )
    train.add_argument("--pair", required=True, choices=list(PAIRS))
    train.add_argument("--method", required=True, help=methods)
    train.add_argument("--out", help="checkpoint path (default: runs/<pair>/<method>.safetensors)")
    train.add_argument(
        "--eval-every", type=int, default=0, help="evaluate on 2,000 test images every N steps"
    )
    train.set_defaults(run=train_command)

    bench = commands.add_parser(
        "bench", parents=[parents["run"]], help="train and evaluate methods; print a results table"
    )
    bench.add_argument("--pair", action="append", required=True, help="a pair, or 'all' (repeatable)")
    bench.add_argument(
        "--method", action="append", required=True, help=f"a method ({methods}) or 'all' (repeatable)"
    )
    bench.add_argument("--json", action="store_true", help="one JSON object per row instead of a table")
    bench.set_defaults(run=bench_command)


def load_pair_for(args: argparse.Namespace, pair_name: str):
    from ..data.pairs import load_pair

    log_line(f"loading {pair_name} ...")
    return load_pair(pair_name, args.data_dir)


def training_job(args: argparse.Namespace, pair, spec):
    """The one training entry point, with this command's device and progress bars."""
    from ..workflows.training import TrainingJob

    return TrainingJob(
        pair, spec, device=args.device, precision=args.precision, show=with_progress_bar, log=log_line
    )


def train_command(args: argparse.Namespace) -> int:
    from ..engine.spec import RunSpec

    overrides = parse_overrides(args.overrides, args.steps)
    spec = RunSpec.resolve(
        args.pair, args.method, overrides, seed=args.seed, backbone=args.backbone
    )  # before slow loading
    pair = load_pair_for(args, args.pair)
    job = training_job(args, pair, spec)
    for _ in with_progress_bar(
        job.events(eval_every=args.eval_every, time_budget=args.time_budget), job.label
    ):
        pass
    result = job.result
    path = job.save(args.out or Path("runs") / pair.name / f"{spec.method.name}.safetensors")
    ended = f" (ended early: {result.ended_early.value})" if result.ended_early else ""
    print(
        f"{pair.spec.title}, {spec.method.title}, {result.step} steps in {result.train_seconds:.1f} s{ended}"
    )
    print(f"source-test accuracy ({pair.spec.source.name}): {100 * result.source_acc:.2f}%")
    print(f"target-test accuracy ({pair.spec.target.name}): {100 * result.target_acc:.2f}%")
    print(f"checkpoint: {path}")
    return 0


def bench_command(args: argparse.Namespace) -> int:
    """Train and evaluate each method on each pair; one row each (accuracies in %)."""
    from ..engine.spec import RunSpec
    from ..methods import get_method, method_names

    methods = expand(args.method, method_names(), "method")
    pairs = expand(args.pair, list(PAIRS), "pair")
    overrides = parse_overrides(args.overrides, args.steps)
    for name in overrides:
        if not any(name in get_method(method).hyperparameters_class.settings() for method in methods):
            raise ValueError(f"None of the chosen methods has a hyperparameter {name!r}")
    # each setting goes to the methods that have it (--steps means nothing to a transport map); all
    # are checked before any data is loaded
    specs = {
        (pair, method): RunSpec.resolve(
            pair, method, overrides, seed=args.seed, backbone=args.backbone, only_known=True
        )
        for pair in pairs
        for method in methods
    }
    rows = []
    for pair_name in pairs:
        pair = load_pair_for(args, pair_name)
        for method in methods:
            job = training_job(args, pair, specs[pair_name, method])
            for _ in with_progress_bar(job.events(time_budget=args.time_budget), job.label):
                pass
            rows.append(_row(pair, job))
            if args.json:
                print(json.dumps(rows[-1]), flush=True)
    if not args.json:
        print(
            format_markdown(
                list(BENCH_COLUMNS), [[_cell(row[column]) for column in BENCH_COLUMNS] for row in rows]
            )
        )
    return 0


def _row(pair, job) -> dict:
    result = job.result
    return {
        "pair": pair.name,
        "method": job.spec.method.name,
        "backbone": job.backbone,
        "source_acc": round(100 * result.source_acc, 2),
        "target_acc": round(100 * result.target_acc, 2),
        "published": str(pair.spec.published.get(job.spec.method.name, "—")),
        "steps": result.step,
        "wall_s": round(result.train_seconds, 1),
        "ms_per_step": round(1000 * result.train_seconds / max(result.step, 1), 1),
    }


def _cell(value) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)
