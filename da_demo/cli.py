"""Command line: ``python -m da_demo {train,bench,...}``. Run with ``--help`` for each command's options."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Iterator

from tqdm.auto import tqdm

from .data import PAIRS, DataMissingError
from .methods import method_names


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="folder with MNIST/raw, usps*.bz2 and BSDS500/ (default: "
                        "$DA_DEMO_DATA_DIR, else download into the cache)")
    parser.add_argument("--backbone", default=None, help="lean, wide or lecture (default: the pair's, see README)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                        help="auto: bf16 autocast on CUDA and on CPUs with native bf16, else fp32")
    parser.add_argument("--steps", type=int, help="training steps (default: the method's)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="set a hyperparameter, e.g. --set lambda_max=0.5 (repeatable)")
    parser.add_argument("--time-budget", type=float, help="stop training after this many seconds and evaluate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m da_demo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train one method on one domain pair, with a progress bar")
    train.add_argument("--pair", required=True, choices=list(PAIRS))
    train.add_argument("--method", required=True, choices=method_names())
    train.add_argument("--out", help="checkpoint path (default: runs/<pair>/<method>.safetensors)")
    train.add_argument("--eval-every", type=int, default=0, help="evaluate on 2,000 test images every N steps")
    _add_common(train)

    bench = commands.add_parser("bench", help="train and evaluate methods; print a results table")
    bench.add_argument("--pair", action="append", required=True, help="a pair, or 'all' (repeatable)")
    bench.add_argument("--method", action="append", required=True, help="a method, or 'all' (repeatable)")
    bench.add_argument("--json", action="store_true", help="one JSON object per row instead of a table")
    _add_common(bench)

    pretrain = commands.add_parser("pretrain", help="train every method on every pair into checkpoints/ + manifest")
    pretrain.add_argument("--pairs", nargs="+", default=["all"], help="pairs (default: all)")
    pretrain.add_argument("--methods", nargs="+", default=["all"], help="methods (default: all)")
    pretrain.add_argument("--seeds", type=int, default=3, help="seeds per adversarial method (median shipped)")
    pretrain.add_argument("--out", default=None, help="checkpoint folder (default: the shipped checkpoints/)")
    pretrain.add_argument("--steps", type=int, help="steps for every method trained by steps (default: each method's)")
    pretrain.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                          help="a hyperparameter for every method that has it (repeatable)")
    pretrain.add_argument("--data-dir")
    pretrain.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    pretrain.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])

    projections = commands.add_parser("projections", help="precompute the Feature space tab's projections of shipped models")
    projections.add_argument("--pairs", nargs="+", default=["all"])
    projections.add_argument("--data-dir")

    results = commands.add_parser("results", help="print the results table generated from the manifest")
    results.add_argument("--write-readme", action="store_true", help="rewrite the table in README.md")
    results.add_argument("--check", action="store_true", help="exit 1 if README.md's table is not the generated one")

    push = commands.add_parser("push", help="upload checkpoints, manifest and a model card to the Hugging Face Hub")
    push.add_argument("--repo-id", required=True, help="e.g. your-name/da-demo-checkpoints")
    push.add_argument("--private", action="store_true")
    push.add_argument("--token", help="Hub token (default: HF_TOKEN or the cached login)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return train_command(args)
        if args.command == "bench":
            from .benchmark import bench_command
            return bench_command(args)
        if args.command == "pretrain":
            return pretrain_command(args)
        if args.command == "projections":
            return projections_command(args)
        if args.command == "results":
            return results_command(args)
        if args.command == "push":
            from .artifacts.hub import push
            from .artifacts.store import SHIPPED_DIRECTORY
            print(f"uploaded to {push(args.repo_id, SHIPPED_DIRECTORY, token=args.token, private=args.private)}")
            return 0
    except (DataMissingError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


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


def with_progress_bar(events: Iterator, description: str) -> Iterator:
    """Pass training events through while drawing a tqdm bar with the latest losses and accuracies."""
    bar = None
    shown = 0
    accuracies: dict[str, str] = {}
    metrics: dict[str, str] = {}
    try:
        for event in events:
            if bar is None:
                bar = tqdm(total=event.total_steps, desc=description, unit="step", dynamic_ncols=True, file=sys.stderr)
            bar.update(event.step - shown)
            shown = event.step
            if event.target_acc is not None:
                accuracies = {"src": f"{event.source_acc:.3f}", "tgt": f"{event.target_acc:.3f}"}
            metrics = {name: f"{value:.3g}" for name, value in event.metrics.items()} or metrics
            bar.set_postfix({**metrics, **accuracies}, refresh=False)
            yield event
    finally:
        if bar is not None:
            bar.close()


def load_pair_for(args: argparse.Namespace, pair_name: str):
    from .data import load_pair
    print(f"loading {pair_name} ...", file=sys.stderr)
    return load_pair(pair_name, args.data_dir)


def warm_start_model(args: argparse.Namespace, pair, method: str | None, backbone: str | None):
    """The model a warm-started run begins from (trained first, with a progress bar, if needed)."""
    if method is None:
        return None
    from .engine.runs import start_model

    return start_model(pair, method, backbone, seed=args.seed, device=args.device, precision=args.precision,
                       show=lambda events: with_progress_bar(events, f"{pair.name} {method} (to start from)"),
                       log=lambda line: print(line, file=sys.stderr))


def train_command(args: argparse.Namespace) -> int:
    from .engine.runs import Run, default_backbone
    from .methods import get_method

    method_class = get_method(args.method)
    hparams = method_class.hyperparameters_for(args.pair, parse_overrides(args.overrides, args.steps))
    backbone = args.backbone or default_backbone(args.pair)
    pair = load_pair_for(args, args.pair)
    start = warm_start_model(args, pair, method_class.warm_start_from(hparams), backbone)
    run = Run(pair, method_class.name, hparams, backbone=backbone, seed=args.seed, device=args.device,
              precision=args.precision, start_model=start)
    events = run.events(eval_every=args.eval_every, time_budget=args.time_budget)
    for _ in with_progress_bar(events, f"{pair.name} {method_class.name}"):
        pass
    result = run.result
    path = run.save(args.out or Path("runs") / pair.name / f"{method_class.name}.safetensors")
    ended = f" (ended early: {result.ended_early})" if result.ended_early else ""
    print(f"{pair.spec.title}, {method_class.title}, {result.step} steps in {result.train_seconds:.1f} s{ended}")
    print(f"source-test accuracy ({pair.spec.source}): {100 * result.source_acc:.2f}%")
    print(f"target-test accuracy ({pair.spec.target}): {100 * result.target_acc:.2f}%")
    print(f"checkpoint: {path}")
    return 0


def pretrain_command(args: argparse.Namespace) -> int:
    from .artifacts.pretrain import pretrain
    from .artifacts.store import SHIPPED_DIRECTORY
    from .benchmark import expand, format_markdown

    pairs = expand(args.pairs, list(PAIRS), "pair")
    methods = expand(args.methods, method_names(), "method")
    started = time.perf_counter()
    entries = pretrain(pairs, methods, directory=Path(args.out) if args.out else SHIPPED_DIRECTORY, seeds=args.seeds,
                       device=args.device, precision=args.precision, data_dir=args.data_dir,
                       overrides=parse_overrides(args.overrides, args.steps), show=with_progress_bar, log=lambda line: print(line, file=sys.stderr, flush=True))
    rows = []
    for entry in entries:
        seeds = entry.get("seeds")
        target = (f"{100 * entry['target_acc_mean']:.2f} ± {100 * entry['target_acc_std']:.2f}" if seeds
                  else f"{100 * entry['target_acc']:.2f}")
        seconds = sum(seed["train_seconds"] for seed in seeds) if seeds else entry["train_seconds"]
        rows.append([entry["pair"], entry["method"], str(len(seeds) if seeds else 1), target,
                     f"{100 * entry['target_acc']:.2f}", f"{100 * entry['source_acc']:.2f}", f"{seconds:.0f}"])
    print(format_markdown(["pair", "method", "seeds", "target acc % (mean ± std)", "shipped target %",
                           "shipped source %", "train s (all seeds)"], rows))
    print(f"total wall time: {time.perf_counter() - started:.0f} s")
    return 0


def results_command(args: argparse.Namespace) -> int:
    from .artifacts.manifest import replace_readme_table, results_table
    from .artifacts.store import ModelStore

    table = results_table(ModelStore(use_hub=False).manifest())
    readme = Path(__file__).resolve().parents[1] / "README.md"
    if args.check:
        if replace_readme_table(readme.read_text(), table) != readme.read_text():
            print("README.md's results table differs from the manifest: run `python -m da_demo results --write-readme`",
                  file=sys.stderr)
            return 1
        print("README.md's results table matches the manifest")
        return 0
    if args.write_readme:
        readme.write_text(replace_readme_table(readme.read_text(), table))
        print(f"wrote the results table into {readme}")
        return 0
    print(table)
    return 0


def projections_command(args: argparse.Namespace) -> int:
    from .artifacts.checkpoints import CheckpointError
    from .artifacts.projections import write_projection_cache
    from .methods import get_method
    from .artifacts.store import SHIPPED_DIRECTORY, ModelStore
    from .benchmark import expand
    from .data import load_pair

    store = ModelStore(use_hub=False)
    for pair_name in expand(args.pairs, list(PAIRS), "pair"):
        pair = load_pair(pair_name, args.data_dir)
        models = {}
        for method in method_names():
            try:
                checkpoint = store.load(pair_name, method).checkpoint
            except CheckpointError as error:
                print(f"skipping {pair_name} {method}: {error}", file=sys.stderr)
                continue
            models[method] = get_method(method).inference_model(checkpoint)
        path = write_projection_cache(SHIPPED_DIRECTORY, pair, models,
                                      log=lambda line: print(line, file=sys.stderr, flush=True))
        print(f"wrote {path}")
    return 0
