"""Every JSON record the project writes, typed: checkpoint metadata, sweep records and their points,
pretraining records, the selection file and manifest entries. Each is a pydantic model, read by
one of two readers (``read_document`` for a JSON file, ``read_lines`` for a JSON-lines file) that
name the file (and line) and the field they reject.

Fields a newer version adds are kept (``extra="allow"``), so an older reader never drops them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from ..models import BACKBONES


class RecordsError(ValueError):
    """A records file cannot be read or written; the message says where and why."""


class Record(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# --- checkpoint metadata -------------------------------------------------------------------------


class CheckpointMetadata(Record):
    """What a checkpoint's header says about its model: enough to rebuild it, and how it was made.
    The fields a model is rebuilt from are bounded (a file cannot ask for a huge model)."""

    format: str
    method: str = Field(min_length=1, max_length=64)
    pair: str = Field(min_length=1, max_length=64)
    backbone: str
    in_channels: Literal[1, 3]
    num_classes: int = Field(ge=2, le=100)
    image_size: Literal[28, 32]
    seed: int | None = None
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    warm_start_from: str | None = None
    steps: int | None = None
    ended_early: str | None = None
    train_seconds: float | None = None
    metrics: dict[str, float | None] = Field(default_factory=dict)
    data_fingerprint: str | None = None
    code_version: str | None = None
    picked_by: str | None = None
    #: a model of a built domain (``data.shift``): the recipe's changed settings, so the file says
    #: which domain it was adapted to
    shift: dict[str, Any] | None = None
    stored_dtype: str = "float32"
    device: str | None = None
    precision: str | None = None
    created: str | None = None

    @field_validator("backbone")
    @classmethod
    def _known_backbone(cls, value: str) -> str:
        if value not in BACKBONES:
            raise ValueError(f"must be one of {', '.join(BACKBONES)}")
        return value

    @field_validator("in_channels", "num_classes", "image_size", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a whole number")
        return value


# --- the sweep -----------------------------------------------------------------------------------


class SweepPoint(Record):
    """One evaluation point of a trial: validator scores beside the (reported-only) accuracies."""

    step: int
    source_acc: float | None = None
    target_acc: float | None = None
    validators: dict[str, float | None] = Field(default_factory=dict)
    #: the predicted classes of the validators' unlabeled target images (``validators.classes_to_text``)
    target_classes: str | None = None
    #: accuracy on drawn-style digits made from the source validation split (the handwriting guard)
    drawn_acc: float | None = None


class SnapshotRef(Record):
    step: int
    file: str


class TaskRecord(Record):
    """What every task's record has (a sweep trial's or a pretraining seed's)."""

    key: str
    pair: str
    method: str
    seed: int = 0
    settings: dict[str, Any] = Field(default_factory=dict)
    #: the backbone the task trained (also part of its key)
    backbone: str | None = None
    status: Literal["ok", "failed"]
    error: str | None = None
    code_version: str | None = None
    wall_seconds: float | None = None
    created: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class SweepRecord(TaskRecord):
    points: list[SweepPoint] = Field(default_factory=list)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    total_steps: int | None = None
    ended_early: str | None = None
    train_seconds: float | None = None
    data_fingerprint: str | None = None
    start: str | None = None
    metrics: dict[str, float | None] = Field(default_factory=dict)
    snapshots: dict[str, SnapshotRef] = Field(default_factory=dict)
    #: entropy of the source validation labels' class histogram (the collapse guard's reference)
    source_class_entropy: float | None = None
    #: the pair's source-only model's accuracy on the same drawn-style digits (the handwriting
    #: guard's reference; None for source-only itself)
    reference_drawn_acc: float | None = None
    #: the steps at which a trial cut short was resumed (``workflows.resuming``)
    resumed_at: list[int] = Field(default_factory=list)

    @property
    def guarded(self) -> bool:
        """Every evaluation point carries its drawn-digit score, so the handwriting guard can judge
        it (records from before the guard existed do not)."""
        return all(point.drawn_acc is not None for point in self.points)


class PretrainRecord(TaskRecord):
    output: str = ""
    origin: str | None = None
    source_acc: float | None = None
    target_acc: float | None = None
    drawn_acc: float | None = None
    step: int | None = None
    metadata: CheckpointMetadata | None = None


class ShiftStudyRecord(TaskRecord):
    """One quick run of the "which shifts can be fixed" study (``workflows.shift_study``): a method
    adapted to a preset's built domain, with the source-only model's accuracy on the same digits."""

    preset: str = ""
    recipe: dict[str, Any] = Field(default_factory=dict)
    source_only_acc: float | None = None
    target_acc: float | None = None
    source_acc: float | None = None
    steps: int | None = None
    train_seconds: float | None = None
    test_digits: int | None = None


class PaddedUSPSRecord(Record):
    """One run of the padded-USPS benchmark (``workflows.padded_usps``): a method's settings trained
    on MNIST → USPS with USPS padded, as the papers load it, measured on the padded test set."""

    key: str
    method: str
    #: "label-free pick" (the shipped pick's settings and step) or "default settings"
    recipe: str = "label-free pick"
    settings: dict[str, Any] = Field(default_factory=dict)
    step: int
    target_acc: float
    seconds: float | None = None


# --- selection -----------------------------------------------------------------------------------


class SelectedPoint(Record):
    """An evaluation point a validator (or the oracle) picked."""

    trial: str
    settings: dict[str, Any] = Field(default_factory=dict)
    seed: int = 0
    step: int
    target_acc: float | None = None
    source_acc: float | None = None
    validators: dict[str, float | None] = Field(default_factory=dict)


