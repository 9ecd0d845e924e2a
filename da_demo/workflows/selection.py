"""Choosing without target labels: which trial and which step of it to ship, from the sweep's records.

* ``pick``: the (trial, step) with the best score of **one validator**, among all evaluation points
  of all trials of a pair and method. It reads validator scores only (a test shuffles and removes
  the target accuracies and checks that no pick changes).
* ``oracle``: the point with the best target-test accuracy: **uses target labels, reference only**,
  to show how much a label-free choice gives away.
* ``choose_validator``: which validator decides for a pair, itself chosen without that pair's
  target labels: leave-one-pair-out, the validator whose scores ranked the points best (mean
  Spearman ρ with target accuracy over methods) on the *other* pairs.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..artifacts.schemas import SelectionFile, SweepRecord, read_document
from ..data import PAIRS
from ..models import backbone_variants
from ..validators import (
    ENSEMBLE,
    HANDWRITING_MARGIN,
    PRIOR_MATCHED,
    classes_from_text,
    collapsed,
    ensemble_agreement,
    estimated_prior,
    prior_matched_im,
    unreadable,
)
from ..validators import SELECTION_VALIDATORS as VALIDATORS

SELECTION_FILE = Path(__file__).resolve().parents[2] / "checkpoints" / "selection.json"


@dataclass(frozen=True)
class Point:
    """One evaluation point of one trial."""

    key: str
    settings: dict[str, Any]
    seed: int
    step: int
    validators: dict[str, float | None]
    target_acc: float | None
    source_acc: float | None
    #: the collapse guard's verdict: never picked, whatever a validator says
    collapsed: bool = False
    #: the handwriting guard's verdict: drawn-style digits read more than ``HANDWRITING_MARGIN`` worse
    #: than the pair's source-only model reads them; never picked either
    unreadable: bool = False


def target_prior(records: list[SweepRecord], pair: str) -> np.ndarray | None:
    """The pair's estimated target class mix (``validators.estimated_prior``): the vote of every
    seed-0 evaluation point of every method on ``pair`` whose record kept its predicted target classes,
    but those the collapse guard rejects. None where no point kept them."""
    predicted = []
    for record in records:
        if not record.ok or record.pair != pair or record.seed != 0:
            continue
        reference = record.source_class_entropy or math.log(10)
        for point in record.points:
            if point.target_classes:
                classes = classes_from_text(point.target_classes)
                if not collapsed(classes, reference):
                    predicted.append(classes)
    if not predicted or len({len(classes) for classes in predicted}) != 1:
        return None
    return estimated_prior(np.stack(predicted))


def points_of(
    records: list[SweepRecord], pair: str, method: str, seed: int | None = 0, prior: np.ndarray | None = None
) -> list[Point]:
    """Every evaluation point of the successful trials of ``pair``/``method`` on the pair's backbone
    or a variant of it that a setting chose (``Method.backbone_for``) (one seed, or all), with
    EnsV (agreement with the ensemble of these points), the prior-matched IM (against the pair's
    ``target_prior``, computed here unless the caller has it: ``prior``) and the collapse guard from the
    points' predicted target classes, where the records kept them."""
    backbone = PAIRS[pair].backbone if pair in PAIRS else None
    found = []
    for record in records:
        if not record.ok or (record.pair, record.method) != (pair, method):
            continue
        if backbone and record.backbone and record.backbone not in backbone_variants(backbone):
            continue  # trained on the backbone the pair had before (a method's variant of it counts)
        if seed is not None and record.seed != seed:
            continue
        found += [(record, point) for point in record.points]
    predicted = [
        (index, classes_from_text(point.target_classes))
        for index, (_, point) in enumerate(found)
        if point.target_classes
    ]
    sizes = {len(classes) for _, classes in predicted}
    agreement = {}
    if len(predicted) >= 2 and len(sizes) == 1:
        scores = ensemble_agreement(np.stack([classes for _, classes in predicted]))
        agreement = {index: float(score) for (index, _), score in zip(predicted, scores)}
    guard = {
        index: collapsed(classes, found[index][0].source_class_entropy or math.log(10))
        for index, classes in predicted
    }
    if prior is None and predicted:
        prior = target_prior(records, pair)
    matched = {
        index: prior_matched_im(classes, found[index][1].validators["target_entropy"], prior)
        for index, classes in predicted
        if prior is not None and found[index][1].validators.get("target_entropy") is not None
    }
    return [
        Point(
            record.key,
            record.settings,
            record.seed,
            point.step,
            {**point.validators, ENSEMBLE: agreement.get(index), PRIOR_MATCHED: matched.get(index)},
            point.target_acc,
            point.source_acc,
            guard.get(index, False),
            unreadable(point.drawn_acc, record.reference_drawn_acc),
        )
        for index, (record, point) in enumerate(found)
    ]


