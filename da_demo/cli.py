"""Command line: ``python -m da_demo {train,bench,...}``. Run with ``--help`` for each command's options.

Parsing imports neither torch nor the methods, so ``--help`` answers at once; each command imports
what it needs when it runs.
"""

from __future__ import annotations

import argparse
import json
import pkgutil
import sys
import time
from pathlib import Path

from .data import PAIRS, DataMissingError
from .reporting import format_markdown, with_progress_bar

#: method names without importing them: each method lives in a module of its own name
METHOD_NAMES = sorted(
    module.name
    for module in pkgutil.iter_modules([str(Path(__file__).parent / "methods")])
    if module.name != "base"
)
README = Path(__file__).resolve().parents[1] / "README.md"


def positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {value}")
    return seconds


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        help="folder with MNIST/raw, usps*.bz2 and BSDS500/ (default: "
        "$DA_DEMO_DATA_DIR, else download into the cache)",
    )
    parser.add_argument(
        "--backbone", default=None, help="lean, wide or lecture (default: the pair's, see README)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16"],
        help="auto: bf16 autocast on CUDA and on CPUs with native bf16, else fp32",
    )
    parser.add_argument("--steps", type=positive_int, help="training steps (default: the method's)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a hyperparameter, e.g. --set lambda_max=0.5 (repeatable)",
    )
    parser.add_argument(
        "--time-budget", type=positive_seconds, help="stop training after this many seconds and evaluate"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m da_demo", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    methods = f"one of: {', '.join(METHOD_NAMES)}"

    train = commands.add_parser("train", help="train one method on one domain pair, with a progress bar")
    train.add_argument("--pair", required=True, choices=list(PAIRS))
    train.add_argument("--method", required=True, help=methods)
    train.add_argument("--out", help="checkpoint path (default: runs/<pair>/<method>.safetensors)")
    train.add_argument(
        "--eval-every", type=int, default=0, help="evaluate on 2,000 test images every N steps"
    )
    _add_common(train)

    bench = commands.add_parser("bench", help="train and evaluate methods; print a results table")
    bench.add_argument("--pair", action="append", required=True, help="a pair, or 'all' (repeatable)")
    bench.add_argument(
        "--method", action="append", required=True, help=f"a method ({methods}) or 'all' (repeatable)"
    )
    bench.add_argument("--json", action="store_true", help="one JSON object per row instead of a table")
    _add_common(bench)

    pretrain = commands.add_parser(
        "pretrain", help="train every method on every pair into checkpoints/ + manifest"
    )
    pretrain.add_argument("--pairs", nargs="+", default=["all"], help="pairs (default: all)")
    pretrain.add_argument("--methods", nargs="+", default=["all"], help="methods (default: all)")
    pretrain.add_argument("--seeds", type=positive_int, default=3, help="seeds per method (seed 0 shipped)")
    pretrain.add_argument("--out", default=None, help="checkpoint folder (default: the shipped checkpoints/)")
    pretrain.add_argument(
        "--steps", type=positive_int, help="steps for every method trained by steps (default: each method's)"
    )
    pretrain.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a hyperparameter for every method that has it, over the picks (repeatable)",
    )
    pretrain.add_argument("--selection", default=None, help="the picks (default: checkpoints/selection.json)")
    pretrain.add_argument(
        "--records", default=None, help="the sweep's records (default: checkpoints/sweep.jsonl)"
    )
    pretrain.add_argument(
        "--snapshots", default=None, help="the sweep's --snapshots folder, to reuse its seed-0 picks"
    )
    add_executor_options(pretrain)
    pretrain.add_argument("--data-dir")
    pretrain.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    pretrain.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])

    projections = commands.add_parser(
        "projections", help="precompute the Feature space tab's projections of shipped models"
    )
    projections.add_argument("--pairs", nargs="+", default=["all"])
    projections.add_argument("--data-dir")

    results = commands.add_parser("results", help="print the results table generated from the manifest")
    what = results.add_mutually_exclusive_group()
    what.add_argument("--write-readme", action="store_true", help="rewrite the table in README.md")
    what.add_argument(
        "--check", action="store_true", help="exit 1 if README.md's table is not the generated one"
    )
    what.add_argument("--goals", action="store_true", help="the goals set in the project's issues, measured")

    sweep = commands.add_parser(
        "sweep",
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
    add_executor_options(sweep)
    sweep.add_argument(
        "--snapshots",
        default=None,
        help="keep each validator's best model of every trial in this folder (for pretraining)",
    )
    sweep.add_argument("--dry-run", action="store_true", help="list the trials still to run and stop")
    sweep.add_argument("--data-dir")
    sweep.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    sweep.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])

    select = commands.add_parser("select", help="pick each method's settings and step without target labels")
    select.add_argument(
        "--records", default=None, help="the sweep's records (default: checkpoints/sweep.jsonl)"
    )
    select.add_argument(
        "--write", action="store_true", help="write checkpoints/selection.json (pretraining reads it)"
    )

    calibrate = commands.add_parser(
        "calibrate", help='calibrate the app\'s "is this a digit?" check on the shipped source-only models'
    )
    calibrate.add_argument("--data-dir")

    push = commands.add_parser(
        "push", help="upload checkpoints, manifest and a model card to the Hugging Face Hub"
    )
    push.add_argument("--repo-id", required=True, help="e.g. your-name/da-demo-checkpoints")
    push.add_argument("--private", action="store_true")
    push.add_argument("--token", help="Hub token (default: HF_TOKEN or the cached login)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commands = {
        "train": train_command,
        "bench": bench_command,
        "pretrain": pretrain_command,
        "projections": projections_command,
        "results": results_command,
        "sweep": sweep_command,
        "select": select_command,
        "calibrate": calibrate_command,
        "push": push_command,
    }
    try:
        return commands[args.command](args)
    except (DataMissingError, ValueError, ExecutorError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def parse_overrides(pairs: list[str], steps: int | None) -> dict[str, str]:
    """``["lambda_max=0.5", ...]`` → ``{"lambda_max": "0.5", ...}`` (types are checked by the method)."""
    values: dict[str, str] = {}
    for item in pairs:
        name, separator, value = item.partition("=")
        if not separator or not name:
            raise ValueError(f"--set expects NAME=VALUE, got {item!r}")
        values[name.strip()] = value.strip()
    if steps is not None:
        values["steps"] = str(steps)
    return values


def expand(values: list[str], known: list[str], what: str) -> list[str]:
    """``["all"]`` or comma-separated names → the names, checked against ``known``."""
    names: list[str] = []
    for value in values:
        for name in known if value == "all" else value.split(","):
            name = name.strip().replace("-", "_") if what == "method" else name.strip()
            if name not in known:
                raise ValueError(f"Unknown {what} {name!r}; choose from: {', '.join(known)} or all")
            if name not in names:
                names.append(name)
    return names


def log_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def load_pair_for(args: argparse.Namespace, pair_name: str):
    from .data.pairs import load_pair

    log_line(f"loading {pair_name} ...")
    return load_pair(pair_name, args.data_dir)


def training_job(args: argparse.Namespace, pair, method: str, settings):
    """The one training entry point, with this command's seed, backbone, device and progress bars."""
    from .workflows.training import TrainingJob

    return TrainingJob(
        pair,
        method,
        settings,
        seed=args.seed,
        backbone=args.backbone,
        device=args.device,
        precision=args.precision,
        show=with_progress_bar,
        log=log_line,
    )


def train_command(args: argparse.Namespace) -> int:
    from .methods import get_method
    from .workflows.training import resolve_settings

    method = get_method(args.method).name
    settings = resolve_settings(
        method, args.pair, parse_overrides(args.overrides, args.steps)
    )  # before slow loading
    pair = load_pair_for(args, args.pair)
    job = training_job(args, pair, method, settings)
    for _ in with_progress_bar(
        job.events(eval_every=args.eval_every, time_budget=args.time_budget), job.label
    ):
        pass
    result = job.result
    path = job.save(args.out or Path("runs") / pair.name / f"{method}.safetensors")
    ended = f" (ended early: {result.ended_early.value})" if result.ended_early else ""
    print(
        f"{pair.spec.title}, {job.method_class.title}, {result.step} steps in {result.train_seconds:.1f} s{ended}"
    )
    print(f"source-test accuracy ({pair.spec.source.name}): {100 * result.source_acc:.2f}%")
    print(f"target-test accuracy ({pair.spec.target.name}): {100 * result.target_acc:.2f}%")
    print(f"checkpoint: {path}")
    return 0


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


def bench_command(args: argparse.Namespace) -> int:
    """Train and evaluate each method on each pair; one row each (accuracies in %)."""
    from .methods import get_method, method_names
    from .workflows.training import resolve_settings

    methods = expand(args.method, method_names(), "method")
    pairs = expand(args.pair, list(PAIRS), "pair")
    overrides = parse_overrides(args.overrides, args.steps)
    for name in overrides:
        if not any(name in get_method(method).hyperparameters_class.settings() for method in methods):
            raise ValueError(f"None of the chosen methods has a hyperparameter {name!r}")
    # each setting goes to the methods that have it (--steps means nothing to a transport map); all
    # are checked before any data is loaded
    settings = {
        (pair, method): resolve_settings(method, pair, overrides, only_known=True)
        for pair in pairs
        for method in methods
    }
    rows = []
    for pair_name in pairs:
        pair = load_pair_for(args, pair_name)
        for method in methods:
            job = training_job(args, pair, method, settings[pair_name, method])
            for _ in with_progress_bar(job.events(time_budget=args.time_budget), job.label):
                pass
            result = job.result
            row = {
                "pair": pair_name,
                "method": method,
                "backbone": job.backbone,
                "source_acc": round(100 * result.source_acc, 2),
                "target_acc": round(100 * result.target_acc, 2),
                "published": str(pair.spec.published.get(method, "—")),
                "steps": result.step,
                "wall_s": round(result.train_seconds, 1),
                "ms_per_step": round(1000 * result.train_seconds / max(result.step, 1), 1),
            }
            rows.append(row)
            if args.json:
                print(json.dumps(row), flush=True)
    if not args.json:
        print(
            format_markdown(
                list(BENCH_COLUMNS), [[_cell(row[column]) for column in BENCH_COLUMNS] for row in rows]
            )
        )
    return 0


def _cell(value) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def pretrain_command(args: argparse.Namespace) -> int:
    from .artifacts.records import read_records
    from .artifacts.store import SHIPPED_DIRECTORY
    from .methods import method_names
    from .workflows.pretrain import pretrain, run_pretrain_task
    from .workflows.selection import read_selection
    from .workflows.sweep import DEFAULT_RECORDS

    pairs = expand(args.pairs, list(PAIRS), "pair")
    methods = expand(args.methods, method_names(), "method")
    selection = read_selection(Path(args.selection)) if args.selection else read_selection()
    if not selection:
        log_line(
            "no selection.json yet: every method uses its default settings (run `sweep`, then `select --write`)"
        )
    records_path = Path(args.records) if args.records else DEFAULT_RECORDS
    started = time.perf_counter()
    entries = pretrain(
        pairs,
        methods,
        directory=Path(args.out) if args.out else SHIPPED_DIRECTORY,
        seeds=args.seeds,
        device=args.device,
        precision=args.precision,
        data_dir=args.data_dir,
        selection=selection,
        records=read_records(records_path),
        snapshot_dir=Path(args.snapshots) if args.snapshots else None,
        overrides=parse_overrides(args.overrides, args.steps),
        executor=make_executor(args, run_pretrain_task),
        log=log_line,
    )
    rows = [
        [
            entry["pair"],
            entry["method"],
            entry["validator"],
            str(len(entry["seeds"])),
            f"{100 * entry['target_acc_mean']:.2f} ± {100 * entry['target_acc_std']:.2f}",
            f"{100 * entry['target_acc']:.2f}",
            f"{100 * entry['drawn_acc_mean']:.2f}",
            f"{sum(seed['train_seconds'] for seed in entry['seeds']):.0f}",
        ]
        for entry in entries
    ]
    print(
        format_markdown(
            [
                "pair",
                "method",
                "validator",
                "seeds",
                "target acc % (mean ± std)",
                "shipped (seed 0) %",
                "drawn digits % (mean)",
                "train s (all seeds)",
            ],
            rows,
        )
    )
    print(f"total wall time: {time.perf_counter() - started:.0f} s")
    return 0


def results_command(args: argparse.Namespace) -> int:
    from .workflows.results import goals, readme_blocks, updated_readme

    readme = README.read_text()
    if args.goals:
        print(goals())
        return 0
    if args.check:
        if updated_readme(readme) != readme:
            print(
                "README.md's results differ from the manifest and selection: run "
                "`python -m da_demo results --write-readme`",
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


def projections_command(args: argparse.Namespace) -> int:
    from .artifacts.checkpoints import CheckpointError
    from .artifacts.store import SHIPPED_DIRECTORY, ModelStore
    from .data.pairs import load_pair
    from .methods import get_method, method_names
    from .workflows.projections import build_projection_cache

    store = ModelStore(use_hub=False)
    for pair_name in expand(args.pairs, list(PAIRS), "pair"):
        pair = load_pair(pair_name, args.data_dir)
        models = {}
        for method in method_names():
            try:
                checkpoint = store.load(pair_name, method).checkpoint
            except CheckpointError as error:
                log_line(f"skipping {pair_name} {method}: {error}")
                continue
            models[method] = get_method(method).inference_model(checkpoint)
        print(f"wrote {build_projection_cache(SHIPPED_DIRECTORY, pair, models, log=log_line)}")
    return 0


def push_command(args: argparse.Namespace) -> int:
    from .artifacts.hub import push
    from .artifacts.store import SHIPPED_DIRECTORY

    print(f"uploaded to {push(args.repo_id, SHIPPED_DIRECTORY, token=args.token, private=args.private)}")
    return 0


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    """``["lambda_max=0.1,0.3"]`` → ``{"lambda_max": ["0.1", "0.3"]}`` (types are checked by the method)."""
    grid: dict[str, list[str]] = {}
    for item in items:
        name, separator, values = item.partition("=")
        if not separator or not name.strip():
            raise ValueError(f"--grid expects NAME=V1,V2,..., got {item!r}")
        grid[name.strip()] = [value.strip() for value in values.split(",") if value.strip()]
    return grid


class ExecutorError(RuntimeError):
    """Raised when an executor cannot be made (see ``workflows.executors.ExecutorError``)."""


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="trials at once on this machine, one process each (default: 1, in this process)",
    )
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="run each trial as a Ray task: on the cluster at ADDRESS, or without one on a local Ray "
        "instance (needs requirements-scale.txt)",
    )


