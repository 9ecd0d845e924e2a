"""The training loop, as a generator of progress events, for every kind of method.

The CLI's progress bar, the benchmark, the sweep and the browser's live curves all consume the same
events. A step-trained method gets, each step, a labeled source batch and an **unlabeled** target
batch (images only: the target labels never leave the test set) through ``training_step``; a fitted
method gets the labeled source and the unlabeled target training sets through ``fit`` and is driven
stage by stage. Stop signal, time budget, progress events and evaluation hold for both.

A step-trained run can be resumed: its ``LoopPosition`` (step, training time, the batch draws' state)
and the method itself are all it needs (``engine.runs.Run.state``).
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from ..data.augment import augment_digits
from ..data.pairs import DomainPair
from ..methods import FittedMethod, Method, SourceBatch
from .device import autocast
from .evaluation import evaluate
from .sampling import Draws
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
    #: the predicted classes of the validators' unlabeled target images, where they were scored
    target_classes: str | None = None

    @property
    def fraction(self) -> float:
        return self.step / self.total_steps if self.total_steps else 1.0


@dataclass
class LoopPosition:
    """Where a step-trained loop stands: the steps done, the training seconds they took and the batch
    draws' state. ``train`` keeps it current between events; one taken from ``state()`` resumes the
    loop at that step (with the method as it was then)."""

    step: int = 0
    train_seconds: float = 0.0
    draws: dict[str, Any] | None = None
    _live: Draws | None = field(default=None, repr=False, compare=False)

    def state(self) -> dict[str, Any]:
        draws = self._live.state() if self._live is not None else self.draws
        return {"step": self.step, "train_seconds": self.train_seconds, "draws": draws}


@dataclass
class _Clock:
    """Training time so far (evaluations excluded) and the budget it counts against."""

    budget: float | None
    #: of this run so far (a resumed run's earlier seconds included)
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
    position: LoopPosition | None = None,
) -> Iterator[ProgressEvent]:
    """Train ``method`` on ``pair``, yielding a ``ProgressEvent`` every ``log_every`` steps (every
    stage for a fitted method), with source/target test accuracy (on ``eval_samples`` of each) every
    ``eval_every`` steps, and a final event (``done=True``) with accuracy on the full test sets (or on
    ``final_eval_samples`` of each, for a quick answer). ``evaluate_first`` adds an event at step 0
    with the starting accuracies (live curves then begin where the warm start stands).

    ``stop`` (a ``threading.Event`` or a callable) and ``time_budget`` (seconds of training, > 0) end
    the run early; the final event then says why and still evaluates what was learned. ``validate``
    adds the label-free validators' scores to every evaluated event (``engine.validation``).
    ``position`` is kept current as the run trains; one past step 0 resumes a step-trained run there.
    """
    if time_budget is not None and not time_budget > 0:
        raise ValueError(f"The time budget must be a positive number of seconds, got {time_budget:g}")
    position = position if position is not None else LoopPosition()
    if position.step and isinstance(method, FittedMethod):
        raise ValueError(f"{method.name} is fitted in stages: it cannot resume part-way")
    device = device or next(method.parameters()).device
    total_steps = method.total_steps(method.hparams)
    should_stop, clock = _stop_check(stop), _Clock(time_budget, position.train_seconds)
    scorer = _Scorer(method, ValidationSet.of(pair) if validate else None, device, precision)
    eval_source, eval_target = (
        pair.source_test.subset(eval_samples, seed),
        pair.target_test.subset(eval_samples, seed + 1),
    )
    event = _Events(method, pair, total_steps, clock, time.perf_counter())

    if evaluate_first and not position.step:
        yield event(0, {}, scorer.measure(eval_source, eval_target))
    method.train()
    work = _work(method, pair, total_steps, seed, device, clock, position)
    log_every = 1 if isinstance(method, FittedMethod) else log_every
    running: dict[str, list] = {}
    step, ended_early = position.step, None
    try:
        while step < total_steps:
            ended_early = _ended_early(should_stop, time_budget, clock)
            if ended_early:
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
            position.step, position.train_seconds = step, clock.train_seconds
            if not _finite_losses(metrics):
                ended_early = EndReason.DIVERGED
                break
            evaluate_now = eval_every and step % eval_every == 0 and step < total_steps
            if step % log_every == 0 or evaluate_now:
                yield event(step, running, scorer.measure(eval_source, eval_target) if evaluate_now else None)
                running = {}
    finally:
        work.close()
    measured = scorer.measure(*_final_sets(pair, final_eval_samples, seed))
    yield event(step, running, measured, done=True, ended_early=ended_early)


def _work(
    method: Method, pair: DomainPair, total_steps: int, seed: int, device, clock: _Clock, position: LoopPosition
) -> Iterator[dict]:
    """What each ``next`` runs: one training step, or one stage of a fitted method's fit."""
    if isinstance(method, FittedMethod):
        return method.fit(pair.source_train, pair.target_train, seed=seed, device=device)
    return _steps(method, pair, total_steps, seed, device, clock, position)


