"""Results: the measured table (generated from the manifest, ours beside the published numbers)
and the command that reproduces each row."""

from __future__ import annotations

import gradio as gr

from ..artifacts.manifest import results_table
from ..data import PAIRS
from ..methods import get_method
from ..workflows.selection import PROTOCOL
from .context import AppContext


def results_markdown(entries: list[dict], origin: str) -> str:
    if not entries:
        return (
            "No measured results yet: the checkpoint manifest is empty. Run `python -m da_demo pretrain` "
            "to train every method and fill it."
        )
    return (
        f"{PROTOCOL} Measured on the full test sets from the stored checkpoints ({origin}); three seeds "
        "each (mean ± std), seed 0's model is the one the app uses.\n\n" + results_table(entries)
    )


def reproduce_markdown(entries: list[dict]) -> str:
    lines = [
        "| pair | method | train and evaluate it yourself | rebuild the shipped checkpoint |",
        "| --- | --- | --- | --- |",
    ]
    for entry in entries:
        pair, method = entry["pair"], entry["method"]
        lines.append(
            f"| {PAIRS[pair].title} | {get_method(method).title} | "
            f"`python -m da_demo bench --pair {pair} --method {method}` | "
            f"`python -m da_demo pretrain --pairs {pair} --methods {method}` |"
        )
    return "\n".join(lines)


def build(context: AppContext) -> None:
    store = context.zoo.store
    entries = store.manifest()
    gr.Markdown(results_markdown(entries, store.manifest_origin()), elem_id="results_table")
    with gr.Accordion("How to reproduce each row", open=False):
        gr.Markdown(
            reproduce_markdown(entries) + "\n\nAdd `--data-dir DIR` when offline, `--device cuda` on a GPU. "
            "`bench` prints one row per run; `--json` prints them as JSON lines."
        )