def _score(point: Point, validator: str) -> float:
    value = point.validators.get(validator)
    return value if value is not None and math.isfinite(value) else -math.inf


def pick(points: list[Point], validator: str, handwriting: bool = True) -> Point | None:
    """The point with the highest score of ``validator`` (the earliest step of the first trial on ties),
    among the points the collapse guard (and, with ``handwriting``, the handwriting guard) lets
    through. Reads nothing but validator scores and the guards' verdicts."""
    candidates = [
        point
        for point in points
        if _score(point, validator) > -math.inf
        and not point.collapsed
        and not (handwriting and point.unreadable)
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda point: (_score(point, validator), -point.step))


def guarded_pick(points: list[Point], validator: str) -> tuple[Point | None, bool]:
    """``pick`` with both guards, and whether the handwriting guard was waived: where no point passes
    it, a method still gets the validator's best point that has not collapsed (shipped, marked §, and
    counted as missing the handwriting goal)."""
    chosen = pick(points, validator)
    if chosen is not None:
        return chosen, False
    fallback = pick(points, validator, handwriting=False)
    return fallback, fallback is not None


def oracle(points: list[Point]) -> Point | None:
    """The point with the best target-test accuracy. Uses target labels: reference only."""
    measured = [point for point in points if point.target_acc is not None]
    return max(measured, key=lambda point: (point.target_acc, -point.step)) if measured else None


def spearman(points: list[Point], validator: str) -> float | None:
    """Spearman's ρ between a validator's scores and target accuracy over ``points`` (None if undefined)."""
    from scipy.stats import spearmanr

    pairs = [
        (_score(p, validator), p.target_acc)
        for p in points
        if p.target_acc is not None and _score(p, validator) > -math.inf
    ]
    if len(pairs) < 3 or len({score for score, _ in pairs}) < 2 or len({acc for _, acc in pairs}) < 2:
        return None
    rho = spearmanr([score for score, _ in pairs], [acc for _, acc in pairs]).statistic
    return float(rho) if math.isfinite(rho) else None


def correlations(
    records: list[SweepRecord], pairs: list[str], methods: list[str], priors: dict[str, np.ndarray | None] | None = None
) -> dict[tuple[str, str], dict[str, float | None]]:
    """ρ of every validator with target accuracy, per (pair, method), over all points of all trials
    (``priors``: each pair's ``target_prior``, where the caller has them)."""
    priors = priors if priors is not None else {pair: target_prior(records, pair) for pair in pairs}
    rhos = {}
    for pair in pairs:
        for method in methods:
            points = points_of(records, pair, method, prior=priors[pair])
            rhos[pair, method] = {validator: spearman(points, validator) for validator in VALIDATORS}
    return rhos


def choose_validator(
    rhos: dict[tuple[str, str], dict[str, float | None]], pair: str
) -> tuple[str, dict[str, float]]:
    """Leave-one-pair-out: the validator with the highest mean ρ over every method of the *other*
    pairs; with the mean ρ of each validator. Source accuracy wins ties (it needs no target data)."""
    means = {}
    for validator in VALIDATORS:
        values = [
            scores[validator]
            for (other, _), scores in rhos.items()
            if other != pair and scores.get(validator) is not None
        ]
        means[validator] = statistics.fmean(values) if values else -math.inf
    return ranked(means)[0], means


def ranked(means: dict[str, float]) -> list[str]:
    """The validators from the highest leave-one-pair-out mean ρ down; source accuracy first on ties
    (it needs no target data)."""
    return sorted(VALIDATORS, key=lambda name: (means[name], name == "source_accuracy"), reverse=True)