def _final_sets(pair: DomainPair, samples: int | None, seed: int):
    """The test sets of the final evaluation: all of them, or ``samples`` of each for a quick answer."""
    if not samples:
        return pair.source_test, pair.target_test
    return pair.source_test.subset(samples, seed), pair.target_test.subset(samples, seed + 1)


@dataclass
class _Events:
    """Makes the run's ``ProgressEvent``s (wall time from ``started``, training time from ``clock``)."""

    method: Method
    pair: DomainPair
    total_steps: int
    clock: _Clock
    started: float

    def __call__(self, step: int, running: dict, measured: _Measurement | None, **ending) -> ProgressEvent:
        return ProgressEvent(
            step,
            self.total_steps,
            _epoch(self.method, step, self.pair),
            time.perf_counter() - self.started,
            self.clock.train_seconds,
            {**_average(running), **(measured.others if measured else {})},
            measured.source_acc if measured else None,
            measured.target_acc if measured else None,
            validators=measured.scores if measured else {},
            target_classes=measured.target_classes if measured else None,
            **ending,
        )


@dataclass(frozen=True)
class _Measurement:
    """One evaluation: source and target test accuracy, the reference classifiers' target accuracy
    (``<name>_target_acc``) and the validators' scores (empty unless validating)."""

    source_acc: float
    target_acc: float
    others: dict[str, float]
    scores: dict[str, float]
    target_classes: str | None = None


@dataclass
class _Scorer:
    method: Method
    validation: ValidationSet | None
    device: torch.device
    precision: torch.dtype | None

    def measure(self, source_set, target_set) -> _Measurement:
        kwargs = {"device": self.device, "precision": self.precision}
        others = {
            f"{name}_target_acc": evaluate(model, target_set.images, target_set.labels, **kwargs)
            for name, model in self.method.reference_classifiers().items()
        }
        classifier = self.method.evaluation_classifier()
        validated = (
            None if self.validation is None else validator_scores(classifier, self.validation, **kwargs)
        )
        return _Measurement(
            evaluate(classifier, source_set.images, source_set.labels, **kwargs),
            evaluate(classifier, target_set.images, target_set.labels, **kwargs),
            others,
            dict(validated.scores) if validated else {},
            validated.target_classes if validated else None,
        )


def _ended_early(should_stop, time_budget: float | None, clock: _Clock) -> EndReason | None:
    if should_stop():
        return EndReason.STOPPED
    if time_budget is not None and clock.train_seconds >= time_budget:
        return EndReason.TIME_BUDGET
    return None


def _steps(
    method: Method,
    pair: DomainPair,
    total_steps: int,
    seed: int,
    device: torch.device,
    clock: _Clock,
    position: LoopPosition,
) -> Iterator[dict]:
    """A step-trained method as a stream of steps from ``position``: each ``next`` draws a source and
    a target batch (the source one class-balanced with ``balanced_source``, augmented with
    ``source_augment``), runs one ``training_step`` and lets the method update its weight average."""
    balanced = getattr(method.hparams, "balanced_source", False)
    draws = Draws(
        len(pair.source_train),
        len(pair.target_train),
        method.hparams.batch_size,
        seed,
        pair.source_train.labels if balanced else None,
    )
    if position.draws is not None:
        draws.restore(position.draws)
    position._live = draws
    source_images, source_labels = (
        _on_device(pair.source_train.images, device),
        pair.source_train.labels.to(device),
    )
    target_images = _on_device(pair.target_train.images, device)
    augment = getattr(method.hparams, "source_augment", False)
    for step in range(position.step, total_steps):
        progress = clock.progress(step, total_steps)
        source_index, target_index = draws.source.next(), draws.target.next()
        source = SourceBatch(
            _batch(source_images, source_index, device), source_labels[source_index.to(device)]
        )
        if augment:
            source = SourceBatch(augment_digits(source.images, draws.generator), source.labels)
        method.set_progress(progress)
        metrics = method.training_step(source, _batch(target_images, target_index, device), progress)
        method.after_step()
        yield metrics


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
