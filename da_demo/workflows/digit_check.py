""" "Is this a digit?": a small network that tells digits (of every domain, and as visitors draw
them) from pictures that are not digits (letters, shapes, scribbles, noise).

Trained on digits from the training splits only: MNIST, MNIST drawn as visitors draw
(``data.drawn_digits``) and the unlabeled target-domain training images of every pair (USPS,
MNIST-M, noisy MNIST; no label is read), against generated non-digits (``data.non_digits``, seed 1).
Its threshold keeps ``KEEP_DIGITS`` of each group of held-out training-split digits (disjoint from
the ones trained on; generated non-digits of seed 2 report what it flags). No test-set picture of
any domain is used to train or to choose anything; ``measure`` then reports, on test sets and
non-digits of a third seed, how many real target-domain test digits are flagged and how many
non-digits are caught. Predictions are always shown; a low score only adds a notice.

``python -m da_demo calibrate`` writes ``checkpoints/digit_check.safetensors`` and ``.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from ..data.digit_input import DigitInputError, prepare_digit
from ..data.drawn_digits import drawn_digits
from ..data.non_digits import non_digit_pictures
from ..data.pairs import DomainPair
from ..models import predict
from ..models.backbones import DigitClassifier, lean_cnn

CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"
DIGIT_CHECK_FILE = CHECKPOINTS / "digit_check.json"
DIGIT_CHECK_WEIGHTS = CHECKPOINTS / "digit_check.safetensors"
KEEP_DIGITS = 0.995  # of each group of held-out training-split digits
TRAIN_PER_DOMAIN, CALIBRATION_PER_DOMAIN = 4000, 1500
NON_DIGITS_TRAIN, NON_DIGITS_CALIBRATION, NON_DIGITS_MEASURE = 3000, 300, 200
TEST_DIGITS_PER_DOMAIN = 20
CHANNELS = 3  # every input as colour: grey pictures are repeated


def detector() -> DigitClassifier:
    """Digit (class 1) or not (class 0), from a (3, 28, 28) picture."""
    return lean_cnn(in_channels=CHANNELS, num_classes=2, width=16, norm="batch")


def digit_score(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The detector's margin for "digit" (logit of digit minus logit of not), per image."""
    logits, _ = predict(model, _colour(images))
    return logits[:, 1] - logits[:, 0]


def _colour(images: torch.Tensor) -> torch.Tensor:
    return images.expand(-1, CHANNELS, -1, -1) if images.shape[1] == 1 else images


def prepared(pictures: list[np.ndarray]) -> torch.Tensor:
    """Pictures as the app prepares a drawing or an upload (blank ones are refused there: left out)."""
    digits = []
    for picture in pictures:
        try:
            digits.append(prepare_digit(picture)[0])
        except DigitInputError:
            continue
    return torch.stack(digits) if digits else torch.zeros(0, 1, 28, 28)


