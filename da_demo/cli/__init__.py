"""Command line: ``python -m da_demo {train,bench,...}``. Run with ``--help`` for each command's options.

Parsing imports neither torch nor the methods, so ``--help`` answers at once; each command imports
what it needs when it runs (``training``: train and bench; ``protocol``: sweep, select, pretrain,
results; ``maintenance``: projections, calibrate, push).
"""

from __future__ import annotations

import argparse
import sys

from ..data import PAIRS, DataMissingError
from ..methods import available_names
from . import maintenance, protocol, training
from .common import CommandError, add_overrides_argument, positive_int, positive_seconds

METHOD_NAMES = available_names()


def _parents() -> dict[str, argparse.ArgumentParser]:
    """The options several commands share, declared once."""
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument(
        "--data-dir",
        help="folder with MNIST/raw, usps*.bz2 and BSDS500/ (default: $DA_DEMO_DATA_DIR, else download into the cache)",
    )
    device = argparse.ArgumentParser(add_help=False)
    device.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    device.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16"],
        help="auto: bf16 autocast on CUDA and on CPUs with native bf16, else fp32",
    )
    settings = argparse.ArgumentParser(add_help=False)
    settings.add_argument("--steps", type=positive_int, help="training steps (default: the method's)")
    add_overrides_argument(
        settings, "set a hyperparameter of every method that has it, e.g. --set lambda_max=0.5 (repeatable)"
    )
    run = argparse.ArgumentParser(add_help=False, parents=[data, device, settings])
    run.add_argument(
        "--backbone",
        default=None,
        help="lean, wide, wide_gn, lecture, or lean_in / wide_gn_in (instance-normalised input), each also as "
        "NAME_sigmoid (bounded embedding: DeepJDOT's bounded_embedding setting picks it); default: the pair's",
    )
    run.add_argument("--seed", type=int, default=0)
    run.add_argument(
        "--time-budget", type=positive_seconds, help="stop training after this many seconds and evaluate"
    )
    executor = argparse.ArgumentParser(add_help=False)
    executor.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="tasks at once on this machine, one process each (default: 1, in this process)",
    )
    executor.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="run each task as a Ray task: on the cluster at ADDRESS, or without one on a local Ray "
        "instance (needs requirements-scale.txt)",
    )
    return {"data": data, "device": device, "settings": settings, "run": run, "executor": executor}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m da_demo", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    parents = _parents()
    methods = f"one of: {', '.join(METHOD_NAMES)}"
    training.add_commands(commands, parents, methods)
    protocol.add_commands(commands, parents, methods)
    maintenance.add_commands(commands, parents)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (DataMissingError, ValueError, CommandError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


__all__ = ["METHOD_NAMES", "PAIRS", "build_parser", "main"]
