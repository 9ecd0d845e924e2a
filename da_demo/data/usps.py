"""USPS through torchvision, resized from 16x16 to the common 28x28."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.datasets import USPS

from .digit_input import INK_LEVEL
from .images import LabeledImages
from .locations import LAYOUT_HELP, DataMissingError, cache_dir, data_dir


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
    try:
        if directory is not None:
            if not (directory / filename).is_file():
                raise DataMissingError(f"USPS is missing: {directory / filename} not found.\n{LAYOUT_HELP}")
            # download=False: a re-packed copy has another md5 than the official file
            dataset = USPS(directory, train=train, download=False)
        else:
            dataset = USPS(cache_dir(), train=train, download=True)
    except DataMissingError:
        raise
    except Exception as error:
        raise DataMissingError(f"USPS could not be loaded or downloaded ({error}).\n{LAYOUT_HELP}") from error
    images = torch.from_numpy(dataset.data).unsqueeze(1).float().div_(255.0)
    if size != images.shape[-1]:
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False).clamp_(
            0.0, 1.0
        )
    return LabeledImages(images, torch.tensor(dataset.targets, dtype=torch.long))
