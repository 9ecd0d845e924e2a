"""Shift: build your own target domain from MNIST digits with sliders (``data.shift``), see it at
once, and what it costs the source-only model (its accuracy on the built digits, and how well a
domain classifier tells the two domains apart). The recipe is a small JSON object, shown beside
the controls and shareable as a link (``?shift=...``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ..data.shift import (
    BASE_PAIRS,
    CUSTOM,
    FIELDS,
    PRESETS,
    ShiftError,
    ShiftRecipe,
    field_bounds,
    parse_recipe,
)
from ..methods import get_method
from ..workflows.shift_study import STUDY_STEPS
from ..workflows.shifting import ShiftSummary, measure_shift, preview
from .adapt import figures
from .context import AppContext
from .domains import YOUR_DOMAIN
from .live_runs import MAX_STEPS, MAX_WATCHERS, adaptable_methods, stop_adaptation
from .render import friendly, image_file, rejected, shift_study_picture

INTRO = """Make a target domain yourself: turn, resize, move, re-ink, blur, colour or cover MNIST digits, or make
some digits rare. The grid shows 24 of them as your recipe makes them; below it, what the shift costs the
source-only model (trained on MNIST only) and how easily a domain classifier tells your domain from MNIST.
Which shifts can adaptation fix? A turn by 180° makes a 6 of a 9: no method can undo that without labels."""
#: how each setting is shown: a slider's step, or another control
STEPS = {"rotation": 5, "tilt": 5, "scale": 0.05, "translate": 0.02, "thickness": 1, "blur": 0.1, "noise": 0.05,
         "elastic": 0.05, "occlusion": 1, "skew": 0.05}  # fmt: skip
MAX_SKEW_SLIDER = 0.95


def step_methods() -> list[str]:
    """The methods that train by steps (a built domain is adapted to live, with a step budget)."""
    return [name for name in adaptable_methods() if get_method(name).trained_by_steps]


@dataclass
class ShiftTab:
    controls: list
    #: ``from_link(request)`` → the controls filled from the page's ``?shift=`` recipe (if any)
    from_link: Any
    #: ``redraw(event)``: after ``event``, the preview, the recipe, what the shift costs and the link
    redraw: Any


def summary_text(summary) -> str:
    drop = 100 * (summary.mnist_acc - summary.shifted_acc)
    return (
        f"**Source-only model on your domain: {100 * summary.shifted_acc:.1f}%** (on the same {summary.digits} "
        f"test digits unshifted: {100 * summary.mnist_acc:.1f}%; the shift costs {drop:.1f} points). "
        f"A domain classifier on its features tells your domain from MNIST {100 * summary.domain_acc:.0f}% of the "
        f"time (50% = they look alike); MMD² {summary.mmd:.3f}. Labels of your domain are known because you built "
        "it: they measure here, and no method ever trains on them."
    )


def control_for(name: str):
    info = ShiftRecipe.model_fields[name]
    label = f"{name}: {info.description}"
    if name == "invert":
        return gr.Checkbox(value=False, label=label, elem_id=f"shift_{name}")
    if name == "background":
        return gr.Radio(["none", "colour", "photos"], value="none", label=label, elem_id=f"shift_{name}")
    if name == "seed":
        return gr.Number(value=0, precision=0, minimum=0, label=label, elem_id=f"shift_{name}")
    low, high = field_bounds(name)
    high = min(high, MAX_SKEW_SLIDER) if name == "skew" else high
    return gr.Slider(low, high, value=info.default, step=STEPS[name], label=label, elem_id=f"shift_{name}")


STUDY_TEXT = f"""For each preset, the grey dot is the source-only model on 10,000 built test digits; the coloured marks are
the same model after a quick run ({STUDY_STEPS} steps, the settings chosen without labels on the shipped pair) of
three methods. A mark far to the right of its dot is a shift adaptation fixed; marks that stay by the dot are
shifts it did not. Turning digits upside down makes 6s of 9s: without labels, no method can know which is which.
Labels of built domains are known because we made them: they only measure here. To see your own domain in the
other tabs, choose **{YOUR_DOMAIN}** in the pair menu at the top."""
NO_MNIST = "MNIST or its source-only model is not available on this server, so no domain can be built."


def _base(context: AppContext, recipe: ShiftRecipe):
    """The MNIST test digits and the source-only model a recipe is built from and measured with."""
    pair = BASE_PAIRS[recipe.channels]
    loaded = context.data.pair(pair)
    model = next((entry for entry in context.zoo.pair(pair).models if entry.method == "source_only"), None)
    if loaded is None or model is None:
        raise ShiftError(NO_MNIST)
    return loaded.source_test, model.model


def shift_preview(context: AppContext, recipe: ShiftRecipe) -> str:
    """The preview grid's picture file for ``recipe`` (``ShiftError``: it cannot be built here)."""
    test, _ = _base(context, recipe)
    return image_file(preview(recipe, test, context.data.photos()))


def shift_summary(context: AppContext, recipe: ShiftRecipe) -> ShiftSummary:
    """What ``recipe`` costs the source-only model, measured once per recipe for all visitors (a
    class trying the presets asks for the same ones)."""
    test, model = _base(context, recipe)
    key = ("shift", recipe.model_dump_json())
    return context.drawings.get(key, lambda: measure_shift(recipe, test, model, context.data.photos()))


