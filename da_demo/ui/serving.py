"""What the app does for a visitor or a program, in one place: the tabs and the API endpoints both
call these functions and only format their results differently.

* ``prepare_picture``: a drawn canvas, an uploaded file or an array → a digit framed as MNIST's.
* ``predict_digit``: every model of a pair (shipped, then the visitor's own) on the digit as drawn
  and in the target's style.
* ``translate_digit``: the pair's CycleGAN there and back.
* ``adapt`` / ``stop_adaptation``: a capped live training session in the visitor's own state.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..artifacts.checkpoints import CheckpointError, load_checkpoint
from ..data import DOMAINS, PAIRS
from ..data.digit_input import DigitInputError, prepare_digit
from ..engine.trainer import EndReason, ProgressEvent
from ..methods import Method, get_method, method_names
from ..methods.cyclegan import translate
from ..workflows.digit_check import energy
from ..workflows.training import TrainingJob
from .appdata import AppData
from .render import rejected, with_channels
from .session import FinishedRun, Session
from .workers import RunRequest, TrainingWorkers
from .zoo import ModelZoo, zoo_model

LOG = logging.getLogger("da_demo.ui")
AS_DRAWN = "as drawn (MNIST-like)"
EXAMPLES_PER_DOMAIN = 10

MAX_STEPS = 3000
MAX_BATCH_SIZE = 256
MAX_SECONDS = 150  # a run ends (and keeps what it learned) after this much training
TRAINING_SLOTS = 2  # runs at once, across all visitors; later ones wait in line
EVAL_SAMPLES = 1000  # test images per domain for the live accuracy points


def adaptable_methods() -> list[str]:
    return [name for name in method_names() if name != "source_only"]


# --- digits in, predictions out ------------------------------------------------------------------


def prepare_picture(picture) -> tuple[torch.Tensor, list[str]]:
    """A drawn canvas (Sketchpad value), an uploaded file path or an array → prepared digit, notes.
    Raises ``DigitInputError`` (a sentence for the visitor) when it cannot be read as a digit."""
    if isinstance(picture, dict):  # the Sketchpad's {"background", "layers", "composite"}
        picture = picture.get("composite")
    if picture is None:
        raise DigitInputError("The canvas is blank: draw a digit first.")
    return prepare_digit(picture)


def style_renderings(digit: torch.Tensor, data: AppData) -> dict[str, torch.Tensor]:
    """The digit in every target domain's style (domain style → image); MNIST-M's needs the photos."""
    photos = data.photos()
    renderings = {}
    for spec in PAIRS.values():
        rendered = spec.target.render(digit, photos)
        if rendered is not None:
            renderings[spec.target.style] = rendered
    return renderings


def target_style_column(pair: str) -> str:
    return f"in {PAIRS[pair].target.title} style"


def digit_inputs(
    pair: str, digit: torch.Tensor, renderings: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Column name → ``(C, 28, 28)`` input for this pair's models: the digit as drawn, and in the
    pair's target style when that can be rendered."""
    inputs = {AS_DRAWN: digit}
    style = PAIRS[pair].target.style
    if style in renderings:
        inputs[target_style_column(pair)] = renderings[style]
    return inputs


@dataclass
class ModelPrediction:
    method: str
    title: str
    owner: str  # "shipped" or "yours"
    note: str  # e.g. "94.3% on the USPS test set"
    probabilities: dict[str, torch.Tensor]  # input column → (10,)


@dataclass
class Prediction:
    pair: str
    inputs: dict[str, torch.Tensor]
    models: list[ModelPrediction]
    seconds: float
    notes: list[str] = field(default_factory=list)
    #: the source-only model's energy on the first input, and whether that is low for a digit
    digit_score: float | None = None
    unlike_a_digit: bool = False


NOT_A_DIGIT = (
    "This does not look like a digit to the models (the source-only model responds to it more weakly "
    "than to 95% of hand-drawn digits): the predictions below are guesses."
)


