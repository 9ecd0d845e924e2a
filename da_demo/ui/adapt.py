"""Adapt: run a short adaptation session in the browser, with live curves, a progress bar and a
Stop button. The result joins this visitor's models (and only theirs) in the other tabs, and can
be downloaded. Caps keep a public Space alive: steps, seconds per run, and concurrent runs.

The controls are fixed slots (steps, the method's key weight, warm-up, entropy weight, learning
rate, batch size); each method's hyperparameter dataclass says which of its settings fills a slot,
with the label and range its field declares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ..methods import get_method
from ..viz.curves import accuracy_figure, loss_figure, runs_figure
from .context import AppContext
from .domains import pair_title, run_settings
from .glossary import explanations, plotted
from .live_runs import (
    MAX_BATCH_SIZE,
    MAX_SECONDS,
    MAX_STEPS,
    MAX_WATCHERS,
    TRAINING_SLOTS,
    AdaptUpdate,
    adaptable_methods,
    curves,
    stop_adaptation,
)
from .render import Drawings, figure_file, friendly
from .session import Session

DEFAULT_METHOD = "dann"
#: slot → the setting that fills it (a name, or a function of the method class)
SLOTS: dict[str, Callable[[type], str | None]] = {
    "steps": lambda method: "steps",
    "weight": lambda method: method.alignment_parameter,
    "warmup": lambda method: method.warmup_parameter,
    "entropy": lambda method: "entropy_weight",
    "lr": lambda method: "lr",
    "batch_size": lambda method: "batch_size",
}
#: the app's own caps over a field's declared range
CAPS = {"steps": MAX_STEPS, "batch_size": MAX_BATCH_SIZE}


@dataclass
class AdaptTab:
    #: ``describe(method, pair)`` → updates of ``fields``, the slots, for the method's defaults
    describe: Callable
    inputs: list
    fields: list
    run_event: Any
    method: gr.Dropdown
    steps: gr.Slider
    seed: gr.Number


def slot_settings(method: str) -> dict[str, Any]:
    """Slot → the method's ``SettingInfo`` that fills it (None where the method has no such setting)."""
    method_class = get_method(method)
    known = method_class.hyperparameters_class.settings()
    return {
        slot: known.get(pick(method_class)) if pick(method_class) else None for slot, pick in SLOTS.items()
    }


def settings_from_slots(method: str, values: dict[str, Any]) -> dict[str, Any]:
    """The visitor's slot values → named settings for ``method`` (slots it has no setting for are left out)."""
    return {
        info.name: values[slot]
        for slot, info in slot_settings(method).items()
        if info is not None and values.get(slot) is not None
    }


def reported_metrics(events: list) -> list[str]:
    """The metrics a run has reported so far, for the legend's explanations."""
    names = ["target_acc", "source_acc"]
    for event in events:
        names += [name for name in event.metrics if plotted(name) or name == "domain_acc"]
    return list(dict.fromkeys(names))


def figures(update: AdaptUpdate, drawn: Drawings | None = None) -> tuple:
    """``(loss picture, accuracy picture, explanations)`` for the page: PNG files, drawn once per
    shared run and moment (``drawn``), so the students watching one run do not each pay for them."""
    if drawn is None or not update.key:
        return _draw(update)
    return drawn.get((update.key, len(update.events)), lambda: _draw(update))


def _draw(update: AdaptUpdate) -> tuple:
    losses, accuracy = curves(update.events)
    title = f"{update.method.title}" if update.method else ""
    return (
        figure_file(loss_figure(losses, f"Losses: {title}")),
        figure_file(accuracy_figure(accuracy, f"Accuracy: {title}")),
        explanations(reported_metrics(update.events)),
    )


def runs_plot(session, pair: str):
    """This visitor's finished runs on ``pair``, target-test accuracy overlaid (None before the first)."""
    runs = [(run.label, run.steps, run.target) for run in session.runs if run.pair == pair]
    return runs_figure(runs, f"Your runs on {pair_title(pair)}: target test accuracy") if runs else None


def run_adaptation(
    context: AppContext, pair: str, method: str, settings: dict, session, progress, request=None
):
    """The live session on the page: status, loss plot, accuracy plot, explanations, then the
    session (what the run leaves behind is shown by ``after_run``)."""
    for update in context.live_session(session, pair, method, settings, progress, request):
        if not update.events:
            yield update.text, gr.skip(), gr.skip(), gr.skip(), session
            continue
        yield update.text, *figures(update, context.drawings), session


def after_run(pair: str, session):
    """Once a run has ended: the newest model file on ``pair``, the visitor's runs compared, and the
    menu to choose one. Refreshed once rather than left unchanged in every streamed update (each
    unchanged output costs the app a component rebuilt for every student watching)."""
    newest = next((run for run in reversed(session.runs) if run.pair == pair and run.path), None)
    return (str(newest.path) if newest else None), runs_plot(session, pair), runs_menu(session, pair)


def runs_menu(session, pair: str):
    """The visitor's runs on ``pair`` to choose the model from, the one in use selected."""
    runs = [run for run in session.runs if run.pair == pair and run.model is not None]
    in_use = {id(model) for model in session.trained.values()}
    chosen = next((run.number for run in reversed(runs) if id(run.model) in in_use), None)
    return gr.update(choices=[(run.label, run.number) for run in runs], value=chosen, visible=bool(runs))


def choose_run(number, session):
    """The visitor picks one of their runs: its model is the one their other tabs use now."""
    run = session.choose_run(number) if number is not None else None
    if run is None:
        return gr.skip(), session
    return f"Your {get_method(run.method).title} model is now run {run.label}", session


