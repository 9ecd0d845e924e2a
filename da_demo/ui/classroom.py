"""The class as a sweep, on the page: a teacher opens a class, students join with its code (or a
link with ``?class=CODE``), each gets a run of their own from the method's grid, and a board that
updates by itself shows the class's runs, the label-free pick, the oracle and ρ.

The classes live in ``workflows.classroom`` (an SQLite file); this module lays out the Lesson tab's
class panel and serves it. A student's finished run joins the board from the live-run path
(``live_runs.adapt``), whichever page or endpoint started it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ..data import PAIRS
from ..data.locations import cache_dir
from ..methods import get_method
from ..validators import TITLES
from ..viz.results import class_board
from ..workflows.classroom import (
    CLASS_BATCH,
    CLASS_STEPS,
    CLASS_VALIDATOR,
    Board,
    Classroom,
    ClassroomError,
    Seat,
)
from .context import AppContext
from .render import figure_file, rejected

CLASSROOM_DB_ENV = "DA_DEMO_CLASSROOM_DB"
CLASS_PAIR = "mnist-usps"
#: methods a teacher can give a class: quick per step, with a grid worth sweeping
CLASS_METHODS = ("dann", "mmd", "deepcoral", "mcc")
BOARD_SECONDS = 5  # how often an open board looks for new runs


def open_classroom() -> Classroom:
    """The app's classes: ``DA_DEMO_CLASSROOM_DB``, else ``classes.sqlite`` in the cache folder."""
    return Classroom(os.environ.get(CLASSROOM_DB_ENV) or cache_dir() / "classes.sqlite")


def seat_text(seat: Seat) -> str:
    """A student's seat in words: who they are on the board and what their run is."""
    labels = get_method(seat.method).hyperparameters_class.settings()
    settings = ", ".join(f"{labels[name].label} {value:g}" for name, value in seat.settings.items())
    return (
        f"You are **{seat.name}** in class **{seat.code}** ({get_method(seat.method).title} on "
        f"{PAIRS[seat.pair].title}). Your run: {settings or 'the default settings'}, seed {seat.seed}, "
        f"{CLASS_STEPS} steps of {CLASS_BATCH} images. Step 5 sets it up in the Adapt tab; press **Start** "
        "there, and your run joins the class board when it ends."
    )


def board_summary(board: Board) -> str:
    """The board in words: how many runs, what the validator picked, what the best run was, ρ."""
    validator = TITLES.get(CLASS_VALIDATOR, CLASS_VALIDATOR)
    if not board.runs:
        return "No run of this class has finished yet: the board fills in as students' runs end."
    text = [f"**{len(board.runs)} run{'s' if len(board.runs) != 1 else ''}** so far."]
    if board.pick is not None and board.oracle is not None:
        cost = 100 * (board.oracle.target_acc - board.pick.target_acc)
        text.append(
            f"The {validator} score picks **{board.pick.name}**'s run ({100 * board.pick.target_acc:.1f}% on "
            f"the target test set); the best run was **{board.oracle.name}**'s ({100 * board.oracle.target_acc:.1f}%), "
            f"so choosing without labels cost {cost:.1f} points."
        )
    if board.rho is not None:
        text.append(
            f"Spearman ρ = {board.rho:+.2f} between the score and the true accuracy (1 would be a perfect ranking)."
        )
    return " ".join(text)


def board_key(code: str, board: Board) -> tuple:
    """What a class board shows: the same key, the same picture."""
    return ("board", code, tuple((run.name, run.target_acc, run.score) for run in board.runs))


def draw_board(code: str, board: Board) -> str:
    runs = [(run.name, run.steps, run.target, run.score) for run in board.runs]
    index = {id(run): number for number, run in enumerate(board.runs)}
    return figure_file(
        class_board(
            runs,
            index.get(id(board.pick)),
            index.get(id(board.oracle)),
            TITLES.get(CLASS_VALIDATOR, CLASS_VALIDATOR),
            board.rho,
            f"Class {code}: {get_method(board.method).title} on {PAIRS[board.pair].title}",
        )
    )


@dataclass
class ClassView:
    """The class panel's parts the lesson's steps use."""

    panel: gr.Accordion
    code: gr.Textbox
    status: gr.Markdown
    board: gr.Image
    summary: gr.Markdown
    #: ``show(session)`` → (board picture, summary) of the visitor's class
    show: Any


