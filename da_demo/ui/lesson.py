"""Lesson: a guided tour for a class of about 15 minutes. Each step is a sentence or two and a
button that sets the app up for it (pair, tab, example, method); students then look or press
Start themselves. The buttons are laid out in the Lesson tab and wired once every tab exists."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from .adapt import AdaptTab
from .classroom import ClassView
from .features import FeaturesTab
from .results import ResultsTab
from .try_it import TryItTab

#: example gallery index of a digit: the source row holds classes 0..9, the target row follows
SOURCE_SEVEN, TARGET_SEVEN = 7, 17
#: the lesson's short runs (both methods of the race get the same)
LESSON_STEPS = 600
#: the last step's run: the best step-trained method on MNIST → USPS under the label-free protocol
#: (tests/test_figures.py holds it to the manifest), with its picked settings. The step count is set
#: by time: about what the 60-s bench (README, Speed) trains on an idle 2-core machine (2,690 steps
#: with two threads, 2,152 with one, as the app's workers run)
STRONGEST, STRONGEST_STEPS = "self_ensembling", 2500


@dataclass(frozen=True)
class Step:
    title: str
    text: str
    button: str
    #: the element the step's result is in: the page scrolls there once the step is set up
    shows: str = "tabs"


STEPS = (
    Step(
        "1. The same digit, another domain",
        "An MNIST **7**, and the same digit redrawn as USPS, MNIST-M and noisy MNIST would show it. Same class, "
        "different pixels: that is a *domain shift*.",
        "Show an MNIST 7 (MNIST → USPS)",
        "try_status",
    ),
    Step(
        "2. The source-only model stumbles",
        "Now a 7 from the MNIST-M test set itself. The source-only model never saw a photo background; the "
        "adapted models did, without ever seeing a label of those images. Compare the rows.",
        "Show an MNIST-M 7 (MNIST → MNIST-M)",
        "try_status",
    ),
    Step(
        "3. Adapt a model yourself",
        "Back to MNIST → USPS. DANN is set up for a short run: press **Start** and watch the red line (target "
        "accuracy) climb. The grey line is the domain classifier: the features are trained to fool it, so "
        "instead of climbing to 100% it swings up and down (50% would mean the domains look alike).",
        "Set up DANN (600 steps)",
        "adapt_method",
    ),
    Step(
        "4. Why it works: the features",
        "Each dot is a test digit's features, circles for MNIST, triangles for USPS, coloured by domain. Before "
        "adaptation the two clouds sit apart; after, they overlap, so one classifier serves both.",
        "Show the features, coloured by domain",
        "features_plot",
    ),
    Step(
        "5. A race",
        "Train a second method (MMD is set up, on MNIST → USPS with the same 600 steps) and compare: the "
        "*Compare your runs* plot overlays the target accuracy of every run you have finished in this session. "
        "**In a class** (panel above), you get your own setting and seed of the class's method instead, "
        "and the whole class races at once.",
        "Set up the race (MMD, or your class run)",
        "adapt_method",
    ),
    Step(
        "6. Choosing without labels",
        "Every number so far used target labels only to *measure*. In practice you have none, so how do you "
        "pick a setting? The Results tab shows how a label-free score ranked the models, and what it cost. "
        "**In a class**, the class board does it with your own runs: which run the score picks, which was "
        "really best, and how well the score ranks them all (ρ).",
        "Show how the settings were chosen",
        "class_board selection_plot",
    ),
    Step(
        "7. Your turn",
        "Draw a digit, or a scribble that is not a digit, in Try it: the models answer, and say so when a "
        "drawing looks like no digit they know.",
        "Open Try it",
        "pad",
    ),
    Step(
        "8. Going further: the strongest method, live",
        "Self-ensembling (a *mean teacher*) is the best method on MNIST → USPS when settings are chosen "
        "without labels. It is set up with those settings for a run of a minute or two: press **Start** and "
        "compare its curve with your DANN run from step 3 in *Compare your runs*. Its *Learn* entry says how "
        "it works.",
        f"Set up self-ensembling ({STRONGEST_STEPS:,} steps)",
        "adapt_method",
    ),
)


@dataclass
class LessonButtons:
    buttons: list[gr.Button]


def layout() -> LessonButtons:
    """The lesson's text and buttons (wired later by ``wire``)."""
    gr.Markdown(
        "A guided tour for a class: about 15 minutes. Each button sets the app up for its step; "
        "students can follow on their own phones or laptops (everyone gets their own models)."
    )
    buttons = []
    for index, step in enumerate(STEPS):
        with gr.Group():
            gr.Markdown(f"### {step.title}\n{step.text}")
            buttons.append(gr.Button(step.button, variant="primary", elem_id=f"lesson_step_{index + 1}"))
    return LessonButtons(buttons)


