"""Checkpoints: weights in safetensors, JSON metadata in the same file's header.

A file alone is enough to rebuild its model (backbone, channels, size and classes are in the
metadata). Loading never unpickles anything; a corrupt, foreign or mismatched file raises
``CheckpointError`` with a message that says what is wrong.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ..data import whole_file
from ..models import DigitClassifier, build_classifier
from .schemas import CheckpointMetadata, RecordsError, parse

FORMAT = "da_demo.checkpoint/1"
METADATA_KEY = "da_demo"
MAX_CHECKPOINT_BYTES = 256 * 1024 * 1024
MAX_HEADER_BYTES = 1024 * 1024


class CheckpointError(ValueError):
    """A checkpoint cannot be used: corrupt, not ours, or not the model that was asked for."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: the classifier (eval mode), its metadata, and any extra networks' tensors."""

    classifier: DigitClassifier
    metadata: CheckpointMetadata
    extras: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    path: Path | None = None

    @property
    def method(self) -> str:
        return self.metadata.method

    @property
    def pair(self) -> str:
        return self.metadata.pair


def save_checkpoint(
    path: str | os.PathLike,
    classifier: DigitClassifier,
    metadata: dict[str, Any],
    extras: dict[str, torch.nn.Module] | None = None,
    half_precision: bool = False,
) -> Path:
    """Write ``classifier`` (and ``extras``, e.g. generators) with ``metadata`` to ``path`` atomically.

    ``metadata`` must name at least ``method``, ``pair`` and ``backbone``; the shapes needed to
    rebuild the classifier are added here. ``half_precision`` stores floating-point tensors as
    float16 (half the bytes; loading turns them back into float32).
    """
    full = full_metadata(classifier, metadata, half_precision)
    tensors = {
        f"classifier.{name}": value for name, value in _plain_state(classifier, half_precision).items()
    }
    for extra_name, module in (extras or {}).items():
        tensors.update(
            {f"{extra_name}.{name}": value for name, value in _plain_state(module, half_precision).items()}
        )
    path = Path(path)
    _write_atomically(path, tensors, {METADATA_KEY: json.dumps(full, sort_keys=True)})
    return path


def full_metadata(
    classifier: DigitClassifier, metadata: dict[str, Any], half_precision: bool = False
) -> dict[str, Any]:
    """``metadata`` (naming at least ``method``, ``pair`` and ``backbone``) with the shapes needed to
    rebuild the classifier and the format, as a checkpoint's header holds it."""
    missing = [key for key in ("method", "pair", "backbone") if key not in metadata]
    if missing:
        raise ValueError(f"checkpoint metadata lacks {', '.join(missing)}")
    return {
        **metadata,
        "format": FORMAT,
        "in_channels": classifier.in_channels,
        "image_size": classifier.image_size,
        "num_classes": classifier.num_classes,
        "stored_dtype": "float16" if half_precision else "float32",
    }


def _write_atomically(path: Path, tensors: dict[str, torch.Tensor], header: dict[str, str]) -> None:
    """Write whole or not at all (``data.whole_file``): a full disk or a read-only folder leaves no
    partial file behind, and the error says which folder."""
    try:
        with whole_file(path) as partial:
            save_file(tensors, partial, metadata=header)
    except (OSError, SafetensorError) as error:
        raise CheckpointError(
            f"Could not write {path.name} to {path.parent} (read-only or full?): {error}"
        ) from None


