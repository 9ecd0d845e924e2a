"""Results: for the chosen pair, a chart of every method's target accuracy beside the published
numbers, the table below it, and the model-selection view: how well a label-free validator's score
tracked the truth over the sweep, its pick and the oracle's."""

from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr
import numpy as np

from ..artifacts.manifest import notes_for, reported_target, row_marks
from ..artifacts.schemas import ManifestEntry, RecordsError
from ..data import PAIRS
from ..data.shift import CUSTOM
from ..methods import get_method
from ..validators import HANDWRITING_MARGIN, TITLES, information_terms
from ..validators import SELECTION_VALIDATORS as VALIDATORS
from ..viz.results import accuracy_chart, validator_scatter
from ..workflows.selection import (
    PROTOCOL,
    Point,
    guarded_pick,
    oracle,
    pick,
    points_of,
    read_selection,
    spearman,
)
from ..workflows.sweep import read_sweep
from .context import AppContext
from .render import friendly, shift_study_picture

SELECTION_TEXT = """
**Why this is the hard part.** On a real target domain nobody has labels, so the usual way of choosing
settings (keep what scores best on labeled validation data) is not available: every choice of a weight,
a learning rate or when to stop has to be made some other way. A *validator* is such a way: a score
computed from unlabeled target images (how confident, how clustered the predictions are) or from
source data. Each dot is one trained model of the sweep; if the validator were perfect the dots would
rise in a straight line and the ★ (what the validator picks) would sit on the ○ (what target labels
would pick). How far apart they are is what choosing without labels costs.
"""


@dataclass
class ResultsTab:
    #: ``show(pair)`` → chart, table, method and validator menus (run at page load and on a pair change)
    show: object
    outputs: list
    #: ``show_selection(pair, method, validator)`` → the model-selection scatter and its sentence
    show_selection: object
    selection_inputs: list
    selection_outputs: list


YOUR_DOMAIN_RESULTS = (
    "Your own domain has no shipped models, so there is nothing to measure here yet: your runs on it are "
    "in the Adapt tab's *Compare your runs*. The chart shows what the Shift tab's presets cost the source-only "
    "model and how much a quick run of three methods won back (`python -m da_demo shift-study`)."
)
NOT_SWEPT = (
    "The label-free choice has not been made for this pair yet, so there is no sweep to show: its models "
    "use their methods' default settings (marked ‡ in the table)."
)


def settings_text(method: str, settings: dict) -> str:
    """Settings in words: ``{"lambda_max": 0.3}`` → ``gradient-reversal strength λ 0.3``; a switch
    reads ``on`` or ``off`` (``{"unbalanced": True}`` → ``unbalanced plan (JUMBOT) on``)."""
    known = get_method(method).hyperparameters_class.settings()

    def words(name: str, value) -> str:
        label = known[name].label if name in known else name
        if not label[1:2].isupper():  # "MMD weight" stays as it is; "Target entropy weight" does not
            label = label[0].lower() + label[1:]
        if isinstance(value, bool):
            return f"{label} {'on' if value else 'off'}"
        return f"{label} {value:g}" if isinstance(value, int | float) else f"{label} {value}"

    parts = [words(name, value) for name, value in sorted(settings.items())]
    return ", ".join(parts) if parts else "the default settings"


def result_rows(entries: list[ManifestEntry], pair: str) -> list[dict]:
    rows = []
    for entry in (entry for entry in entries if entry.pair == pair):
        mean, std = reported_target(entry)
        published = PAIRS[pair].published.get(entry.method)
        selection = entry.selection
        rows.append(
            {
                "key": entry.method,
                "method": get_method(entry.method).title,
                "mean": 100 * mean,
                "std": 100 * std,
                "seeds": max(len(entry.seeds), 1),
                "published": published.value if published else None,
                "published_text": str(published) if published else "—",
                "baseline": entry.method == "source_only",
                "source": 100
                * (entry.source_acc_mean if entry.source_acc_mean is not None else entry.source_acc),
                "drawn": entry.drawn_acc_mean if entry.drawn_acc_mean is not None else entry.drawn_acc,
                "oracle": selection.oracle_target_acc if selection else None,
                "gap": selection.gap_points if selection else None,
                "mark": row_marks(entry),
            }
        )
    return rows


def _spread(row: dict) -> str:
    """`` ± std`` over several seeds, or a note that one seed ran (a spread of one is no spread)."""
    return f" ± {row['std']:.1f}" if row["seeds"] > 1 else " <small>(1 seed)</small>"


