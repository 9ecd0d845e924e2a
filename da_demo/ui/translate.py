"""Translate: CycleGAN between the pair's domains, a digit at a time, and the lecture's grid."""

from __future__ import annotations

import random
from dataclasses import dataclass

import gradio as gr
import matplotlib

matplotlib.use("Agg")
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..data import PAIRS  # noqa: E402
from ..data.digit_input import DigitInputError  # noqa: E402
from ..data.shift import CUSTOM  # noqa: E402
from .context import AppContext  # noqa: E402
from .domains import PagePair, resolve_page_pair  # noqa: E402
from .predicting import BUILT_HAS_NO_CYCLEGAN, examples_for, prepare_picture, translate_digit  # noqa: E402
from .render import digit_file, digit_image, friendly, message, rejected  # noqa: E402
from .session import Session  # noqa: E402
from .zoo import ModelZoo  # noqa: E402


def lecture_grid(zoo: ModelZoo, page: PagePair, examples, session: Session | None = None) -> Figure:
    """Rows: original source, original target, generated target G(s), reconstructed source F(G(s))."""
    spec = page.spec
    source = [example.image for example in examples if example.domain == spec.source]
    target = [example.image for example in examples if example.domain == spec.target]
    translated, reconstructed = translate_digit(zoo, page.name, torch.stack(source), session=session)
    rows = [
        ("source", source),
        ("target", target),
        ("generated target G(s)", translated),
        ("reconstructed F(G(s))", reconstructed),
    ]
    figure = Figure(figsize=(len(source) * 0.9, 4 * 0.95))
    axes = figure.subplots(4, len(source))
    for row, (name, images) in enumerate(rows):
        for column, image in enumerate(images):
            axis = axes[row, column]
            axis.imshow(digit_image(image, scale=1))
            axis.set_xticks([])
            axis.set_yticks([])
            if column == 0:
                axis.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    figure.suptitle(f"CycleGAN, {spec.title}: one digit of each class", fontsize=10)
    figure.tight_layout()
    return figure


@dataclass
class TranslateTab:
    grid: gr.Plot


def build(context: AppContext) -> TranslateTab:
    zoo, data = context.zoo, context.data
    gr.Markdown(
        "CycleGAN learns two translators without paired images: **G** from the source style to the target "
        "style and **F** back. Translating and coming back should return the original (cycle consistency)."
    )
    with gr.Row():
        with gr.Column(scale=1):
            use_drawing = gr.Button("Use my digit from Try it", elem_id="btn_use_drawing")
            sample_source = gr.Button("Random source test digit", elem_id="btn_sample_source")
            sample_target = gr.Button(
                "Random target test digit (goes back with F)", elem_id="btn_sample_target"
            )
            upload = gr.File(
                label="…or upload a digit", file_types=["image"], type="filepath", elem_id="translate_upload"
            )
        original = gr.Image(label="input", interactive=False, height=190, buttons=[], elem_id="tr_input")
        translated = gr.Image(
            label="translated", interactive=False, height=190, buttons=[], elem_id="tr_translated"
        )
        reconstructed = gr.Image(
            label="reconstructed (translated back)",
            interactive=False,
            height=190,
            buttons=[],
            elem_id="tr_reconstructed",
        )
    status = gr.HTML(elem_id="translate_status")
    grid_button = gr.Button("Show the grid: one digit of each class", elem_id="btn_grid")
    grid = gr.Plot(show_label=False, label="CycleGAN grid", elem_id="grid")
    outputs = [original, translated, reconstructed, status]

    def show(pair: str, image: torch.Tensor, to_target: bool, caption: str, session: Session):
        try:
            forward, back = translate_digit(zoo, pair, image, to_target, session)
        except DigitInputError as error:
            return None, None, None, message(rejected(str(error)))
        spec = PAIRS[pair]
        names = [spec.source.title, spec.target.title]
        direction = " → ".join(names if to_target else names[::-1])
        return (
            digit_file(image),
            digit_file(forward),
            digit_file(back),
            f"<small>{caption}: {direction} → back.</small>",
        )

    @friendly
    def from_session(pair, session):
        if session.digit is None:
            return None, None, None, message("Draw or upload a digit in the Try it tab first.")
        return show(pair, session.digit, True, "Your digit", session)

    @friendly
    def from_upload(path, pair, session):
        try:
            digit, _ = prepare_picture(path)
        except DigitInputError as error:
            return None, None, None, message(rejected(str(error)))
        return show(pair, digit, True, "Your upload", session)

    @friendly
    def sample(pair, session, to_target: bool):
        if pair == CUSTOM:
            return None, None, None, message(BUILT_HAS_NO_CYCLEGAN)
        page = resolve_page_pair(zoo, data, pair, session)
        if page.data is None:
            return None, None, None, message(f"The test data is not available here ({page.problem}).")
        split = page.data.source_test if to_target else page.data.target_test
        index = random.randrange(len(split))
        domain = page.spec.source if to_target else page.spec.target
        return show(
            pair,
            split.images[index],
            to_target,
            f"{domain.title} test digit #{index} (label {int(split.labels[index])})",
            session,
        )

    @friendly
    def grid_figure(pair, session):
        if pair == CUSTOM:
            gr.Warning(BUILT_HAS_NO_CYCLEGAN)
            return None
        page = resolve_page_pair(zoo, data, pair, session)
        picked = examples_for(page)
        if not picked:
            gr.Warning("The test data is not available here.")
            return None
        try:
            return lecture_grid(zoo, page, picked, session)
        except DigitInputError as error:
            gr.Warning(str(error))
            return None

    use_drawing.click(from_session, [context.pair, context.session], outputs, api_visibility="private")
    upload.upload(from_upload, [upload, context.pair, context.session], outputs, api_visibility="private")
    sample_source.click(
        lambda pair, session: sample(pair, session, True),
        [context.pair, context.session],
        outputs,
        api_visibility="private",
    )
    sample_target.click(
        lambda pair, session: sample(pair, session, False),
        [context.pair, context.session],
        outputs,
        api_visibility="private",
    )
    grid_button.click(grid_figure, [context.pair, context.session], grid, api_visibility="private")

    def pair_changed(pair):
        """Another pair: the previous pair's translations, status and grid go."""
        if pair == CUSTOM:
            return None, None, None, message(BUILT_HAS_NO_CYCLEGAN), None
        spec = PAIRS[pair]
        route = f"from {spec.source.title} to {spec.target.title} and back"
        note = f"<small>{spec.title}: pick a digit to translate {route}.</small>"
        return None, None, None, note, None

    context.pair.change(pair_changed, context.pair, [*outputs, grid], api_visibility="private")
    return TranslateTab(grid)
