"""Try it: draw or upload a digit, see what the models see, and compare their predictions before
(source-only) and after adaptation, on the digit as drawn and rendered in the target's style."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr
import numpy as np
import torch

from ..data import PAIRS
from ..data.digit_input import DigitInputError
from .context import AppContext
from .render import digit_image, friendly, message, prediction_table
from .serving import (
    EXAMPLES_PER_DOMAIN,
    digit_inputs,
    examples_for,
    missing_note,
    predict_digit,
    prepare_picture,
    style_renderings,
)
from .session import Session


@dataclass
class TryItTab:
    examples: gr.Gallery
    #: pair → the example gallery's items (run at page load too)
    example_gallery: Callable[[str], list]


def predictions_view(
    context: AppContext,
    session: Session,
    pair: str,
    shown: torch.Tensor,
    inputs: dict[str, torch.Tensor],
    gallery: list,
    notes: list[str],
):
    """The tab's outputs: model view, style gallery, prediction table, status, session."""
    prediction = predict_digit(context.zoo, session, pair, inputs)
    notices = list(notes)
    if missing := missing_note(context.zoo, pair):
        notices.append(missing)
    timing = f"<small>{len(prediction.models)} models answered in {1000 * prediction.seconds:.0f} ms.</small>"
    table = prediction_table(prediction.models, list(prediction.inputs)) if prediction.models else ""
    return digit_image(shown), gallery, table, message(" ".join(notices)) + timing, session


def show_digit(context: AppContext, session: Session, pair: str, digit: torch.Tensor, notes: list[str]):
    """A prepared, MNIST-like digit: rendered in each style and predicted as drawn and in target style."""
    session.digit = digit
    renderings = style_renderings(digit, context.data)
    notes = list(notes)
    if PAIRS["mnist-mnistm"].target.style not in renderings:
        notes.append("The MNIST-M rendering needs the BSDS500 photos (see the README's data section).")
    gallery = [(digit_image(image), name) for name, image in renderings.items()]
    return predictions_view(
        context, session, pair, digit, digit_inputs(pair, digit, renderings), gallery, notes
    )


def failure(session: Session, text: str):
    return None, [], "", message(text), session


def build(context: AppContext) -> TryItTab:
    data = context.data
    with gr.Row():
        with gr.Column(scale=1):
            pad = gr.Sketchpad(
                value=np.full((280, 280, 3), 255, np.uint8),
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
                label="The same digit in each target style",
                columns=3,
                height=190,
                allow_preview=False,
                elem_id="styles",
            )
    status = gr.HTML(elem_id="try_status")
    table = gr.HTML(elem_id="predictions")
    examples = gr.Gallery(
        label="Examples from the test sets (source row, then target row): click one",
        columns=EXAMPLES_PER_DOMAIN,
        height=260,
        allow_preview=False,
        elem_id="examples",
    )
    outputs = [model_view, styles, table, status, context.session]

    @friendly
    def from_picture(picture, pair, session):
        try:
            digit, notes = prepare_picture(picture)
        except DigitInputError as error:
            return failure(session, str(error))
        return show_digit(context, session, pair, digit, notes)

    @friendly
    def again(pair, session):
        if session.digit is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), session
        return show_digit(context, session, pair, session.digit, [])

    @friendly
    def example_gallery(pair):
        return [(digit_image(example.image), example.caption) for example in examples_for(data, pair)]

    @friendly
    def pick_example(pair, session, selected: gr.SelectData):
        picked = examples_for(data, pair)
        if selected.index >= len(picked):
            return failure(session, "The test data is not available here.")
        example = picked[selected.index]
        notes = [f"Picked a {example.caption}."]
        if example.domain == PAIRS[pair].source.name:
            return show_digit(context, session, pair, example.image, notes)
        name = f"{PAIRS[pair].target.title} test image"
        return predictions_view(
            context,
            session,
            pair,
            example.image,
            {name: example.image},
            [(digit_image(example.image), name)],
            notes,
        )

    predict_drawing.click(
        from_picture, [pad, context.pair, context.session], outputs, api_visibility="private"
    )
    upload.upload(from_picture, [upload, context.pair, context.session], outputs, api_visibility="private")
    context.pair.change(again, [context.pair, context.session], outputs, api_visibility="private")
    context.pair.change(example_gallery, context.pair, examples, api_visibility="private")
    examples.select(pick_example, [context.pair, context.session], outputs, api_visibility="private")
    return TryItTab(examples, example_gallery)
