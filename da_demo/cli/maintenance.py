"""``projections``, ``calibrate``, ``shift-study`` and ``push``: what the app and the Hub read, rebuilt from the
shipped models."""

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
        help='train and calibrate the app\'s "is this a digit?" check (training splits and generated non-digits only)',
    )
    calibrate.set_defaults(run=calibrate_command)

    study = commands.add_parser(
        "shift-study",
        parents=[parents["executor"], parents["data"], parents["device"]],
        help="which shifts can be fixed: every Shift-tab preset adapted to by a few methods (quick runs)",
    )
    study.add_argument("--methods", nargs="+", default=None, help="methods (default: dann mcc deepcoral)")
    study.add_argument("--steps", type=int, default=None, help="steps per run (default: the Shift tab's 600)")
    study.add_argument("--presets", nargs="+", default=None, help="presets by name (default: every one)")
    study.add_argument("--records", default=None, help="the records file (default: checkpoints/shift-study.jsonl)")
    study.set_defaults(run=shift_study_command)

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
    from ..data.pairs import load_pair
    from ..reporting import format_markdown
    from ..workflows.digit_check import measure, save_detector, train_detector

    pairs = [load_pair(pair_name, args.data_dir) for pair_name in PAIRS]
    model, report = train_detector(pairs)
    report["measured"] = measure(model, report["threshold"], pairs)
    print(f"wrote {save_detector(model, report)}")
    measured = report["measured"]
    rows = [
        [f"real target-domain test digits flagged ({name})", f"{count} of {measured['target_test_digits'] // len(pairs)}"]
        for name, count in measured["target_test_digits_flagged"].items()
    ]
    rows += [
        ["MNIST test digits kept", f"{100 * measured['mnist_test_digits_kept']:.1f}%"],
        ["MNIST test digits drawn as visitors draw, kept", f"{100 * measured['drawn_mnist_test_digits_kept']:.1f}%"],
    ]
    rows += [[f"{kind} flagged", f"{100 * share:.1f}%"] for kind, share in measured["non_digits_flagged"].items()]
    rows.append(["letters, shapes and scribbles flagged", f"{100 * measured['letters_shapes_scribbles_flagged']:.1f}%"])
    print(format_markdown(["the \"is this a digit?\" check", "measured"], rows))
    return 0


def shift_study_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..data.shift import PRESETS
    from ..methods import method_names
    from ..workflows.shift_study import (
        STUDY_METHODS,
        STUDY_RECORDS,
        STUDY_STEPS,
        plan_study,
        read_study,
        run_study,
        study_rows,
        study_table,
    )
    from ..workflows.tasks import TaskContext
    from .protocol import make_executor

    methods = tuple(expand(args.methods, method_names(), "method")) if args.methods else STUDY_METHODS
    records = Path(args.records) if args.records else STUDY_RECORDS
    presets = {name: PRESETS[name] for name in expand(args.presets, list(PRESETS), "preset")} if args.presets else None
    trials = plan_study(methods, args.steps or STUDY_STEPS, presets)
    context = TaskContext(args.data_dir, args.device, args.precision)
    for record in run_study(trials, records, make_executor(args), context=context, log=log_line):
        if record["status"] != "ok":
            log_line(f"{record['preset']} / {record['method']} failed: {record['error']}")
            continue
        log_line(
            f"{record['preset']} / {record['method']}: source-only {100 * record['source_only_acc']:.1f}% → "
            f"{100 * record['target_acc']:.1f}% in {record['wall_seconds']:.0f} s"
        )
    print(study_table(study_rows(read_study(records), methods), methods))
    return 0


def push_command(args: argparse.Namespace) -> int:
    from ..artifacts.hub import push
    from ..artifacts.store import SHIPPED_DIRECTORY

    print(f"uploaded to {push(args.repo_id, SHIPPED_DIRECTORY, token=args.token, private=args.private)}")
    return 0
