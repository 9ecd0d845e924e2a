"""Choosing a pair's backbone without target labels: ``python -m da_demo.benchmarks.backbones``.

Trains the source-only model of each candidate backbone on the pair's source training split (seed
0), then prints every label-free validator's score for it (higher is better), the backbone each
validator would choose, and, for reporting only, target-test accuracy and accuracy on the drawn
digits check set. The MNIST-M pair's backbone was chosen this way: first ``wide_gn`` (by DEV); with
the instance-normalised candidates, all five validators prefer ``wide_gn_in`` on MNIST-M (its
backbone now) and four of five keep ``lean`` on USPS.
"""

from __future__ import annotations

import argparse

from ..data.drawn_digits import drawn_digits
from ..data.pairs import load_pair
from ..engine.evaluation import evaluate
from ..engine.spec import RunSpec
from ..engine.validation import ValidationSet, validator_scores
from ..reporting import format_markdown, with_progress_bar
from ..validators import VALIDATORS
from ..workflows.tasks import drawn_accuracy
from ..workflows.training import TrainingJob

CANDIDATES = ("wide", "lecture", "wide_gn", "lean", "wide_gn_in", "lean_in")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m da_demo.benchmarks.backbones",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--pair", default="mnist-mnistm")
    parser.add_argument("--backbones", nargs="+", default=list(CANDIDATES))
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    pair = load_pair(args.pair, args.data_dir)
    validation, check = ValidationSet.of(pair), drawn_digits(pair.source_test)
    rows, scores = [], {}
    for backbone in args.backbones:
        job = TrainingJob(
            pair, RunSpec.resolve(pair.spec, "source_only", {"steps": args.steps}, backbone=backbone)
        )
        for _ in with_progress_bar(job.events(), f"{args.pair} source_only {backbone}"):
            pass
        model = job.run.method.kept_classifier()
        scores[backbone] = validator_scores(model, validation).scores
        target = evaluate(model, pair.target_test.images, pair.target_test.labels)
        drawn = drawn_accuracy(model, check, pair)
        rows.append(
            [
                backbone,
                *(f"{scores[backbone][name]:.4f}" for name in VALIDATORS),
                f"{100 * target:.1f}",
                f"{100 * drawn:.1f}",
            ]
        )
    print(format_markdown(["backbone", *VALIDATORS, "target % (reporting only)", "drawn digits %"], rows))
    for name in VALIDATORS:
        print(f"{name} chooses {max(scores, key=lambda backbone: scores[backbone][name])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