def wire(
    buttons: LessonButtons,
    tabs: gr.Tabs,
    pair: gr.Dropdown,
    session: gr.State,
    try_tab: TryItTab,
    adapt_tab: AdaptTab,
    features_tab: FeaturesTab,
    results_tab: ResultsTab,
    class_view: ClassView,
) -> None:
    """What each step's button does (steps 5 and 6 do it with the visitor's class run and board
    once they joined a class)."""
    private = {"api_visibility": "private"}

    def go(tab: str, pair_name: str):
        return gr.Tabs(selected=tab), pair_name

    def example(index: int):
        return lambda pair_name, state: try_tab.show_example(pair_name, state, index)

    step = iter(buttons.buttons)
    for button, lesson_step in zip(buttons.buttons, STEPS):  # then the result is on screen, on a phone too
        button.click(None, None, None, js=_scroll_to(lesson_step.shows), **private)
    next(step).click(lambda: go("try", "mnist-usps"), None, [tabs, pair], **private).then(
        example(SOURCE_SEVEN), [pair, session], try_tab.outputs, **private
    )
    next(step).click(lambda: go("try", "mnist-mnistm"), None, [tabs, pair], **private).then(
        example(TARGET_SEVEN), [pair, session], try_tab.outputs, **private
    )

    def preset(method: str, pair_name: str, in_class: bool = False, steps: int = LESSON_STEPS):
        """Set the Adapt tab up for a lesson step: the preset is kept in the visitor's session, so
        every refresh of the fields (a pair change arriving late included) shows the same settings.
        ``in_class``: a visitor with a class seat gets the seat's run instead."""

        def apply(state):
            seat = state.seat if in_class else None
            target, name = (seat.pair, seat.method) if seat else (pair_name, method)
            state.presets[(target, name)] = seat.preset if seat else {"steps": steps}
            return gr.Tabs(selected="adapt"), target, name, seat.seed if seat else 0, state

        return apply

    set_up = [tabs, pair, adapt_tab.method, adapt_tab.seed, session]
    next(step).click(preset("dann", "mnist-usps"), session, set_up, **private).then(
        adapt_tab.describe, adapt_tab.inputs, adapt_tab.fields, **private
    )
    next(step).click(
        lambda: (gr.Tabs(selected="features"), "dann", "domain"),
        None,
        [tabs, features_tab.menu, features_tab.colour],
        **private,
    ).then(features_tab.draw, features_tab.inputs, features_tab.outputs, **private)
    next(step).click(preset("mmd", "mnist-usps", in_class=True), session, set_up, **private).then(
        adapt_tab.describe, adapt_tab.inputs, adapt_tab.fields, **private
    )
    next(step).click(
        lambda state: gr.Tabs(selected="lesson" if state.class_code else "results"), session, tabs, **private
    ).then(
        results_tab.show_selection, results_tab.selection_inputs, results_tab.selection_outputs, **private
    ).then(class_view.show, session, [class_view.board, class_view.summary], **private)
    next(step).click(lambda: gr.Tabs(selected="try"), None, tabs, **private)
    next(step).click(preset(STRONGEST, "mnist-usps", steps=STRONGEST_STEPS), session, set_up, **private).then(
        adapt_tab.describe, adapt_tab.inputs, adapt_tab.fields, **private
    )


def _scroll_to(element_ids: str) -> str:
    """Browser code that brings the first shown of ``element_ids`` (space-separated) into view as
    soon as it is shown (the tab switches after a round trip to the server, so it looks again every
    quarter second, for up to 10 s)."""
    ids = "[" + ", ".join(f"'{name}'" for name in element_ids.split()) + "]"
    return (
        "() => { let tries = 0; const look = () => { const node = " + ids + ".map((id) =>"
        " document.getElementById(id)).find((node) => node && node.offsetParent !== null);"
        " if (node) { node.scrollIntoView({block: 'start'}); }"
        " else if (tries++ < 40) { setTimeout(look, 250); } }; setTimeout(look, 250); }"
    )
