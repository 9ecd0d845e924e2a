"""A target domain a student builds: MNIST digits turned, resized, moved, re-inked, blurred, noised,
coloured, distorted, covered, or with some classes made rare, by a small JSON **recipe**.

    recipe = parse_recipe({"rotation": 45, "noise": 0.2})     # a clear sentence for a bad field
    shifted = build_shifted(mnist.images, mnist.labels, recipe, seed=2)

The recipe is checked by pydantic (ranges, types, no unknown keys) before anything is built, and
building is vectorised torch (10,000 digits in well under 2 s on one CPU core). Labels are known
because we made the domain: they are used to *report* accuracy, never to train or to choose.
``custom_pair`` makes a domain pair of it whose target training digits are MNIST training digits
no source model trained on (the held-out validation split), so the target is not the source in
disguise.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .domains import Domain, PairSpec, resolve_pair
from .images import LabeledImages
from .pairs import DomainPair

MAX_RECIPE_BYTES = 4096
RARE_CLASSES = (5, 6, 7, 8, 9)  # the classes ``skew`` makes rare


class ShiftError(ValueError):
    """A recipe that cannot be built; the message is one sentence naming the field."""


class ShiftRecipe(BaseModel):
    """How the target domain differs from MNIST (every field at its default: MNIST itself)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rotation: float = Field(0.0, ge=-180, le=180, description="turn every digit by this many degrees")
    tilt: float = Field(0.0, ge=0, le=90, description="and each by a random extra ± this many degrees")
    scale: float = Field(1.0, ge=0.4, le=1.5, description="digit size (1 = as in MNIST)")
    translate: float = Field(0.0, ge=0, le=0.3, description="move each digit by up to ± this share of the width")
    thickness: int = Field(0, ge=-1, le=3, description="pen: thinner (-1) or thicker (1 to 3 pixels)")
    invert: bool = Field(False, description="dark ink on a light background")
    blur: float = Field(0.0, ge=0, le=3, description="Gaussian blur, σ in pixels")
    noise: float = Field(0.0, ge=0, le=1, description="Gaussian pixel noise, σ")
    background: Literal["none", "colour", "photos"] = Field(
        "none", description="random colours, or photo crops (BSDS500) as MNIST-M has"
    )
    elastic: float = Field(0.0, ge=0, le=1, description="elastic distortion strength")
    occlusion: int = Field(0, ge=0, le=4, description="grey patches over each digit")
    skew: float = Field(0.0, ge=0, le=1, description="label shift: digits 5-9 are kept this much less often")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="the random draw")

    @property
    def channels(self) -> int:
        return 1 if self.background == "none" else 3

    def changed(self) -> dict[str, Any]:
        """The fields that differ from MNIST (what the recipe's JSON shows)."""
        return self.model_dump(exclude_defaults=True)

    def describe(self) -> str:
        """The shift in a few words, e.g. "rotation 45°, noise σ 0.2" ("none" for MNIST itself)."""
        units = {"rotation": "°", "tilt": "°"}
        words = [
            name if value is True else f"{name} {value:g}{units.get(name, '')}" if isinstance(value, float | int)
            else f"{name} {value}"
            for name, value in self.changed().items()
            if name != "seed"
        ]
        return ", ".join(words) or "none (MNIST itself)"


FIELDS = tuple(ShiftRecipe.model_fields)

PRESETS: dict[str, ShiftRecipe] = {
    "MNIST itself": ShiftRecipe(),
    "rotated 45°": ShiftRecipe(rotation=45),
    "upside down (180°)": ShiftRecipe(rotation=180),
    "inverted ink": ShiftRecipe(invert=True),
    "thick pens": ShiftRecipe(thickness=2),
    "small and off-centre": ShiftRecipe(scale=0.6, translate=0.2),
    "blurred and noisy": ShiftRecipe(blur=1.2, noise=0.3),
    "colour backgrounds": ShiftRecipe(background="colour"),
    "colour photos": ShiftRecipe(background="photos"),
    "wobbly (elastic)": ShiftRecipe(elastic=0.8, tilt=15),
    "covered by patches": ShiftRecipe(occlusion=3),
    "only 0-4 common": ShiftRecipe(skew=0.9),
}


