"""Predictions and translations for a visitor or a program: the tabs and the API endpoints both call
these functions and only format their results differently (live runs are ``live_runs``).

* ``prepare_picture``: a drawn canvas, an uploaded file or an array → a digit framed as MNIST's.
* ``predict_digit``: every model of a pair (shipped, then the visitor's own) on the digit as drawn
  and in the target's style.
* ``translate_digit``: the pair's CycleGAN there and back.
* ``examples_for``: one test digit of each class from both domains of a pair.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from ..data import PAIRS, Domain, PairSpec
from ..data.digit_input import DigitInputError, prepare_digit
from ..data.shift import CUSTOM, ShiftedDomain
from ..methods.cyclegan import translate
from ..workflows.digit_check import digit_score
from .appdata import AppData
from .domains import PagePair, resolve_page_pair
from .render import with_channels
from .session import Session
from .zoo import ModelZoo

AS_DRAWN = "as drawn (MNIST-like)"
EXAMPLES_PER_DOMAIN = 10


def prepare_picture(picture) -> tuple[torch.Tensor, list[str]]:
    """A drawn canvas (Sketchpad value), an uploaded file path or an array → prepared digit, notes.
    Raises ``DigitInputError`` (a sentence for the visitor) when it cannot be read as a digit."""
    if isinstance(picture, dict):  # the Sketchpad's {"background", "layers", "composite"}
        picture = picture.get("composite")
    if picture is None:
        raise DigitInputError("The canvas is blank: draw a digit first.")
    return prepare_digit(picture)


def style_renderings(digit: torch.Tensor, data: AppData, page: PagePair | None = None) -> dict[str, torch.Tensor]:
    """The digit in every target domain's style (domain style → image), and in the visitor's own
    domain's when ``page`` is it; MNIST-M's needs the photos."""
    photos = data.photos()
    renderings = {}
    for spec in [*PAIRS.values(), *([page.spec] if page is not None and page.built else [])]:
        rendered = spec.target.render(digit, photos)
        if rendered is not None:
            renderings[spec.target.style] = rendered
    return renderings


def target_style_column(spec: PairSpec) -> str:
    return f"in {spec.target.title} style"


def digit_inputs(
    spec: PairSpec, digit: torch.Tensor, renderings: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Column name → ``(C, 28, 28)`` input for this pair's models: the digit as drawn, and in the
    pair's target style when that can be rendered."""
    inputs = {AS_DRAWN: digit}
    if spec.target.style in renderings:
        inputs[target_style_column(spec)] = renderings[spec.target.style]
    return inputs


@dataclass
class ModelPrediction:
    method: str
    title: str
    owner: str  # "shipped" or "yours"
    note: str  # e.g. "94.3% on the USPS test set"
    probabilities: dict[str, torch.Tensor]  # input column → (10,)


@dataclass
class Prediction:
    pair: str
    inputs: dict[str, torch.Tensor]
    models: list[ModelPrediction]
    seconds: float
    notes: list[str] = field(default_factory=list)
    #: the digit check's score of the first input, and whether that is low for a digit
    digit_score: float | None = None
    unlike_a_digit: bool = False


NOT_A_DIGIT = (
    "This does not look like a digit (the app's digit check, trained on digits of every domain against "
    "letters, shapes and scribbles, says so): the predictions below are guesses."
)


def predict_digit(zoo: ModelZoo, session: Session, page: PagePair, inputs: dict[str, torch.Tensor]) -> Prediction:
    """Every model of the pair (shipped, then the visitor's own) on every input, and the "is this a
    digit?" check on the first input (see ``workflows.digit_check``)."""
    spec = page.spec
    batch = torch.stack([with_channels(image, spec.channels) for image in inputs.values()])
    models, score = [], None
    started = time.perf_counter()
    for entry in page.shipped + session.own_models(page.name):
        with torch.no_grad():
            logits, _ = entry.model(batch)
        probs = torch.softmax(logits.float(), dim=1)
        accuracy = entry.target_acc
        note = f"{100 * accuracy:.1f}% on the {spec.target.title} test set" if accuracy is not None else ""
        models.append(ModelPrediction(entry.method, entry.title, entry.owner, note, dict(zip(inputs, probs))))
    check = zoo.digit_check()
    if check is not None:
        score = float(digit_score(check[0], batch[:1])[0])
    unlike = check is not None and score < check[1]
    prediction = Prediction(
        page.name, inputs, models, time.perf_counter() - started, digit_score=score, unlike_a_digit=unlike
    )
    if unlike:
        prediction.notes.append(NOT_A_DIGIT)
    return prediction


