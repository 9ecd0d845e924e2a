"""What terminals show: a progress bar over training events and aligned Markdown tables.

Used by the command line and the benchmark scripts; it imports nothing else of the package.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

Event = TypeVar("Event")


def format_markdown(header: list[str], rows: Iterable[list[str]]) -> str:
    """An aligned Markdown table."""
    cells = [list(header)] + [list(row) for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = [
        "| " + " | ".join(value.ljust(width) for value, width in zip(line, widths)) + " |" for line in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def with_progress_bar(events: Iterator[Event], description: str) -> Iterator[Event]:
    """Pass training events (``step``, ``total_steps``, ``metrics``, accuracies) through while drawing
    a tqdm bar on stderr with the latest losses and accuracies."""
    from tqdm.auto import tqdm

    bar = None
    shown = 0
    accuracies: dict[str, str] = {}
    metrics: dict[str, str] = {}
    try:
        for event in events:
            if bar is None:
                bar = tqdm(
                    total=event.total_steps,
                    desc=description,
                    unit="step",
                    dynamic_ncols=True,
                    file=sys.stderr,
                )
            bar.update(event.step - shown)
            shown = event.step
            if event.target_acc is not None:
                accuracies = {"src": f"{event.source_acc:.3f}", "tgt": f"{event.target_acc:.3f}"}
            metrics = {name: f"{value:.3g}" for name, value in event.metrics.items()} or metrics
            bar.set_postfix({**metrics, **accuracies}, refresh=False)
            yield event
    finally:
        if bar is not None:
            bar.close()