def results_html(rows: list[dict]) -> str:
    """The pair's table (no internal goal bookkeeping), scrolling sideways on a phone."""

    def percent(value):
        return "—" if value is None else f"{100 * value:.1f}" if value <= 1 else f"{value:.1f}"

    body = "".join(
        f"<tr><td>{html.escape(row['method'])}</td><td><b>{row['mean']:.1f}</b>{_spread(row)}"
        f"{' ' + row['mark'] if row['mark'] else ''}</td><td>{row['source']:.1f}</td><td>{percent(row['drawn'])}</td>"
        f"<td>{percent(row['oracle'])}</td><td>{'—' if row['gap'] is None else format(row['gap'], '.1f')}</td>"
        f"<td>{html.escape(row['published_text'])}</td></tr>"
        for row in rows
    )
    note = "".join(
        f"<p class=da-caption>{mark} {html.escape(text)}</p>" for mark, text in notes_for({row["mark"] for row in rows})
    )
    return (
        '<div class="da-scroll"><table class="da-table da-results"><thead><tr><th>method</th><th>target %</th>'
        "<th>source %</th><th>drawn digits %</th><th>oracle % <small>(uses target labels; reference only)</small>"
        f"</th><th>gap</th><th>published %</th></tr></thead><tbody>{body}</tbody></table></div>{note}"
    )


def guard_note(points: list[Point], chosen: Point | None, validator: str, waived: bool, method: str) -> str:
    """A sentence for a pick the handwriting guard moved: the validator's favourite of the points that
    did not collapse reads drawn digits too poorly, so the pick is its best of the rest."""
    favourite = None if waived or chosen is None else pick(points, validator, handwriting=False)
    if favourite is None or (favourite.key, favourite.step) == (chosen.key, chosen.step):
        return ""
    reading = f", {100 * favourite.target_acc:.1f}% on the target test set" if favourite.target_acc is not None else ""
    return (
        f" The validator's favourite of the models that did not collapse ({settings_text(method, favourite.settings)} "
        f"at step {favourite.step}{reading}) reads drawn digits more than {100 * HANDWRITING_MARGIN:g} points worse "
        "than the source-only model, "
        "so the handwriting guard kept it out (grey crosses: every model a guard kept out); the pick is the "
        "validator's best of the rest."
    )


def information_note(chosen: Point, best: Point, validator: str) -> str:
    """Where information maximisation scores its pick above a better model: which of its two terms
    (``information_terms``) made the difference."""
    if validator != "information_maximization" or not (best.target_acc or 0) > (chosen.target_acc or 0):
        return ""
    terms, best_terms = information_terms(chosen.validators), information_terms(best.validators)
    if terms is None or best_terms is None:
        return ""
    (even, unsure), (best_even, best_unsure) = terms, best_terms
    more_even, surer = even - best_even, best_unsure - unsure
    if more_even + surer < 0:  # a guard, not the score, kept the best model out
        return ""
    text = (
        " Information maximisation is two terms: how evenly a model spreads its answers over the ten digits "
        f"(the entropy of its mean prediction: the pick {even:.4f}, the best model {best_even:.4f}) minus how "
        f"unsure each answer is (the mean entropy of its predictions: {unsure:.4f} against {best_unsure:.4f})."
    )
    if more_even > surer:
        return text + (
            f" The pick won on evenness{', though it is the less sure of the two' if surer < 0 else ''}: "
            "the score takes every digit to be equally common in the target, so a model that reads some digits "
            "of a common class as rarer ones can score above one that reads them right."
        )
    return text + " The pick won on confidence: its answers are surer, though fewer of them are right."


