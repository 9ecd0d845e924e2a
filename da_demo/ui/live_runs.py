"""A visitor's live run, as the Adapt tab and the /adapt endpoint both serve it.

``adapt`` checks the visitor's named settings and resolves them once into a ``RunSpec``, hands the
run to the app's trainer (worker processes, this process, or a ZeroGPU Space's GPU: see
``workflows.live``) and turns its messages into ``AdaptUpdate``s: a status line, the events so
far, and at the end the model, which joins the visitor's session. ``curves`` is what both the
tab's plots and the endpoint's JSON are drawn from.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..artifacts.checkpoints import CheckpointError, load_checkpoint
from ..data import PAIRS, PairSpec
from ..data.shift import CUSTOM, ShiftError, custom_spec, parse_recipe
from ..engine.spec import RunSpec
from ..engine.trainer import EndReason, ProgressEvent
from ..methods import Method, get_method, method_names
from ..workflows.classroom import (
    CLASS_EVAL_SAMPLES,
    CLASS_EVALUATIONS,
    Classroom,
    ClassroomError,
    label_free_score,
)
from ..workflows.live import LiveRequest, RunMessage
from ..workflows.training import code_version
from .appdata import AppData
from .glossary import plain_name, plotted
from .render import rejected
from .run_texts import progress_text, run_label, waiting_text
from .session import FinishedRun, Session
from .zoo import ModelZoo, zoo_model

LOG = logging.getLogger("da_demo.ui")
MAX_STEPS = 3000
MAX_BATCH_SIZE = 256
MAX_SECONDS = 150  # a run ends (and keeps what it learned) after this much training
TRAINING_SLOTS = 2  # distinct runs at once, across all visitors; later ones wait in line (watching)
#: visitors who may watch live runs at once (identical runs are shared, so many watch few runs)
MAX_WATCHERS = 64
EVAL_SAMPLES = 1000  # test images per domain for the live accuracy points
EVALUATIONS = 12  # accuracy points along a live run
#: loss points along a long live run at most: every one is an update streamed to each student
#: watching it (a run of 3,000 steps once sent 300); short runs report every 10 steps, so their
#: first curve point comes early
LOSS_POINTS = 60
#: between accuracy points, a watcher's curves and progress bar refresh at most this often: each
#: refresh is a message the app sends to every student watching (30 of them once made the app too
#: busy to answer a prediction in half a second)
REFRESH_SECONDS = 1.0
#: how long a ZeroGPU Space lends its GPU for one run: the run's cap plus evaluation and saving
ZERO_GPU_SECONDS = MAX_SECONDS + 60


def adaptable_methods() -> list[str]:
    return [name for name in method_names() if name != "source_only"]


class SettingsError(ValueError):
    """A visitor's settings cannot be used; the message says why."""


def run_pair(pair: str, settings: dict[str, Any]) -> PairSpec:
    """The pair a visitor's run is on: a shipped one by name, or ``"custom"``, the domain built by the
    recipe under the settings key ``"shift"`` (taken out of ``settings``; see ``data.shift``)."""
    if pair == CUSTOM:
        try:
            return custom_spec(parse_recipe(settings.pop("shift", None)))
        except ShiftError as error:
            raise SettingsError(str(error)) from None
    if pair not in PAIRS:
        raise SettingsError(f"Unknown pair {pair!r}: use one of {', '.join(PAIRS)}, or {CUSTOM} with a shift recipe.")
    return PAIRS[pair]


