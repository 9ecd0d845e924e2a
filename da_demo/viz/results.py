"""Results as pictures: accuracy per method for one pair, and one validator against the truth."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def accuracy_chart(rows: list[dict], title: str):
    """Horizontal bars of target-test accuracy per method: ``rows`` of ``{"method": title, "mean",
    "std", "seeds", "published" (or None), "baseline": bool}`` in %, the baseline (source-only) drawn
    grey with a dashed line through the chart so every other bar reads against it. Error bars only
    where several seeds ran; each value is written inside its bar, clear of the published ◆."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    figure = Figure(figsize=(7.0, 0.42 * len(rows) + 2.0))
    axis = figure.subplots()
    positions = np.arange(len(rows))[::-1]
    colours = ["#9ca3af" if row["baseline"] else "#2563eb" for row in rows]
    several = [row.get("seeds", 1) > 1 for row in rows]
    axis.barh(positions, [row["mean"] for row in rows], color=colours, height=0.65)
    spread = [(position, row) for position, row, many in zip(positions, rows, several) if many]
    if spread:
        axis.errorbar(
            [row["mean"] for _, row in spread],
            [position for position, _ in spread],
            xerr=[row["std"] for _, row in spread],
            fmt="none",
            ecolor="black",
            elinewidth=1,
            capsize=3,
        )
    for position, row, many in zip(positions, rows, several):
        label = f"{row['mean']:.1f}" + (f" ± {row['std']:.1f}" if many else "")
        inside = row["mean"] > 25  # at the bar's start, where no published ◆ sits
        axis.text(
            1.5 if inside else row["mean"] + 1,
            position,
            label,
            va="center",
            ha="left",
            fontsize=8,
            color="white" if inside else "black",
            fontweight="bold",
        )
        if row.get("published") is not None:
            axis.plot(row["published"], position, marker="D", color="#dc2626", markersize=6, ls="")
    baseline = next((row["mean"] for row in rows if row["baseline"]), None)
    if baseline is not None:
        axis.axvline(baseline, color="#6b7280", ls="--", lw=1)
    axis.set_yticks(positions, [row["method"] for row in rows], fontsize=9)
    axis.set_xlim(0, 100)
    axis.set_xlabel("target test accuracy (%)")
    axis.set_title(title, fontsize=11)
    axis.grid(axis="x", alpha=0.3)
    seeds = "mean ± std where several seeds ran" if any(several) else "one seed each"
    handles = [
        Patch(color="#2563eb", label=f"ours ({seeds})"),
        Patch(color="#9ca3af", label="source only (dashed line)"),
        Line2D([], [], marker="D", color="#dc2626", ls="", label="published"),
    ]
    figure.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    return figure


def validator_scatter(
    scores: list[float],
    accuracies: list[float],
    pick: tuple[float, float] | None,
    oracle: tuple[float, float] | None,
    validator: str,
    rho: float | None,
    title: str,
    kept_out: list[bool] | None = None,
):
    """Each sweep point's validator score (x) against its target accuracy (y, %), the validator's pick
    (★) and the oracle (○, uses target labels) marked; points the selection's guards kept out
    (``kept_out``, one flag per point) drawn as grey crosses."""
    figure = Figure(figsize=(6.4, 4.4))
    axis = figure.subplots()
    out = kept_out or [False] * len(scores)
    if any(out):
        axis.scatter(
            [score for score, dropped in zip(scores, out) if dropped],
            [100 * acc for acc, dropped in zip(accuracies, out) if dropped],
            marker="x",
            s=22,
            color="#9ca3af",
            label="kept out by a guard",
        )
    kept = [index for index, dropped in enumerate(out) if not dropped]
    _scatter_with_picks(
        axis,
        [scores[index] for index in kept],
        [accuracies[index] for index in kept],
        pick,
        oracle,
        validator,
        "a trial at one step",
        "label-free pick (highest score of the rest)" if any(out) else "label-free pick (highest score)",
    )
    axis.set_title(f"{title}\nSpearman ρ = {_rho(rho)}", fontsize=10)
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, fontsize=8, frameon=False)
    figure.tight_layout()
    return figure


