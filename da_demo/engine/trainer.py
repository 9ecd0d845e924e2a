"""The training loop, as a generator of progress events.

The CLI's progress bar, the benchmark and the browser's live curves all consume the same events.
Each step the loop draws a labeled source batch and an **unlabeled** target batch (images only:
the target labels never leave the test set) and calls ``method.training_step``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol

import torch

from ..data import DomainPair
from ..methods import Method, SourceBatch
from .device import autocast
from .evaluation import evaluate


class StopSignal(Protocol):
    def is_set(self) -> bool: ...


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
    #: why the run ended before ``total_steps``: "stopped" or "time budget"
    ended_early: str | None = None

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
        self.passes = 0

    def next(self) -> torch.Tensor:
        if self.position + self.batch_size > self.count:
            self.order = torch.randperm(self.count, generator=self.generator)
            self.position = 0
            self.passes += 1
        index = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return index


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
) -> Iterator[ProgressEvent]:
    """Run ``method.hparams.steps`` training steps on ``pair``, yielding a ``ProgressEvent`` every
    ``log_every`` steps, with source/target test accuracy (on ``eval_samples`` of each) every
    ``eval_every`` steps, and a final event (``done=True``) with accuracy on the full test sets (or
    on ``final_eval_samples`` of each, for a quick answer). ``evaluate_first`` adds an event at step
    0 with the starting accuracies (live curves then begin where the warm start stands).

    ``stop`` (a ``threading.Event`` or a callable) and ``time_budget`` (seconds of training) end the
    run early; the final event then says why and still evaluates what was learned.
    """
    device = device or next(method.parameters()).device
    hparams = method.hparams
    total_steps = hparams.steps
    should_stop = _stop_check(stop)

    generator = torch.Generator().manual_seed(seed)
    source_images, source_labels = _on_device(pair.source_train.images, device), pair.source_train.labels.to(device)
    target_images = _on_device(pair.target_train.images, device)
    source_sampler = _BatchSampler(len(pair.source_train), hparams.batch_size, generator)
    target_sampler = _BatchSampler(len(pair.target_train), hparams.batch_size, generator)
    eval_source = pair.source_test.subset(eval_samples, seed)
    eval_target = pair.target_test.subset(eval_samples, seed + 1)

    def measure(source_set, target_set) -> tuple[float, float]:
        classifier = method.evaluation_classifier()
        kwargs = {"device": device, "precision": precision}
        return (evaluate(classifier, source_set.images, source_set.labels, **kwargs),
                evaluate(classifier, target_set.images, target_set.labels, **kwargs))

    started = time.perf_counter()
    if evaluate_first:
        yield ProgressEvent(0, total_steps, 0.0, 0.0, 0.0, {}, *measure(eval_source, eval_target))
    method.train()
    running: dict[str, list] = {}
    train_seconds = 0.0  # excludes the evaluations in between
    step, ended_early = 0, None
    while step < total_steps:
        if should_stop():
            ended_early = "stopped"
            break
        if time_budget is not None and train_seconds >= time_budget:
            ended_early = "time budget"
            break
        tick = time.perf_counter()
        progress = step / total_steps
        if time_budget:
            # schedules (λ warm-up, ...) complete within the budget when it is the tighter limit
            progress = max(progress, train_seconds / time_budget)
        source_index, target_index = source_sampler.next(), target_sampler.next()
        source = SourceBatch(_batch(source_images, source_index, device), source_labels[source_index.to(device)])
        progress = min(progress, 1.0)
        method.set_progress(progress)
        with autocast(device, precision):
            metrics = method.training_step(source, _batch(target_images, target_index, device), progress)
        for name, value in metrics.items():
            running.setdefault(name, []).append(value)
        step += 1
        train_seconds += time.perf_counter() - tick

        evaluate_now = eval_every and step % eval_every == 0 and step < total_steps
        if step % log_every == 0 or evaluate_now:
            source_acc = target_acc = None
            if evaluate_now:
                source_acc, target_acc = measure(eval_source, eval_target)
            yield ProgressEvent(step, total_steps, step * hparams.batch_size / len(pair.source_train),
                                time.perf_counter() - started, train_seconds, _average(running), source_acc, target_acc)
            running = {}
    if final_eval_samples:
        source_acc, target_acc = measure(pair.source_test.subset(final_eval_samples, seed),
                                         pair.target_test.subset(final_eval_samples, seed + 1))
    else:
        source_acc, target_acc = measure(pair.source_test, pair.target_test)
    yield ProgressEvent(step, total_steps, step * hparams.batch_size / len(pair.source_train),
                        time.perf_counter() - started, train_seconds, _average(running), source_acc, target_acc,
                        done=True, ended_early=ended_early)


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