def predict_picture(zoo: ModelZoo, data: AppData, session: Session, pair: str, picture) -> Prediction:
    """``prepare_picture`` then ``predict_digit`` on the digit as drawn and in the target style."""
    digit, notes = prepare_picture(picture)
    page = resolve_page_pair(zoo, data, pair, session)
    prediction = predict_digit(zoo, session, page, digit_inputs(page.spec, digit, style_renderings(digit, data, page)))
    prediction.notes = notes + prediction.notes
    return prediction


def missing_note(page: PagePair) -> str:
    if page.built:
        return (
            f"Your domain: {page.spec.shift}. Your models trained on a built domain are listed as yours; the "
            "Adapt button of the Shift tab (or the Adapt tab, with this pair chosen) trains one."
        )
    if not page.missing:
        return ""
    return (
        f"No trained model yet for {', '.join(sorted(page.missing))} on this pair: train one in the Adapt tab, "
        f"or run `python -m da_demo pretrain --pairs {page.name}`."
    )


@dataclass
class Example:
    image: torch.Tensor  # (C, 28, 28) as stored in the test set
    label: int
    domain: Domain  # MNIST, USPS, ... or a visitor's built domain

    @property
    def caption(self) -> str:
        if isinstance(self.domain, ShiftedDomain):
            return f"test digit of your domain, label {self.label}"
        return f"{self.domain.title} test digit, label {self.label}"

    @property
    def short_caption(self) -> str:
        """Short enough for a gallery tile: ``USPS · 7``."""
        return f"{self.domain.title} · {self.label}"


def examples_for(page: PagePair) -> list[Example]:
    """One test digit of each class from the source and from the target domain ([] without data;
    a built domain that made a digit rare may lack it)."""
    loaded, spec = page.data, page.spec
    if loaded is None:
        return []
    picked = []
    for split, domain in ((loaded.source_test, spec.source), (loaded.target_test, spec.target)):
        for label in range(EXAMPLES_PER_DOMAIN):
            found = torch.nonzero(split.labels == label)
            if len(found):
                picked.append(Example(split.images[int(found[0])][: domain.channels], label, domain))
    return picked


BUILT_HAS_NO_CYCLEGAN = (
    "Your own domain has no CycleGAN: it is trained for the shipped pairs only (choose one of them above)."
)

# --- CycleGAN ------------------------------------------------------------------------------------


def translate_digit(
    zoo: ModelZoo, pair: str, image: torch.Tensor, to_target: bool = True, session: Session | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``image (C, 28, 28)`` or a batch → (translated, reconstructed) with the pair's CycleGAN
    generators: the visitor's own when they trained one, else the shipped ones.

    Raises ``DigitInputError`` (a visitor-facing message) when the pair has no CycleGAN model."""
    if pair == CUSTOM:
        raise DigitInputError(BUILT_HAS_NO_CYCLEGAN)
    own = session.trained.get((pair, "cyclegan")) if session else None
    generators = own.generators if own else zoo.pair(pair).generators
    if generators is None:
        raise DigitInputError(
            f"There is no trained CycleGAN for {PAIRS[pair].title} yet: train it with "
            f"`python -m da_demo pretrain --pairs {pair} --methods cyclegan`."
        )
    forward, backward = generators if to_target else generators[::-1]
    return translate(forward, backward, with_channels(image, PAIRS[pair].channels))
