"""MNIST-M (Ganin & Lempitsky, 2015): MNIST digits blended over crops of BSDS500 photos.

Each digit ``d`` (grayscale in [0, 255], replicated to RGB) is combined with a random 28x28 crop
``c`` of a random BSDS500 training photo as ``|c - d|`` per channel, so the digit shows as the
photo's colours inverted. The build is deterministic for a seed and cached on disk once made.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.datasets.utils import download_and_extract_archive

from .images import LabeledImages
from .locations import LAYOUT_HELP, DataMissingError, cache_dir, cached_tensors, data_dir
from .mnist import load_mnist

BSDS_URL = "http://www.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/BSR/BSR_bsds500.tgz"
BSDS_TRAIN = Path("BSDS500") / "images" / "train"
RECIPE_VERSION = 1  # bump when the blend changes, so stale caches are rebuilt


def bsds_photo_paths(data_directory: str | Path | None = None) -> list[Path]:
    """The 200 BSDS500 training photos, sorted by name (downloaded when no data directory is set)."""
    directory = data_dir(data_directory)
    folder = (directory if directory is not None else cache_dir()) / BSDS_TRAIN
    photos = sorted(folder.glob("*.jpg")) if folder.is_dir() else []
    if photos:
        return photos
    if directory is not None:
        raise DataMissingError(
            f"The BSDS500 photos for MNIST-M are missing: no *.jpg in {folder}.\n{LAYOUT_HELP}"
        )
    try:
        download_and_extract_archive(BSDS_URL, str(cache_dir() / "downloads"))
    except Exception as error:
        raise DataMissingError(f"BSDS500 could not be downloaded ({error}).\n{LAYOUT_HELP}") from error
    extracted = cache_dir() / "downloads" / "BSR" / "BSDS500" / "data" / "images" / "train"
    folder.mkdir(parents=True, exist_ok=True)
    for photo in extracted.glob("*.jpg"):
        shutil.copy2(photo, folder / photo.name)
    return sorted(folder.glob("*.jpg"))


def load_photos(paths: list[Path]) -> list[np.ndarray]:
    """Photos as uint8 ``(H, W, 3)`` arrays."""
    return [np.asarray(Image.open(path).convert("RGB")) for path in paths]


def blend_over_photos(digits: np.ndarray, photos: list[np.ndarray], seed: int) -> np.ndarray:
    """Blend uint8 digits ``(N, H, W)`` over random photo crops: uint8 ``(N, H, W, 3)``, ``|crop - digit|``."""
    rng = np.random.default_rng(seed)
    count, height, width = digits.shape
    which = rng.integers(len(photos), size=count)
    corner = rng.random((count, 2))
    blended = np.empty((count, height, width, 3), np.uint8)
    for index in range(count):
        photo = photos[which[index]]
        top = int(corner[index, 0] * (photo.shape[0] - height + 1))
        left = int(corner[index, 1] * (photo.shape[1] - width + 1))
        crop = photo[top : top + height, left : left + width].astype(np.int16)
        blended[index] = np.abs(crop - digits[index, :, :, None].astype(np.int16))
    return blended


def load(train: bool, data_directory: str | Path | None = None) -> LabeledImages:
    """This domain's split (see ``domains.Domain``)."""
    return load_mnistm(train, data_directory)


def render(digit: torch.Tensor, photos=()) -> torch.Tensor | None:
    """MNIST-M's blend over a crop of one of ``photos`` (uint8 ``(H, W, 3)``) → ``(3, 28, 28)``; the
    same drawing always gets the same photo and crop. None without photos."""
    if not len(photos):
        return None
    seed = int(digit.sum().item() * 1000) % 10_000
    digits = (digit[0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()[None]
    blended = blend_over_photos(digits, [photos[seed % len(photos)]], seed=seed)[0]
    return torch.from_numpy(blended).permute(2, 0, 1).float() / 255.0


def load_mnistm(train: bool, data_directory: str | Path | None = None, seed: int = 0) -> LabeledImages:
    """MNIST-M as float32 ``(N, 3, 28, 28)`` in [0, 1], labels from MNIST; built once, then cached."""
    split = "train" if train else "test"
    path = cache_dir() / "mnistm" / f"mnistm-v{RECIPE_VERSION}-{split}-seed{seed}.safetensors"

    def build() -> dict[str, torch.Tensor]:
        mnist = load_mnist(train, data_directory)
        digits = (mnist.images[:, 0] * 255).round().to(torch.uint8).numpy()
        photos = load_photos(bsds_photo_paths(data_directory))
        # a different stream per split, so test crops are not train crops
        blended = blend_over_photos(digits, photos, seed=seed * 2 + (0 if train else 1))
        return {"images": torch.from_numpy(blended).permute(0, 3, 1, 2), "labels": mnist.labels}

    tensors = cached_tensors(path, build)
    return LabeledImages(tensors["images"].float().div_(255.0), tensors["labels"].long())