def build(context: AppContext) -> ClassView:
    """The class panel at the top of the Lesson tab."""
    classroom, pictures = context.classroom, context.drawings  # one board drawing for the whole class
    with gr.Accordion(
        "Teaching a class? Run the lesson as a sweep with your students", open=False, elem_id="class_panel"
    ) as panel:
        gr.Markdown(
            "A teacher opens a class and shares its code (or the link). Each student who joins gets their own "
            f"setting and seed of the method's grid; their {CLASS_STEPS}-step runs form a sweep, and the class "
            "board below shows every finished run: its target accuracy, a label-free score, what the score "
            "picks and what the best run was. Nobody gets another student's model."
        )
        with gr.Row():
            method = gr.Dropdown(
                [(get_method(name).title, name) for name in CLASS_METHODS],
                value="dann",
                label=f"Teacher: method for the class ({PAIRS[CLASS_PAIR].title})",
                elem_id="class_method",
            )
            open_button = gr.Button("Open a class", elem_id="class_open")
        with gr.Row():
            code = gr.Textbox(label="Class code", max_length=16, elem_id="class_code", scale=1)
            nickname = gr.Textbox(
                label="Your nickname (optional)", max_length=64, elem_id="class_nickname", scale=2
            )
            join_button = gr.Button("Join the class", variant="primary", elem_id="class_join", scale=1)
        link = gr.Textbox(label="Link for students", interactive=False, visible=False, elem_id="class_link")
        status = gr.Markdown(elem_id="class_status")
        board = gr.Image(
            show_label=False,
            label="Class board",
            interactive=False,
            buttons=[],
            visible=False,
            elem_id="class_board",
        )
        summary = gr.Markdown(elem_id="class_summary")

    def show(session, changes_only: bool = False):
        """The board of the visitor's class (nothing new for a visitor outside a class, or, on the
        timer, while no run has joined since they last looked)."""
        if not session.class_code:
            return gr.skip(), gr.skip()
        try:
            current = classroom.board(session.class_code)
        except ClassroomError as error:
            session.class_code = ""
            return gr.skip(), rejected(str(error))
        key = board_key(session.class_code, current)
        if changes_only and key == session.board_key:
            return gr.skip(), gr.skip()
        session.board_key = key
        picture = pictures.get(key, lambda: draw_board(session.class_code, current))
        return gr.update(value=picture, visible=True), board_summary(current)

    def opened(method_name, session):
        try:
            new = classroom.open_class(CLASS_PAIR, method_name)
        except (ClassroomError, ValueError) as error:
            return gr.skip(), rejected(str(error)), gr.skip(), session
        session.class_code = new
        return (
            new,
            f"Class **{new}** is open: {get_method(method_name).title} on {PAIRS[CLASS_PAIR].title}, "
            f"{CLASS_STEPS}-step runs. Students type {new} and press *Join the class*, or open the link. It "
            "closes in a day.",
            gr.update(visible=True),
            session,
        )

    def joined(class_code, name, session):
        try:
            seat = classroom.join(class_code, name)
        except ClassroomError as error:
            return rejected(str(error)), session
        session.seat, session.class_code = seat, seat.code
        return seat_text(seat), session

    private = {"api_visibility": "private"}
    open_button.click(
        opened, [method, context.session], [code, status, link, context.session], **private
    ).then(
        None,
        code,
        link,
        js="(code) => window.location.origin + window.location.pathname + '?class=' + code",
        **private,
    ).then(show, context.session, [board, summary], **private)
    join_button.click(joined, [code, nickname, context.session], [status, context.session], **private).then(
        show, context.session, [board, summary], **private
    )
    gr.Timer(BOARD_SECONDS).tick(
        lambda session: show(session, changes_only=True),
        context.session,
        [board, summary],
        **private,
        queue=False,
    )
    return ClassView(panel, code, status, board, summary, show)


def class_code_from_link(request: gr.Request):
    """A student's link (``?class=CODE``): the code in its field and the class panel open."""
    params = getattr(request, "query_params", None) or {}
    code = str(params.get("class", ""))[:16]
    return (code, gr.Accordion(open=True)) if code else (gr.skip(), gr.skip())
