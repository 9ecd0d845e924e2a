"""Time our DANN against SKADA 0.6's, side by side in one process on the same machine.

    pip install -r requirements-bench.txt
    python -m da_demo.benchmarks.compare_skada --data-dir ../shared/data

Both start from the same source-only lecture CNN on MNIST → USPS, batch 128 per domain, one
SKADA epoch (468 steps), the same domain head, learning rates and λ schedule. SKADA runs first;
its final USPS accuracy becomes the bar. Then our trainer runs the same recipe in three ways
(float32 as SKADA does, then bf16 + channels_last, then our default DANN settings), evaluating
the full USPS test set every ``--eval-every`` steps outside the timed region, and the table shows
how long each took to reach SKADA's accuracy.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch
from torch import nn

from ..data.pairs import load_pair
from ..engine.evaluation import evaluate
from ..engine.spec import RunSpec
from ..models import GradientReversal, domain_classifier, grl_lambda
from ..reporting import format_markdown
from ..workflows.training import TrainingJob, find_start_model

RECIPE = {
    "lr": 1e-4,
    "head_lr": 1e-4,
    "domain_lr": 1e-3,
    "lambda_max": 0.3,
    "entropy_weight": 0.0,
    "batch_size": 128,
}


class LogitsOnly(nn.Module):
    """SKADA wants a module returning logits and hooks a named layer for features."""

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        self.extractor, self.head = classifier.extractor, classifier.head

    def forward(self, images, sample_weight=None):
        return self.head(self.extractor(images))


class SigmoidDomainHead(nn.Module):
    """Our domain head behind a gradient reversal layer, ending in a sigmoid for SKADA's BCELoss.

    (SKADA's default head ends in a softmax over one unit: constant 1.0, no gradient.)"""

    def __init__(self, feature_dim: int) -> None:
        super().__init__()
        self.reversal = GradientReversal(0.0)
        self.layers = domain_classifier(feature_dim)

    def forward(self, features, sample_weight=None):
        return torch.sigmoid(self.layers(self.reversal(features))).squeeze(1)


def run_skada(pair, start, total_steps: int) -> tuple[float, float, int]:
    from skada.deep import DANN
    from skorch.callbacks import Callback

    head = SigmoidDomainHead(start.classifier.feature_dim)

    class LambdaSchedule(Callback):
        step = 0

        def on_batch_begin(self, net, training=False, **kwargs):
            if training:
                head.reversal.scale = grl_lambda(self.step / total_steps, RECIPE["lambda_max"])
                self.step += 1

    schedule = LambdaSchedule()
    net = DANN(
        LogitsOnly(copy.deepcopy(start.classifier)),
        layer_name="extractor",
        domain_classifier=head,
        reg=1.0,
        batch_size=RECIPE["batch_size"],
        max_epochs=1,
        train_split=None,
        device="cpu",
        optimizer=torch.optim.Adam,
        lr=RECIPE["lr"],
        optimizer__param_groups=[("domain_classifier_*", {"lr": RECIPE["domain_lr"]})],
        callbacks=[schedule],
        verbose=0,
    )
    source_x = pair.source_train.images.numpy()
    target_x = pair.target_train.images.numpy()
    x = np.concatenate([source_x, target_x]).astype(np.float32)
    y = np.concatenate(
        [pair.source_train.labels.numpy(), -np.ones(len(target_x), np.int64)]
    )  # target labels masked
    domains = np.concatenate([np.ones(len(source_x), np.int64), -2 * np.ones(len(target_x), np.int64)])
    tick = time.perf_counter()
    net.fit({"X": x, "sample_domain": domains}, y)
    seconds = time.perf_counter() - tick
    classifier = net.module_.base_module_
    accuracy = evaluate(LogitsAndFeatures(classifier), pair.target_test.images, pair.target_test.labels)
    return accuracy, seconds, schedule.step


class LogitsAndFeatures(nn.Module):
    def __init__(self, module: LogitsOnly) -> None:
        super().__init__()
        self.module = module

    def forward(self, images):
        features = self.module.extractor(images)
        return self.module.head(features), features


def run_ours(pair, start, hparams: dict, precision: str, steps: int, eval_every: int, bar: float):
    spec = RunSpec.resolve(pair.spec, "dann", {**hparams, "steps": steps}, backbone="lecture")
    job = TrainingJob(pair, spec, device="cpu", precision=precision, start=start)
    reached_at = None
    for event in job.events(eval_every=eval_every, eval_samples=len(pair.target_test), log_every=eval_every):
        accuracy = event.target_acc
        if accuracy is not None and reached_at is None and accuracy >= bar:
            reached_at = (event.step, event.train_seconds)
    final = job.result
    return final.target_acc, final.train_seconds, final.step, reached_at


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m da_demo.benchmarks.compare_skada",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data-dir")
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--subset", type=int, help="use this many training images per domain (a quick smoke run)"
    )
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)

    pair = load_pair("mnist-usps", args.data_dir)
    if args.subset:
        pair = pair.limited(train=args.subset)
    start = find_start_model(
        pair,
        RunSpec.resolve(pair.spec, "source_only", seed=args.seed, backbone="lecture"),
        device="cpu",
        log=lambda line: print(line, flush=True),
    )
    steps = len(pair.source_train) // RECIPE["batch_size"]  # SKADA's epoch: 468 balanced batches
    print(
        f"source model: USPS {100 * start.metadata.metrics['target_acc']:.1f}%; {steps} steps per run",
        flush=True,
    )

    skada_acc, skada_seconds, skada_steps = run_skada(pair, start, steps)
    rows = [
        [
            "SKADA 0.6 DANN (fp32)",
            f"{100 * skada_acc:.2f}",
            f"{skada_seconds:.1f}",
            f"{1000 * skada_seconds / skada_steps:.0f}",
            "—",
            "—",
        ]
    ]
    print(f"SKADA: {100 * skada_acc:.2f}% in {skada_seconds:.1f} s", flush=True)

    variants = [
        ("ours, same recipe, fp32", RECIPE, "fp32"),
        ("ours, same recipe, bf16 + channels_last", RECIPE, "bf16"),
        ("ours, default DANN settings, bf16", {"batch_size": 128}, "bf16"),
    ]
    for label, hparams, precision in variants:
        accuracy, seconds, done_steps, reached = run_ours(
            pair, start, hparams, precision, steps, args.eval_every, skada_acc
        )
        reached_text = f"reached at {reached[1]:.1f} s (step {reached[0]})" if reached else "not reached"
        ratio = f"{reached[1] / skada_seconds:.2f}" if reached else "—"
        rows.append(
            [
                label,
                f"{100 * accuracy:.2f}",
                f"{seconds:.1f}",
                f"{1000 * seconds / done_steps:.0f}",
                reached_text,
                ratio,
            ]
        )
        print(
            f"{label}: {100 * accuracy:.2f}% in {seconds:.1f} s; SKADA's accuracy: {reached_text}", flush=True
        )
    print()
    print(
        format_markdown(
            ["run", "USPS acc %", "wall_s", "ms_per_step", "time to SKADA's acc", "÷ SKADA wall"], rows
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