def parse_recipe(recipe: Mapping[str, Any] | str | bytes | None) -> ShiftRecipe:
    """A recipe from JSON text or a mapping, checked; a ``ShiftError`` with one sentence otherwise."""
    if recipe is None or recipe == "":
        return ShiftRecipe()
    if isinstance(recipe, str | bytes):
        if len(recipe) > MAX_RECIPE_BYTES:
            raise ShiftError(f"A shift recipe is a small JSON object (at most {MAX_RECIPE_BYTES // 1024} KB).")
        try:
            recipe = json.loads(recipe)
        except ValueError:
            raise ShiftError("The shift recipe is not valid JSON: write it like {\"rotation\": 45}.") from None
    if not isinstance(recipe, Mapping):
        raise ShiftError("A shift recipe is a JSON object of settings, like {\"rotation\": 45}.")
    if len(json.dumps(recipe, default=str)) > MAX_RECIPE_BYTES:
        raise ShiftError(f"A shift recipe is a small JSON object (at most {MAX_RECIPE_BYTES // 1024} KB).")
    try:
        parsed = ShiftRecipe.model_validate(dict(recipe))
    except ValidationError as error:
        raise ShiftError(_sentence(error.errors()[0])) from None
    if parsed.skew >= 1:
        raise ShiftError("skew 1 leaves digits 5-9 with no examples at all: use at most 0.95.")
    return parsed


def _sentence(problem: Mapping[str, Any]) -> str:
    field = ".".join(str(part) for part in problem.get("loc", ())) or "recipe"
    kind, context = problem.get("type", ""), problem.get("ctx") or {}
    if kind == "extra_forbidden":
        return f"Unknown shift setting {field!r}: use {', '.join(FIELDS)}."
    info = ShiftRecipe.model_fields.get(field)
    got = problem.get("input")
    if kind in ("greater_than_equal", "less_than_equal") and info is not None:
        low, high = field_bounds(field)
        return f"{field} must be between {low:g} and {high:g} ({info.description}); got {got}."
    if kind == "literal_error":
        return f"{field} must be one of {context.get('expected', '')}; got {got!r}."
    return f"{field}: {problem.get('msg', 'invalid value')} (got {str(got)[:40]})."


def field_bounds(field: str) -> tuple[float, float]:
    """A numeric field's (lowest, highest) allowed value."""
    low = high = math.nan
    for rule in ShiftRecipe.model_fields[field].metadata:
        low = getattr(rule, "ge", low)
        high = getattr(rule, "le", high)
    return low, high


def build_shifted(
    images: torch.Tensor,
    labels: torch.Tensor,
    recipe: ShiftRecipe,
    seed: int = 0,
    photos: list[np.ndarray] | None = None,
) -> LabeledImages:
    """MNIST digits ``(N, 1, 28, 28)`` in [0, 1] shifted by ``recipe``: float32 ``(M, C, 28, 28)``
    (``M ≤ N`` when ``skew`` drops some of digits 5-9; ``C`` = 3 with a background). ``seed`` (with
    the recipe's own) decides every random draw; photos are needed for ``background="photos"``."""
    generator = torch.Generator().manual_seed(recipe.seed * 1_000_003 + seed)
    images, labels = _skewed(images[:, :1].float(), labels, recipe.skew, generator)
    if recipe.thickness:
        size = 2 * abs(recipe.thickness) + 1
        pooled = F.max_pool2d(images if recipe.thickness > 0 else -images, size, 1, abs(recipe.thickness))
        images = pooled if recipe.thickness > 0 else -pooled
    images = _warped(images, recipe, generator)
    if recipe.blur > 0:
        images = _blurred(images, recipe.blur)
    if recipe.occlusion:
        images = _occluded(images, recipe.occlusion, generator)
    if recipe.invert:
        images = 1 - images
    if recipe.background == "colour":
        images = _coloured(images, generator)
    elif recipe.background == "photos":
        images = _over_photos(images, photos, int(torch.randint(2**31 - 1, (1,), generator=generator)))
    if recipe.noise > 0:
        images = images + recipe.noise * torch.randn(images.shape, generator=generator)
    return LabeledImages(images.clamp_(0, 1).contiguous(), labels)


def _skewed(images, labels, skew: float, generator) -> tuple[torch.Tensor, torch.Tensor]:
    if skew <= 0:
        return images, labels
    rare = torch.isin(labels, torch.tensor(RARE_CLASSES))
    keep = ~rare | (torch.rand(len(labels), generator=generator) >= skew)
    return images[keep], labels[keep]


def _warped(images: torch.Tensor, recipe: ShiftRecipe, generator) -> torch.Tensor:
    """Rotation, tilt, scale, translation and elastic distortion, in one resampling."""
    count = len(images)
    if not (recipe.rotation or recipe.tilt or recipe.scale != 1 or recipe.translate or recipe.elastic):
        return images
    angles = torch.deg2rad(recipe.rotation + recipe.tilt * (2 * torch.rand(count, generator=generator) - 1))
    cos, sin = torch.cos(angles) / recipe.scale, torch.sin(angles) / recipe.scale
    shift = recipe.translate * 2 * (2 * torch.rand(count, 2, generator=generator) - 1)
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    if recipe.elastic > 0:
        field = torch.randn(count, 2, 5, 5, generator=generator) * 0.12 * recipe.elastic
        grid = grid + F.interpolate(field, size=images.shape[-2:], mode="bicubic", align_corners=False).permute(0, 2, 3, 1)
    return F.grid_sample(images, grid, align_corners=False, padding_mode="zeros")