def predict_digit(zoo: ModelZoo, session: Session, pair: str, inputs: dict[str, torch.Tensor]) -> Prediction:
    """Every model of the pair (shipped, then the visitor's own) on every input, and the "is this a
    digit?" check on the first input (see ``workflows.digit_check``)."""
    spec = PAIRS[pair]
    batch = torch.stack([with_channels(image, spec.channels) for image in inputs.values()])
    models, score = [], None
    started = time.perf_counter()
    for entry in zoo.pair(pair).models + session.own_models(pair):
        with torch.no_grad():
            logits, _ = entry.model(batch)
        if entry.method == "source_only" and entry.owner == "shipped":
            score = float(energy(logits[:1])[0])
        probs = torch.softmax(logits.float(), dim=1)
        accuracy = entry.target_acc
        note = f"{100 * accuracy:.1f}% on the {spec.target.title} test set" if accuracy is not None else ""
        models.append(ModelPrediction(entry.method, entry.title, entry.owner, note, dict(zip(inputs, probs))))
    threshold = zoo.digit_threshold(pair)
    unlike = score is not None and threshold is not None and score < threshold
    prediction = Prediction(
        pair, inputs, models, time.perf_counter() - started, digit_score=score, unlike_a_digit=unlike
    )
    if unlike:
        prediction.notes.append(NOT_A_DIGIT)
    return prediction


def predict_picture(zoo: ModelZoo, data: AppData, session: Session, pair: str, picture) -> Prediction:
    """``prepare_picture`` then ``predict_digit`` on the digit as drawn and in the target style."""
    digit, notes = prepare_picture(picture)
    prediction = predict_digit(zoo, session, pair, digit_inputs(pair, digit, style_renderings(digit, data)))
    prediction.notes = notes + prediction.notes
    return prediction


def missing_note(zoo: ModelZoo, pair: str) -> str:
    missing = zoo.pair(pair).missing
    if not missing:
        return ""
    return (
        f"No trained model yet for {', '.join(sorted(missing))} on this pair: train one in the Adapt tab, or run "
        f"`python -m da_demo pretrain --pairs {pair}`."
    )


@dataclass
class Example:
    image: torch.Tensor  # (C, 28, 28) as stored in the test set
    label: int
    domain: str  # "mnist", "usps", ...

    @property
    def caption(self) -> str:
        return f"{DOMAINS[self.domain].title} test digit, label {self.label}"

    @property
    def short_caption(self) -> str:
        """Short enough for a gallery tile: ``USPS · 7``."""
        return f"{DOMAINS[self.domain].title} · {self.label}"


def examples_for(data: AppData, pair: str) -> list[Example]:
    """One test digit of each class from the source and from the target domain ([] without data)."""
    loaded = data.pair(pair)
    if loaded is None:
        return []
    spec = PAIRS[pair]
    picked = []
    for split, domain in ((loaded.source_test, spec.source), (loaded.target_test, spec.target)):
        for label in range(EXAMPLES_PER_DOMAIN):
            index = int(torch.nonzero(split.labels == label)[0])
            image = split.images[index]
            picked.append(Example(image[: domain.channels], label, domain.name))
    return picked


# --- CycleGAN ------------------------------------------------------------------------------------


