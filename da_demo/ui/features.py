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
from ..data import PAIRS
from ..engine.alignment import transport_view
from ..methods import get_method
from ..viz.figures import before_after_figure, plan_figure
from ..viz.projections import project
from ..workflows.projections import alignment_figures, feature_sample, model_features
from .context import AppContext
from .render import friendly, message
from .serving import adaptable_methods
from .session import Session

PROJECTION_CHOICES = [("UMAP", "umap"), ("PCA", "pca"), ("t-SNE", "tsne")]
LECTURE_DIGITS = [1, 2, 7]
TRANSPORT_SAMPLES = 300  # per domain, for the plan shown


class FeatureViews:
    """Projections and figures per (pair, model, projection): the shipped cache first, else computed
    and kept (shipped models only; a visitor's models are computed for them each time)."""

    def __init__(self, context: AppContext) -> None:
        self.context = context
        self._lock = threading.Lock()
        self._computed: dict[tuple, tuple[np.ndarray, dict]] = {}
        self._caches: dict[str, ProjectionCache | None] = {}

    def cache(self, pair: str) -> ProjectionCache | None:
        with self._lock:
            if pair not in self._caches:
                self._caches[pair] = read_projection_cache(SHIPPED_DIRECTORY, pair)
            return self._caches[pair]

    def model(self, pair: str, method: str, session: Session):
        """The visitor's own model of this method when they trained one, else the shipped one."""
        own = session.trained.get((pair, method))
        if own is not None:
            return own
        return next((entry for entry in self.context.zoo.pair(pair).models if entry.method == method), None)

    def view(
        self, pair: str, method: str, kind: str, session: Session
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """``(coordinates, labels, domains, alignment figures)`` for one model and projection."""
        entry = self.model(pair, method, session)
        if entry is None:
            raise LookupError(f"There is no {get_method(method).title} model for {PAIRS[pair].title} yet.")
        cache = self.cache(pair)
        if entry.owner == "shipped" and cache is not None and (method, kind) in cache.coordinates:
            return cache.coordinates[method, kind], cache.labels, cache.domains, cache.alignment[method]
        loaded = self.context.data.pair(pair)
        if loaded is None:
            raise LookupError(
                f"The test data is not available here ({self.context.data.errors.get(pair, '')})."
            )
        sample = feature_sample(loaded)
        key = (pair, method, kind)
        if entry.owner == "shipped" and key in self._computed:
            coordinates, figures = self._computed[key]
        else:
            source, target = model_features(method, entry.model, sample)
            coordinates, figures = (
                project(np.concatenate([source, target]), kind),
                alignment_figures(source, target),
            )
            if entry.owner == "shipped":
                self._computed[key] = (coordinates, figures)
        return coordinates, sample.labels, sample.domains, figures

    def transport(self, pair: str, method: str, session: Session):
        """Transport views of source-only features and of the adapted features, on a small sample."""
        loaded = self.context.data.pair(pair)
        if loaded is None:
            raise LookupError(
                f"The test data is not available here ({self.context.data.errors.get(pair, '')})."
            )
        sample = feature_sample(loaded, TRANSPORT_SAMPLES, seed=1)
        source_labels, target_labels = sample.labels[sample.domains == 0], sample.labels[sample.domains == 1]
        views = []
        for name in ("source_only", method):
            entry = self.model(pair, name, session)
            source, target = model_features(name, entry.model, sample)
            views.append(transport_view(source, source_labels, target, target_labels))
        return views


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


def transport_markdown(before, after, title: str) -> str:
    return "\n".join(
        [
            f"| optimal transport ({TRANSPORT_SAMPLES} test digits per domain) | source-only features | {title} |",
            "| --- | --- | --- |",
            f"| plan mass on same-class pairs | {before.same_class_mass:.1%} | {after.same_class_mass:.1%} |",
            f"| 1-NN target accuracy, source features as they are | {before.knn_before:.1%} | {after.knn_before:.1%} |",
            f"| 1-NN target accuracy, source features mapped by the plan | {before.knn_after:.1%} | {after.knn_after:.1%} |",
            "",
            "Target labels are used here only to score the plan, never to fit it.",
        ]
    )


@dataclass
class FeaturesTab:
    #: ``draw(pair, method, projection, digits, session)`` → (plot, alignment table, status)
    draw: Callable
    inputs: list
    outputs: list


def build(context: AppContext) -> FeaturesTab:
    views = FeatureViews(context)
    with gr.Row():
        method = gr.Dropdown(
            choices=[(get_method(name).title, name) for name in adaptable_methods()],
            value="dann",
            label="Adapted model",
            elem_id="features_method",
        )
        kind = gr.Radio(PROJECTION_CHOICES, value="umap", label="Projection", elem_id="features_projection")
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
    plot = gr.Plot(label="features: colour = class, marker = domain", elem_id="features_plot")
    alignment = gr.Markdown(elem_id="alignment_table")
    show_transport = gr.Button("Show the transport plan", elem_id="btn_transport")
    with gr.Row():
        transport_plot = gr.Plot(label="Sinkhorn plan after adaptation", elem_id="transport_plot")
        transport_table = gr.Markdown(elem_id="transport_table")

    @friendly
    def draw(pair, name, projection, shown, session):
        try:
            before, labels, domains, before_figures = views.view(pair, "source_only", projection, session)
            after, labels_after, domains_after, after_figures = views.view(pair, name, projection, session)
        except LookupError as error:
            return None, "", message(str(error))
        entry = views.model(pair, name, session)
        spec = PAIRS[pair]
        title = entry.title
        figure = before_after_figure(
            before,
            after,
            labels,
            domains,
            ("before: source-only", f"after: {title}"),
            (spec.source.title, spec.target.title),
            [int(d) for d in shown] if shown else None,
        )
        note = "" if shown else message("No digit selected: showing all of them.")
        return figure, alignment_markdown(before_figures, after_figures, title), note

    @friendly
    def draw_transport(pair, name, session):
        try:
            before, after = views.transport(pair, name, session)
        except LookupError as error:
            return None, str(error)
        title = views.model(pair, name, session).title
        return plan_figure(
            after.plan, after.source_labels, after.target_labels, f"{PAIRS[pair].title}, {title}"
        ), transport_markdown(before, after, title)

    inputs = [context.pair, method, kind, digits, context.session]
    outputs = [plot, alignment, status]
    for trigger in (method.change, kind.change, digits.change, context.pair.change):
        trigger(draw, inputs, outputs, api_visibility="private")
    lecture.click(lambda: [str(d) for d in LECTURE_DIGITS], None, digits, api_visibility="private")
    everything.click(lambda: [str(d) for d in range(10)], None, digits, api_visibility="private")
    show_transport.click(
        draw_transport,
        [context.pair, method, context.session],
        [transport_plot, transport_table],
        api_visibility="private",
    )
    return FeaturesTab(draw, inputs, outputs)