def _blurred(images: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(2.5 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    images = F.conv2d(F.pad(images, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    return F.conv2d(F.pad(images, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))


def _occluded(images: torch.Tensor, patches: int, generator) -> torch.Tensor:
    count, _, height, width = images.shape
    rows, cols = torch.arange(height).view(1, -1, 1), torch.arange(width).view(1, 1, -1)
    images = images.clone()
    for _ in range(patches):
        size = torch.randint(5, 10, (count, 1, 1), generator=generator)
        top = (torch.rand(count, 1, 1, generator=generator) * (height - size)).long()
        left = (torch.rand(count, 1, 1, generator=generator) * (width - size)).long()
        inside = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
        images[:, 0][inside] = 0.5
    return images


def _coloured(images: torch.Tensor, generator) -> torch.Tensor:
    """Ink and background in two random colours far enough apart to read."""
    count = len(images)
    ink = torch.rand(count, 3, 1, 1, generator=generator)
    paper = torch.rand(count, 3, 1, 1, generator=generator)
    too_close = (ink - paper).abs().mean(dim=1, keepdim=True) < 0.35
    paper = torch.where(too_close, 1 - ink, paper)
    return images * ink + (1 - images) * paper


def _over_photos(images: torch.Tensor, photos: list[np.ndarray] | None, seed: int) -> torch.Tensor:
    if not photos:
        raise ShiftError("background 'photos' needs the BSDS500 photos, which are not available here: use 'colour'.")
    from .mnistm import blend_over_photos

    digits = (images[:, 0] * 255).round().to(torch.uint8).numpy()
    blended = blend_over_photos(digits, photos, seed)
    return torch.from_numpy(blended).permute(0, 3, 1, 2).float() / 255


#: the shipped pair whose source splits and start models a built domain uses, by its channels
BASE_PAIRS = {1: "mnist-usps", 3: "mnist-mnistm"}
CUSTOM = "custom"


@dataclass(frozen=True)
class ShiftedDomain(Domain):
    """A built domain: MNIST digits shifted by ``recipe`` (a visitor's, so it is never loaded by name)."""

    recipe: ShiftRecipe = field(default_factory=ShiftRecipe)

    def load(self, train: bool, data_directory: Any = None) -> LabeledImages:
        raise ShiftError("A built domain is made from its recipe (custom_pair), not loaded by name.")

    def render(self, digit: torch.Tensor, photos=()) -> torch.Tensor | None:
        """A prepared digit ``(1, 28, 28)`` as this domain would show it (None: photos unavailable)."""
        try:
            recipe = self.recipe.model_copy(update={"skew": 0.0})  # one digit is never dropped
            shifted = build_shifted(digit[None, :1], torch.zeros(1, dtype=torch.long), recipe, 7, list(photos))
        except ShiftError:
            return None
        return shifted.images[0]


def custom_spec(recipe: ShiftRecipe) -> PairSpec:
    """MNIST → the domain ``recipe`` builds, as a pair record (no data built): its models start
    from the shipped pair with the recipe's channels (``BASE_PAIRS``), with that pair's backbone."""
    base = resolve_pair(BASE_PAIRS[recipe.channels])
    domain = ShiftedDomain(CUSTOM, "your domain", recipe.channels, "shift", "your domain's", recipe)
    return PairSpec(
        CUSTOM, base.source, domain, "MNIST → your domain", recipe.describe(), base.backbone, models_from=base.name
    )


def custom_pair(recipe: ShiftRecipe, base: DomainPair, photos: list[np.ndarray] | None = None) -> DomainPair:
    """MNIST → the domain ``recipe`` builds, on ``base``'s source splits (``BASE_PAIRS[recipe.channels]``):
    target training digits are ``base``'s held-out source validation digits (no source model trained
    on them), target test digits are MNIST's test digits, each shifted with its own draw."""
    if base.channels != recipe.channels:
        raise ValueError(f"a {recipe.channels}-channel domain needs the {BASE_PAIRS[recipe.channels]} pair's splits")
    spec = custom_spec(recipe)
    held_out, test = base.source_val, base.source_test
    target_train = build_shifted(held_out.images[:, :1], held_out.labels, recipe, seed=1, photos=photos)
    target_test = build_shifted(test.images[:, :1], test.labels, recipe, seed=2, photos=photos)
    return DomainPair(spec, base.source_train, target_train.without_labels(), test, target_test, held_out)