class MethodSelection(Record):
    validator: str
    pick: SelectedPoint | None = None
    oracle: SelectedPoint | None = None
    gap_points: float | None = None
    by_validator: dict[str, SelectedPoint | None] = Field(default_factory=dict)
    rho: dict[str, float | None] = Field(default_factory=dict)
    #: no point read drawn digits well enough: the pick is the best of those that did not collapse
    handwriting_waived: bool = False


class PairSelection(Record):
    validator: str
    mean_rho_other_pairs: dict[str, float | None] = Field(default_factory=dict)
    #: the pair's estimated target class mix (``validators.estimated_prior``), read by ``prior_matched_im``
    target_prior: list[float] | None = None
    methods: dict[str, MethodSelection] = Field(default_factory=dict)


#: the validator where nothing was selected: source accuracy needs no target data
FALLBACK_VALIDATOR = "source_accuracy"


class SelectionFile(Record):
    """``checkpoints/selection.json``: per pair, the validator used and each method's pick."""

    protocol: str = ""
    pairs: dict[str, PairSelection] = Field(default_factory=dict)

    def method(self, pair: str, method: str) -> MethodSelection | None:
        chosen = self.pairs.get(pair)
        return chosen.methods.get(method) if chosen else None

    def validator_for(self, pair: str, method: str | None) -> str:
        """The validator that decided ``method``'s pick on ``pair``: its pair's, or the next that could
        score its sweep (``selection.scoring_validator``); the pair's for a method not selected, and
        ``FALLBACK_VALIDATOR`` where the pair has no selection."""
        chosen = self.method(pair, method) if method else None
        if chosen is not None:
            return chosen.validator
        return self.pairs[pair].validator if pair in self.pairs else FALLBACK_VALIDATOR

    def picked_settings(self, pair: str, method: str) -> dict[str, Any]:
        """The settings picked for ``method`` on ``pair`` ({} without a pick)."""
        chosen = self.method(pair, method)
        return dict(chosen.pick.settings) if chosen and chosen.pick else {}


# --- manifest ------------------------------------------------------------------------------------


class SeedResult(Record):
    seed: int
    step: int | None = None
    source_acc: float
    target_acc: float
    drawn_acc: float | None = None
    train_seconds: float | None = None
    origin: str | None = None


class ManifestSelection(Record):
    validator: str | None = None
    settings: dict[str, Any] | None = None
    sweep_pick_target_acc: float | None = None
    oracle_target_acc: float | None = None
    oracle_settings: dict[str, Any] | None = None
    oracle_step: int | None = None
    gap_points: float | None = None
    #: the pick passed the collapse guard only: no point of the sweep passed the handwriting guard
    handwriting_waived: bool = False


class StartModel(Record):
    """The shipped start model a visitor's run of an entry's settings starts from (``start_model_file``)."""

    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ManifestEntry(Record):
    """One shipped checkpoint, with what was measured from the stored file."""

    pair: str
    method: str
    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int | None = None
    backbone: str | None = None
    seed: int = 0
    source_acc: float
    target_acc: float
    drawn_acc: float | None = None
    steps: int | None = None
    train_seconds: float | None = None
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    warm_start_from: str | None = None
    code_version: str | None = None
    data_fingerprint: str | None = None
    device: str | None = None
    picked_by: str | None = None
    #: the validator that chose the step (absent: trained before label-free selection)
    validator: str | None = None
    extra_metrics: dict[str, float | None] = Field(default_factory=dict)
    seeds: list[SeedResult] = Field(default_factory=list)
    target_acc_mean: float | None = None
    target_acc_std: float | None = None
    source_acc_mean: float | None = None
    source_acc_std: float | None = None
    drawn_acc_mean: float | None = None
    drawn_acc_std: float | None = None
    selection: ManifestSelection | None = None
    #: where the model was trained on a variant of its pair's backbone: the start model shipped for it
    start_model: StartModel | None = None


Model = TypeVar("Model", bound=BaseModel)


def _problem(error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(the record itself)"
    return f"field {field}: {first['msg']}"


def parse(model: type[Model], value: Any, where: str) -> Model:
    """``value`` as ``model``; a ``RecordsError`` names ``where`` and the field it rejects."""
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise RecordsError(f"{where}: {_problem(error)}") from None


def read_document(path: str | os.PathLike, model: Any, default: Any = None) -> Any:
    """The JSON file at ``path`` as ``model`` (a model class or a type such as ``list[Entry]``);
    ``default`` when the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return default
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RecordsError(f"{path}: not valid JSON ({error})") from None
    try:
        return TypeAdapter(model).validate_python(value)
    except ValidationError as error:
        raise RecordsError(f"{path}: {_problem(error)}") from None


def read_lines(path: str | os.PathLike, model: type[Model]) -> list[Model]:
    """Every record of a JSON-lines file as ``model`` ([] when it does not exist yet). A line that is
    not a JSON object, or not such a record, is an error naming its line number and field."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                raise RecordsError(
                    f"{path}, line {number}: not valid JSON ({error.msg}); fix or delete that line"
                ) from None
            if not isinstance(value, dict):
                raise RecordsError(
                    f"{path}, line {number}: expected a JSON object, found {type(value).__name__}"
                )
            records.append(parse(model, value, f"{path}, line {number}"))
    return records
