"""How a method declares a hyperparameter: its default, valid range and plain-language label, so that
validation, the command line and the app's controls all read the same numbers; and the settings
several methods share, declared once.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any


def setting(
    default: Any, low: float | None = None, high: float | None = None, *, label: str, help: str = ""
) -> Any:
    """A hyperparameter field that carries its own valid range and a plain-language label, so
    validation, the command line and the app's controls all read the same numbers."""
    return field(default=default, metadata={"low": low, "high": high, "label": label, "help": help})


def entropy_weight_setting(default: float) -> Any:
    """The target-entropy weight every method that has the term declares the same way."""
    return setting(
        default,
        0.0,
        10.0,
        label="Target entropy weight",
        help="pushes target predictions to be confident; 0 gives the plain method",
    )


def separate_batches_setting() -> Any:
    """The switch between one forward pass over both domains' batches and one per domain
    (``models.forward_domains``), declared the same way by every method that offers it."""
    return setting(
        False,
        label="Source and target batches through batch norm separately",
        help="each domain is normalised by its own batch's statistics, and those kept for predicting "
        "are the target's (the self-ensembling and DIRT-T papers' code)",
    )


def warm_start_setting() -> Any:
    """The switch between adapting a trained model (``warm_start_from``) and training from freshly
    initialised weights, declared the same way by every method that offers it."""
    return setting(
        True,
        label="Start from the source-only model",
        help="off: start from freshly initialised weights, as some papers train",
    )


def standardised_input_setting() -> Any:
    """The switch to the pair's backbone with an instance-normalised input (``models.standardised``,
    chosen in ``Method.backbone_for``), declared the same way by every method that offers it."""
    return setting(
        False,
        label="Standardise each image",
        help="every image, source and target, scaled to zero mean and unit variance before the first "
        "layer (an instance-normalised input), as self-ensembling's code prepares digits",
    )
