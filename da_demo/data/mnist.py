"""MNIST through torchvision: from a data directory, or downloaded into the cache."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import torch
from torchvision.datasets import MNIST

from .images import LabeledImages
from .locations import CACHE_DIR_ENV, LAYOUT_HELP, DataMissingError, cache_dir, data_dir, whole_file

RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def load(train: bool, data_directory: str | Path | None = None) -> LabeledImages:
    """This domain's split (see ``domains.Domain``)."""
    return load_mnist(train, data_directory)


def render(digit: torch.Tensor, photos=()) -> torch.Tensor:
    """A drawn digit is already framed as MNIST frames its digits."""
    return digit


def load_mnist(train: bool, data_directory: str | Path | None = None) -> LabeledImages:
    """MNIST as float32 ``(N, 1, 28, 28)`` in [0, 1] with int64 labels (60,000 train / 10,000 test)."""
    root = _mnist_root(data_dir(data_directory))
    dataset = MNIST(root, train=train, download=False)
    images = dataset.data.unsqueeze(1).float().div_(255.0)
    return LabeledImages(images, dataset.targets.long())


def _mnist_root(directory: Path | None) -> Path:
    """A folder that torchvision's ``MNIST(root, download=False)`` loads from.

    Gzipped idx files are extracted into the cache: torchvision would re-check their md5 against
    the official archives, which re-compressed copies of the same data do not match.
    """
    cache = cache_dir()
    if directory is not None:
        raw = directory / "MNIST" / "raw"
        if all((raw / name).is_file() for name in RAW_FILES):
            return directory
        if all((raw / f"{name}.gz").is_file() for name in RAW_FILES):
            target = cache / "MNIST" / "raw"
            target.mkdir(parents=True, exist_ok=True)
            for name in RAW_FILES:
                _gunzip_once(raw / f"{name}.gz", target / name)
            return cache
        raise DataMissingError(f"MNIST is missing from {raw}.\n{LAYOUT_HELP}")
    if not all((cache / "MNIST" / "raw" / name).is_file() for name in RAW_FILES):
        try:
            MNIST(cache, train=True, download=True)
        except Exception as error:  # network errors come in many types
            raise DataMissingError(f"MNIST could not be downloaded ({error}).\n{LAYOUT_HELP}") from error
    return cache


def _gunzip_once(source: Path, target: Path) -> None:
    """Extract ``source`` to ``target`` unless done already; a failed write (full disk, read-only
    cache) leaves no partial file and says which folder."""
    if target.is_file() and target.stat().st_mtime >= source.stat().st_mtime:
        return
    try:
        with whole_file(target) as partial, gzip.open(source, "rb") as compressed, open(partial, "wb") as plain:
            shutil.copyfileobj(compressed, plain)
    except OSError as error:
        raise DataMissingError(
            f"Could not extract {source.name} into the cache folder {target.parent} "
            f"(read-only or full? set {CACHE_DIR_ENV} to another folder): {error}"
        ) from None
