"""Try it: draw or upload a digit, see what the models see, and compare their predictions before
(source-only) and after adaptation, on the digit as drawn and rendered in the target's style."""

from __future__ import annotations

import time
from dataclasses import dataclass

import gradio as gr
import numpy as np
import torch

from ..data import DOMAINS, PAIRS
from ..data.digit_input import DigitInputError, prepare_digit, render_mnistm_like, render_noisy, render_usps_like
from .appdata import AppData
from .context import AppContext
from .render import digit_image, friendly, message, prediction_table, with_channels
from .session import Session
from .zoo import ModelZoo, probabilities

#: the rendering that imitates each pair's target domain
TARGET_STYLE = {"mnist-usps": "USPS-like", "mnist-mnistm": "MNIST-M-like", "mnist-noisy": "noisy"}
AS_DRAWN = "as drawn (MNIST-like)"
EXAMPLES_PER_DOMAIN = 10


@dataclass
class Example:
    image: torch.Tensor   # (C, 28, 28) as stored in the test set
    label: int
    domain: str           # "mnist", "usps", ...

    @property
    def caption(self) -> str:
        return f"{DOMAINS[self.domain][2]} test digit, label {self.label}"


def style_renderings(digit: torch.Tensor, data: AppData) -> dict[str, torch.Tensor]:
    """The digit in every target domain's style; MNIST-M's needs the BSDS500 photos."""
    renderings = {"USPS-like": render_usps_like(digit), "noisy": render_noisy(digit)}
    photos = data.photos()
    if photos:
        seed = int(digit.sum().item() * 1000) % 10_000  # the same drawing gets the same crop
        renderings["MNIST-M-like"] = render_mnistm_like(digit, photos[seed % len(photos)], seed=seed)
    return renderings


