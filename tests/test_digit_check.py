""" "Is this a digit?": generated non-digits, a detector that never sees a test picture, and the
shipped check on real digits of every domain and on fresh letters, shapes and scribbles."""

from dataclasses import replace

import numpy as np
import pytest

from da_demo.data.digit_input import prepare_digit
from da_demo.data.non_digits import KINDS, non_digit_pictures
from da_demo.workflows.digit_check import digit_score, load_detector, prepared, train_detector


def test_non_digits_are_reproducible_pictures_the_app_prepares_like_a_drawing():
    first, again, other = (non_digit_pictures(3, seed) for seed in (4, 4, 5))
    assert list(first) == list(KINDS)
    assert all(np.array_equal(a, b) for kind in KINDS for a, b in zip(first[kind], again[kind]))
    assert not np.array_equal(first["scribbles"][0], other["scribbles"][0])
    for kind in ("letters", "shapes", "scribbles"):
        for picture in first[kind]:
            assert picture.shape == (200, 200, 3) and prepare_digit(picture)[0].shape == (1, 28, 28)


class Forbidden:
    """Stands in for a test set: reading any part of it fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"the digit check read a test set ({name})")

    def __len__(self):
        raise AssertionError("the digit check read a test set (len)")


def test_training_and_calibrating_the_check_reads_no_test_picture(tiny_pair):
    spied = replace(tiny_pair, source_test=Forbidden(), target_test=Forbidden())
    model, report = train_detector([spied], epochs=1, non_digits=(20, 10), log=lambda line: None)
    assert set(report["calibration_digits_kept"]) == {"MNIST", "drawn", "USPS"}
    assert all(share >= 0.99 for share in report["calibration_digits_kept"].values())
    assert np.isfinite(report["threshold"])


def test_the_shipped_check_keeps_real_digits_of_every_domain_and_flags_fresh_scribbles(data_dir):
    from da_demo.data import PAIRS
    from da_demo.data.pairs import load_pair

    shipped = load_detector()
    assert shipped is not None, "run `python -m da_demo calibrate`"
    model, threshold = shipped
    for name in PAIRS:  # training-split target digits (unlabeled), the way an example is shown
        digits = load_pair(name, data_dir).target_train.subset(200, seed=9).images
        assert float((digit_score(model, digits) >= threshold).float().mean()) >= 0.98, name
    fresh = non_digit_pictures(40, seed=77)  # a seed the check was neither trained nor calibrated on
    for kind in ("letters", "shapes", "scribbles"):
        flagged = float((digit_score(model, prepared(fresh[kind])) < threshold).float().mean())
        assert flagged >= 0.7, (kind, flagged)


@pytest.mark.parametrize("drawing", ["zigzag", "smiley"])
def test_a_drawn_scribble_gets_the_notice_and_a_drawn_seven_does_not(drawing, data_dir):
    from PIL import Image, ImageDraw

    from da_demo.ui.appdata import AppData
    from da_demo.ui.predicting import NOT_A_DIGIT, predict_picture
    from da_demo.ui.session import Session
    from da_demo.ui.zoo import ModelZoo

    def draw(*strokes) -> np.ndarray:
        picture = Image.new("RGB", (280, 280), "white")
        for stroke in strokes:
            ImageDraw.Draw(picture).line(stroke, fill="black", width=18, joint="curve")
        return np.asarray(picture)

    face = [(140 + 110 * np.cos(a), 140 + 110 * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 40)]
    scribble = {
        "zigzag": draw([(40, 60), (90, 220), (140, 60), (190, 220), (240, 60)]),
        "smiley": draw(face, [(100, 100), (102, 112)], [(180, 100), (182, 112)], [(90, 170), (140, 200), (190, 170)]),
    }[drawing]
    zoo, data = ModelZoo(), AppData(str(data_dir))
    noticed = predict_picture(zoo, data, Session(), "mnist-usps", scribble)
    seven = predict_picture(zoo, data, Session(), "mnist-usps", draw([(70, 60), (210, 60), (120, 230)]))
    assert NOT_A_DIGIT in noticed.notes and NOT_A_DIGIT not in seven.notes
