"""The checkpoint manifest and the results table generated from it (never typed by hand).

``checkpoints/manifest.json`` is a JSON list with one entry per shipped checkpoint: pair, method,
file, source and target accuracy (measured on the full test sets from the stored file), seed(s),
steps, training time, hyperparameters, code version and data fingerprint. The README's results
table is rendered from it by ``python -m da_demo results --write-readme``.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from ..data import PAIRS
from ..methods import get_method, method_names
from ..validators import HANDWRITING_MARGIN
from .schemas import ManifestEntry, read_document

MANIFEST_NAME = "manifest.json"
#: how far below source-only an adapted model may read the drawn-digits check set (points)
DRAWN_MARGIN = 3.0
#: a method's own baseline, kept in ``extra_metrics`` (the Sinkhorn mapping's plain 1-NN)
BASELINE_KEY = "baseline_1nn_target_acc"


def read_manifest(directory: Path) -> list[ManifestEntry]:
    """The manifest's entries ([] when there is none); a malformed one is a ``RecordsError`` naming
    the file and the field."""
    return read_document(Path(directory) / MANIFEST_NAME, list[ManifestEntry], default=[])


def write_manifest(directory: Path, entries: list[ManifestEntry]) -> Path:
    """Write entries sorted by pair and method order, so diffs stay readable."""
    pair_order, order = list(PAIRS), method_names()
    entries = sorted(
        entries,
        key=lambda e: (
            pair_order.index(e.pair) if e.pair in pair_order else 99,
            order.index(e.method) if e.method in order else 99,
        ),
    )
    path = Path(directory) / MANIFEST_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    documents = [entry.model_dump(mode="json", exclude_none=True) for entry in entries]
    path.write_text(json.dumps(documents, indent=2, sort_keys=True) + "\n")
    return path


def update_manifest(directory: Path, entry: ManifestEntry) -> Path:
    """Add or replace one entry (same pair and method) under a file lock, so several pretraining
    processes (one per pair, say) can share one manifest."""
    import fcntl

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f".{MANIFEST_NAME}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        entries = [
            old for old in read_manifest(directory) if (old.pair, old.method) != (entry.pair, entry.method)
        ]
        return write_manifest(directory, [*entries, entry])


def seed_summary(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def reported_target(entry: ManifestEntry) -> tuple[float, float]:
    """Target-test accuracy as reported: mean and std over the seeds where several ran."""
    return seed_summary([seed.target_acc for seed in entry.seeds] or [entry.target_acc])


def _baseline(entry: ManifestEntry) -> float | None:
    value = entry.extra_metrics.get(BASELINE_KEY)
    return None if value is None else round(100 * value, 1)


#: marks a model trained before label-free selection existed (its settings, backbone and seed were
#: chosen by looking at target-test accuracy)
OLD_PROTOCOL = "†"
#: marks a model with its method's default settings (no sweep of its pair has picked them yet); its
#: training step was still chosen by a label-free validator
DEFAULT_SETTINGS = "‡"
#: marks a label-free pick made with the handwriting guard waived: no point of its sweep read
#: drawn-style digits within the margin, so it is the best pick among those that did not collapse
HANDWRITING_WAIVED = "§"
PROTOCOL_NOTES = {
    OLD_PROTOCOL: "Trained before label-free selection: its settings, backbone and shipped seed were chosen by "
    "looking at target-test accuracy, so this figure is optimistic.",
    DEFAULT_SETTINGS: "The method's default settings (its pair has not been swept yet, or every point of its "
    "sweep collapsed); the step kept was chosen by a label-free validator, without target labels.",
    HANDWRITING_WAIVED: "No point of its sweep read drawn-style digits within "
    f"{100 * HANDWRITING_MARGIN:g} points of the source-only model: "
    "this is its best label-free pick among the points that did not collapse.",
}


def protocol_mark(entry: ManifestEntry) -> str:
    """How a shipped model was chosen: "" (a label-free pick of the sweep), ``DEFAULT_SETTINGS`` or
    ``OLD_PROTOCOL``."""
    if entry.validator is None:
        return OLD_PROTOCOL
    return "" if entry.selection and entry.selection.settings is not None else DEFAULT_SETTINGS


def row_marks(entry: ManifestEntry) -> str:
    """Every mark of a row: how it was chosen (``protocol_mark``), and ``HANDWRITING_WAIVED``."""
    waived = entry.selection is not None and entry.selection.handwriting_waived
    return protocol_mark(entry) + (HANDWRITING_WAIVED if waived else "")


def notes_for(marks: set[str]) -> list[tuple[str, str]]:
    """The ``(mark, note)`` of every mark that appears in one of ``marks`` (rows' ``row_marks``)."""
    return [(mark, note) for mark, note in PROTOCOL_NOTES.items() if any(mark in row for row in marks)]


def _ours(entry: ManifestEntry) -> str:
    mean, std = reported_target(entry)
    seeds = max(len(entry.seeds), 1)
    text = f"{100 * mean:.1f} ± {100 * std:.1f}" if seeds > 1 else _percent(mean)
    if row_marks(entry):
        text += f" {row_marks(entry)}"
    baseline = _baseline(entry)
    return text + (f" (1-NN without mapping: {baseline:.1f})" if baseline is not None else "")


def _drawn(entry: ManifestEntry) -> str:
    return _percent(entry.drawn_acc_mean if entry.drawn_acc_mean is not None else entry.drawn_acc)


def results_table(entries: list[ManifestEntry]) -> str:
    """Markdown: per pair and method, the shipped label-free pick's target accuracy (mean ± std over
    its seeds), its source and drawn-digit accuracy, the sweep's oracle pick (uses target labels:
    reference only) and the gap between them, and the published number."""
    lines = [
        "| pair | method | target % (label-free pick) | source % | drawn digits % | "
        "oracle % (uses target labels, reference only) | gap | published % |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for pair in PAIRS:
        for entry in (entry for entry in entries if entry.pair == pair):
            selection = entry.selection
            gap = selection.gap_points if selection else None
            published = PAIRS[pair].published.get(entry.method)
            source = entry.source_acc_mean if entry.source_acc_mean is not None else entry.source_acc
            lines.append(
                f"| {PAIRS[pair].title} | {get_method(entry.method).title} | {_ours(entry)} | "
                f"{_percent(source)} | {_drawn(entry)} | "
                f"{_percent(selection.oracle_target_acc if selection else None)} | {'—' if gap is None else f'{gap:.1f}'} | "
                f"{published or '—'} |"
            )
    notes = [f"{mark} {note}" for mark, note in notes_for({row_marks(entry) for entry in entries})]
    if notes:
        lines.append("\n" + "\n\n".join(notes))
    return "\n".join(lines)


def goals_table(entries: list[ManifestEntry]) -> str:
    """Markdown: every goal the project's issues set, measured (for maintainers' notes, not students)."""
    rows = ["| pair | goal | measured | met |", "| --- | --- | --- | --- |"]
    for pair, spec in PAIRS.items():
        pair_entries = {entry.method: entry for entry in entries if entry.pair == pair}
        if not pair_entries:
            continue
        means = {method: 100 * reported_target(entry)[0] for method, entry in pair_entries.items()}
        source_only = means.get("source_only")
        checks = [
            (f"{get_method(m).title} ≥ {goal:g}", means[m], goal)
            for m, goal in spec.goals.items()
            if m in means
        ]
        if "best" in spec.goals:
            best = max(means, key=means.get)
            checks.append(
                (
                    f"best of pair ≥ {spec.goals['best']:g} ({get_method(best).title})",
                    means[best],
                    spec.goals["best"],
                )
            )
        if source_only is not None:
            worst = min((m for m in means if m != "source_only"), key=means.get, default=None)
            if worst:
                checks.append(
                    (
                        f"no adapted model below source-only ({get_method(worst).title})",
                        means[worst],
                        source_only,
                    )
                )
        drawn = {m: e.drawn_acc_mean for m, e in pair_entries.items() if e.drawn_acc_mean is not None}
        if "source_only" in drawn:
            worst = min(drawn, key=drawn.get)
            checks.append(
                (
                    f"drawn digits within {DRAWN_MARGIN:g} points of source-only ({get_method(worst).title})",
                    100 * drawn[worst],
                    100 * drawn["source_only"] - DRAWN_MARGIN,
                )
            )
        rows += [
            f"| {spec.title} | {label} | {value:.1f} | {'✓' if value >= goal else f'✗ ({value - goal:+.1f})'} |"
            for label, value, goal in checks
        ]
    return "\n".join(rows + [f"| all pairs | {label} | {value} | {met} |" for label, value, met in _protocol_goals(entries)])


#: the issues' goal for the mean gap between the label-free pick and the oracle, over adapted rows
MEAN_GAP_GOAL = 1.5
#: seeds every step-trained shipped model is trained with (seed 0 shipped)
SEEDS_GOAL = 3


def _protocol_goals(entries: list[ManifestEntry]) -> list[tuple[str, str, str]]:
    """The protocol's own goals, as ``(goal, measured, met)``: the mean oracle gap over the adapted
    rows that have one, every row a label-free pick (no † or ‡), every step-trained row 3 seeds."""
    adapted = [entry for entry in entries if entry.method != "source_only"]
    gaps = [entry.selection.gap_points for entry in adapted if entry.selection and entry.selection.gap_points is not None]
    picked = sum(1 for entry in entries if not protocol_mark(entry))
    stepped = [entry for entry in entries if get_method(entry.method).trained_by_steps]
    seeded = sum(1 for entry in stepped if len(entry.seeds) >= SEEDS_GOAL)
    goals = []
    if gaps:
        mean = statistics.fmean(gaps)
        met = "✓" if mean <= MEAN_GAP_GOAL else f"✗ ({mean - MEAN_GAP_GOAL:+.2f})"
        goals.append((f"mean oracle gap ≤ {MEAN_GAP_GOAL:g} points ({len(gaps)} adapted rows with one)", f"{mean:.2f}", met))
    goals.append(_all_of(f"every row a label-free pick (no {OLD_PROTOCOL} or {DEFAULT_SETTINGS})", picked, len(entries)))
    goals.append(_all_of(f"every step-trained row over {SEEDS_GOAL} seeds", seeded, len(stepped)))
    return goals


def _all_of(goal: str, done: int, total: int) -> tuple[str, str, str]:
    return goal, f"{done} of {total}", "✓" if done == total else f"✗ ({total - done} to go)"


def replace_block(text: str, name: str, content: str) -> str:
    """``text`` with the block between ``<!-- {name}:start ... -->`` and ``<!-- {name}:end -->`` replaced."""
    start_prefix, end = f"<!-- {name}:start", f"<!-- {name}:end -->"
    if start_prefix not in text or end not in text:
        raise ValueError(f"README.md lacks the {name} markers")
    head, rest = text.split(start_prefix, 1)
    marker, rest = rest.split("-->", 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start_prefix}{marker}-->\n{content}\n{end}{tail}"