def adaptation_spec(
    pair: str | PairSpec,
    method: str,
    settings: Mapping[str, Any] | None,
    picked: Mapping[str, Any] | None = None,
) -> RunSpec:
    """A visitor's named settings (``{"steps": 600, "lambda_max": 0.5, "seed": 0}``), over the
    selection's ``picked`` settings for the shipped model, → the run's spec. Ranges come from the
    method's dataclass; the app adds its own caps (steps, batch size) so a public Space stays
    responsive."""
    if not isinstance(pair, PairSpec):
        pair = run_pair(pair, {})
    if method not in adaptable_methods():
        raise SettingsError(f"Unknown method {method!r}: use one of {', '.join(adaptable_methods())}.")
    settings = {name: value for name, value in dict(settings or {}).items() if value is not None}
    try:
        seed = int(settings.pop("seed", 0))
    except (TypeError, ValueError):
        raise SettingsError("The seed must be a whole number.") from None
    method_class = get_method(method)
    picked = dict(picked or {})
    if method_class.trained_by_steps:  # the pick's steps and batch, within the app's caps
        defaults = method_class.hyperparameters_class.from_dict(picked)
        picked["steps"] = min(defaults.steps, MAX_STEPS)
        picked["batch_size"] = min(defaults.batch_size, MAX_BATCH_SIZE)
    try:
        spec = RunSpec.resolve(pair, method_class, {**picked, **settings}, seed=seed)
    except ValueError as error:
        raise SettingsError(str(error)) from error
    if getattr(spec.hparams, "steps", 0) > MAX_STEPS:
        raise SettingsError(f"Steps must be at most {MAX_STEPS} here (a live session is capped).")
    if getattr(spec.hparams, "batch_size", 0) > MAX_BATCH_SIZE:
        raise SettingsError(f"The batch size must be at most {MAX_BATCH_SIZE} here.")
    return spec


@dataclass
class AdaptUpdate:
    """One moment of a live session: a status line, the events so far, and at the end the model."""

    text: str
    method: type[Method] | None = None
    events: list[ProgressEvent] = field(default_factory=list)
    model_path: Path | None = None
    started: bool = True
    #: the shared run's key ("" when not shared): what is drawn is the same for everyone watching it
    key: str = ""


ENDINGS = {
    None: "done",
    EndReason.STOPPED: "stopped by you",
    EndReason.TIME_BUDGET: f"stopped at the {MAX_SECONDS} s cap",
}


def adapt(
    zoo: ModelZoo,
    data: AppData,
    session: Session,
    pair: str,
    method: str,
    settings: Mapping[str, Any] | None,
    trainer,
    progress=None,
    classroom: Classroom | None = None,
) -> Iterator[AdaptUpdate]:
    """A live session: train ``method`` on ``pair`` from the shipped start model with ``trainer``
    (``workflows.live``: worker processes, this process or a ZeroGPU Space), streaming updates; the
    trained model joins the visitor's session, and the board of the visitor's class when it is a
    run of that class (``classroom``). Bad settings end it at once with a message; a run that
    diverges or fails leaves the visitor's previous model in place."""
    try:
        settings = dict(settings or {})
        pair_spec = run_pair(pair, settings)
        spec = adaptation_spec(pair_spec, method, settings, zoo.picked_settings(pair_spec.model_pair, method))
    except SettingsError as error:
        yield AdaptUpdate(f"Not started: {rejected(str(error))}", started=False)
        return
    # armed before the slow part (data, start model), so Stop pressed while it loads is honoured
    session.stop_signal = stop_signal = threading.Event()
    try:
        report = progress or (lambda *args, **kwargs: None)
        report(0, desc="loading the data")
        loaded = data.pair(spec.pair.model_pair)
        if loaded is None:
            yield AdaptUpdate(
                f"Not started: the training data is not available here ({data.errors.get(spec.pair.model_pair, '')}).",
                started=False,
            )
            return
        in_class = classroom is not None and session.seat is not None and session.seat.is_class_run(spec)
        request = live_request(
            spec,
            loaded.fingerprint,  # a built domain's recipe is part of the spec's identity
            *((CLASS_EVALUATIONS, CLASS_EVAL_SAMPLES) if in_class else (EVALUATIONS, EVAL_SAMPLES)),
        )
        events: list[ProgressEvent] = []
        watchers = (lambda: trainer.watchers(request.key)) if hasattr(trainer, "watchers") else (lambda: 1)
        outcome = yield from _stream(
            spec, trainer.run(request, stop_signal), events, report, watchers, request.key
        )
        if isinstance(outcome, AdaptUpdate):
            yield outcome
            return
        finished = _finish(zoo, session, spec, events, Path(outcome))
        if in_class and finished.model_path:
            finished.text += " " + _join_board(classroom, data.pair(pair), session, spec, events)
        yield finished
    finally:
        stop_signal.set()  # a visitor who leaves mid-run stops it
        session.stop_signal = None