def copy_half_precision(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Write ``source``'s checkpoint to ``target`` with its floating-point tensors stored as float16
    (same metadata, atomically); a float16 checkpoint is copied as it is."""
    metadata = read_metadata(source).to_json()
    tensors = load_file(str(_existing(source)))
    tensors = {
        name: value.to(torch.float16) if value.is_floating_point() else value
        for name, value in tensors.items()
    }
    target = Path(target)
    header = {**metadata, "stored_dtype": "float16"}
    _write_atomically(target, tensors, {METADATA_KEY: json.dumps(header, sort_keys=True)})
    return target


def read_metadata(path: str | os.PathLike) -> CheckpointMetadata:
    """Only the metadata of a checkpoint (reads the header, not the weights), checked field by field."""
    path = _existing(path)
    _check_header_size(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path.name} is not a readable safetensors file ({error})") from error
    return _parse_metadata(header, path)


def load_checkpoint(
    path: str | os.PathLike,
    *,
    expect_pair: str | None = None,
    expect_method: str | None = None,
    device: str | torch.device = "cpu",
) -> Checkpoint:
    """Load a checkpoint written by ``save_checkpoint``; check it is the pair/method expected.

    Nothing large is allocated before the file is known to fit: the header's size, its fields and
    every classifier tensor's shape are checked first (a file declaring a huge model is refused
    before any model is built at that size)."""
    metadata = read_metadata(path)
    path = Path(path)
    for key, expected in (("pair", expect_pair), ("method", expect_method)):
        if expected is not None and getattr(metadata, key) != expected:
            raise CheckpointError(f"{path.name} holds {key} {getattr(metadata, key)!r}, not {expected!r}")
    classifier = build_classifier(
        metadata.backbone, metadata.in_channels, metadata.num_classes, metadata.image_size
    )
    expected_shapes = {
        f"classifier.{name}": tuple(value.shape) for name, value in classifier.state_dict().items()
    }
    try:
        with safe_open(str(path), framework="pt") as handle:
            shapes = {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path.name} is damaged: its tensor table cannot be read ({error})") from error
    wrong = [name for name, shape in expected_shapes.items() if shapes.get(name) != shape]
    if wrong:
        raise CheckpointError(
            f"{path.name} does not match its declared model ({metadata.backbone!r}): "
            f"{len(wrong)} classifier tensors missing or of another shape, e.g. {wrong[0]}"
        )
    try:
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path.name} is damaged: its weights cannot be read ({error})") from error
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        if value.is_floating_point():
            value = value.float()
        group, _, key = name.partition(".")
        groups.setdefault(group, {})[key] = value
    try:
        classifier.load_state_dict(groups.pop("classifier"), strict=True)
    except (KeyError, RuntimeError, ValueError, TypeError) as error:
        raise CheckpointError(
            f"{path.name} does not match its declared model "
            f"({metadata.backbone!r}): {str(error).splitlines()[0]}"
        ) from error
    classifier.to(device).eval()
    return Checkpoint(classifier, metadata, groups, path)


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}")
    size = path.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(
            f"{path.name} is {size / 2**20:.0f} MB; a checkpoint of this project is at most "
            f"{MAX_CHECKPOINT_BYTES / 2**20:.0f} MB"
        )
    return path


def _check_header_size(path: Path) -> None:
    """A safetensors file starts with its header's length (8 bytes, little-endian): refuse an absurd
    one before the header is read and parsed."""
    with open(path, "rb") as handle:
        prefix = handle.read(8)
    if len(prefix) < 8:
        raise CheckpointError(
            f"{path.name} is not a readable safetensors file (it is only {len(prefix)} bytes)"
        )
    length = int.from_bytes(prefix, "little")
    if length > MAX_HEADER_BYTES or length > path.stat().st_size - 8:
        raise CheckpointError(
            f"{path.name} is not a readable safetensors file (it declares a {length:,}-byte "
            f"header; ours are under {MAX_HEADER_BYTES // 1024} KB)"
        )


def _parse_metadata(header: dict[str, str], path: Path) -> CheckpointMetadata:
    if METADATA_KEY not in header:
        raise CheckpointError(f"{path.name} is a safetensors file but not a da_demo checkpoint (no metadata)")
    try:
        metadata = json.loads(header[METADATA_KEY])
    except (json.JSONDecodeError, RecursionError) as error:
        raise CheckpointError(f"{path.name} has unreadable metadata ({type(error).__name__})") from None
    if not isinstance(metadata, dict):
        raise CheckpointError(
            f"{path.name} has metadata that is a JSON {type(metadata).__name__}, not an object"
        )
    if metadata.get("format") != FORMAT:
        raise CheckpointError(
            f"{path.name} has metadata of an unknown format {str(metadata.get('format'))[:40]!r}"
        )
    try:
        return parse(CheckpointMetadata, metadata, f"{path.name} metadata")
    except RecordsError as error:
        raise CheckpointError(str(error)) from None


def _plain_state(module: torch.nn.Module, half_precision: bool = False) -> dict[str, torch.Tensor]:
    # safetensors wants contiguous tensors that share no memory
    state = {}
    for name, value in module.state_dict().items():
        value = value.detach().to("cpu")
        if half_precision and value.is_floating_point():
            value = value.to(torch.float16)
        state[name] = value.contiguous().clone()
    return state