def digit_inputs(pair: str, digit: torch.Tensor, renderings: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Column name → ``(C, 28, 28)`` input for this pair's models: the digit as drawn, and in the
    pair's target style when that can be rendered."""
    inputs = {AS_DRAWN: digit}
    style = TARGET_STYLE[pair]
    if style in renderings:
        inputs[f"in {DOMAINS[PAIRS[pair].target][2]} style"] = renderings[style]
    return inputs


def predict_rows(zoo: ModelZoo, session: Session, pair: str, inputs: dict[str, torch.Tensor]) -> tuple[list[dict], float]:
    """Every model of the pair (shipped, then the visitor's own) on every input: rows and model seconds."""
    channels = PAIRS[pair].channels
    batch = torch.stack([with_channels(image, channels) for image in inputs.values()])
    rows = []
    started = time.perf_counter()
    for entry in zoo.pair(pair).models + session.own_models(pair):
        probs = probabilities(entry.model, batch)
        accuracy = entry.target_acc
        note = f"{100 * accuracy:.1f}% on the {DOMAINS[PAIRS[pair].target][2]} test set" if accuracy is not None else ""
        rows.append({"method": entry.method, "title": entry.title, "note": note, "owner": entry.owner,
                     "probabilities": dict(zip(inputs, probs))})
    return rows, time.perf_counter() - started


def missing_note(zoo: ModelZoo, pair: str) -> str:
    missing = zoo.pair(pair).missing
    if not missing:
        return ""
    return (f"No trained model yet for {', '.join(sorted(missing))} on this pair: train one in the Adapt tab, or run "
            f"`python -m da_demo pretrain --pairs {pair}`.")


def examples_for(data: AppData, pair: str) -> list[Example]:
    """One test digit of each class from the source and from the target domain ([] without data)."""
    loaded = data.pair(pair)
    if loaded is None:
        return []
    picked = []
    for split, domain in ((loaded.source_test, PAIRS[pair].source), (loaded.target_test, PAIRS[pair].target)):
        for label in range(EXAMPLES_PER_DOMAIN):
            index = int(torch.nonzero(split.labels == label)[0])
            image = split.images[index]
            picked.append(Example(image[:1] if domain == "mnist" else image, label, domain))
    return picked


def predictions_view(zoo: ModelZoo, session: Session, pair: str, shown: torch.Tensor, inputs: dict[str, torch.Tensor],
                     gallery: list, notes: list[str]):
    """The tab's outputs: model view, style gallery, prediction table, status, session."""
    rows, seconds = predict_rows(zoo, session, pair, inputs)
    notices = list(notes)
    if missing := missing_note(zoo, pair):
        notices.append(missing)
    timing = f"<small>{len(rows)} models answered in {1000 * seconds:.0f} ms.</small>"
    table = prediction_table(rows, list(inputs)) if rows else ""
    return digit_image(shown), gallery, table, message(" ".join(notices)) + timing, session


def show_digit(zoo: ModelZoo, data: AppData, session: Session, pair: str, digit: torch.Tensor, notes: list[str]):
    """A prepared, MNIST-like digit: rendered in each style and predicted as drawn and in target style."""
    session.digit = digit
    renderings = style_renderings(digit, data)
    notes = list(notes)
    if "MNIST-M-like" not in renderings:
        notes.append("The MNIST-M rendering needs the BSDS500 photos (see the README's data section).")
    gallery = [(digit_image(image), name) for name, image in renderings.items()]
    return predictions_view(zoo, session, pair, digit, digit_inputs(pair, digit, renderings), gallery, notes)


def failure(session: Session, text: str):
    return None, [], "", message(text), session


def digit_from_picture(picture) -> tuple[torch.Tensor, list[str]]:
    """A drawn canvas (Sketchpad value), an uploaded file path or an array → prepared digit, notes."""
    if isinstance(picture, dict):  # the Sketchpad's {"background", "layers", "composite"}
        picture = picture.get("composite")
    if picture is None:
        raise DigitInputError("The canvas is blank: draw a digit first.")
    return prepare_digit(picture)


def build(context: AppContext):
    zoo, data = context.zoo, context.data
    with gr.Row():
        with gr.Column(scale=1):
            pad = gr.Sketchpad(
                value=np.full((280, 280, 3), 255, np.uint8), canvas_size=(280, 280), fixed_canvas=True, type="numpy",
                layers=False, label="Draw a digit", elem_id="pad",
                brush=gr.Brush(default_size=18, colors=["#000000"], default_color="#000000", color_mode="fixed"))
            predict_drawing = gr.Button("Predict the drawing", variant="primary", elem_id="btn_predict_drawing")
        with gr.Column(scale=1):
            upload = gr.File(label="…or upload a picture of a digit", file_types=["image"], type="filepath", elem_id="upload")
            model_view = gr.Image(label="What the models see (28×28, framed as MNIST)", interactive=False, height=190,
                                  elem_id="model_view", buttons=[])
        with gr.Column(scale=1):
            styles = gr.Gallery(label="The same digit in each target style", columns=3, height=190,
                                allow_preview=False, elem_id="styles")
    status = gr.HTML(elem_id="try_status")
    table = gr.HTML(elem_id="predictions")
    examples = gr.Gallery(label="Examples from the test sets (source row, then target row): click one",
                          columns=EXAMPLES_PER_DOMAIN, height=260,
                          allow_preview=False, elem_id="examples")
    outputs = [model_view, styles, table, status, context.session]

    @friendly
    def from_picture(picture, pair, session):
        try:
            digit, notes = digit_from_picture(picture)
        except DigitInputError as error:
            return failure(session, str(error))
        return show_digit(zoo, data, session, pair, digit, notes)

    @friendly
    def again(pair, session):
        if session.digit is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), session
        return show_digit(zoo, data, session, pair, session.digit, [])

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
        if example.domain == "mnist":
            return show_digit(zoo, data, session, pair, example.image, notes)
        name = f"{DOMAINS[example.domain][2]} test image"
        return predictions_view(zoo, session, pair, example.image, {name: example.image},
                                [(digit_image(example.image), name)], notes)

    predict_drawing.click(from_picture, [pad, context.pair, context.session], outputs, api_visibility="private")
    upload.upload(from_picture, [upload, context.pair, context.session], outputs, api_visibility="private")
    context.pair.change(again, [context.pair, context.session], outputs, api_visibility="private")
    context.pair.change(example_gallery, context.pair, examples, api_visibility="private")
    examples.select(pick_example, [context.pair, context.session], outputs, api_visibility="private")
    return examples, example_gallery