def translate_digit(
    zoo: ModelZoo, pair: str, image: torch.Tensor, to_target: bool = True, session: Session | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``image (C, 28, 28)`` or a batch → (translated, reconstructed) with the pair's CycleGAN
    generators: the visitor's own when they trained one, else the shipped ones.

    Raises ``DigitInputError`` (a visitor-facing message) when the pair has no CycleGAN model."""
    own = session.trained.get((pair, "cyclegan")) if session else None
    generators = own.generators if own else zoo.pair(pair).generators
    if generators is None:
        raise DigitInputError(
            f"There is no trained CycleGAN for {PAIRS[pair].title} yet: train it with "
            f"`python -m da_demo pretrain --pairs {pair} --methods cyclegan`."
        )
    forward, backward = generators if to_target else generators[::-1]
    return translate(forward, backward, with_channels(image, PAIRS[pair].channels))


# --- live adaptation -----------------------------------------------------------------------------


class SettingsError(ValueError):
    """A visitor's settings cannot be used; the message says why."""


def adaptation_settings(
    pair: str, method: str, settings: Mapping[str, Any] | None, picked: Mapping[str, Any] | None = None
) -> tuple[Any, int]:
    """A visitor's named settings (``{"steps": 600, "lambda_max": 0.5, "seed": 0}``), over the
    selection's ``picked`` settings for the shipped model, → the method's checked hyperparameters and
    the seed. Ranges come from the method's dataclass; the app adds its own caps (steps, batch size)
    so a public Space stays responsive."""
    if pair not in PAIRS:
        raise SettingsError(f"Unknown pair {pair!r}: use one of {', '.join(PAIRS)}.")
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
        defaults = method_class.hyperparameters_for(pair, picked)
        picked["steps"] = min(defaults.steps, MAX_STEPS)
        picked["batch_size"] = min(defaults.batch_size, MAX_BATCH_SIZE)
    settings = {**picked, **settings}
    try:
        hparams = method_class.hyperparameters_for(pair, settings)
    except ValueError as error:
        raise SettingsError(str(error)) from error
    if getattr(hparams, "steps", 0) > MAX_STEPS:
        raise SettingsError(f"Steps must be at most {MAX_STEPS} here (a live session is capped).")
    if getattr(hparams, "batch_size", 0) > MAX_BATCH_SIZE:
        raise SettingsError(f"The batch size must be at most {MAX_BATCH_SIZE} here.")
    return hparams, seed


@dataclass
class AdaptUpdate:
    """One moment of a live session: a status line, the events so far, and at the end the model."""

    text: str
    method: type[Method] | None = None
    events: list[ProgressEvent] = field(default_factory=list)
    model_path: Path | None = None
    started: bool = True


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
    progress=None,
    workers: TrainingWorkers | None = None,
) -> Iterator[AdaptUpdate]:
    """A live session: train ``method`` on ``pair`` from the shipped start model in a training worker
    (``workers``; in this process when None), streaming updates; the trained model joins the
    visitor's session. Bad settings end it at once with a message; a run that diverges or fails
    leaves the visitor's previous model in place."""
    try:
        hparams, seed = adaptation_settings(pair, method, settings, zoo.picked_settings(pair, method))
    except SettingsError as error:
        yield AdaptUpdate(f"Not started: {rejected(str(error))}", started=False)
        return
    # armed before the slow part (data, start model), so Stop pressed while it loads is honoured
    session.stop_signal = stop_signal = threading.Event()
    try:
        yield from _adapt(zoo, data, session, pair, method, hparams, seed, stop_signal, progress, workers)
    finally:
        stop_signal.set()  # a visitor who leaves mid-run stops it
        session.stop_signal = None


ZERO_GPU_ENV = "SPACES_ZERO_GPU"
#: how long a ZeroGPU Space lends its GPU for one run: the run's cap plus evaluation and saving
ZERO_GPU_SECONDS = MAX_SECONDS + 60


@functools.cache
def zero_gpu_trainer():
    """On a Hugging Face Space with ZeroGPU hardware (``SPACES_ZERO_GPU`` set and the ``spaces``
    package there), ``_train_here`` on CUDA under ``spaces.GPU``; None everywhere else, where the app
    behaves as it always does."""
    if not os.environ.get(ZERO_GPU_ENV):
        return None
    try:
        import spaces
    except ImportError:
        LOG.warning("%s is set but the spaces package is missing: training on the CPU", ZERO_GPU_ENV)
        return None

    def train_on_gpu(request, zoo, data, stop):
        yield from _train_here(request, zoo, data, stop, device="cuda")

    return spaces.GPU(duration=ZERO_GPU_SECONDS)(train_on_gpu)


def _train_here(
    request: RunRequest, zoo: ModelZoo, data: AppData, stop: threading.Event, device: str = "cpu"
) -> Iterator[tuple]:
    """What a training worker does, in this process (on a ZeroGPU Space, and where workers are off)."""
    hparams = get_method(request.method).hyperparameters_class.from_dict(request.hyperparameters)
    try:
        job = TrainingJob(
            data.pair(request.pair),
            request.method,
            hparams,
            seed=request.seed,
            device=device,
            store=zoo.store,
            train_missing_start=False,
        )
    except CheckpointError as error:
        yield "failed", str(error)
        return
    for event in job.events(stop=stop, **request.train_options):
        yield "event", event
    job.save(request.output)
    yield "done", request.output


