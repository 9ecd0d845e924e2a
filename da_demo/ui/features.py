"""Feature space: source and target test features before (source-only) and after adaptation,
projected to 2-D, with alignment figures and the optimal-transport view."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr
import numpy as np

from ..artifacts.projections import ProjectionCache, read_projection_cache
from ..artifacts.store import SHIPPED_DIRECTORY
from ..engine.alignment import transport_view
from ..methods import get_method
from ..viz.figures import before_after_figure, plan_figure
from ..viz.projections import project
from ..workflows.projections import alignment_figures, feature_sample, model_features
from .context import AppContext
from .domains import PagePair, resolve_page_pair
from .render import friendly, message
from .session import Session

PROJECTION_CHOICES = [("UMAP", "umap"), ("PCA", "pca"), ("t-SNE", "tsne")]
LECTURE_DIGITS = [1, 2, 7]
TRANSPORT_SAMPLES = 300  # per domain, for the plan shown


class FeatureViews:
    """Projections and figures per (pair, model, projection): the shipped cache first, else computed
    and kept (shipped models only; a visitor's models are computed for them each time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._computed: dict[tuple, tuple[np.ndarray, dict]] = {}
        self._caches: dict[str, ProjectionCache | None] = {}

    def cache(self, pair: str) -> ProjectionCache | None:
        with self._lock:
            if pair not in self._caches:
                self._caches[pair] = read_projection_cache(SHIPPED_DIRECTORY, pair)
            return self._caches[pair]

    def model(self, page: PagePair, key: str, session: Session):
        """The model a menu key names: ``"dann"`` (shipped) or ``"dann@yours"`` (this visitor's)."""
        method, _, owner = key.partition("@")
        if owner == "yours":
            return session.trained.get((page.name, method))
        return next((entry for entry in page.shipped if entry.method == method), None)

    def view(
        self, page: PagePair, method: str, kind: str, session: Session
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """``(coordinates, labels, domains, alignment figures)`` for one model (menu key) and projection."""
        entry = self.model(page, method, session)
        if entry is None:
            raise LookupError(
                f"There is no {get_method(method.partition('@')[0]).title} model for {page.spec.title} yet."
            )
        method = entry.method
        # a visitor's domain is theirs: nothing about it is cached for everyone
        shared = entry.owner == "shipped" and not page.built
        cache = self.cache(page.name) if shared else None
        if cache is not None and (method, kind) in cache.coordinates:
            return cache.coordinates[method, kind], cache.labels, cache.domains, cache.alignment[method]
        if page.data is None:
            raise LookupError(f"The test data is not available here ({page.problem}).")
        sample = feature_sample(page.data)
        key = (page.name, method, kind)
        if shared and key in self._computed:
            coordinates, figures = self._computed[key]
        else:
            source, target = model_features(method, entry.model, sample)
            coordinates, figures = (
                project(np.concatenate([source, target]), kind),
                alignment_figures(source, target),
            )
            if shared:
                self._computed[key] = (coordinates, figures)
        return coordinates, sample.labels, sample.domains, figures

    def transport(self, page: PagePair, method: str, session: Session):
        """Transport views of source-only features and of the adapted features, on a small sample."""
        if page.data is None:
            raise LookupError(f"The test data is not available here ({page.problem}).")
        sample = feature_sample(page.data, TRANSPORT_SAMPLES, seed=1)
        source_labels, target_labels = sample.labels[sample.domains == 0], sample.labels[sample.domains == 1]
        views = []
        for key in ("source_only", method):
            entry = self.model(page, key, session)
            if entry is None:
                raise LookupError(f"There is no such model for {page.spec.title} yet.")
            source, target = model_features(entry.method, entry.model, sample)
            views.append(transport_view(source, source_labels, target, target_labels))
        return views


def model_choices(page: PagePair, session: Session) -> list[tuple[str, str]]:
    """The Adapted-model menu: every shipped adapted model, then this visitor's own (both kept)."""
    shipped = [(entry.title, entry.method) for entry in page.shipped if entry.method != "source_only"]
    own = [(entry.title, f"{entry.method}@yours") for entry in session.own_models(page.name)]
    return shipped + own


def alignment_markdown(before: dict, after: dict, title: str) -> str:
    rows = [
        ("domain-classifier accuracy (probe; 50% = indistinguishable)", "domain_acc", "{:.1%}"),
        ("MMD² between the feature clouds", "mmd", "{:.4f}"),
        ("Sinkhorn distance (cost scaled to max 1)", "sinkhorn", "{:.4f}"),
    ]
    lines = [f"| alignment | source-only | {title} |", "| --- | --- | --- |"]
    lines += [
        f"| {label} | {fmt.format(before[key])} | {fmt.format(after[key])} |" for label, key, fmt in rows
    ]
    return "\n".join(lines)


TRANSPORT_CAPTION = (
    "**Reading the plan:** the optimal-transport plan γ says how much of each source digit (a row) is "
    "sent to each target digit (a column) to move one feature cloud onto the other at the least cost. Rows and "
    "columns are sorted by class, so a plan that respects classes is bright in the blocks along the diagonal. "
    "Colours are on a log10 scale: each step up means ten times more mass."
)


def transport_markdown(before, after, title: str) -> str:
    return "\n".join(
        [
            f"| optimal transport ({TRANSPORT_SAMPLES} test digits per domain) | source-only features | {title} |",
            "| --- | --- | --- |",
            f"| plan mass on same-class pairs | {before.same_class_mass:.1%} | {after.same_class_mass:.1%} |",
            f"| 1-NN target accuracy, source features as they are | {before.knn_before:.1%} | {after.knn_before:.1%} |",
            f"| 1-NN target accuracy, source features moved by the plan | {before.knn_after:.1%} | {after.knn_after:.1%} |",
            "",
            "*1-NN accuracy*: each target digit takes the class of its nearest source digit in feature space. "
            "*Moved by the plan*: the source features are first carried onto the target cloud along the plan. On "
            "source-only features that closes the gap; on features a method has already aligned, moving them again "
            "can blur classes, so this number may fall, and that is expected. Target labels are used here only to "
            "score, never to fit.",
        ]
    )


@dataclass
class FeaturesTab:
    #: ``draw(pair, model key, projection, colour, digits, session)`` → every view of the tab
    draw: Callable
    inputs: list
    outputs: list
    #: ``refresh_menu(pair, model key, session)`` → the model menu's update (run when the tab opens)
    refresh_menu: Callable
    menu_inputs: list
    menu: gr.Dropdown
    colour: gr.Radio


COLOUR_CHOICES = [("By class (digit)", "class"), ("By domain (source / target)", "domain")]


def build(context: AppContext) -> FeaturesTab:
    views = FeatureViews()
    with gr.Row():
        method = gr.Dropdown(
            choices=[(e.title, e.method) for e in context.zoo.pair("mnist-usps").models if e.method != "source_only"],
            value="dann",
            label="Adapted model (yours are listed too)",
            elem_id="features_method",
        )
        kind = gr.Radio(PROJECTION_CHOICES, value="umap", label="Projection", elem_id="features_projection")
        colour = gr.Radio(COLOUR_CHOICES, value="class", label="Colour", elem_id="features_colour")
    with gr.Row():
        digits = gr.CheckboxGroup(
            [str(d) for d in range(10)],
            value=[str(d) for d in range(10)],
            label="Digits shown",
            elem_id="features_digits",
        )
        with gr.Column(min_width=120):
            lecture = gr.Button("Lecture's 1, 2, 7", size="sm", elem_id="btn_lecture_digits")
            everything = gr.Button("All digits", size="sm")
    status = gr.HTML(elem_id="features_status")
    plot = gr.Plot(
        show_label=False,
        label="Test features before and after adaptation (marker = domain)",
        elem_id="features_plot",
    )
    alignment = gr.Markdown(elem_id="alignment_table")
    with gr.Row():
        transport_plot = gr.Plot(
            show_label=False,
            label="Optimal-transport plan between the adapted features",
            elem_id="transport_plot",
        )
        with gr.Column():
            gr.Markdown(TRANSPORT_CAPTION)
            transport_table = gr.Markdown(elem_id="transport_table")

    @friendly
    def draw(pair, key, projection, colour_by, shown, session):
        """Every view of this tab for the chosen pair and model, so none shows a stale pair."""
        page = resolve_page_pair(context.zoo, context.data, pair, session)
        if views.model(page, key, session) is None:  # a model of another pair, or the visitor's that is gone
            key = next((value for _, value in model_choices(page, session)), "dann")
        try:
            before, labels, domains, before_figures = views.view(page, "source_only", projection, session)
            after, _, _, after_figures = views.view(page, key, projection, session)
            plan_before, plan_after = views.transport(page, key, session)
        except LookupError as error:
            text = str(error)
            if page.built and views.model(page, key, session) is None:
                text = "No model of yours has adapted to your domain yet: build it in the Shift tab and press Adapt there."
            return None, "", message(text), None, ""
        entry = views.model(page, key, session)
        spec = page.spec
        figure = before_after_figure(
            before,
            after,
            labels,
            domains,
            ("before: source-only", f"after: {entry.title}"),
            (spec.source.title, spec.target.title),
            [int(d) for d in shown] if shown else None,
            colour_by,
        )
        note = "" if shown else message("No digit selected: showing all of them.")
        plan = plan_figure(
            plan_after.plan,
            plan_after.source_labels,
            plan_after.target_labels,
            f"{spec.title}, {entry.title}",
        )
        return (
            figure,
            alignment_markdown(before_figures, after_figures, entry.title),
            note,
            plan,
            transport_markdown(plan_before, plan_after, entry.title),
        )

    def refresh_menu(pair, key, session):
        """The menu for this pair and this visitor (their newly trained models included)."""
        choices = model_choices(resolve_page_pair(context.zoo, context.data, pair, session), session)
        keys = [value for _, value in choices]
        return gr.update(choices=choices, value=key if key in keys else (keys[0] if keys else None))

    inputs = [context.pair, method, kind, colour, digits, context.session]
    outputs = [plot, alignment, status, transport_plot, transport_table]
    for trigger in (method.input, kind.change, colour.change, digits.change):
        trigger(draw, inputs, outputs, api_visibility="private")
    context.pair.change(
        refresh_menu, [context.pair, method, context.session], method, api_visibility="private"
    ).then(draw, inputs, outputs, api_visibility="private")
    lecture.click(lambda: [str(d) for d in LECTURE_DIGITS], None, digits, api_visibility="private")
    everything.click(lambda: [str(d) for d in range(10)], None, digits, api_visibility="private")
    return FeaturesTab(
        draw, inputs, outputs, refresh_menu, [context.pair, method, context.session], method, colour
    )
