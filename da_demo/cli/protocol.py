"""The label-free protocol: ``sweep`` → ``select`` → ``pretrain`` → ``results``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..data import PAIRS
from ..reporting import format_markdown
from .common import CommandError, expand, log_line, parse_overrides, positive_int

README = Path(__file__).resolve().parents[2] / "README.md"


def add_commands(commands, parents: dict[str, argparse.ArgumentParser], methods: str) -> None:
    machine = [parents["executor"], parents["data"], parents["device"]]
    sweep = commands.add_parser(
        "sweep",
        parents=machine,
        help="train every method on every pair over a grid of settings, recording label-free validator scores",
    )
    sweep.add_argument("--pairs", nargs="+", default=["all"], help="pairs (default: all)")
    sweep.add_argument("--methods", nargs="+", default=["all"], help=f"methods ({methods}; default: all)")
    sweep.add_argument("--seeds", nargs="+", type=int, default=[0], help="seeds per setting (default: 0)")
    sweep.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=V1,V2,...",
        help="replace a setting's values in every method's grid that has it (repeatable)",
    )
    sweep.add_argument(
        "--records", default=None, help="the appendable records file (default: checkpoints/sweep.jsonl)"
    )
    sweep.add_argument(
        "--snapshots",
        default=None,
        help="keep each validator's best model of every trial in this folder (for pretraining)",
    )
    sweep.add_argument(
        "--refresh",
        action="store_true",
        help="also run again the trials recorded before the handwriting guard existed (their new record "
        "supersedes the old one)",
    )
    sweep.add_argument("--dry-run", action="store_true", help="list the trials still to run and stop")
    sweep.set_defaults(run=sweep_command)

    _add_search(commands, machine, methods)

    select = commands.add_parser("select", help="pick each method's settings and step without target labels")
    select.add_argument(
        "--records", default=None, help="the sweep's records (default: checkpoints/sweep.jsonl)"
    )
    select.add_argument(
        "--write", action="store_true", help="write checkpoints/selection.json (pretraining reads it)"
    )
    select.set_defaults(run=select_command)

    pretrain = commands.add_parser(
        "pretrain",
        parents=[*machine, parents["settings"]],
        help="train every method on every pair into checkpoints/ + manifest",
    )
    pretrain.add_argument("--pairs", nargs="+", default=["all"], help="pairs (default: all)")
    pretrain.add_argument("--methods", nargs="+", default=["all"], help="methods (default: all)")
    pretrain.add_argument("--seeds", type=int, default=3, help="seeds per method (seed 0 shipped)")
    pretrain.add_argument("--out", default=None, help="checkpoint folder (default: the shipped checkpoints/)")
    pretrain.add_argument("--selection", default=None, help="the picks (default: checkpoints/selection.json)")
    pretrain.add_argument(
        "--records", default=None, help="the sweep's records (default: checkpoints/sweep.jsonl)"
    )
    pretrain.add_argument(
        "--snapshots", default=None, help="the sweep's --snapshots folder, to reuse its seed-0 picks"
    )
    pretrain.add_argument(
        "--retrain",
        action="store_true",
        help="train every seed with this code, seed 0 too, reusing neither a sweep snapshot nor the "
        "shipped file nor a seed another code version trained (after a fix to a method's code)",
    )
    pretrain.set_defaults(run=pretrain_command)

    results = commands.add_parser("results", help="print the results table generated from the manifest")
    what = results.add_mutually_exclusive_group()
    what.add_argument("--write-readme", action="store_true", help="rewrite the table in README.md")
    what.add_argument(
        "--check", action="store_true", help="exit 1 if README.md's table is not the generated one"
    )
    what.add_argument("--goals", action="store_true", help="the goals set in the project's issues, measured")
    results.set_defaults(run=results_command)


def _add_search(commands, machine: list[argparse.ArgumentParser], methods: str) -> None:
    search = commands.add_parser(
        "search",
        parents=machine,
        help="successive halving over one method's grid: long runs only for the trials a label-free score promotes",
    )
    search.add_argument("--pair", required=True, help="the pair to search on")
    search.add_argument("--method", required=True, help=f"the method ({methods})")
    search.add_argument("--steps", type=positive_int, required=True, help="the budget of a trial that is never pruned")
    search.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2,...",
                        help="replace a setting's values in the method's grid (repeatable)")  # fmt: skip
    search.add_argument(
        "--scheduler",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="min_steps (first rung and evaluation interval, default 500), reduction_factor (η, default 3), "
        "promote_by (a validator, default information_maximization); repeatable",
    )
    search.add_argument("--seed", type=int, default=0)
    search.add_argument("--records", default=None, help="the appendable records file (default: checkpoints/sweep.jsonl)")
    search.add_argument("--snapshots", default=None, help="keep each validator's best model of every finished trial here")
    search.add_argument("--dry-run", action="store_true", help="show the rungs, what ran and what is left, then stop")
    search.set_defaults(run=search_command)


def parse_grid(items: list[str], flag: str = "--grid", single: bool = False) -> dict[str, list[str]]:
    """``["lambda_max=0.1,0.3"]`` → ``{"lambda_max": ["0.1", "0.3"]}`` (types are checked by the method);
    ``single``: each name takes one value (``NAME=VALUE``)."""
    form = "NAME=VALUE" if single else "NAME=V1,V2,..."
    grid: dict[str, list[str]] = {}
    for item in items:
        name, separator, values = item.partition("=")
        grid[name.strip()] = [value.strip() for value in values.split(",") if value.strip()]
        if not separator or not name.strip() or (single and len(grid[name.strip()]) != 1):
            raise ValueError(f"{flag} expects {form}, got {item!r}")
    return grid


def make_executor(args: argparse.Namespace):
    """Where tasks run: Ray (``--ray``), local processes (``--workers N``), or one after another here."""
    from ..workflows import executors

    try:
        if args.ray is not None:
            return executors.RayExecutor(args.ray or None)
    except executors.ExecutorError as error:
        raise CommandError(str(error)) from None
    if args.workers > 1:
        return executors.ProcessExecutor(args.workers)
    return executors.LocalExecutor()


def sweep_command(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from ..artifacts.records import check_writable
    from ..methods import method_names
    from ..workflows.resuming import resume_directory, saved_step
    from ..workflows.sweep import DEFAULT_RECORDS, pending, plan_trials, run_sweep

    trials = plan_trials(
        expand(args.pairs, list(PAIRS), "pair"),
        expand(args.methods, method_names(), "method"),
        args.seeds,
        parse_grid(args.grid),
    )
    records = check_writable(Path(args.records) if args.records else DEFAULT_RECORDS)
    todo = pending(trials, records, args.refresh)
    if args.dry_run:
        for trial in todo:
            step = saved_step(resume_directory(), trial.slug)
            print(trial.key + ("" if step is None else f"  (cut short: resumes at step {step:,})"))
        print(f"{len(todo)} of {len(trials)} trials to run")
        return 0
    executor = make_executor(args)
    context = _trial_context(args)
    started, failed = time.perf_counter(), 0
    with tqdm(total=len(todo), desc="sweep", unit="trial", file=sys.stderr) as bar:
        for record in run_sweep(trials, records, executor, context=context, log=log_line, refresh=args.refresh):
            bar.update(1)
            if record["status"] != "ok":
                failed += 1
                log_line(f"trial {record['key']} failed: {record['error']}")
                continue
            final = record["points"][-1]
            bar.set_postfix_str(
                f"{record['pair']} {record['method']} target {100 * final['target_acc']:.1f}% "
                f"in {record['wall_seconds']:.0f} s"
            )
    print(
        f"sweep: {len(trials)} trials in {records} ({failed} failed this run); {time.perf_counter() - started:.0f} s"
    )
    return 1 if failed else 0


def _trial_context(args: argparse.Namespace):
    """The context of sweep and search trials: the machine's options, the snapshots folder, and
    running trials saved every few minutes to resume (``workflows.resuming``)."""
    from ..workflows.resuming import resume_directory
    from ..workflows.tasks import TaskContext

    snapshots = Path(args.snapshots) if args.snapshots else None
    return TaskContext(args.data_dir, args.device, args.precision, snapshots, resume_dir=resume_directory())


def search_command(args: argparse.Namespace) -> int:
    from ..artifacts.records import check_writable
    from ..methods import method_names
    from ..workflows.resuming import resume_directory
    from ..workflows.search import Halving, plan_search, run_search, summarize
    from ..workflows.sweep import DEFAULT_RECORDS, pending, read_sweep

    records = check_writable(Path(args.records) if args.records else DEFAULT_RECORDS)
    options = parse_grid(args.scheduler, flag="--scheduler", single=True)
    halving = Halving.from_options({name: values[0] for name, values in options.items()})
    method = expand([args.method], method_names(), "method")[0]
    trials = plan_search(args.pair, method, parse_grid(args.grid), args.steps, halving, records, args.seed)
    if args.dry_run:
        print(summarize(trials, read_sweep(records), resume_directory()).text())
        todo = pending(trials, records)
        print(f"rungs at {', '.join(map(str, halving.rungs(args.steps)))} steps; {len(todo)} of {len(trials)} trials to run")
        return 0
    context = _trial_context(args)
    failed = 0
    for record in run_search(trials, records, make_executor(args), context=context, log=log_line):
        if record["status"] != "ok":
            failed += 1
            log_line(f"trial {record['key']} failed: {record['error']}")
            continue
        last = record["points"][-1] if record["points"] else {"step": 0}
        log_line(f"{record['key']}: {record['ended_early'] or 'full budget'} at step {last['step']} "
                 f"({record['wall_seconds']:.0f} s)")  # fmt: skip
    print(summarize(trials, read_sweep(records), resume_directory()).text())
    return 1 if failed else 0


def select_command(args: argparse.Namespace) -> int:
    from ..methods import method_names
    from ..workflows.results import selection_tables
    from ..workflows.selection import select, write_selection
    from ..workflows.sweep import DEFAULT_RECORDS, read_sweep

    records = read_sweep(Path(args.records) if args.records else DEFAULT_RECORDS)
    if not records:
        raise ValueError("No sweep records yet: run `python -m da_demo sweep` first")
    selections, correlations = select(records, list(PAIRS), method_names())
    print(selection_tables(selections, correlations))
    if args.write:
        print(f"wrote {write_selection(selections, correlations)}")
    return 0


def pretrain_command(args: argparse.Namespace) -> int:
    from ..artifacts.store import SHIPPED_DIRECTORY
    from ..methods import method_names
    from ..workflows.pretrain import pretrain
    from ..workflows.selection import read_selection
    from ..workflows.sweep import DEFAULT_RECORDS, read_sweep

    if args.seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {args.seeds}")
    selection = read_selection(Path(args.selection)) if args.selection else read_selection()
    if not selection.pairs:
        log_line(
            "no selection.json yet: every method uses its default settings (run `sweep`, then `select --write`)"
        )
    started = time.perf_counter()
    entries = pretrain(
        expand(args.pairs, list(PAIRS), "pair"),
        expand(args.methods, method_names(), "method"),
        directory=Path(args.out) if args.out else SHIPPED_DIRECTORY,
        seeds=args.seeds,
        device=args.device,
        precision=args.precision,
        data_dir=args.data_dir,
        selection=selection,
        records=read_sweep(Path(args.records) if args.records else DEFAULT_RECORDS),
        snapshot_dir=Path(args.snapshots) if args.snapshots else None,
        overrides=parse_overrides(args.overrides, args.steps),
        retrain=args.retrain,
        executor=make_executor(args),
        log=log_line,
    )
    columns = ["pair", "method", "validator", "seeds", "target acc % (mean ± std)", "shipped (seed 0) %",
               "drawn digits % (mean)", "train s (all seeds)"]  # fmt: skip
    rows = [
        [
            entry.pair,
            entry.method,
            entry.validator or "—",
            str(len(entry.seeds)),
            f"{100 * entry.target_acc_mean:.2f} ± {100 * entry.target_acc_std:.2f}",
            f"{100 * entry.target_acc:.2f}",
            f"{100 * entry.drawn_acc_mean:.2f}",
            f"{sum(seed.train_seconds for seed in entry.seeds):.0f}",
        ]
        for entry in entries
    ]
    print(format_markdown(columns, rows))
    print(f"total wall time: {time.perf_counter() - started:.0f} s")
    return 0


def results_command(args: argparse.Namespace) -> int:
    from ..workflows.results import goals, readme_blocks, updated_readme

    readme = README.read_text()
    if args.goals:
        print(goals())
        return 0
    if args.check:
        if updated_readme(readme) != readme:
            print(
                "README.md's results differ from the manifest and selection: run `python -m da_demo results --write-readme`",
                file=sys.stderr,
            )
            return 1
        print("README.md's results match the manifest and selection")
        return 0
    if args.write_readme:
        README.write_text(updated_readme(readme))
        print(f"wrote the results into {README}")
        return 0
    blocks = readme_blocks()
    print(blocks["results-table"] + "\n\n" + blocks["validators-table"])
    return 0
