"""``projections``, ``calibrate`` and ``push``: what the app and the Hub read, rebuilt from the shipped models."""

from __future__ import annotations

import argparse

from ..data import PAIRS
from .common import expand, log_line


def add_commands(commands, parents: dict[str, argparse.ArgumentParser]) -> None:
    projections = commands.add_parser(
        "projections",
        parents=[parents["data"]],
        help="precompute the Feature space tab's projections of shipped models",
    )
    projections.add_argument("--pairs", nargs="+", default=["all"])
    projections.set_defaults(run=projections_command)

    calibrate = commands.add_parser(
        "calibrate",
        parents=[parents["data"]],
        help='calibrate the app\'s "is this a digit?" check on the shipped source-only models',
    )
    calibrate.set_defaults(run=calibrate_command)

    push = commands.add_parser(
        "push", help="upload checkpoints, manifest and a model card to the Hugging Face Hub"
    )
    push.add_argument("--repo-id", required=True, help="e.g. your-name/da-demo-checkpoints")
    push.add_argument("--private", action="store_true")
    push.add_argument("--token", help="Hub token (default: HF_TOKEN or the cached login)")
    push.set_defaults(run=push_command)


def projections_command(args: argparse.Namespace) -> int:
    from ..artifacts.checkpoints import CheckpointError
    from ..artifacts.store import SHIPPED_DIRECTORY, ModelStore
    from ..data.pairs import load_pair
    from ..methods import get_method, method_names
    from ..workflows.projections import build_projection_cache

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


def calibrate_command(args: argparse.Namespace) -> int:
    from ..artifacts.store import ModelStore
    from ..data.pairs import load_pair
    from ..workflows.digit_check import calibrate, write_calibration

    store, calibrations = ModelStore(use_hub=False), {}
    for pair_name in PAIRS:
        model = store.load(pair_name, "source_only").checkpoint.classifier
        calibrations[pair_name] = calibrate(load_pair(pair_name, args.data_dir), model)
        print(f"{pair_name}: {calibrations[pair_name]}")
    print(f"wrote {write_calibration(calibrations)}")
    return 0


def push_command(args: argparse.Namespace) -> int:
    from ..artifacts.hub import push
    from ..artifacts.store import SHIPPED_DIRECTORY

    print(f"uploaded to {push(args.repo_id, SHIPPED_DIRECTORY, token=args.token, private=args.private)}")
    return 0
