""" "Is this a digit?": a score from the source-only model that tells digits from pictures that are
not digits, calibrated on MNIST test digits against generated non-digits.

The score is the model's *energy* ``logsumexp(logits)`` (Liu et al., NeurIPS 2020): networks give
larger logits to inputs like their training data. The threshold keeps 95% of the drawn-digits check
set (MNIST test digits redrawn as visitors draw them and prepared as the app prepares a drawing:
calibrating on MNIST's own digits instead flagged a quarter of drawings); the calibration reports
how many MNIST test digits it keeps and how many generated non-digits of each kind fall below it.
Predictions are always shown; a low score only adds a notice.

``python -m da_demo calibrate`` writes ``checkpoints/digit_check.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..data.digit_input import DigitInputError, prepare_digit
from ..data.drawn_digits import drawn_digits
from ..data.pairs import DomainPair
from ..models import predict

DIGIT_CHECK_FILE = Path(__file__).resolve().parents[2] / "checkpoints" / "digit_check.json"
KEEP_DIGITS = 0.95
SIZE = 200


def energy(logits: torch.Tensor) -> torch.Tensor:
    """``logsumexp_k logits_k`` per row: high for inputs like the training digits."""
    return torch.logsumexp(logits.float(), dim=1)


def non_digits(count: int, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """Pictures that are not digits, by kind, as a visitor might upload them (RGB uint8, 200×200)."""
    rng = np.random.default_rng(seed)
    kinds: dict[str, list[np.ndarray]] = {
        "noise": [],
        "colour noise": [],
        "blank-ish": [],
        "text": [],
        "shapes": [],
    }
    words = ["hello", "cat", "ABC", "xyz", "draw", "OK?", "#&%", "pixel", "##", "~~"]
    for index in range(count):
        kinds["noise"].append(np.repeat(rng.integers(0, 256, (SIZE, SIZE, 1), dtype=np.uint8), 3, axis=2))
        kinds["colour noise"].append(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))
        faint = np.full((SIZE, SIZE, 3), 255, np.uint8)
        y, x = rng.integers(20, SIZE - 40, 2)
        faint[y : y + rng.integers(5, 30), x : x + rng.integers(5, 30)] = rng.integers(150, 230)
        kinds["blank-ish"].append(faint)
        picture = Image.new("RGB", (SIZE, SIZE), "white")
        ImageDraw.Draw(picture).text(
            (rng.integers(0, 40), rng.integers(40, 120)),
            words[index % len(words)],
            fill="black",
            font_size=int(rng.integers(40, 70)),
        )
        kinds["text"].append(np.asarray(picture))
        picture = Image.new("RGB", (SIZE, SIZE), "white")
        draw = ImageDraw.Draw(picture)
        for _ in range(int(rng.integers(3, 8))):
            box = sorted(rng.integers(0, SIZE, 2)), sorted(rng.integers(0, SIZE, 2))
            draw.rectangle(
                [box[0][0], box[1][0], box[0][1], box[1][1]], outline="black", width=int(rng.integers(3, 12))
            )
        kinds["shapes"].append(np.asarray(picture))
    return kinds


def _prepared(pictures: list[np.ndarray]) -> torch.Tensor:
    digits = []
    for picture in pictures:
        try:
            digits.append(prepare_digit(picture)[0])
        except DigitInputError:  # refused before any model sees it (a blank picture): nothing to score
            continue
    return torch.stack(digits) if digits else torch.zeros(0, 1, 28, 28)


def calibrate(pair: DomainPair, source_only: torch.nn.Module, negatives: int = 200) -> dict:
    """The energy threshold that keeps ``KEEP_DIGITS`` of the pair's source test digits, and the share
    of each kind of generated non-digit below it (flagged)."""
    channels = pair.channels
    drawn = drawn_digits(pair.source_test, count=1000, seed=1).images.expand(-1, channels, -1, -1)
    drawn_scores = energy(predict(source_only, drawn)[0]).numpy()
    threshold = float(np.quantile(drawn_scores, 1 - KEEP_DIGITS))
    digits = pair.source_test.subset(2000, seed=0).images
    digits_kept = float((energy(predict(source_only, digits)[0]).numpy() >= threshold).mean())
    flagged = {}
    for kind, pictures in non_digits(negatives).items():
        prepared = _prepared(pictures)
        if len(prepared) == 0:
            flagged[kind] = None
            continue
        scores = energy(predict(source_only, prepared.expand(-1, channels, -1, -1))[0]).numpy()
        flagged[kind] = round(float((scores < threshold).mean()), 3)
    return {
        "threshold": round(threshold, 4),
        "drawn_digits_kept": KEEP_DIGITS,
        "mnist_test_digits_kept": round(digits_kept, 3),
        "non_digits_flagged": flagged,
        "score": "energy = logsumexp(source-only logits)",
    }


def write_calibration(calibrations: dict[str, dict], path: Path = DIGIT_CHECK_FILE) -> Path:
    path.write_text(json.dumps(calibrations, indent=1, sort_keys=True) + "\n")
    return path


def read_calibration(path: Path = DIGIT_CHECK_FILE) -> dict[str, dict]:
    return json.loads(path.read_text()) if path.is_file() else {}
