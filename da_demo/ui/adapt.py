"""Adapt: run a short adaptation session in the browser, with live curves, a progress bar and a
Stop button. The result joins this visitor's models (and only theirs) in the other tabs, and can
be downloaded. Caps keep a public Space alive: steps, seconds per run, and concurrent runs.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import gradio as gr
import pandas as pd

from ..artifacts.checkpoints import CheckpointError, load_checkpoint
from ..data import PAIRS
from ..engine.runs import Run
from ..methods import Hyperparameters, get_method, method_names
from .context import AppContext
from .render import friendly, message
from .session import Session
from .zoo import zoo_model

MAX_STEPS = 3000
MAX_SECONDS = 150            # a run ends (and keeps what it learned) after this much training
TRAINING_SLOTS = 2           # runs at once, across all visitors; later ones wait in line
EVAL_SAMPLES = 1000          # test images per domain for the live accuracy points
DEFAULT_METHOD = "dann"


def adaptable_methods() -> list[str]:
    return [name for name in method_names() if name != "source_only"]


def settings_for(method: str, steps: int, weight: float | None, warmup: int | None, lr: float | None,
                 batch_size: int | None, entropy: float | None = None) -> dict:
    """The visitor's choices as hyperparameter overrides for ``method``; clear errors for bad values."""
    method_class = get_method(method)
    overrides: dict = {}
    if issubclass(method_class.hyperparameters_class, Hyperparameters):
        if steps is None or not 10 <= int(steps) <= MAX_STEPS:
            raise ValueError(f"Steps must be between 10 and {MAX_STEPS}.")
        overrides["steps"] = int(steps)
        if lr is not None:
            if not 1e-6 <= float(lr) <= 0.1:
                raise ValueError("The learning rate must be between 0.000001 and 0.1.")
            overrides["lr"] = float(lr)
        if batch_size is not None:
            if not 8 <= int(batch_size) <= 256:
                raise ValueError("The batch size must be between 8 and 256.")
            overrides["batch_size"] = int(batch_size)
    if weight is not None and method_class.alignment_parameter:
        if not 0 <= float(weight) <= 10_000:
            raise ValueError("The alignment weight must be between 0 and 10000.")
        overrides[method_class.alignment_parameter] = float(weight)
    if entropy is not None and "entropy_weight" in method_class.hyperparameters_class.__dataclass_fields__:
        if not 0 <= float(entropy) <= 10:
            raise ValueError("The entropy weight must be between 0 and 10.")
        overrides["entropy_weight"] = float(entropy)
    if warmup is not None and method_class.warmup_parameter:
        if not 0 <= int(warmup) < overrides.get("steps", MAX_STEPS):
            raise ValueError("The warm-up must be shorter than the run.")
        overrides[method_class.warmup_parameter] = int(warmup)
    return overrides


def _plotted_loss(name: str) -> bool:
    return name.endswith("loss") or name in ("mi_bound", "target_entropy")


