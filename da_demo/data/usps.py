"""USPS through torchvision, resized from 16x16 to the common 28x28. Decoding the compressed text
files takes seconds, so the decoded 16x16 digits are cached (keyed by the file's contents)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.datasets import USPS

from .digit_input import INK_LEVEL
from .images import LabeledImages
from .locations import LAYOUT_HELP, DataMissingError, cache_dir, cached_tensors, data_dir


def load(train: bool, data_directory: str | Path | None = None) -> LabeledImages:
    """This domain's split (see ``domains.Domain``)."""
    return load_usps(train, data_directory)


def render(digit: torch.Tensor, photos=()) -> torch.Tensor:
    """USPS framing: the ink's bounding box fills a 16x16 frame, shown back at 28x28 (bilinear)."""
    ink = digit[0]
    rows, cols = torch.nonzero(ink > INK_LEVEL, as_tuple=True)
    if len(rows) == 0:
        return digit.clone()
    crop = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    side = max(crop.shape)
    square = torch.zeros(side, side)
    top, left = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    square[top : top + crop.shape[0], left : left + crop.shape[1]] = crop
    small = F.interpolate(
        square[None, None], size=(16, 16), mode="bilinear", antialias=True, align_corners=False
    )
    return F.interpolate(small, size=(28, 28), mode="bilinear", align_corners=False)[0].clamp(0, 1)


def load_usps(train: bool, data_directory: str | Path | None = None, size: int = 28) -> LabeledImages:
    """USPS as float32 ``(N, 1, size, size)`` in [0, 1] (7,291 train / 2,007 test), bilinear resize."""
    directory = data_dir(data_directory)
    filename = "usps.bz2" if train else "usps.t.bz2"
    source = (directory or cache_dir()) / filename
    if directory is not None and not source.is_file():
        raise DataMissingError(f"USPS is missing: {source} not found.\n{LAYOUT_HELP}")
    # a fresh download is decoded as it arrives, and that decoding is what gets cached
    downloaded = _decode(cache_dir(), train, download=True) if not source.is_file() else None
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    tensors = cached_tensors(
        cache_dir() / "usps" / f"{filename}-{digest}.safetensors",
        lambda: downloaded or _decode(source.parent, train, download=False),
    )
    images = tensors["images"].unsqueeze(1).float().div_(255.0)
    if size != images.shape[-1]:
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False).clamp_(
            0.0, 1.0
        )
    return LabeledImages(images, tensors["labels"].long())


def _decode(directory: Path, train: bool, download: bool) -> dict[str, torch.Tensor]:
    """The split's 16x16 digits (uint8) and labels, decoded by torchvision (downloading if asked;
    ``download=False`` for a local copy, whose re-packed file may have another md5 than the official)."""
    try:
        dataset = USPS(directory, train=train, download=download)
    except Exception as error:
        raise DataMissingError(f"USPS could not be loaded or downloaded ({error}).\n{LAYOUT_HELP}") from error
    return {"images": torch.from_numpy(dataset.data), "labels": torch.tensor(dataset.targets, dtype=torch.long)}