def _split(images: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Disjoint training and calibration parts of a training split (a quarter at most calibrates)."""
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    calibrating = min(CALIBRATION_PER_DOMAIN, len(images) // 4)
    training = min(TRAIN_PER_DOMAIN, len(images) - calibrating)
    return images[order[:training]], images[order[training : training + calibrating]]


def digit_groups(pairs: list[DomainPair]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Digits to train on and to calibrate on, by group (each a training split, parts disjoint)."""
    source = pairs[0].source_train
    train, calibration = {}, {}
    train["MNIST"], calibration["MNIST"] = _split(source.images, 0)
    train["drawn"] = drawn_digits(source, TRAIN_PER_DOMAIN, seed=11).images
    calibration["drawn"] = drawn_digits(pairs[0].source_val, CALIBRATION_PER_DOMAIN, seed=12).images
    for pair in pairs:
        train[pair.spec.target.title], calibration[pair.spec.target.title] = _split(pair.target_train.images, 1)
    return train, calibration


def train_detector(
    pairs: list[DomainPair],
    epochs: int = 10,
    seed: int = 0,
    non_digits: tuple[int, int] = (NON_DIGITS_TRAIN, NON_DIGITS_CALIBRATION),
    log: Callable = print,
):
    """The detector trained on ``pairs``' training splits and generated non-digits (``non_digits``:
    how many of each kind to train and to calibrate on), and its threshold with what it keeps and
    flags on the calibration sets."""
    torch.manual_seed(seed)
    train, calibration = digit_groups(pairs)
    negatives = prepared([p for kind in non_digit_pictures(non_digits[0], seed=1).values() for p in kind])
    positives = torch.cat([_colour(images) for images in train.values()])
    images = torch.cat([positives, _colour(negatives)])
    labels = torch.cat([torch.ones(len(positives)), torch.zeros(len(negatives))]).long()
    weights = torch.tensor([len(positives) / len(negatives), 1.0])  # the two classes count alike
    model = detector()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=3e-3, total_steps=epochs * -(-len(images) // 256)
    )
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for epoch in range(epochs):
        order, total = torch.randperm(len(images), generator=generator), 0.0
        for start in range(0, len(order), 256):
            batch = order[start : start + 256]
            picture = images[batch]
            shift = torch.randint(-2, 3, (2,), generator=generator).tolist()  # a little translation
            logits, _ = model(torch.roll(picture, shifts=shift, dims=(2, 3)))
            loss = F.cross_entropy(logits, labels[batch], weight=weights)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(batch)
        log(f"digit check, epoch {epoch + 1}/{epochs}: loss {total / len(images):.4f}")
    model.eval()
    kept = {name: digit_score(model, group) for name, group in calibration.items()}
    threshold = min(float(torch.quantile(scores, 1 - KEEP_DIGITS)) for scores in kept.values())
    flagged = _flagged(model, threshold, non_digit_pictures(non_digits[1], seed=2))
    return model, {
        "threshold": round(threshold, 4),
        "calibration_digits_kept": {name: _share(scores >= threshold) for name, scores in kept.items()},
        "calibration_non_digits_flagged": flagged,
    }


def _share(mask: torch.Tensor) -> float:
    return round(float(mask.float().mean()), 4)


def _flagged(model, threshold: float, pictures: dict[str, list[np.ndarray]]) -> dict[str, float]:
    return {kind: _share(digit_score(model, prepared(group)) < threshold) for kind, group in pictures.items()}


def measure(model: torch.nn.Module, threshold: float, pairs: list[DomainPair]) -> dict:
    """What the check does on pictures it never saw: ``TEST_DIGITS_PER_DOMAIN`` real test digits of
    each target domain, as the app shows a picked example (flagged: should be none), MNIST test
    digits redrawn as visitors draw, and generated non-digits of another seed (flagged: most)."""
    test_flagged = {
        pair.spec.target.title: int(
            (digit_score(model, pair.target_test.subset(TEST_DIGITS_PER_DOMAIN, seed=5).images) < threshold).sum()
        )
        for pair in pairs
    }
    drawn = drawn_digits(pairs[0].source_test, 1000, seed=1).images
    caught = _flagged(model, threshold, non_digit_pictures(NON_DIGITS_MEASURE, seed=3))
    return {
        "target_test_digits_flagged": test_flagged,
        "target_test_digits": TEST_DIGITS_PER_DOMAIN * len(pairs),
        "drawn_mnist_test_digits_kept": _share(digit_score(model, drawn) >= threshold),
        "mnist_test_digits_kept": _share(digit_score(model, pairs[0].source_test.images) >= threshold),
        "non_digits_flagged": caught,
        "letters_shapes_scribbles_flagged": round(
            float(np.mean([caught[kind] for kind in ("letters", "shapes", "scribbles")])), 4
        ),
    }


def save_detector(model: torch.nn.Module, report: dict, directory: Path = CHECKPOINTS) -> Path:
    weights = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    save_file(weights, directory / DIGIT_CHECK_WEIGHTS.name)
    path = directory / DIGIT_CHECK_FILE.name
    path.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    return path


def load_detector(directory: Path = CHECKPOINTS) -> tuple[torch.nn.Module, float] | None:
    """The shipped detector and its threshold (None where it has not been trained)."""
    weights, report = directory / DIGIT_CHECK_WEIGHTS.name, directory / DIGIT_CHECK_FILE.name
    if not weights.is_file() or not report.is_file():
        return None
    threshold = json.loads(report.read_text()).get("threshold")
    if threshold is None:
        return None
    model = detector()
    model.load_state_dict(load_file(weights))
    return model.eval(), float(threshold)
