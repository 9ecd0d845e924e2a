"""Command line: ``python -m da_demo {train,bench,...}``. Run with ``--help`` for each command's options."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterator

from tqdm.auto import tqdm

from .data import PAIRS, DataMissingError
from .methods import method_names


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="folder with MNIST/raw, usps*.bz2 and BSDS500/ (default: "
                        "$DA_DEMO_DATA_DIR, else download into the cache)")
    parser.add_argument("--backbone", default=None, help="lean (default) or lecture")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return train_command(args)
        if args.command == "bench":
            from .benchmark import bench_command
            return bench_command(args)
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


def warm_start_model(args: argparse.Namespace, pair, method: str | None, backbone: str):
    """The model a warm-started run begins from (trained first, with a progress bar, if needed)."""
    if method is None:
        return None
    from .engine.runs import start_model

    return start_model(pair, method, backbone, seed=args.seed, device=args.device, precision=args.precision,
                       show=lambda events: with_progress_bar(events, f"{pair.name} {method} (to start from)"))


def train_command(args: argparse.Namespace) -> int:
    from .engine.runs import DEFAULT_BACKBONE, Run
    from .methods import get_method

    method_class = get_method(args.method)
    hparams = method_class.hyperparameters_class.from_dict(parse_overrides(args.overrides, args.steps))
    backbone = args.backbone or DEFAULT_BACKBONE
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
