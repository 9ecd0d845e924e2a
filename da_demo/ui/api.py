"""The endpoints for programs (gradio_client), backed by the same serving functions as the tabs:

    from gradio_client import Client, handle_file
    client = Client("http://127.0.0.1:7860/")
    client.predict(handle_file("digit.png"), "mnist-usps", api_name="/predict")     # → JSON
    client.predict(handle_file("digit.png"), "mnist-usps", api_name="/translate")   # → 2 image files
    job = client.submit("mnist-usps", "dann", {"steps": 300, "lambda_max": 0.5, "seed": 0}, api_name="/adapt")
    client.predict(api_name="/stop")                                                # stops your run
    code = client.predict("dann", api_name="/open_class")                           # a teacher's class
    seat = client.predict(code, "Ada", api_name="/join_class")   # → {"preset": {...}, "seed": ..., ...}
    client.submit("mnist-usps", "dann", {**seat["preset"], "seed": seat["seed"]},
                  api_name="/adapt")                              # the same client: the run joins the board
    client.predict(code, api_name="/class_board")                                   # → JSON

Bad input raises ``gradio.Error`` with a short message (the client sees it as the error text);
``/adapt`` answers bad settings with a "Not started: ..." status instead.
"""

from __future__ import annotations

import gradio as gr

from ..data import PAIRS
from ..data.digit_input import DigitInputError
from ..data.shift import CUSTOM
from ..workflows.classroom import CLASS_VALIDATOR, Board, BoardRun, ClassroomError, Seat
from .classroom import CLASS_PAIR
from .context import AppContext
from .live_runs import MAX_WATCHERS, adaptable_methods, curves_json, stop_adaptation
from .predicting import predict_picture, prepare_picture, translate_digit
from .render import digit_file, friendly, rejection
from .session import Session


def _pair(pair: str | None) -> str:
    pair = pair or "mnist-usps"
    if pair not in PAIRS:
        raise rejection(f"Unknown pair {pair!r}: use one of {', '.join(PAIRS)}.")
    return pair


@friendly
def predict_payload(context: AppContext, picture, pair: str | None, session: Session | None) -> dict:
    """Per-model class probabilities for one picture, on the digit as drawn and in the target style."""
    pair = _pair(pair)
    try:
        prediction = predict_picture(context.zoo, context.data, session or Session(), pair, picture)
    except DigitInputError as error:
        raise rejection(str(error)) from error
    return {
        "pair": pair,
        "inputs": list(prediction.inputs),
        "models": [
            {
                "method": model.method,
                "title": model.title,
                "owner": model.owner,
                "predictions": {
                    name: {"class": int(probs.argmax()), "probabilities": [round(float(p), 5) for p in probs]}
                    for name, probs in model.probabilities.items()
                },
            }
            for model in prediction.models
        ],
        "notes": prediction.notes,
        "model_ms": round(1000 * prediction.seconds, 2),
        "digit_check": {
            "score": None if prediction.digit_score is None else round(prediction.digit_score, 3),
            "unlike_a_digit": prediction.unlike_a_digit,
        },
    }


@friendly
def translate_payload(context: AppContext, picture, pair: str | None, session: Session | None = None):
    pair = _pair(pair)
    try:
        digit, _ = prepare_picture(picture)
        translated, reconstructed = translate_digit(context.zoo, pair, digit, session=session)
    except DigitInputError as error:
        raise rejection(str(error)) from error
    return digit_file(translated), digit_file(reconstructed)


def adapt_stream(
    context: AppContext, pair: str, method: str, settings: dict, session, progress, request=None
):
    """The live session as /adapt streams it: status, curves (JSON), model file, then the session."""
    for update in context.live_session(session, pair, method, settings, progress, request):
        curves = curves_json(update) if update.events else gr.skip()
        # no model file until the run has one: an unchanged output (gr.skip) costs more than an empty one
        yield update.text, curves, str(update.model_path) if update.model_path else None, session


def seat_payload(seat: Seat) -> dict:
    return {
        "class": seat.code,
        "student": seat.student,
        "name": seat.name,
        "pair": seat.pair,
        "method": seat.method,
        "settings": seat.settings,
        "seed": seat.seed,
        "preset": seat.preset,
    }


def board_payload(board: Board) -> dict:
    def run(entry: BoardRun | None) -> dict | None:
        if entry is None:
            return None
        return {
            "name": entry.name,
            "settings": entry.settings,
            "seed": entry.seed,
            "score": entry.score,
            "target_acc": entry.target_acc,
            "curve": {"step": entry.steps, "target_acc": entry.target},
        }

    return {
        "pair": board.pair,
        "method": board.method,
        "validator": CLASS_VALIDATOR,
        "runs": [run(entry) for entry in board.runs],
        "pick": run(board.pick),
        "oracle": run(board.oracle),
        "rho": board.rho,
    }


