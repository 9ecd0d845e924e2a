"""Matplotlib figures: feature clouds before/after adaptation and the transport plan."""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

CLASS_COLOURS = plt.get_cmap("tab10")
DOMAIN_MARKERS = {0: "o", 1: "^"}  # 0 = source, 1 = target


DOMAIN_COLOURS = {0: "#1f77b4", 1: "#ff7f0e"}  # source blue, target orange


def scatter_features(
    axis,
    coordinates: np.ndarray,
    labels: np.ndarray,
    domains: np.ndarray,
    digits: list[int] | None = None,
    title: str = "",
    colour_by: str = "class",
) -> None:
    """Marker = domain (circle source, triangle target); colour = class (``colour_by="class"``) or
    domain (``"domain"``: blue source, orange target, so their overlap shows at a glance); only
    ``digits`` if given."""
    shown = np.isin(labels, digits) if digits else np.ones(len(labels), bool)
    for domain, marker in DOMAIN_MARKERS.items():
        chosen = shown & (domains == domain)
        colours = (
            DOMAIN_COLOURS[domain]
            if colour_by == "domain"
            else [CLASS_COLOURS(int(label)) for label in labels[chosen]]
        )
        axis.scatter(
            coordinates[chosen, 0],
            coordinates[chosen, 1],
            c=colours,
            marker=marker,
            s=9 if domain == 0 else 12,
            alpha=0.55 if colour_by == "domain" else 0.65,
            linewidths=0,
        )
    axis.set_title(textwrap.fill(title, 32), fontsize=15)  # a long method name wraps instead of running over
    axis.set_xticks([])
    axis.set_yticks([])


def before_after_figure(
    before: np.ndarray,
    after: np.ndarray,
    labels: np.ndarray,
    domains: np.ndarray,
    titles: tuple[str, str],
    domain_names: tuple[str, str],
    digits: list[int] | None = None,
    colour_by: str = "class",
):
    # 8 inches wide with large type: on a 390-pixel phone the titles and legend stay readable (~9 px)
    figure = Figure(figsize=(8, 4.6))
    axes = figure.subplots(1, 2)
    scatter_features(axes[0], before, labels, domains, digits, titles[0], colour_by)
    scatter_features(axes[1], after, labels, domains, digits, titles[1], colour_by)
    if colour_by == "domain":
        handles = [
            Line2D([], [], marker=DOMAIN_MARKERS[d], ls="", color=DOMAIN_COLOURS[d], label=domain_names[d])
            for d in (0, 1)
        ]
    else:
        shown = sorted(set(digits)) if digits else list(range(10))
        handles = [Line2D([], [], marker="s", ls="", color=CLASS_COLOURS(d), label=str(d)) for d in shown]
        handles += [
            Line2D([], [], marker=DOMAIN_MARKERS[d], ls="", color="grey", label=domain_names[d])
            for d in (0, 1)
        ]
    columns = len(handles) if len(handles) <= 6 else (len(handles) + 1) // 2
    figure.legend(handles=handles, loc="lower center", ncol=columns, fontsize=13, frameon=False, markerscale=1.6)
    figure.tight_layout(rect=(0, 0.16 if columns < len(handles) else 0.09, 1, 1))
    return figure


def plan_figure(plan: np.ndarray, source_labels: np.ndarray, target_labels: np.ndarray, title: str):
    """The coupling γ (rows: source, columns: target, both sorted by class) on a log scale."""
    figure = Figure(figsize=(5.6, 5))
    axis = figure.subplots()
    floor = plan[plan > 0].min() if (plan > 0).any() else 1e-12
    image = axis.imshow(
        np.log10(np.maximum(plan, floor)), cmap="magma", aspect="auto", interpolation="nearest"
    )
    for boundaries, line in (
        (np.flatnonzero(np.diff(source_labels)) + 0.5, axis.axhline),
        (np.flatnonzero(np.diff(target_labels)) + 0.5, axis.axvline),
    ):
        for position in boundaries:
            line(position, color="white", lw=0.4, alpha=0.6)
    axis.set_xlabel("target samples (sorted by true class)")
    axis.set_ylabel("source samples (sorted by class)")
    axis.set_title(title, fontsize=10)
    figure.colorbar(image, ax=axis, label="mass sent from source i to target j (log10: each step ×10)")
    figure.tight_layout()
    return figure
