"""Try it: draw or upload a digit, see what the models see, and compare their predictions before
(source-only) and after adaptation, on the digit as drawn and rendered in the target's style."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
import torch

from ..data import PAIRS
from ..data.digit_input import DigitInputError
from .context import AppContext
from .domains import PagePair, resolve_page_pair
from .predicting import (
    EXAMPLES_PER_DOMAIN,
    digit_inputs,
    examples_for,
    missing_note,
    predict_digit,
    prepare_picture,
    style_renderings,
)
from .render import digit_file, digit_image, friendly, image_file, message, prediction_table, rejected
from .session import Session


@dataclass
class TryItTab:
    examples: gr.Gallery
    #: pair → the example gallery's items (run at page load too)
    example_gallery: Callable[[str], list]
    #: ``show_example(pair, session, index)`` → the tab's ``outputs`` for the example at that index
    show_example: Callable
    outputs: list


#: picks the Sketchpad's brush (the page's JavaScript, run in the visitor's browser)
SELECT_BRUSH = """() => { setTimeout(() => document.querySelector("#pad button[aria-label='Brush']")?.click(), 0); }"""


def blank_canvas() -> str:
    return image_file(np.full((280, 280, 3), 255, np.uint8))


def predictions_view(
    context: AppContext,
    session: Session,
    page: PagePair,
    shown: torch.Tensor,
    inputs: dict[str, torch.Tensor],
    gallery: list,
    notes: list[str],
    source: str,
):
    """The tab's outputs: model view, style gallery, prediction table, status, session. ``source``
    says which input the predictions are for (your drawing, your upload, an example)."""
    prediction = predict_digit(context.zoo, session, page, inputs)
    notices = list(notes) + prediction.notes
    if missing := missing_note(page):
        notices.append(missing)
    thumbnails = {name: digit_image(image, scale=2) for name, image in inputs.items()}
    table = (
        prediction_table(prediction.models, list(prediction.inputs), thumbnails) if prediction.models else ""
    )
    caption = (
        f'<p class="da-caption">Predictions for <b>{html.escape(source)}</b> · {len(prediction.models)} '
        f"models answered in {1000 * prediction.seconds:.0f} ms.</p>"
    )
    return digit_file(shown), gallery, table, message(" ".join(notices)) + caption, session


def show_digit(
    context: AppContext, session: Session, pair: str, digit: torch.Tensor, notes: list[str], source: str
):
    """A prepared, MNIST-like digit: rendered in each style and predicted as drawn and in target style."""
    session.digit = digit
    page = resolve_page_pair(context.zoo, context.data, pair, session)
    renderings = style_renderings(digit, context.data, page)
    notes = list(notes)
    if PAIRS["mnist-mnistm"].target.style not in renderings:
        notes.append("The MNIST-M rendering needs the BSDS500 photos (see the README's data section).")
    gallery = gr.update(
        value=[(digit_file(image), name) for name, image in renderings.items()], label=GALLERY_LABEL
    )
    return predictions_view(
        context, session, page, digit, digit_inputs(page.spec, digit, renderings), gallery, notes, source
    )


def failure(session: Session, text: str):
    return None, [], "", message(rejected(text)), session


GALLERY_LABEL = "The same digit in each target style"


def build(context: AppContext) -> TryItTab:
    data = context.data
    with gr.Row():
        with gr.Column(scale=1):
            pad = gr.Sketchpad(
                value=blank_canvas(),
                canvas_size=(280, 280),
                fixed_canvas=True,
                type="numpy",
                layers=False,
                label="Draw a digit",
                elem_id="pad",
                brush=gr.Brush(
                    default_size=18, colors=["#000000"], default_color="#000000", color_mode="fixed"
                ),
            )
            predict_drawing = gr.Button(
                "Predict the drawing", variant="primary", elem_id="btn_predict_drawing"
            )
        with gr.Column(scale=1):
            upload = gr.File(
                label="…or upload a picture of a digit",
                file_types=["image"],
                type="filepath",
                elem_id="upload",
            )
            model_view = gr.Image(
                label="What the models see (28×28, framed as MNIST)",
                interactive=False,
                height=190,
                elem_id="model_view",
                buttons=[],
            )
        with gr.Column(scale=1):
            styles = gr.Gallery(
                label=GALLERY_LABEL,
                object_fit="contain",
                columns=3,
                height=190,
                allow_preview=False,
                elem_id="styles",
            )
    status = gr.HTML(elem_id="try_status")
    table = gr.HTML(elem_id="predictions")
    examples = gr.Gallery(
        label="Examples from the test sets (the source digits 0–9, then the target's): click one",
        object_fit="contain",
        columns=EXAMPLES_PER_DOMAIN,
        height=260,
        allow_preview=False,
        elem_id="examples",
    )
    outputs = [model_view, styles, table, status, context.session]

    @friendly
    def from_drawing(picture, pair, session):
        try:
            digit, notes = prepare_picture(picture)
        except DigitInputError as error:
            return failure(session, str(error))
        session.input_name = "your drawing"
        return show_digit(context, session, pair, digit, notes, session.input_name)

    @friendly
    def from_upload(path, pair, session):
        """An uploaded picture replaces the drawing: the canvas is cleared, so it is clear which
        input the predictions are for."""
        try:
            digit, notes = prepare_picture(path)
        except DigitInputError as error:
            return (*failure(session, str(error)), gr.skip())
        session.input_name = f"your upload ({Path(path).name})" if isinstance(path, str) else "your upload"
        return (*show_digit(context, session, pair, digit, notes, session.input_name), blank_canvas())

    @friendly
    def again(pair, session):
        if session.digit is None:  # nothing to predict: a previous pair's message must not linger
            return gr.skip(), gr.skip(), "", "", session
        return show_digit(context, session, pair, session.digit, [], session.input_name or "your digit")

    @friendly
    def example_gallery(pair, session=None):
        page = resolve_page_pair(context.zoo, data, pair, session or Session())
        return [(digit_file(example.image), example.short_caption) for example in examples_for(page)]

    @friendly
    def show_example(pair, session, index: int):
        """The example at ``index`` of the gallery (source row, then target row), predicted."""
        page = resolve_page_pair(context.zoo, data, pair, session)
        picked = examples_for(page)
        if index >= len(picked):
            return (*failure(session, "The test data is not available here."), gr.skip())
        example = picked[index]
        session.input_name = f"the {example.caption}"
        if example.domain == page.spec.source:
            return (
                *show_digit(context, session, pair, example.image, [], session.input_name),
                blank_canvas(),
            )
        # a target-domain image is already in the target's style: it is shown as it is, alone
        name = f"{page.spec.target.title} test image"
        gallery = gr.update(
            value=[(digit_file(example.image), f"{page.spec.target.title} · label {example.label}")],
            label="The example itself (already in the target's style)",
        )
        return (
            *predictions_view(
                context, session, page, example.image, {name: example.image}, gallery, [], session.input_name
            ),
            blank_canvas(),
        )

    @friendly
    def pick_example(pair, session, selected: gr.SelectData):
        return show_example(pair, session, selected.index)

    predict_drawing.click(
        from_drawing, [pad, context.pair, context.session], outputs, api_visibility="private"
    )
    # the canvas's trash button empties it, and an empty Sketchpad has no tool selected (strokes then
    # do nothing): the browser picks the brush again at once, with no trip to the server, so strokes
    # drawn right after the trash button count (an emptied canvas is transparent: read as white)
    pad.clear(None, None, None, js=SELECT_BRUSH, api_visibility="private", queue=False)
    upload.upload(
        from_upload, [upload, context.pair, context.session], [*outputs, pad], api_visibility="private"
    )
    context.pair.change(again, [context.pair, context.session], outputs, api_visibility="private")
    context.pair.change(example_gallery, [context.pair, context.session], examples, api_visibility="private")
    examples.select(pick_example, [context.pair, context.session], [*outputs, pad], api_visibility="private")
    return TryItTab(examples, example_gallery, friendly(show_example), [*outputs, pad])
