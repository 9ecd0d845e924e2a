"""Training curves a class can read: named lines, a visible legend, axis titles; target-test
accuracy drawn thick so it stands out. Matplotlib figures, built from plain lists."""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

ACCURACY_STYLES = {
    "target test": {"color": "#d62728", "linewidth": 3.0, "marker": "o", "markersize": 4},
    "source test": {"color": "#1f77b4", "linewidth": 1.5, "linestyle": "--", "marker": "o", "markersize": 3},
    "domain classifier": {"color": "#7f7f7f", "linewidth": 1.2, "linestyle": ":"},
}


def _finish(axis, title: str, xlabel: str, ylabel: str, legend_columns: int = 2) -> None:
    axis.set_title(title, fontsize=11)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.grid(alpha=0.3)
    if axis.get_legend_handles_labels()[0]:
        axis.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=legend_columns, fontsize=9, frameon=False
        )


def accuracy_figure(
    series: dict[str, tuple[list[int], list[float]]], title: str = "Accuracy during training"
):
    """``series``: name → (steps, accuracies in [0, 1]); "target test" is drawn thick and red."""
    figure = Figure(figsize=(6.4, 4.2))
    axis = figure.subplots()
    for name, (steps, values) in series.items():
        if steps:
            axis.plot(steps, [100 * value for value in values], label=name, **ACCURACY_STYLES.get(name, {}))
    axis.set_ylim(0, 100)
    _finish(axis, title, "training step", "accuracy (%)", legend_columns=3)
    figure.tight_layout()
    return figure


def loss_figure(series: dict[str, tuple[list[int], list[float]]], title: str = "Losses during training"):
    """``series``: plain-language name → (steps, values); one line each, legend below the plot."""
    figure = Figure(figsize=(6.4, 4.2))
    axis = figure.subplots()
    for name, (steps, values) in series.items():
        if steps:
            axis.plot(steps, values, label=name, linewidth=1.6)
    _finish(axis, title, "training step", "value")
    figure.tight_layout()
    return figure


def runs_figure(runs: list[tuple[str, list[int], list[float]]], title: str):
    """Target-test accuracy of several runs overlaid: ``(label, steps, accuracies)`` each; the
    accuracy axis fits the data (with a margin), so runs a few points apart look apart."""
    figure = Figure(figsize=(6.4, 4.2 + 0.45 * len(runs)))
    axis = figure.subplots()
    for label, steps, values in runs:
        axis.plot(
            steps,
            [100 * value for value in values],
            label=textwrap.fill(label, 64, subsequent_indent="   "),  # a run's settings fit the plot's width
            linewidth=2.2,
            marker="o",
            markersize=3,
        )
    shown = [100 * value for _, _, values in runs for value in values]
    if shown:
        low, high = min(shown), max(shown)
        margin = max(2.0, 0.1 * (high - low))
        axis.set_ylim(max(0.0, low - margin), min(100.0, high + margin))
    _finish(axis, title, "training step", "target test accuracy (%)", legend_columns=1)
    figure.tight_layout()
    return figure
