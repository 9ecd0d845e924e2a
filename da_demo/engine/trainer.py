"""The training loop, as a generator of progress events, for every kind of method.

The CLI's progress bar, the benchmark, the sweep and the browser's live curves all consume the same
events. A step-trained method gets, each step, a labeled source batch and an **unlabeled** target
batch (images only: the target labels never leave the test set) through ``training_step``; a fitted
method gets the labeled source and the unlabeled target training sets through ``fit`` and is driven
stage by stage. Stop signal, time budget, progress events and evaluation hold for both.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import torch

from ..data.pairs import DomainPair
from ..methods import FittedMethod, Method, SourceBatch
from .device import autocast
from .evaluation import evaluate
from .validation import ValidationSet, validator_scores


class StopSignal(Protocol):
    def is_set(self) -> bool: ...


class EndReason(enum.StrEnum):
    """Why a run ended before its last step."""

    STOPPED = "stopped"
    TIME_BUDGET = "time budget"
    #: a loss became NaN or infinite: the weights are no longer usable
    DIVERGED = "diverged"


@dataclass(frozen=True)
class ProgressEvent:
    """Where a run stands. ``metrics`` are the method's named losses (and ``domain_acc`` where it has
    a domain classifier), averaged over the steps since the previous event."""

    step: int
    total_steps: int
    epoch: float
    #: wall-clock seconds since the start, and the part of them spent in training steps
    elapsed: float
    train_seconds: float
    metrics: dict[str, float] = field(default_factory=dict)
    source_acc: float | None = None
    target_acc: float | None = None
    done: bool = False
    #: why the run ended before ``total_steps`` (None: it ran them all)
    ended_early: EndReason | None = None
    #: label-free validator scores (see ``da_demo.validators``) where the run was evaluated with them
    validators: dict[str, float] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return self.step / self.total_steps if self.total_steps else 1.0


class _BatchSampler:
    """Endless shuffled batches over ``count`` items, reshuffled each pass (seeded)."""

    def __init__(self, count: int, batch_size: int, generator: torch.Generator) -> None:
        if count < batch_size:
            raise ValueError(f"batch size {batch_size} is larger than the {count} samples available")
        self.count, self.batch_size, self.generator = count, batch_size, generator
        self.order = torch.randperm(count, generator=generator)
        self.position = 0

    def next(self) -> torch.Tensor:
        if self.position + self.batch_size > self.count:
            self.order = torch.randperm(self.count, generator=self.generator)
            self.position = 0
        index = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return index


@dataclass
class _Clock:
    """Training time so far (evaluations excluded) and the budget it counts against."""

    budget: float | None
    train_seconds: float = 0.0

    def progress(self, step: int, total_steps: int) -> float:
        progress = step / total_steps
        if self.budget:
            # schedules (λ warm-up, ...) complete within the budget when it is the tighter limit
            progress = max(progress, self.train_seconds / self.budget)
        return min(progress, 1.0)


def train(
    method: Method,
    pair: DomainPair,
    *,
    seed: int = 0,
    device: torch.device | None = None,
    precision: torch.dtype | None = None,
    eval_every: int = 0,
    eval_samples: int = 2000,
    final_eval_samples: int | None = None,
    evaluate_first: bool = False,
    log_every: int = 10,
    stop: StopSignal | Callable[[], bool] | None = None,
    time_budget: float | None = None,
    validate: bool = False,
) -> Iterator[ProgressEvent]:
    """Train ``method`` on ``pair``, yielding a ``ProgressEvent`` every ``log_every`` steps (every
    stage for a fitted method), with source/target test accuracy (on ``eval_samples`` of each) every
    ``eval_every`` steps, and a final event (``done=True``) with accuracy on the full test sets (or on
    ``final_eval_samples`` of each, for a quick answer). ``evaluate_first`` adds an event at step 0
    with the starting accuracies (live curves then begin where the warm start stands).

    ``stop`` (a ``threading.Event`` or a callable) and ``time_budget`` (seconds of training, > 0) end
    the run early; the final event then says why and still evaluates what was learned.

    ``validate`` adds the label-free validators' scores to every evaluated event (see
    ``engine.validation``); target-test accuracy stays beside them, for reporting only.
    """
    if time_budget is not None and not time_budget > 0:
        raise ValueError(f"The time budget must be a positive number of seconds, got {time_budget:g}")
    device = device or next(method.parameters()).device
    total_steps = method.total_steps(method.hparams)
    should_stop = _stop_check(stop)
    clock = _Clock(time_budget)
    eval_source = pair.source_test.subset(eval_samples, seed)
    eval_target = pair.target_test.subset(eval_samples, seed + 1)
    validation = ValidationSet.of(pair) if validate else None

    def measure(source_set, target_set) -> tuple[float, float, dict[str, float]]:
        """Source and target test accuracy, and the reference classifiers' target accuracy; the
        validators' scores go to ``scores``."""
        kwargs = {"device": device, "precision": precision}
        others = {
            f"{name}_target_acc": evaluate(model, target_set.images, target_set.labels, **kwargs)
            for name, model in method.reference_classifiers().items()
        }
        classifier = method.evaluation_classifier()
        scores.clear()
        if validation is not None:
            scores.update(validator_scores(classifier, validation, **kwargs))
        return (
            evaluate(classifier, source_set.images, source_set.labels, **kwargs),
            evaluate(classifier, target_set.images, target_set.labels, **kwargs),
            others,
        )

    scores: dict[str, float] = {}

    started = time.perf_counter()

    def event(step: int, running: dict, extra: dict, source_acc, target_acc, **ending) -> ProgressEvent:
        measured = dict(scores) if source_acc is not None else {}  # scores of this very evaluation
        return ProgressEvent(
            step,
            total_steps,
            _epoch(method, step, pair),
            time.perf_counter() - started,
            clock.train_seconds,
            {**_average(running), **extra},
            source_acc,
            target_acc,
            validators=measured,
            **ending,
        )

    if evaluate_first:
        source_acc, target_acc, extra = measure(eval_source, eval_target)
        yield event(0, {}, extra, source_acc, target_acc)
    method.train()
    if isinstance(method, FittedMethod):
        work = method.fit(pair.source_train, pair.target_train, seed=seed, device=device)
        log_every = 1
    else:
        work = _steps(method, pair, total_steps, seed, device, clock)
    running: dict[str, list] = {}
    step, ended_early = 0, None
    try:
        while step < total_steps:
            if should_stop():
                ended_early = EndReason.STOPPED
                break
            if time_budget is not None and clock.train_seconds >= time_budget:
                ended_early = EndReason.TIME_BUDGET
                break
            tick = time.perf_counter()
            with autocast(device, precision):
                metrics = next(work, None)
            if metrics is None:  # a fitted method that finished in fewer stages than it declared
                break
            for name, value in metrics.items():
                running.setdefault(name, []).append(value)
            step += 1
            clock.train_seconds += time.perf_counter() - tick
            if not _finite_losses(metrics):
                ended_early = EndReason.DIVERGED
                break

            evaluate_now = eval_every and step % eval_every == 0 and step < total_steps
            if step % log_every == 0 or evaluate_now:
                source_acc = target_acc = None
                extra: dict[str, float] = {}
                if evaluate_now:
                    source_acc, target_acc, extra = measure(eval_source, eval_target)
                yield event(step, running, extra, source_acc, target_acc)
                running = {}
    finally:
        work.close()
    if final_eval_samples:
        source_acc, target_acc, extra = measure(
            pair.source_test.subset(final_eval_samples, seed),
            pair.target_test.subset(final_eval_samples, seed + 1),
        )
    else:
        source_acc, target_acc, extra = measure(pair.source_test, pair.target_test)
    yield event(step, running, extra, source_acc, target_acc, done=True, ended_early=ended_early)