def live_request(
    spec: RunSpec, data_fingerprint: str = "", evaluations: int = 0, eval_samples: int = 0
) -> LiveRequest:
    """The run as the trainer gets it: a fresh place for the model, the app's cadence (about
    ``evaluations`` accuracy points on ``eval_samples`` test images per domain) and cap, and the key
    that makes identical requests one run (the spec, the code and the data)."""
    evaluations, eval_samples = evaluations or EVALUATIONS, eval_samples or EVAL_SAMPLES
    total = spec.total_steps
    output = (
        Path(tempfile.mkdtemp(prefix="da-demo-")) / f"{spec.pair.name}-{spec.method.name}-yours.safetensors"
    )
    options = {
        "eval_every": max(10, total // evaluations),
        "eval_samples": eval_samples,
        "final_eval_samples": EVAL_SAMPLES,
        "evaluate_first": True,
        "log_every": max(1, min(10, total // 30), total // LOSS_POINTS),
        "time_budget": MAX_SECONDS,
    }
    key = f"{spec.identity}/{code_version()}/{data_fingerprint}" if data_fingerprint else ""
    return LiveRequest(spec, str(output), options, key)


def _stream(
    spec: RunSpec,
    messages: Iterator[RunMessage],
    events: list[ProgressEvent],
    report,
    watchers,
    key: str = "",
) -> Iterator[AdaptUpdate]:
    """Updates while the run waits and trains (each accuracy point at once, loss points at most every
    ``REFRESH_SECONDS``); returns the model's path when it is done, else the final update (it
    failed, or the visitor stopped watching a run others still watch)."""
    refreshed = None
    for kind, payload in messages:
        if kind == "failed":
            started = bool(events)
            text = f"{'Failed' if started else 'Not started'}: {payload}"
            return AdaptUpdate(
                text + (" Your previous model is kept." if started else ""),
                spec.method,
                events,
                started=started,
            )
        if kind == "done":
            return payload
        if kind == "waiting":
            yield AdaptUpdate(waiting_text(payload), spec.method, list(events))
            continue
        if kind == "preparing":
            yield AdaptUpdate(f"Preparing your run: {payload}…", spec.method, list(events))
            continue
        if kind == "detached":
            others = f"{payload.others} other student{'s' if payload.others != 1 else ''}"
            return AdaptUpdate(
                f"You stopped watching; the run goes on for {others}. Your previous model is kept.",
                spec.method,
                list(events),
            )
        events.append(payload)
        if payload.done or not payload.metrics:  # the first frame must already name every line (see the curves)
            continue
        now = time.monotonic()
        if payload.target_acc is None and refreshed is not None and now - refreshed < REFRESH_SECONDS:
            continue
        refreshed = now
        report((payload.step, payload.total_steps), desc="training", unit="steps")
        yield AdaptUpdate(progress_text(spec, payload, watchers()), spec.method, list(events))
    return AdaptUpdate("Failed: the training run ended without a result.", spec.method, events)


def _finish(
    zoo: ModelZoo, session: Session, spec: RunSpec, events: list[ProgressEvent], output: Path
) -> AdaptUpdate:
    """The finished run: kept in the visitor's session unless it diverged, or ran out of time while
    a finished model of theirs exists."""
    pair, method, result = spec.pair.name, spec.method.name, events[-1]
    if result.ended_early is EndReason.DIVERGED:
        output.unlink(missing_ok=True)
        return AdaptUpdate(
            f"Diverged: a loss became NaN or infinite at step {result.step}, so this model is useless. "
            "Try a smaller learning rate or weight. Your previous model is kept.",
            spec.method,
            events,
        )
    measured = [event for event in events if event.target_acc is not None]
    model = _own_model(output)
    number = max((run.number for run in session.runs), default=0) + 1
    session.add_run(
        FinishedRun(
            pair,
            method,
            run_label(number, spec, result),
            [event.step for event in measured],
            [event.target_acc for event in measured],
            model,
            number,
            output if model is not None else None,
        )
    )
    summary = (
        f"{result.step} steps in {result.elapsed:.0f} s ({result.train_seconds:.0f} s of it training, the rest "
        f"measuring). Source test {100 * result.source_acc:.1f}%, "
        f"target test {100 * result.target_acc:.1f}% (on {EVAL_SAMPLES} test images each)."
    )
    if result.ended_early is EndReason.TIME_BUDGET and (pair, method) in session.trained:
        # out of time before its last step: a half-trained model does not replace a finished one
        return AdaptUpdate(
            f"Out of time at the {MAX_SECONDS} s cap after {result.step} of {result.total_steps} steps: "
            f"{summary} Your previous model is kept (choose this run under Compare your runs to use it); "
            "fewer steps or a smaller batch fit in the time.",
            spec.method,
            list(events),
            output,
        )
    if model is None:
        return AdaptUpdate(
            f"Failed: the trained model could not be read back. {summary}", spec.method, list(events)
        )
    session.trained[(pair, method)] = model
    where = (
        "Choose “MNIST → your domain” in the pair menu at the top to see it in the Try it and Feature space tabs."
        if pair == CUSTOM
        else "Your model is now in the Try it, Translate (CycleGAN) and Feature space tabs."
    )
    return AdaptUpdate(
        f"{ENDINGS[result.ended_early]}: {summary} {where}",
        spec.method,
        list(events),
        output,
    )


def _join_board(
    classroom: Classroom, pair, session: Session, spec: RunSpec, events: list[ProgressEvent]
) -> str:
    """A class run joins its class's board, scored by the label-free validator on the pair's
    unlabeled target images; says so in a sentence."""
    seat, run = session.seat, session.runs[-1]
    try:
        score = label_free_score(run.model.model, pair)
        classroom.record(seat, spec, run.steps, run.target, score, events[-1].target_acc)
    except ClassroomError as error:
        return rejected(f"Your run could not join the class board: {error}")
    LOG.info("class %s: %s's run joined the board", seat.code, seat.name)
    return f"It joined class {seat.code}'s board as {seat.name}'s run (label-free score {score:.3f})."


def _own_model(path: Path):
    """The visitor's trained model, ready to predict (None if the file cannot be read back)."""
    try:
        return zoo_model(load_checkpoint(path), "trained in this session", owner="yours")
    except CheckpointError as error:
        LOG.warning("a finished run's model could not be read: %s", error)
        return None


def stop_adaptation(session: Session) -> str:
    if session.stop_signal is None:
        return "Nothing is running."
    session.stop_signal.set()
    return "Stopping: the run ends at the next step and keeps what it learned."


Series = dict[str, tuple[list[int], list[float]]]


def curves(events: list) -> tuple[Series, Series]:
    """The two live plots' lines from the events so far: losses by plain-language name, and
    accuracies ("target test", "source test", "domain classifier"), each as (steps, values)."""
    losses: Series = {}
    accuracy: Series = {name: ([], []) for name in ("target test", "source test")}
    for event in events:
        for name, value in event.metrics.items():
            if plotted(name):
                steps, values = losses.setdefault(plain_name(name), ([], []))
                steps.append(event.step)
                values.append(value)
        if event.target_acc is not None:
            for name, value in (("target test", event.target_acc), ("source test", event.source_acc)):
                accuracy[name][0].append(event.step)
                accuracy[name][1].append(value)
        if "domain_acc" in event.metrics:
            steps, values = accuracy.setdefault("domain classifier", ([], []))
            steps.append(event.step)
            values.append(event.metrics["domain_acc"])
    return losses, accuracy


def curves_json(update: AdaptUpdate) -> dict:
    """The curves for programs (the /adapt endpoint): ``{"losses": {name: {"step": [...], "value": [...]}}, ...}``."""
    losses, accuracy = curves(update.events)
    return {
        group: {name: {"step": steps, "value": values} for name, (steps, values) in series.items()}
        for group, series in (("losses", losses), ("accuracy", accuracy))
    }