def make_executor(args: argparse.Namespace, run):
    """Where trials run: Ray (``--ray``), local processes (``--workers N``), or one after another here."""
    from .workflows import executors

    try:
        if args.ray is not None:
            return executors.RayExecutor(args.ray or None, run=run)
    except executors.ExecutorError as error:
        raise ExecutorError(str(error)) from None
    if args.workers > 1:
        return executors.ProcessExecutor(args.workers, run=run)
    return executors.LocalExecutor(run)


def sweep_command(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from .artifacts.records import check_writable
    from .methods import method_names
    from .workflows.sweep import DEFAULT_RECORDS, TrialContext, pending, plan_trials, run_sweep, run_trial

    trials = plan_trials(
        expand(args.pairs, list(PAIRS), "pair"),
        expand(args.methods, method_names(), "method"),
        args.seeds,
        parse_grid(args.grid),
    )
    records = check_writable(Path(args.records) if args.records else DEFAULT_RECORDS)
    if args.dry_run:
        todo = pending(trials, records)
        print("\n".join(trial.key for trial in todo))
        print(f"{len(todo)} of {len(trials)} trials to run")
        return 0
    executor = make_executor(args, run_trial)
    context = TrialContext(
        args.data_dir, args.device, args.precision, Path(args.snapshots) if args.snapshots else None
    )
    started = time.perf_counter()
    with tqdm(total=len(pending(trials, records)), desc="sweep", unit="trial", file=sys.stderr) as bar:
        failed = 0
        for record in run_sweep(trials, records, executor, context=context, log=log_line):
            bar.update(1)
            if record["status"] != "ok":
                failed += 1
                log_line(f"trial {record['key']} failed: {record['error']}")
            else:
                final = record["points"][-1]
                bar.set_postfix_str(
                    f"{record['pair']} {record['method']} target {100 * final['target_acc']:.1f}% "
                    f"in {record['wall_seconds']:.0f} s"
                )
    print(
        f"sweep: {len(trials)} trials in {records} ({failed} failed this run); {time.perf_counter() - started:.0f} s"
    )
    return 1 if failed else 0


def select_command(args: argparse.Namespace) -> int:
    from .artifacts.records import read_records
    from .methods import method_names
    from .workflows.selection import select, selection_tables, write_selection
    from .workflows.sweep import DEFAULT_RECORDS

    records = read_records(Path(args.records) if args.records else DEFAULT_RECORDS)
    if not records:
        raise ValueError("No sweep records yet: run `python -m da_demo sweep` first")
    selections, correlations = select(records, list(PAIRS), method_names())
    print(selection_tables(selections, correlations))
    if args.write:
        print(f"wrote {write_selection(selections, correlations)}")
    return 0


def calibrate_command(args: argparse.Namespace) -> int:
    from .artifacts.store import ModelStore
    from .data.pairs import load_pair
    from .workflows.digit_check import calibrate, write_calibration

    store, calibrations = ModelStore(use_hub=False), {}
    for pair_name in PAIRS:
        model = store.load(pair_name, "source_only").checkpoint.classifier
        calibrations[pair_name] = calibrate(load_pair(pair_name, args.data_dir), model)
        print(f"{pair_name}: {calibrations[pair_name]}")
    print(f"wrote {write_calibration(calibrations)}")
    return 0
