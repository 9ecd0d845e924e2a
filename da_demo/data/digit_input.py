"""Turn a drawn or uploaded picture into a digit as MNIST prepared its digits, and render a digit
in the style of each target domain.

MNIST digits are white ink on black, the ink's bounding box scaled (aspect kept) into 20x20 and
placed in a 28x28 frame so that its centre of mass sits at the centre. ``prepare_digit`` does the
same to any picture; every problem with the input is a ``DigitInputError`` whose message can be
shown to a visitor as it is.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000  # PIL's own bomb guard warns at 89 M; we refuse far earlier
WORK_SIZE = 512  # big pictures are scaled down to this before anything else
INK_LEVEL = 0.15  # fraction of full contrast that counts as ink


class DigitInputError(ValueError):
    """The picture cannot be read as a digit; the message says why, for the visitor."""


def open_image(source: str | Path | bytes | np.ndarray | Image.Image) -> tuple[Image.Image, list[str]]:
    """Open a picture from a path, bytes, an array or a PIL image, safely. Returns ``(image, notes)``.

    Refuses files over 20 MB, pictures over 40 megapixels, and anything that is not an image;
    scales big pictures down (and says so in ``notes``).
    """
    notes: list[str] = []
    if isinstance(source, Image.Image):
        image = source
    elif isinstance(source, np.ndarray):
        if source.ndim not in (2, 3) or source.size == 0:
            raise DigitInputError("That is not a picture (expected a 2-D image).")
        image = Image.fromarray(_to_uint8(source))
    else:
        size = len(source) if isinstance(source, bytes) else Path(source).stat().st_size
        if size > MAX_FILE_BYTES:
            raise DigitInputError(f"The file is {size / 2**20:.0f} MB; please upload a picture under 20 MB.")
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        try:
            image = Image.open(io.BytesIO(data))
            width, height = image.size  # read from the header, before decoding any pixels
            if width * height > MAX_PIXELS:
                raise DigitInputError(
                    f"The picture is {width}×{height} pixels; please upload one under 40 megapixels."
                )
            image.draft("RGB", (WORK_SIZE, WORK_SIZE))  # JPEG: decode at reduced size directly
            image.load()
        except DigitInputError:
            raise
        except (
            UnidentifiedImageError,
            OSError,
            SyntaxError,
            ValueError,
            Image.DecompressionBombError,
        ) as error:
            raise DigitInputError(
                "That file is not a readable image (PNG, JPEG, GIF, BMP or WebP)."
            ) from error
    if max(image.size) > WORK_SIZE:
        notes.append(f"Scaled down from {image.size[0]}×{image.size[1]} pixels.")
        image = image.copy()
        image.thumbnail((WORK_SIZE, WORK_SIZE), Image.LANCZOS)
    return image, notes


def to_grayscale_ink(image: Image.Image) -> np.ndarray:
    """Float ``(H, W)`` in [0, 1] where ink is bright, whatever the picture's mode and polarity.

    A transparent background is filled with the colour opposite to the ink (so dark ink on a
    transparent PNG does not vanish into black); then a light background is inverted, so the ink
    becomes white on black as in MNIST.
    """
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = np.asarray(image.convert("RGBA"), np.float32) / 255.0
        gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
        alpha = rgba[..., 3]
        opaque = gray[alpha > 0.5]
        background = 1.0 if opaque.size and np.median(opaque) < 0.5 else 0.0
        gray = alpha * gray + (1.0 - alpha) * background
    else:
        gray = np.asarray(image.convert("L"), np.float32) / 255.0
    if np.median(gray) > 0.5:  # light background, dark ink
        gray = 1.0 - gray
    return gray


def prepare_digit(source, *, min_ink_pixels: int = 6) -> tuple[torch.Tensor, list[str]]:
    """A picture → ``(digit (1, 28, 28) float in [0, 1], notes)``, framed as MNIST frames digits.

    Raises ``DigitInputError`` for a blank canvas or an unreadable picture.
    """
    image, notes = open_image(source)
    ink = to_grayscale_ink(image)
    low, high = float(ink.min()), float(ink.max())
    if high - low < 0.1:
        raise DigitInputError("The picture is blank: draw or upload a digit first.")
    ink = np.clip((ink - low) / (high - low), 0.0, 1.0)
    ink[ink < INK_LEVEL] = 0.0
    rows, cols = np.nonzero(ink)
    if len(rows) < min_ink_pixels:
        raise DigitInputError("There is hardly any ink: draw a bigger digit.")
    crop = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height, width = crop.shape
    scale = 20.0 / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = (
        np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize(size, Image.LANCZOS), np.float32)
        / 255.0
    )
    small = np.clip(small, 0.0, 1.0)
    frame = np.zeros((28, 28), np.float32)
    top, left = _centre_of_mass_offset(small)
    frame[top : top + small.shape[0], left : left + small.shape[1]] = small
    return torch.from_numpy(frame).unsqueeze(0), notes


def _centre_of_mass_offset(digit: np.ndarray) -> tuple[int, int]:
    """Where to put ``digit`` in 28x28 so its centre of mass lands on pixel (14, 14), as it does in
    MNIST's own files (measured: that convention, not 13.5, matches them), kept inside the frame."""
    total = digit.sum()
    rows, cols = np.indices(digit.shape)
    centre_row, centre_col = (rows * digit).sum() / total, (cols * digit).sum() / total
    top = int(round(14.0 - centre_row))
    left = int(round(14.0 - centre_col))
    return min(max(top, 0), 28 - digit.shape[0]), min(max(left, 0), 28 - digit.shape[1])


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    array = array.astype(np.float32)
    if array.max() <= 1.0:
        array = array * 255.0
    return np.clip(array, 0, 255).astype(np.uint8)
