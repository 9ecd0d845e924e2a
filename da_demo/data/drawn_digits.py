"""A "drawn digits" check set: MNIST test digits made to look like what visitors draw, then
prepared exactly as the app prepares a drawn digit.

Each digit is enlarged 4x, its strokes thickened or thinned (a pen of another width), turned,
sheared, rescaled and shifted, thresholded into hard strokes of dark ink on white paper (a canvas
or a phone photo), and handed to ``prepare_digit``. It is built deterministically at run time from
MNIST's test set and never stored: a model adapted to another domain should still read these as
well as the source-only model does.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .digit_input import prepare_digit
from .images import LabeledImages

SCALE = 4  # work at 112x112, where a pen-width change of a pixel or two is a fine step
DEFAULT_COUNT = 2000


def _stroke_width(images: torch.Tensor, change: int) -> torch.Tensor:
    """Thicken (``change > 0``) or thin (``< 0``) ink strokes by ``|change|`` pixels (grey dilation/erosion)."""
    if change == 0:
        return images
    size = 2 * abs(change) + 1
    if change > 0:
        return F.max_pool2d(images, size, stride=1, padding=abs(change))
    return -F.max_pool2d(-images, size, stride=1, padding=abs(change))


def _random_affine(rng: np.random.Generator) -> torch.Tensor:
    angle = np.deg2rad(rng.uniform(-15, 15))
    shear = rng.uniform(-0.25, 0.25)
    scale = rng.uniform(0.75, 1.2)
    aspect = rng.uniform(0.85, 1.15)
    shift = rng.uniform(-0.15, 0.15, size=2)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = rotation @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([1 / (scale * aspect), 1 / scale])
    return torch.tensor(np.concatenate([matrix, shift[:, None]], axis=1), dtype=torch.float32)


def drawn_digits(mnist_test: LabeledImages, count: int = DEFAULT_COUNT, seed: int = 0) -> LabeledImages:
    """``count`` MNIST test digits redrawn (see the module docstring): float32 ``(count, 1, 28, 28)``."""
    rng = np.random.default_rng(seed)
    index = np.sort(rng.choice(len(mnist_test), size=min(count, len(mnist_test)), replace=False))
    images = mnist_test.images[index, :1]
    large = F.interpolate(images, scale_factor=SCALE, mode="bilinear", align_corners=False)
    prepared = []
    for position in range(len(index)):
        digit = large[position : position + 1]
        digit = _stroke_width(digit, int(rng.integers(-2, 7)))
        grid = F.affine_grid(_random_affine(rng)[None], list(digit.shape), align_corners=False)
        digit = F.grid_sample(digit, grid, align_corners=False, padding_mode="zeros")
        strokes = (digit[0, 0] > rng.uniform(0.3, 0.6)).float()
        if strokes.sum() < 20:  # the pen left almost nothing: keep the stroke as it was
            strokes = (large[position, 0] > 0.5).float()
        paper = ((1.0 - strokes) * 255).to(torch.uint8).numpy()  # dark ink on white paper
        prepared.append(prepare_digit(paper)[0])
    return LabeledImages(torch.stack(prepared), mnist_test.labels[index].clone())
