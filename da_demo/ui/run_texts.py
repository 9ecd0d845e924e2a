"""A live run in words: its progress line, a place in line, and its name in the compare plot's legend."""

from __future__ import annotations

from ..engine.spec import RunSpec
from ..engine.trainer import EndReason, ProgressEvent


def progress_text(spec: RunSpec, event: ProgressEvent, watching: int) -> str:
    accuracy = f" · target {100 * event.target_acc:.1f}%" if event.target_acc is not None else ""
    shared = f" · one run for {watching} students (same settings and seed)" if watching > 1 else ""
    return (
        f"{spec.pair.title}, {spec.method.title}: step {event.step}/{event.total_steps}, "
        f"{event.elapsed:.0f} s{accuracy}{shared}"
    )


def waiting_text(waiting) -> str:
    """A place in line, in words, with the wait and what is training meanwhile."""
    place = "next" if waiting.place == 1 else f"{_ordinal(waiting.place)} in line"
    training = "; ".join(waiting.training) or "nothing yet"
    seconds = max(5, round(waiting.seconds / 5) * 5)
    return f"Waiting: you are {place}, starting in about {seconds:.0f} s. Training now: {training}."


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def run_label(number: int, spec: RunSpec, result: ProgressEvent) -> str:
    """A finished run as the compare plot's legend names it: method, the settings the Adapt tab
    offers, seed, and how it ended, e.g. ``2. DANN: λ 0.5, lr 0.0003, 600 steps, seed 0 · stopped at 310``."""
    labels = spec.method.hyperparameters_class.settings()
    short = {"entropy_weight": "entropy", "lr": "lr", "batch_size": "batch"}
    if spec.method.alignment_parameter:
        short = {spec.method.alignment_parameter: labels[spec.method.alignment_parameter].label, **short}
    settings = ", ".join(
        f"{words} {getattr(spec.hparams, name):g}"
        for name, words in short.items()
        if hasattr(spec.hparams, name)
    )
    steps = getattr(spec.hparams, "steps", None)
    ending = {
        None: "",
        EndReason.STOPPED: f" · stopped at step {result.step}",
        EndReason.TIME_BUDGET: f" · out of time at step {result.step}",
    }.get(result.ended_early, "")
    return (
        f"{number}. {spec.method.title.split(' (')[0]}: {settings}"
        f"{f', {steps} steps' if steps else ''}, seed {spec.seed}{ending} → {100 * result.target_acc:.1f}%"
    )