def _steps(
    method: Method, pair: DomainPair, total_steps: int, seed: int, device: torch.device, clock: _Clock
) -> Iterator[dict]:
    """A step-trained method as a stream of steps: each ``next`` draws a source and a target batch
    and runs one ``training_step``."""
    batch_size = method.hparams.batch_size
    generator = torch.Generator().manual_seed(seed)
    source_images, source_labels = (
        _on_device(pair.source_train.images, device),
        pair.source_train.labels.to(device),
    )
    target_images = _on_device(pair.target_train.images, device)
    source_sampler = _BatchSampler(len(pair.source_train), batch_size, generator)
    target_sampler = _BatchSampler(len(pair.target_train), batch_size, generator)
    for step in range(total_steps):
        progress = clock.progress(step, total_steps)
        source_index, target_index = source_sampler.next(), target_sampler.next()
        source = SourceBatch(
            _batch(source_images, source_index, device), source_labels[source_index.to(device)]
        )
        method.set_progress(progress)
        yield method.training_step(source, _batch(target_images, target_index, device), progress)


def _epoch(method: Method, step: int, pair: DomainPair) -> float:
    batch_size = getattr(method.hparams, "batch_size", None)
    return step * batch_size / len(pair.source_train) if batch_size and method.trained_by_steps else 0.0


def _finite_losses(metrics: dict) -> bool:
    return all(math.isfinite(float(value)) for name, value in metrics.items() if name.endswith("loss"))


def _stop_check(stop) -> Callable[[], bool]:
    if stop is None:
        return lambda: False
    if hasattr(stop, "is_set"):
        return stop.is_set
    return stop


def _on_device(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    # on a GPU the whole training set lives in device memory: batches are then one indexing kernel
    return images if device.type == "cpu" else images.to(device)


def _batch(images: torch.Tensor, index: torch.Tensor, device: torch.device) -> torch.Tensor:
    batch = images[index.to(images.device)].to(device, non_blocking=True)
    return batch.contiguous(memory_format=torch.channels_last)


def _average(running: dict[str, list]) -> dict[str, float]:
    return {name: sum(float(value) for value in values) / len(values) for name, values in running.items()}