def _adapt(
    zoo, data, session, pair, method, hparams, seed, stop_signal, progress, workers
) -> Iterator[AdaptUpdate]:
    report = progress or (lambda *args, **kwargs: None)
    report(0, desc="loading the data")
    if data.pair(pair) is None:
        yield AdaptUpdate(
            f"Not started: the training data is not available here ({data.errors.get(pair, '')}).",
            started=False,
        )
        return
    method_class = get_method(method)
    total = method_class.total_steps(hparams)
    output = Path(tempfile.mkdtemp(prefix="da-demo-")) / f"{pair}-{method}-yours.safetensors"
    options = {
        "eval_every": max(10, total // 12),
        "eval_samples": EVAL_SAMPLES,
        "final_eval_samples": EVAL_SAMPLES,
        "evaluate_first": True,
        "log_every": max(1, min(10, total // 30)),
        "time_budget": MAX_SECONDS,
    }
    request = RunRequest(pair, method, hparams.to_dict(), seed, str(output), options, data.data_dir)
    gpu = zero_gpu_trainer()
    if gpu is not None:  # a ZeroGPU Space: a GPU is lent for this run, in this process
        messages = gpu(request, zoo, data, stop_signal)
    elif workers is not None:
        messages = workers.run(request, stop_signal)
    else:
        messages = _train_here(request, zoo, data, stop_signal)
    events: list[ProgressEvent] = []
    for kind, payload in messages:
        if kind == "failed":
            started = bool(events)
            text = f"{'Failed' if started else 'Not started'}: {payload}"
            yield AdaptUpdate(
                text + (" Your previous model is kept." if started else ""),
                method_class,
                events,
                started=started,
            )
            return
        if kind == "done":
            break
        event = payload
        events.append(event)
        report((event.step, event.total_steps), desc="training", unit="steps")
        accuracy = f" · target {100 * event.target_acc:.1f}%" if event.target_acc is not None else ""
        text = (
            f"{PAIRS[pair].title}, {method_class.title}: step {event.step}/{event.total_steps}, "
            f"{event.elapsed:.0f} s{accuracy}"
        )
        if not event.done and event.metrics:  # the first frame must already name every line (see the curves)
            yield AdaptUpdate(text, method_class, list(events))
    result = events[-1]
    if result.ended_early is EndReason.DIVERGED:
        output.unlink(missing_ok=True)
        yield AdaptUpdate(
            f"Diverged: a loss became NaN or infinite at step {result.step}, so this model is useless. "
            "Try a smaller learning rate or weight. Your previous model is kept.",
            method_class,
            events,
        )
        return
    measured = [event for event in events if event.target_acc is not None]
    session.add_run(
        FinishedRun(
            pair,
            method,
            f"{len(session.runs) + 1}. {method_class.title}",
            [event.step for event in measured],
            [event.target_acc for event in measured],
        )
    )
    summary = (
        f"{result.step} steps in {result.train_seconds:.0f} s. Source test {100 * result.source_acc:.1f}%, "
        f"target test {100 * result.target_acc:.1f}% (on {EVAL_SAMPLES} test images each)."
    )
    if result.ended_early is EndReason.TIME_BUDGET and (pair, method) in session.trained:
        # out of time before its last step: a half-trained model does not replace a finished one
        yield AdaptUpdate(
            f"Out of time at the {MAX_SECONDS} s cap after {result.step} of {result.total_steps} steps: "
            f"{summary} Your previous model is kept; this one is offered for download. Fewer steps "
            "or a smaller batch fit in the time.",
            method_class,
            list(events),
            output,
        )
        return
    session.trained[(pair, method)] = zoo_model(
        load_checkpoint(output), "trained in this session", owner="yours"
    )
    yield AdaptUpdate(
        f"{ENDINGS[result.ended_early]}: {summary} Your model is now in the Try it, Translate "
        "(CycleGAN) and Feature space tabs.",
        method_class,
        list(events),
        output,
    )


def stop_adaptation(session: Session) -> str:
    if session.stop_signal is None:
        return "Nothing is running."
    session.stop_signal.set()
    return "Stopping: the run ends at the next step and keeps what it learned."