def shift_endpoint(context: AppContext, result: gr.JSON) -> None:
    """/shift: a recipe (JSON) → the preview grid and what the shift costs (JSON), as the Shift tab
    shows them."""
    from ..data.shift import ShiftError, parse_recipe
    from .shift import shift_preview, shift_summary

    @friendly
    def shift(recipe):
        try:
            parsed = parse_recipe(recipe if isinstance(recipe, dict | str) else None)
            return shift_preview(context, parsed), shift_summary(context, parsed).to_json()
        except ShiftError as error:
            raise rejection(str(error)) from error

    with gr.Row(visible=False):
        recipe = gr.JSON(value={}, label="recipe")
        grid = gr.Image(label="preview", type="filepath")
        button = gr.Button("shift")
    button.click(shift, recipe, [grid, result], api_name="shift", concurrency_limit=4)


def class_endpoints(context: AppContext, text: gr.Textbox, result: gr.JSON) -> None:
    """/open_class (a teacher), /join_class (a student: the seat, kept in the client's session, so
    their /adapt runs join the board) and /class_board."""
    classroom = context.classroom

    @friendly
    def open_class(method):
        try:
            return classroom.open_class(CLASS_PAIR, method or "dann")
        except ValueError as error:
            raise rejection(str(error)) from error

    @friendly
    def join_class(code, nickname, session):
        try:
            seat = classroom.join(code, nickname or "")
        except ClassroomError as error:
            raise rejection(str(error)) from error
        session.seat, session.class_code = seat, seat.code
        return seat_payload(seat), session

    @friendly
    def class_board(code):
        try:
            return board_payload(classroom.board(code))
        except ClassroomError as error:
            raise rejection(str(error)) from error

    with gr.Row(visible=False):
        method, code, nickname = (
            gr.Textbox(label="method"),
            gr.Textbox(label="code"),
            gr.Textbox(label="nickname"),
        )
        buttons = [gr.Button(name) for name in ("open", "join", "board")]
    buttons[0].click(open_class, method, text, api_name="open_class")
    buttons[1].click(
        join_class, [code, nickname, context.session], [result, context.session], api_name="join_class"
    )
    buttons[2].click(class_board, code, result, api_name="class_board", concurrency_limit=8)


def build(context: AppContext) -> None:
    """Hidden components whose events are the public API (they do not show on the page)."""
    with gr.Row(visible=False):
        picture = gr.File(type="filepath", label="image")
        pair = gr.Dropdown(choices=list(PAIRS), value="mnist-usps", label="pair")
        # /adapt also trains on a built domain: pair "custom", its recipe under the settings key "shift"
        run_pair = gr.Dropdown(choices=[*PAIRS, CUSTOM], value="mnist-usps", label="pair")
        method = gr.Dropdown(choices=adaptable_methods(), value="dann", label="method")
        settings = gr.JSON(value={}, label="settings")
        result = gr.JSON(label="per-model probabilities")
        translated = gr.Image(label="translated", type="numpy")
        reconstructed = gr.Image(label="reconstructed", type="numpy")
        status = gr.Textbox(label="status")
        curves = gr.JSON(label="curves")
        model_file = gr.File(label="trained model")
        predict_button = gr.Button("predict")
        translate_button = gr.Button("translate")
        adapt_button = gr.Button("adapt")
        stop_button = gr.Button("stop")

    @friendly
    def adapt_endpoint(pair, method, settings, session, request: gr.Request, progress=gr.Progress()):
        yield from adapt_stream(
            context, pair, method, settings if isinstance(settings, dict) else {}, session, progress, request
        )

    predict_button.click(
        lambda image, pair, session: predict_payload(context, image, pair, session),
        [picture, pair, context.session],
        result,
        api_name="predict",
        concurrency_limit=8,
    )
    translate_button.click(
        lambda image, pair, session: translate_payload(context, image, pair, session),
        [picture, pair, context.session],
        [translated, reconstructed],
        api_name="translate",
        concurrency_limit=8,
    )
    adapt_button.click(
        adapt_endpoint,
        [run_pair, method, settings, context.session],
        [status, curves, model_file, context.session],
        api_name="adapt",
        concurrency_limit=MAX_WATCHERS,
        concurrency_id="training",
    )
    stop_button.click(
        stop_adaptation, context.session, status, api_name="stop", concurrency_limit=None, queue=False
    )
    class_endpoints(context, status, result)
    shift_endpoint(context, result)