def build(context: AppContext) -> ShiftTab:
    gr.Markdown(INTRO)
    with gr.Row():
        with gr.Column(scale=1, min_width=300):  # first: on a phone the digits sit above the sliders
            grid = gr.Image(show_label=False, interactive=False, buttons=[], elem_id="shift_preview")
            summary = gr.Markdown(elem_id="shift_summary")
            recipe_box = gr.Code(
                value="{}", language="json", label="Recipe (edit it and press Apply)", elem_id="shift_recipe"
            )
            apply = gr.Button("Apply this recipe", elem_id="shift_apply")
            link = gr.Textbox(label="Link to this domain", interactive=False, elem_id="shift_link")
            with gr.Group():
                gr.Markdown("**Adapt to your domain**: a method trains on it here, from the MNIST source-only model.")
                with gr.Row():
                    method = gr.Dropdown(
                        [(get_method(name).title, name) for name in step_methods()],
                        value="dann",
                        label="Method",
                        elem_id="shift_method",
                    )
                    steps = gr.Slider(10, MAX_STEPS, value=600, step=10, label="Steps", elem_id="shift_steps")
                with gr.Row():
                    start = gr.Button("Adapt", variant="primary", elem_id="shift_start")
                    stop = gr.Button("Stop", variant="stop", elem_id="shift_stop")
                status = gr.Textbox(label="Progress", interactive=False, lines=2, elem_id="shift_status")
                curves = gr.Image(show_label=False, interactive=False, buttons=[], elem_id="shift_curves")
        with gr.Column(scale=1, min_width=300):
            preset = gr.Dropdown(list(PRESETS), value="MNIST itself", label="Start from a preset", elem_id="shift_preset")
            controls = [control_for(name) for name in FIELDS]
    study = shift_study_picture(context.drawings)
    with gr.Accordion("Which shifts can adaptation fix?", open=False, elem_id="shift_study"):
        gr.Markdown(STUDY_TEXT)
        if study is not None:
            gr.Image(study, show_label=False, interactive=False, buttons=[], elem_id="shift_study_chart")

    @friendly
    def show(*values):
        """The preview grid and the recipe's JSON (fast), for the controls' values; the recipe is
        the visitor's domain now (the pair menu's "your domain" in the other tabs)."""
        *values, session = values
        try:
            recipe = parse_recipe(dict(zip(FIELDS, values)))
            picture = shift_preview(context, recipe)
        except ShiftError as error:
            return gr.skip(), rejected(str(error)), gr.skip()
        session.recipe = recipe
        preset_now = next((name for name, known in PRESETS.items() if known == recipe), None)
        return picture, "Measuring what this shift costs…", json.dumps(recipe.changed()), preset_now

    @friendly
    def measure(*values):
        try:
            return summary_text(shift_summary(context, parse_recipe(dict(zip(FIELDS, values)))))
        except ShiftError as error:
            return rejected(str(error))

    def fill(recipe: ShiftRecipe) -> list:
        return [getattr(recipe, name) for name in FIELDS]

    def from_preset(name):
        return fill(PRESETS.get(name, ShiftRecipe()))

    def from_text(text):
        try:
            return [*fill(parse_recipe(text)), ""]
        except ShiftError as error:
            return [*(gr.skip() for _ in FIELDS), rejected(str(error))]

    private = {"api_visibility": "private"}
    shown = [grid, summary, recipe_box, preset]
    link_js = "(text) => window.location.origin + window.location.pathname + '?shift=' + encodeURIComponent(text)"

    def redraw(event):
        event.then(show, [*controls, context.session], shown, **private).then(measure, controls, summary, **private).then(
            None, recipe_box, link, js=link_js, **private
        )

    for control in controls:
        redraw(control.input(lambda: None, None, None, trigger_mode="always_last", **private))
    redraw(preset.input(from_preset, preset, controls, **private))
    redraw(apply.click(from_text, recipe_box, [*controls, summary], **private))

    @friendly
    def adapt_here(method_name, step_count, recipe_text, session, request: gr.Request, progress=gr.Progress()):
        """A live run on the built domain (the recipe as the page shows it), its accuracy streaming."""
        settings = {"steps": step_count, "shift": recipe_text or "{}"}
        for update in context.live_session(session, CUSTOM, method_name, settings, progress, request):
            if not update.events:
                yield update.text, gr.skip(), session
                continue
            _, accuracy, _ = figures(update, context.drawings)
            yield update.text, accuracy, session

    start.click(
        adapt_here,
        [method, steps, recipe_box, context.session],
        [status, curves, context.session],
        concurrency_limit=MAX_WATCHERS,
        concurrency_id="training",
        show_progress_on=status,
        **private,
    )
    stop.click(stop_adaptation, context.session, status, concurrency_limit=None, queue=False, **private)

    def from_link(request: gr.Request):
        text = (getattr(request, "query_params", None) or {}).get("shift", "")
        if not text:
            return [gr.skip() for _ in FIELDS]
        try:
            return fill(parse_recipe(text))
        except ShiftError as error:
            rejected(f"a shared shift link was not usable: {error}")
            return [gr.skip() for _ in FIELDS]

    return ShiftTab(controls, from_link, redraw)