def build(context: AppContext) -> ResultsTab:
    store = context.zoo.store
    entries = store.manifest()
    try:
        records = read_sweep()
    except RecordsError:
        records = []
    selection = read_selection()
    gr.Markdown(
        f"{PROTOCOL} Measured on the full test sets ({store.manifest_origin()}); bars show the mean over "
        "the seeds trained (with their spread where there are several), diamonds the published numbers; "
        "the other tabs predict with seed 0, the model shipped.",
        elem_id="results_protocol",
    )
    chart = gr.Plot(show_label=False, label="Target accuracy per method", elem_id="results_chart")
    study = gr.Image(
        show_label=False, interactive=False, buttons=[], visible=False, elem_id="results_shift_study"
    )
    table = gr.HTML(elem_id="results_table")
    with gr.Accordion(
        "Choosing without target labels: how well each validator tracked the truth", open=True
    ) as selection_box:
        gr.Markdown(SELECTION_TEXT)
        with gr.Row():
            method = gr.Dropdown(label="Method", elem_id="selection_method")
            validator = gr.Dropdown(
                [(TITLES[name], name) for name in VALIDATORS],
                label="Validator",
                elem_id="selection_validator",
            )
        scatter = gr.Plot(
            show_label=False, label="Each point: one model of the sweep", elem_id="selection_plot"
        )
        verdict = gr.Markdown(elem_id="selection_text")

    @friendly
    def show(pair):
        if pair == CUSTOM:  # no shipped models, no sweep: the presets' chart instead
            return (
                gr.update(value=None, visible=False),
                YOUR_DOMAIN_RESULTS,
                gr.update(choices=[], value=None),
                gr.skip(),
                study_image(pair),
                gr.update(visible=False),
            )
        rows = result_rows(entries, pair)
        figure = accuracy_chart(rows, PAIRS[pair].title) if rows else None
        methods = sorted(
            {record.method for record in records if record.pair == pair},
            key=lambda name: get_method(name).order,
        )
        shown = "dann" if "dann" in methods else (methods[0] if methods else None)
        menu = gr.update(choices=[(get_method(name).title, name) for name in methods], value=shown)
        return (
            gr.update(value=figure, visible=True),
            results_html(rows) if rows else "No measured results yet.",
            menu,
            gr.update(value=selection.validator_for(pair, shown)),
            study_image(pair),
            gr.update(visible=True),
        )

    def study_image(pair):
        """The presets' chart is shown for the visitor's own domain only."""
        picture = shift_study_picture(context.drawings) if pair == CUSTOM else None
        return gr.update(value=picture, visible=picture is not None)

    @friendly
    def show_selection(pair, name, validator_name):
        if pair == CUSTOM:
            return None, (
                "Runs on your own domain start from the settings the label-free choice picked on the shipped pair "
                "it is built on (MNIST → USPS; MNIST → MNIST-M for a colour background)."
            )
        if not name or not validator_name:
            return None, NOT_SWEPT
        prior = selection.pairs[pair].target_prior if pair in selection.pairs else None
        points = points_of(records, pair, name, prior=None if prior is None else np.asarray(prior))
        if not points:
            return None, NOT_SWEPT
        (chosen, waived), best = guarded_pick(points, validator_name), oracle(points)
        scored = [
            p for p in points if p.target_acc is not None and p.validators.get(validator_name) is not None
        ]
        kept_out = [p.collapsed or (p.unreadable and not waived) for p in scored]
        rho = spearman(points, validator_name)
        figure = validator_scatter(
            [p.validators[validator_name] for p in scored],
            [p.target_acc for p in scored],
            (chosen.validators[validator_name], chosen.target_acc) if chosen else None,
            (best.validators.get(validator_name), best.target_acc)
            if best and best.validators.get(validator_name) is not None
            else None,
            TITLES[validator_name],
            rho,
            f"{PAIRS[pair].title}, {get_method(name).title}",
            kept_out,
        )
        gap = 100 * (best.target_acc - chosen.target_acc) if chosen and best else None
        text = (
            f"The {TITLES[validator_name]} picks {settings_text(name, chosen.settings)} at step {chosen.step}: "
            f"**{100 * chosen.target_acc:.1f}%** on the target test set; the best model by target labels "
            f"reached **{100 * best.target_acc:.1f}%** ({settings_text(name, best.settings)} at step "
            f"{best.step}), a gap of {gap:.1f} points. These are the sweep's own measurements (on 1,000 "
            "test images before a run's last step), so they can differ a little from the table above, "
            "which measures the shipped files on the whole test set."
            + (
                f" No model of this sweep read drawn digits within {100 * HANDWRITING_MARGIN:g} points of the "
                "source-only model, so "
                "this pick is the best of those whose predictions did not collapse (§ in the table)."
                if waived
                else ""
            )
            + guard_note(points, chosen, validator_name, waived, name)
            + information_note(chosen, best, validator_name)
            if chosen and best
            else "The validator found no model it could score here."
        )
        return figure, text

    def follow_method(pair, name):
        """The validator that decided the chosen method's pick, shown first."""
        return gr.update(value=selection.validator_for(pair, name))

    outputs = [chart, table, method, validator, study, selection_box]
    context.pair.change(show, context.pair, outputs, api_visibility="private").then(
        show_selection, [context.pair, method, validator], [scatter, verdict], api_visibility="private"
    )
    method.input(follow_method, [context.pair, method], validator, api_visibility="private").then(
        show_selection, [context.pair, method, validator], [scatter, verdict], api_visibility="private"
    )
    validator.input(
        show_selection, [context.pair, method, validator], [scatter, verdict], api_visibility="private"
    )
    return ResultsTab(show, outputs, show_selection, [context.pair, method, validator], [scatter, verdict])
