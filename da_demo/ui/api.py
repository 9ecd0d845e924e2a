"""The stable endpoints for programs (gradio_client): ``/predict`` and ``/translate``.

    from gradio_client import Client, handle_file
    client = Client("http://127.0.0.1:7860/")
    client.predict(handle_file("digit.png"), "mnist-usps", api_name="/predict")   # → JSON
    client.predict(handle_file("digit.png"), "mnist-usps", api_name="/translate") # → 2 image files

Bad input raises ``gradio.Error`` with a short message (the client sees it as the error text).
"""

from __future__ import annotations

import gradio as gr

from ..data import PAIRS
from ..data.digit_input import DigitInputError
from .context import AppContext
from .render import digit_image, friendly
from .session import Session
from .translate import translate_digit
from .try_it import digit_from_picture, digit_inputs, predict_rows, style_renderings


def _pair(pair: str | None) -> str:
    pair = pair or "mnist-usps"
    if pair not in PAIRS:
        raise gr.Error(f"Unknown pair {pair!r}: use one of {', '.join(PAIRS)}.")
    return pair


@friendly
def predict_payload(context: AppContext, picture, pair: str | None, session: Session | None) -> dict:
    """Per-model class probabilities for one picture, on the digit as drawn and in the target style."""
    pair = _pair(pair)
    try:
        digit, notes = digit_from_picture(picture)
    except DigitInputError as error:
        raise gr.Error(str(error)) from error
    inputs = digit_inputs(pair, digit, style_renderings(digit, context.data))
    rows, seconds = predict_rows(context.zoo, session or Session(), pair, inputs)
    return {
        "pair": pair,
        "inputs": list(inputs),
        "models": [{"method": row["method"], "title": row["title"], "owner": row["owner"],
                    "predictions": {name: {"class": int(probs.argmax()), "probabilities": [round(float(p), 5) for p in probs]}
                                    for name, probs in row["probabilities"].items()}} for row in rows],
        "notes": notes,
        "model_ms": round(1000 * seconds, 2),
    }


@friendly
def translate_payload(context: AppContext, picture, pair: str | None, session: Session | None = None):
    pair = _pair(pair)
    try:
        digit, _ = digit_from_picture(picture)
        translated, reconstructed = translate_digit(context.zoo, pair, digit, session=session)
    except DigitInputError as error:
        raise gr.Error(str(error)) from error
    return digit_image(translated), digit_image(reconstructed)


def build(context: AppContext) -> None:
    """Hidden components whose events are the public API (they do not show on the page)."""
    with gr.Row(visible=False):
        picture = gr.File(type="filepath", label="image")
        pair = gr.Dropdown(choices=list(PAIRS), value="mnist-usps", label="pair")
        result = gr.JSON(label="per-model probabilities")
        translated = gr.Image(label="translated", type="numpy")
        reconstructed = gr.Image(label="reconstructed", type="numpy")
        predict_button = gr.Button("predict")
        translate_button = gr.Button("translate")
    predict_button.click(lambda image, pair, session: predict_payload(context, image, pair, session),
                         [picture, pair, context.session], result, api_name="predict", concurrency_limit=8)
    translate_button.click(lambda image, pair, session: translate_payload(context, image, pair, session),
                           [picture, pair, context.session],
                           [translated, reconstructed], api_name="translate", concurrency_limit=8)