@dataclass
class Selection:
    pair: str
    method: str
    validator: str
    pick: Point | None
    oracle: Point | None
    by_validator: dict[str, Point | None]
    #: no point passed the handwriting guard, so the pick is the validator's best of those the
    #: collapse guard lets through: shipped, and counted as missing the handwriting goal
    handwriting_waived: bool = False

    @property
    def gap(self) -> float | None:
        """Oracle minus label-free target accuracy, in points (how much choosing without labels cost)."""
        if self.pick is None or self.oracle is None or self.pick.target_acc is None:
            return None
        return 100 * (self.oracle.target_acc - self.pick.target_acc)

    def to_dict(self) -> dict[str, Any]:
        def point(p: Point | None) -> dict[str, Any] | None:
            if p is None:
                return None
            return {
                "trial": p.key,
                "settings": p.settings,
                "seed": p.seed,
                "step": p.step,
                "target_acc": p.target_acc,
                "source_acc": p.source_acc,
                "validators": p.validators,
            }

        return {
            "validator": self.validator,
            "pick": point(self.pick),
            "oracle": point(self.oracle),
            "gap_points": None if self.gap is None else round(self.gap, 2),
            "handwriting_waived": self.handwriting_waived,
            "by_validator": {name: point(p) for name, p in self.by_validator.items()},
        }


def select(records: list[SweepRecord], pairs: list[str], methods: list[str]) -> tuple[dict, dict]:
    """Every (pair, method)'s label-free pick by its pair's leave-one-pair-out validator, every
    validator's own pick and the oracle; and the ρ table. Returns ``(selections, correlations)``."""
    priors = {pair: target_prior(records, pair) for pair in pairs}
    rhos = correlations(records, pairs, methods, priors)
    chosen = {pair: choose_validator(rhos, pair) for pair in pairs}
    selections = {}
    for pair in pairs:
        _, means = chosen[pair]
        for method in methods:
            points = points_of(records, pair, method, prior=priors[pair])
            if not points:
                continue
            validator = scoring_validator(points, means)
            chosen_point, waived = guarded_pick(points, validator)
            selections[pair, method] = Selection(
                pair,
                method,
                validator,
                chosen_point,
                oracle(points),
                {name: pick(points, name) for name in VALIDATORS},
                handwriting_waived=waived,
            )
    return selections, {
        "rho": rhos,
        "validator": {
            pair: {"chosen": name, "mean_rho_other_pairs": means, "target_prior": priors[pair]}
            for pair, (name, means) in chosen.items()
        },
    }


def scoring_validator(points: list[Point], means: dict[str, float]) -> str:
    """The pair's validator (the highest leave-one-pair-out mean ρ) where it scores any of a method's
    ``points``; else the next in that order that does (a validator read from the points' predicted
    target classes has no score where the sweep's older records did not keep them)."""
    order = ranked(means)
    return next((name for name in order if any(_score(p, name) > -math.inf for p in points)), order[0])


def write_selection(
    selections: dict[tuple[str, str], Selection], correlations: dict, path: Path = SELECTION_FILE
) -> Path:
    """``checkpoints/selection.json``: per pair, the validator used and each method's pick (settings
    and step), beside the oracle, every validator's pick and the ρ table; pretraining reads it."""
    document: dict[str, Any] = {"protocol": PROTOCOL, "pairs": {}}
    for pair, entry in correlations["validator"].items():
        prior = entry.get("target_prior")
        document["pairs"][pair] = {
            "validator": entry["chosen"],
            "mean_rho_other_pairs": entry["mean_rho_other_pairs"],
            # full precision: the Results tab scores the sweep's points with it and must find the same picks
            "target_prior": None if prior is None else [float(share) for share in prior],
            "methods": {},
        }
    for (pair, method), chosen in selections.items():
        document["pairs"][pair]["methods"][method] = {
            **chosen.to_dict(),
            "rho": correlations["rho"][pair, method],
        }
    SelectionFile.model_validate(document)  # what is written can be read back
    path.write_text(json.dumps(document, indent=1, sort_keys=True, allow_nan=False) + "\n")
    return path


def read_selection(path: Path = SELECTION_FILE) -> SelectionFile:
    """The selection file (empty when there is none yet); a malformed one is a ``RecordsError``
    naming the file and field."""
    return read_document(path, SelectionFile, default=SelectionFile())


PROTOCOL = (
    "Settings, training step and seed-0 model are chosen without target labels: each method's grid is "
    "swept once (seed 0), every evaluation point scored by label-free validators, and each point's pick "
    "made by the one validator that ranked points best on the other two pairs (leave-one-pair-out "
    "Spearman correlation), among the points two guards let through: target predictions that have not "
    "collapsed, and drawn-style digits (made from the source validation split) read within "
    f"{100 * HANDWRITING_MARGIN:g} points of the source-only model (where no point passes the second, the pick "
    "is the best of those that pass the first, marked §). Target-test accuracy is only reported; the "
    "oracle column uses it, as a reference for what a label-free choice gives away."
)