def class_board(
    runs: list[tuple[str, list[int], list[float], float | None]],
    pick: int | None,
    oracle: int | None,
    validator: str,
    rho: float | None,
    title: str,
):
    """A class's runs, as the board shows them: each run's target accuracy over its steps (above), and
    each run's label-free score against its final target accuracy (below), with the validator's pick
    (★) and the oracle (○) marked. ``runs`` are ``(name, steps, target accuracies, score)``; ``pick``
    and ``oracle`` index into them."""
    figure = Figure(figsize=(7.5, 9))  # two rows: readable at a phone's width too
    left, right = figure.subplots(2, 1)
    colours = matplotlib.colormaps["viridis"](np.linspace(0.05, 0.9, max(1, len(runs))))
    for index, ((name, steps, target, _), colour) in enumerate(zip(runs, colours)):
        highlighted = index in (pick, oracle)
        left.plot(
            steps, [100 * a for a in target], color=colour, linewidth=2.4 if highlighted else 1, alpha=0.9
        )
        if target and len(runs) <= 12:  # names at the line ends while they fit
            left.annotate(
                name, (steps[-1], 100 * target[-1]), fontsize=7, xytext=(3, 0), textcoords="offset points"
            )
    left.margins(x=0.18)  # room for the names at the line ends
    left.set_xlabel("training step")
    left.set_ylabel("target test accuracy (%)")
    left.set_title(f"{len(runs)} run{'s' if len(runs) != 1 else ''} of the class", fontsize=12)
    left.grid(alpha=0.3)
    scored = [index for index, run in enumerate(runs) if run[3] is not None and run[2]]
    point = lambda index: (runs[index][3], runs[index][2][-1])  # noqa: E731 - (score, final accuracy)
    _scatter_with_picks(
        right,
        [point(index)[0] for index in scored],
        [point(index)[1] for index in scored],
        point(pick) if pick is not None else None,
        point(oracle) if oracle is not None and runs[oracle][3] is not None else None,
        validator,
        "a student's run",
    )
    right.set_title(f"Choosing without labels: Spearman ρ = {_rho(rho)}", fontsize=12)
    right.legend(loc="lower right", fontsize=10)
    figure.suptitle(title, fontsize=14)
    figure.tight_layout()
    return figure


def _rho(rho: float | None) -> str:
    return "— (needs 3 runs)" if rho is None else f"{rho:+.2f}"


def _scatter_with_picks(
    axis, scores, accuracies, pick, oracle, validator: str, what: str, picked: str = "label-free pick (highest score)"
) -> None:
    axis.scatter(scores, [100 * a for a in accuracies], s=22, alpha=0.7, color="#2563eb", label=what)
    if pick is not None:
        axis.scatter(
            [pick[0]],
            [100 * pick[1]],
            marker="*",
            s=260,
            color="#f59e0b",
            edgecolor="black",
            zorder=3,
            label=picked,
        )
    if oracle is not None:
        axis.scatter(
            [oracle[0]],
            [100 * oracle[1]],
            marker="o",
            s=140,
            facecolor="none",
            edgecolor="#dc2626",
            linewidth=2,
            zorder=3,
            label="oracle (best target accuracy)",
        )
    axis.set_xlabel(f"{validator} (higher = the validator likes it more)")
    axis.set_ylabel("target test accuracy (%)")
    axis.grid(alpha=0.3)


STUDY_STYLES = [("#2563eb", "o"), ("#ea580c", "s"), ("#16a34a", "^"), ("#9333ea", "D")]


def shift_study_chart(rows: list[tuple[str, float, dict[str, float]]], steps: int):
    """Which shifts adaptation fixes: one line per preset (``rows`` of ``(preset, source-only %,
    {method title: adapted %})``), the source-only model's accuracy as a grey dot and each method's
    after a quick run of ``steps`` steps as a coloured mark, joined by a line: a long line to the right
    is a shift a method fixed, marks that stay by the grey dot are a shift it did not."""
    from matplotlib.lines import Line2D

    rows = sorted(rows, key=lambda row: row[1])
    titles = list(dict.fromkeys(title for _, _, adapted in rows for title in adapted))
    height = 0.42 * len(rows) + 2.6
    figure = Figure(figsize=(5.2, height))  # narrow, so a phone shows it readably
    axis = figure.subplots()
    for position, (_, baseline, adapted) in enumerate(rows):
        values = [baseline, *adapted.values()]
        axis.plot([min(values), max(values)], [position, position], color="#d1d5db", lw=2, zorder=1)
        axis.plot(baseline, position, "o", color="#6b7280", markersize=8, zorder=2)
        for title, (colour, marker) in zip(titles, STUDY_STYLES):
            if title in adapted:
                axis.plot(adapted[title], position, marker, color=colour, markersize=7, zorder=3, alpha=0.9)
    axis.set_yticks(range(len(rows)), [row[0] for row in rows], fontsize=10)
    axis.set_xlim(0, 100)
    axis.set_xlabel("accuracy on the built domain's test digits (%)", fontsize=10)
    axis.set_title("Which shifts can adaptation fix?\n(from MNIST, without the target's labels)", fontsize=11)
    axis.grid(axis="x", alpha=0.3)
    handles = [Line2D([], [], marker="o", color="#6b7280", ls="", label="source only")]
    handles += [
        Line2D([], [], marker=marker, color=colour, ls="", label=f"{title}, {steps} steps")
        for title, (colour, marker) in zip(titles, STUDY_STYLES)
    ]
    figure.legend(handles=handles, loc="lower center", ncol=1, fontsize=9, frameon=False)
    figure.tight_layout(rect=(0, (0.1 + 0.19 * len(handles)) / height, 1, 1))
    return figure
