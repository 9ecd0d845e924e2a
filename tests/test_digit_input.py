"""Preparing drawn and uploaded digits the way MNIST prepared its own."""

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from da_demo.data import DOMAINS
from da_demo.data.digit_input import DigitInputError, open_image, prepare_digit


def drawn_seven(size=280, ink=(0, 0, 0), paper=(255, 255, 255), mode="RGB"):
    """A thick '7' as a visitor would draw it on the canvas."""
    image = Image.new(mode, (size, size), paper)
    pen = ImageDraw.Draw(image)
    s = size / 280
    pen.line([(70 * s, 60 * s), (200 * s, 60 * s), (120 * s, 230 * s)], fill=ink, width=int(22 * s))
    return image


def centre_of_mass(digit: torch.Tensor) -> tuple[float, float]:
    rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    return float((rows * digit[0]).sum() / digit.sum()), float((cols * digit[0]).sum() / digit.sum())


def test_a_drawn_digit_is_framed_like_mnist():
    digit, notes = prepare_digit(np.asarray(drawn_seven()))
    assert digit.shape == (1, 28, 28) and 0 <= digit.min() and digit.max() <= 1
    rows, cols = torch.nonzero(digit[0] > 0.15, as_tuple=True)
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 in (19, 20, 21)  # the 20x20 box
    assert all(abs(c - 14.0) <= 0.5 for c in centre_of_mass(digit))
    assert digit[0, 0].sum() == 0 and digit[0, :, 0].sum() == 0  # black border, white ink
    assert notes == []


def test_a_centred_mnist_digit_survives_preparation(data_dir):
    from da_demo.data.pairs import load_domain

    digits = load_domain("mnist", False, data_dir).images[:20]
    correlations = []
    for original in digits:
        big = Image.fromarray((255 - original[0].numpy() * 255).astype(np.uint8)).resize(
            (280, 280), Image.BILINEAR
        )
        prepared, _ = prepare_digit(big)
        correlations.append(np.corrcoef(prepared.flatten().numpy(), original.flatten().numpy())[0, 1])
        assert all(abs(a - b) <= 1.0 for a, b in zip(centre_of_mass(prepared), centre_of_mass(original)))
    # the same strokes at the same place; a one-pixel rounding difference on a thin stroke costs some
    assert min(correlations) > 0.8 and np.mean(correlations) > 0.9


def test_polarity_and_transparency_are_handled():
    reference, _ = prepare_digit(drawn_seven())
    white_on_black, _ = prepare_digit(drawn_seven(ink=(255, 255, 255), paper=(0, 0, 0)))
    transparent = drawn_seven(
        ink=(0, 0, 0, 255), paper=(0, 0, 0, 0), mode="RGBA"
    )  # black ink, transparent paper
    from_rgba, _ = prepare_digit(transparent)
    buffer = io.BytesIO()
    transparent.save(buffer, format="PNG")
    from_png, _ = prepare_digit(buffer.getvalue())
    for other in (white_on_black, from_rgba, from_png):
        assert (other - reference).abs().mean() < 0.02


@pytest.mark.parametrize(
    "picture",
    [
        np.full((280, 280, 4), 255, np.uint8),  # blank white canvas
        np.zeros((280, 280, 3), np.uint8),  # blank black canvas
        np.asarray(Image.new("RGBA", (100, 100), (0, 0, 0, 0))),  # fully transparent
    ],
)
def test_a_blank_canvas_is_refused_clearly(picture):
    with pytest.raises(DigitInputError, match="blank"):
        prepare_digit(picture)


def test_bad_files_get_friendly_messages(tmp_path):
    with pytest.raises(DigitInputError, match="not a readable image"):
        prepare_digit(b"this is a text file, not a picture")
    png = io.BytesIO()
    drawn_seven().save(png, format="PNG")
    with pytest.raises(DigitInputError, match="not a readable image"):
        prepare_digit(png.getvalue()[:300])  # truncated
    with pytest.raises(DigitInputError, match="under 20 MB"):
        prepare_digit(b"\0" * (21 * 1024 * 1024))


def test_a_huge_picture_is_scaled_down_and_still_read(tmp_path):
    path = tmp_path / "huge.png"
    drawn_seven(size=4000).save(path)
    digit, notes = prepare_digit(str(path))
    assert any("4000×4000" in note for note in notes)
    reference, _ = prepare_digit(drawn_seven())
    assert (digit - reference).abs().mean() < 0.03
    image, _ = open_image(str(path))
    assert max(image.size) <= 512


def test_each_domain_renders_a_drawn_digit_in_its_style():
    digit, _ = prepare_digit(drawn_seven())
    assert torch.equal(DOMAINS["mnist"].render(digit), digit)  # already framed as MNIST's
    usps = DOMAINS["usps"].render(digit)
    rows, cols = torch.nonzero(usps[0] > 0.15, as_tuple=True)
    assert usps.shape == (1, 28, 28) and rows.max() - rows.min() >= 24  # fills the frame like USPS
    photo = (np.random.default_rng(0).random((60, 80, 3)) * 255).astype(np.uint8)
    assert DOMAINS["mnistm"].render(digit) is None  # it needs a photo to blend over
    mnistm = DOMAINS["mnistm"].render(digit, [photo])
    assert mnistm.shape == (3, 28, 28) and 0 <= mnistm.min() and mnistm.max() <= 1
    assert torch.equal(mnistm, DOMAINS["mnistm"].render(digit, [photo]))  # the same drawing, the same crop
    noisy = DOMAINS["noisy"].render(digit)
    assert torch.equal(noisy, DOMAINS["noisy"].render(digit)) and not torch.equal(noisy, digit)