def curves(events: list, late_metrics: tuple[str, ...] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long-form tables for the two live plots: losses by step, and accuracies by step.

    Every series gets a blank (NaN) point at the first step: Gradio's LinePlot fixes its set of
    lines at the first frame it draws, so a line that appears later would never show."""
    first = events[0].step if events else 0
    reported = next((event.metrics for event in events if event.metrics), {})
    expected = [name for name in (*reported, *late_metrics) if _plotted_loss(name)]
    losses = [{"step": first, "series": name, "value": float("nan")} for name in dict.fromkeys(expected)]
    losses += [{"step": event.step, "series": name, "value": value} for event in events
               for name, value in event.metrics.items() if _plotted_loss(name)]
    accuracy = [{"step": first, "series": name, "value": float("nan")} for name in ("source test", "target test")]
    for event in events:
        if event.target_acc is not None:
            accuracy += [{"step": event.step, "series": "source test", "value": event.source_acc},
                         {"step": event.step, "series": "target test", "value": event.target_acc}]
        if "domain_acc" in event.metrics:
            accuracy.append({"step": event.step, "series": "domain classifier", "value": event.metrics["domain_acc"]})
    empty = pd.DataFrame({"step": pd.Series(dtype=int), "series": pd.Series(dtype=str), "value": pd.Series(dtype=float)})
    return (pd.DataFrame(losses) if losses else empty), (pd.DataFrame(accuracy) if accuracy else empty)


def build(context: AppContext):
    zoo, data = context.zoo, context.data
    gr.Markdown(f"Train a method on the chosen pair right here, starting from the shipped source-only model. "
                f"Runs are capped at {MAX_STEPS} steps and {MAX_SECONDS} s; {TRAINING_SLOTS} run at a time "
                "across all visitors (you will see your place in line). Your model then appears in the other "
                "tabs for you only.")
    with gr.Row():
        method = gr.Dropdown(choices=[(get_method(name).title, name) for name in adaptable_methods()],
                             value=DEFAULT_METHOD, label="Method", elem_id="adapt_method")
        steps = gr.Slider(10, MAX_STEPS, value=600, step=10, label="Steps", elem_id="adapt_steps")
        weight = gr.Number(value=None, label="Alignment weight", elem_id="adapt_weight")
        warmup = gr.Number(value=None, label="Warm-up steps", precision=0, elem_id="adapt_warmup")
        entropy = gr.Number(value=None, label="Target entropy weight (0 = plain method)", elem_id="adapt_entropy")
    with gr.Row():
        lr = gr.Number(value=None, label="Learning rate", elem_id="adapt_lr")
        batch_size = gr.Slider(16, 256, value=64, step=16, label="Batch size", elem_id="adapt_batch")
        seed = gr.Number(value=0, precision=0, label="Seed", elem_id="adapt_seed")
        with gr.Column():
            start = gr.Button("Start", variant="primary", elem_id="btn_start")
            stop = gr.Button("Stop", variant="stop", elem_id="btn_stop")
    status = gr.Textbox(label="Progress", interactive=False, elem_id="adapt_status", lines=2)
    with gr.Row():
        loss_plot = gr.LinePlot(x="step", y="value", color="series", label="losses", height=330, elem_id="loss_plot")
        accuracy_plot = gr.LinePlot(x="step", y="value", color="series", label="accuracy", height=330,
                                    y_lim=[0, 1], elem_id="accuracy_plot")
    download = gr.File(label="Your model (safetensors with its metadata)", interactive=False, height=90,
                       elem_id="adapt_download")

    def describe(name: str, pair: str):
        """Fill the hyperparameter fields with the method's defaults for the pair and say what they mean."""
        method_class = get_method(name)
        defaults = method_class.hyperparameters_for(pair)
        trained_by_steps = isinstance(defaults, Hyperparameters)
        alignment, warm = method_class.alignment_parameter, method_class.warmup_parameter
        has_entropy = hasattr(defaults, "entropy_weight")
        return (gr.update(value=getattr(defaults, alignment) if alignment else None, interactive=alignment is not None,
                          label=f"Alignment weight ({alignment})" if alignment else "Alignment weight (none)"),
                gr.update(value=getattr(defaults, warm) if warm else None, interactive=warm is not None,
                          label=f"Warm-up steps ({warm})" if warm else "Warm-up steps (none)"),
                gr.update(value=defaults.entropy_weight if has_entropy else None, interactive=has_entropy),
                gr.update(value=defaults.lr if trained_by_steps else None, interactive=trained_by_steps),
                gr.update(interactive=trained_by_steps), gr.update(interactive=trained_by_steps))

    @friendly
    def run_session(pair, name, steps, weight, warmup, entropy, lr, batch_size, seed, session: Session,
                    progress=gr.Progress()):
        def outputs(text, losses=gr.skip(), accuracy=gr.skip(), file=gr.skip()):
            return text, losses, accuracy, file, session

        try:
            overrides = settings_for(name, steps, weight, warmup, lr, batch_size, entropy)
            seed = int(seed or 0)
        except (TypeError, ValueError) as error:
            yield outputs(f"Not started: {error}")
            return
        # armed before the slow part (data, start model), so Stop pressed while it loads is honoured
        session.stop_signal = stop_signal = threading.Event()
        try:
            yield from train(pair, name, overrides, seed, stop_signal, session, outputs, progress)
        finally:
            session.stop_signal = None

    def train(pair, name, overrides, seed, stop_signal, session: Session, outputs, progress):
        progress(0, desc="loading the data")
        pair_data = data.pair(pair)
        if pair_data is None:
            yield outputs(f"Not started: the training data is not available here ({data.errors.get(pair, '')}).")
            return
        method_class = get_method(name)
        hparams = method_class.hyperparameters_for(pair, overrides)
        start_from = method_class.warm_start_from(hparams)
        try:
            start_model = zoo.store.load(pair, start_from).checkpoint if start_from else None
        except CheckpointError:
            yield outputs(f"Not started: {name} starts from the {start_from} model, and there is none for {pair}.")
            return
        run = Run(pair_data, name, hparams, seed=seed, device="cpu", start_model=start_model)
        total = getattr(hparams, "steps", 1)
        events = []
        eval_every = max(10, total // 12)
        for event in run.events(eval_every=eval_every, eval_samples=EVAL_SAMPLES, final_eval_samples=EVAL_SAMPLES,
                                evaluate_first=True, log_every=max(1, min(10, total // 30)), stop=stop_signal,
                                time_budget=MAX_SECONDS):
            events.append(event)
            progress((event.step, event.total_steps), desc="training", unit="steps")
            accuracy = f" · target {100 * event.target_acc:.1f}%" if event.target_acc is not None else ""
            text = f"{PAIRS[pair].title}, {method_class.title}: step {event.step}/{event.total_steps}, {event.elapsed:.0f} s{accuracy}"
            if not event.done and event.metrics:  # the first frame must already name every line (see curves)
                yield outputs(text, *curves(events, method_class.late_metrics))
        result = run.result
        ended = {"stopped": "stopped by you", "time budget": f"stopped at the {MAX_SECONDS} s cap"}.get(result.ended_early, "done")
        path = Path(tempfile.mkdtemp(prefix="da-demo-")) / f"{pair}-{name}-yours.safetensors"
        run.save(path)
        session.trained[(pair, name)] = zoo_model(load_checkpoint(path), "trained in this session", owner="yours")
        yield outputs(f"{ended}: {result.step} steps in {result.train_seconds:.0f} s. Source test {100 * result.source_acc:.1f}%, "
                      f"target test {100 * result.target_acc:.1f}% (on {EVAL_SAMPLES} test images each). "
                      "Your model is now in the Try it, Translate (CycleGAN) and Feature space tabs.", *curves(events, method_class.late_metrics), str(path))

    def stop_session(session: Session):
        if session.stop_signal is None:
            return "Nothing is running."
        session.stop_signal.set()
        return "Stopping: the run ends at the next step and keeps what it learned."

    fields = [weight, warmup, entropy, lr, batch_size, steps]
    for trigger in (method.change, context.pair.change):
        trigger(describe, [method, context.pair], fields, api_visibility="private")
    run_event = start.click(run_session, [context.pair, method, steps, weight, warmup, entropy, lr, batch_size, seed,
                                          context.session],
                            [status, loss_plot, accuracy_plot, download, context.session], api_name="adapt",
                            concurrency_limit=TRAINING_SLOTS, concurrency_id="training", show_progress_on=status)
    stop.click(stop_session, context.session, status, api_name="stop", concurrency_limit=None, queue=False)
    return describe, [method, context.pair], fields, run_event