def build(context: AppContext) -> AdaptTab:
    gr.Markdown(
        "Train a method on the chosen pair right here, starting from the shipped source-only model (or "
        "from fresh weights, where the method's picked settings say so). "
        f"Runs are capped at {MAX_STEPS} steps and {MAX_SECONDS} s; {TRAINING_SLOTS} runs train at a time "
        "across all visitors (in line, you see your place and what is training). Training is deterministic, "
        "so classmates who start the same method, settings and seed share one run and see the same curves. "
        "Your model then appears in the other tabs for you only."
    )
    with gr.Row():
        method = gr.Dropdown(
            choices=[(get_method(name).title, name) for name in adaptable_methods()],
            value=DEFAULT_METHOD,
            label="Method",
            elem_id="adapt_method",
        )
        steps = gr.Slider(10, MAX_STEPS, value=600, step=10, label="Steps", elem_id="adapt_steps")
        weight = gr.Number(value=None, label="Alignment weight", elem_id="adapt_weight")
        warmup = gr.Number(value=None, label="Warm-up steps", precision=0, elem_id="adapt_warmup")
        entropy = gr.Number(
            value=None, label="Target entropy weight (0 = plain method)", elem_id="adapt_entropy"
        )
    with gr.Row():
        lr = gr.Number(value=None, label="Learning rate", elem_id="adapt_lr")
        batch_size = gr.Slider(
            16, MAX_BATCH_SIZE, value=64, step=16, label="Batch size", elem_id="adapt_batch"
        )
        seed = gr.Number(value=0, precision=0, label="Seed", elem_id="adapt_seed")
        with gr.Column():
            start = gr.Button("Start", variant="primary", elem_id="btn_start")
            stop = gr.Button("Stop", variant="stop", elem_id="btn_stop")
    status = gr.Textbox(label="Progress", interactive=False, elem_id="adapt_status", lines=2)
    with gr.Row():
        accuracy_plot = gr.Image(
            show_label=False,
            label="Accuracy (target test in red: the number that matters)",
            interactive=False,
            buttons=[],
            elem_id="accuracy_plot",
        )
        loss_plot = gr.Image(
            show_label=False, label="Losses", interactive=False, buttons=[], elem_id="loss_plot"
        )
    glossary = gr.Markdown(elem_id="adapt_glossary")
    runs = gr.Plot(
        show_label=False, label="Compare your runs (finished runs on this pair)", elem_id="runs_plot"
    )
    chooser = gr.Dropdown(
        label="Use the model of this run (every run of yours is kept)",
        choices=[],
        visible=False,
        elem_id="adapt_runs_choice",
    )
    download = gr.File(
        label="Your model (safetensors with its metadata)",
        interactive=False,
        height=90,
        elem_id="adapt_download",
    )
    slots = {
        "steps": steps,
        "weight": weight,
        "warmup": warmup,
        "entropy": entropy,
        "lr": lr,
        "batch_size": batch_size,
    }

    def describe(name: str, pair: str, session=None):
        """Each slot labelled, bounded and filled from the method's setting for it (greyed out where
        it has none): the label-free pick's values, and a lesson step's preset where one applies."""
        preset = (session.presets.get((pair, name), {}) if session is not None else {}) or {}
        picked_on, _ = run_settings(pair, session or Session())
        defaults = get_method(name).hyperparameters_class.from_dict(
            {**context.zoo.picked_settings(picked_on, name), **preset}
        )
        updates = []
        for slot, info in slot_settings(name).items():
            if info is None:
                updates.append(
                    gr.update(
                        value=None, interactive=False, label=f"{slots[slot].label.split(' (')[0]} (none)"
                    )
                )
                continue
            high = min(info.high, CAPS[slot]) if slot in CAPS and info.high is not None else info.high
            value = getattr(defaults, info.name)
            value = min(value, high) if high is not None else value
            updates.append(
                gr.update(value=value, interactive=True, label=info.label, minimum=info.low, maximum=high)
            )
        return tuple(updates)

    @friendly
    def run_session(
        pair,
        name,
        steps,
        weight,
        warmup,
        entropy,
        lr,
        batch,
        seed_value,
        session,
        request: gr.Request,
        progress=gr.Progress(),
    ):
        values = dict(zip(slots, (steps, weight, warmup, entropy, lr, batch)))
        settings = {**settings_from_slots(name, values), "seed": seed_value, **run_settings(pair, session)[1]}
        yield from run_adaptation(context, pair, name, settings, session, progress, request)

    fields = list(slots.values())
    for trigger in (method.change, context.pair.change):
        trigger(describe, [method, context.pair, context.session], fields, api_visibility="private")
    run_event = start.click(
        run_session,
        [context.pair, method, *fields, seed, context.session],
        [status, loss_plot, accuracy_plot, glossary, context.session],
        api_visibility="private",
        concurrency_limit=MAX_WATCHERS,
        concurrency_id="training",
        show_progress_on=status,
    ).then(after_run, [context.pair, context.session], [download, runs, chooser], api_visibility="private")
    chooser.input(choose_run, [chooser, context.session], [status, context.session], api_visibility="private")
    context.pair.change(
        lambda pair, session: (runs_plot(session, pair), runs_menu(session, pair)),
        [context.pair, context.session],
        [runs, chooser],
        api_visibility="private",
    )
    stop.click(
        stop_adaptation,
        context.session,
        status,
        api_visibility="private",
        concurrency_limit=None,
        queue=False,
    )
    return AdaptTab(describe, [method, context.pair, context.session], fields, run_event, method, steps, seed)
