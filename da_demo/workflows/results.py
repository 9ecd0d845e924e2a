"""The results as the README and the app show them, generated from the manifest and the selection
file, never typed by hand (``python -m da_demo results --write-readme``; a test fails when the
README and these disagree); and the selection's tables as ``python -m da_demo select`` prints them."""

from __future__ import annotations

from pathlib import Path

from ..artifacts.manifest import goals_table, read_manifest, replace_block, results_table
from ..artifacts.schemas import PairSelection, SelectionFile
from ..artifacts.store import SHIPPED_DIRECTORY
from ..data import PAIRS, SOURCES
from ..methods import get_method
from ..reporting import format_markdown
from ..validators import SELECTION_VALIDATORS as VALIDATORS
from ..validators import TITLES
from .padded_usps import read_records, table
from .selection import PROTOCOL, Selection, read_selection
from .shift_study import read_study, study_rows, study_table


def validators_table(selection: SelectionFile) -> str:
    """Markdown: each validator's Spearman ρ with target accuracy over the sweep's points, per pair
    and method, and which validator decided each pair (leave-one-pair-out)."""
    if not selection.pairs:
        return "No sweep has been selected from yet (`python -m da_demo sweep`, then `select --write`)."
    header = "| pair | method | " + " | ".join(TITLES[name] for name in VALIDATORS) + " |"
    lines = [header, "|" + " --- |" * (2 + len(VALIDATORS))]
    for pair, chosen in selection.pairs.items():
        for method, entry in chosen.methods.items():
            rho = entry.rho
            cells = ["—" if rho.get(name) is None else f"{rho[name]:+.2f}" for name in VALIDATORS]
            lines.append(f"| {PAIRS[pair].title} | {get_method(method).title} | " + " | ".join(cells) + " |")
    deciding = "; ".join(
        f"{PAIRS[pair].title}: {TITLES[chosen.validator]}{_otherwise(chosen)}" for pair, chosen in selection.pairs.items()
    )
    return (
        "\n".join(lines)
        + f"\n\nThe validator that decided each pair (best mean ρ on the other two): {deciding}."
    )


def _otherwise(chosen: PairSelection) -> str:
    """The methods of a pair its validator could not score (their records kept no predicted classes),
    with the validator that decided them instead: "" where there are none."""
    others: dict[str, list[str]] = {}
    for method, entry in chosen.methods.items():
        if entry.validator != chosen.validator:
            others.setdefault(entry.validator, []).append(get_method(method).title)
    return "".join(
        f" ({TITLES[name]} for {', '.join(titles)}, whose sweep records kept no predicted classes)"
        for name, titles in others.items()
    )


def readme_blocks(
    directory: Path = SHIPPED_DIRECTORY, selection: SelectionFile | None = None
) -> dict[str, str]:
    """The README's generated blocks, by marker name."""
    selection = read_selection() if selection is None else selection
    return {
        "results-table": results_table(read_manifest(directory)),
        "validators-table": validators_table(selection),
        "protocol": PROTOCOL,
        "sources": sources_list(),
        "shift-study": study_table(study_rows(read_study())),
        "padded-usps": table(read_records()),
    }


def sources_list() -> str:
    """Markdown: the full reference behind each short source name the tables use."""
    return "\n".join(f"- **{name}**: {reference}" for name, reference in SOURCES.items())


def updated_readme(readme: str, blocks: dict[str, str] | None = None) -> str:
    for name, content in (blocks or readme_blocks()).items():
        readme = replace_block(readme, name, content)
    return readme


def goals(directory: Path = SHIPPED_DIRECTORY) -> str:
    return goals_table(read_manifest(directory))


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def selection_tables(selections: dict[tuple[str, str], Selection], correlations: dict) -> str:
    """Markdown: the label-free pick beside the oracle per pair and method; every validator's pick;
    and each validator's Spearman ρ with target accuracy."""
    rows = []
    for (pair, method), chosen in selections.items():
        p, o = chosen.pick, chosen.oracle
        rows.append(
            [
                PAIRS[pair].title,
                get_method(method).title,
                chosen.validator,
                f"{p.settings} @ {p.step}" if p else "—",
                _percent(p.target_acc if p else None),
                _percent(o.target_acc if o else None),
                "—" if chosen.gap is None else f"{chosen.gap:.1f}",
            ]
        )
    picks = format_markdown(
        [
            "pair",
            "method",
            "validator (leave-one-pair-out)",
            "label-free pick (settings @ step)",
            "its target %",
            "oracle target % (uses target labels)",
            "gap",
        ],
        rows,
    )
    every = []
    for (pair, method), chosen in selections.items():
        every.append(
            [PAIRS[pair].title, get_method(method).title]
            + [_percent(point.target_acc if point else None) for point in chosen.by_validator.values()]
        )
    by_validator = format_markdown(["pair", "method"] + [f"pick by {name}" for name in VALIDATORS], every)
    rho_rows = [
        [PAIRS[pair].title, get_method(method).title]
        + ["—" if scores[name] is None else f"{scores[name]:+.2f}" for name in VALIDATORS]
        for (pair, method), scores in correlations["rho"].items()
        if any(v is not None for v in scores.values())
    ]
    rho = format_markdown(["pair", "method"] + [f"ρ {name}" for name in VALIDATORS], rho_rows)
    chosen_rows = [
        [PAIRS[pair].title, entry["chosen"]]
        + [f"{entry['mean_rho_other_pairs'][name]:+.2f}" for name in VALIDATORS]
        for pair, entry in correlations["validator"].items()
    ]
    chosen = format_markdown(
        ["pair", "validator used"] + [f"mean ρ on other pairs: {name}" for name in VALIDATORS], chosen_rows
    )
    legend = "; ".join(f"{name} = {TITLES[name]}" for name in VALIDATORS)
    return "\n\n".join([picks, chosen, by_validator, rho, legend])
