"""What every adaptation method is: explicit hyperparameters, and either one ``training_step`` or a ``fit``.

A method owns the classifier it adapts, its extra networks and its optimizers. It knows nothing of
the loop that drives it (``da_demo.engine``):

* a **step-trained** method (``Method``) gets a labeled source batch and an **unlabeled** target
  batch (images only) per step, plus the training progress ``p`` in [0, 1] for schedules, and
  returns its named losses and metrics;
* a **fitted** method (``FittedMethod``) gets the labeled source training set and the unlabeled
  target training set once and fits itself in a few stages, yielding its metrics after each.

Either way the method never sees a target label: the types it is handed have none.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import MISSING, asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..losses import entropy_loss
from ..models import DigitClassifier, forward_domains
from .settings import entropy_weight_setting, separate_batches_setting, setting

if TYPE_CHECKING:
    from ..data.images import LabeledImages, UnlabeledImages


class SourceBatch(NamedTuple):
    """Labeled source images ``(B, C, H, W)`` and their labels ``(B,)``."""

    images: torch.Tensor
    labels: torch.Tensor


@dataclass(frozen=True)
class SettingInfo:
    """What the app and the CLI know about one hyperparameter."""

    name: str
    label: str
    help: str
    kind: type
    default: Any
    low: float | None
    high: float | None


@dataclass
class HyperparameterSet:
    """A method's explicit settings: a dataclass that converts from and to plain dicts and checks
    every value against the range its field declares (see ``setting``)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def settings(cls) -> dict[str, SettingInfo]:
        """Every field, with its label, type, default and range."""
        infos = {}
        for item in fields(cls):
            default = item.default if item.default is not MISSING else item.default_factory()  # type: ignore[misc]
            # a subclass that only changes a default (``steps: int = 6000``) keeps the label and range
            meta = next(
                (
                    base.__dataclass_fields__[item.name].metadata
                    for base in cls.__mro__
                    if item.name in getattr(base, "__dataclass_fields__", {})
                    and base.__dataclass_fields__[item.name].metadata
                ),
                {},
            )
            infos[item.name] = SettingInfo(
                item.name,
                meta.get("label", item.name.replace("_", " ")),
                meta.get("help", ""),
                type(default),
                default,
                meta.get("low"),
                meta.get("high"),
            )
        return infos

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> HyperparameterSet:
        """Build from a dict, converting types and refusing unknown or invalid names with a clear message."""
        known = cls.settings()
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(
                f"Unknown hyperparameter(s) {', '.join(unknown)}; this method takes: {', '.join(known)}"
            )
        converted = {}
        for name, value in values.items():
            try:
                converted[name] = _convert(value, known[name].kind)
            except (TypeError, ValueError) as error:
                raise ValueError(
                    f"Hyperparameter {name}={value!r} is not a valid {known[name].kind.__name__}"
                ) from error
        params = cls(**converted)
        params.validate()
        return params

    def validate(self) -> None:
        """Raise ValueError with a clear message for values out of their declared range. Subclasses
        add checks that involve several fields (and call this first)."""
        for info in self.settings().values():
            value = getattr(self, info.name)
            if info.low is not None and info.high is not None and not info.low <= value <= info.high:
                raise ValueError(
                    f"{info.name} ({info.label}) must be between {info.low:g} and {info.high:g}, "
                    f"got {value:g}"
                )


def _convert(value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, str):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        return bool(value)
    if kind is int and isinstance(value, float) and not value.is_integer():
        raise ValueError(value)
    if kind in (int, float) and isinstance(value, bool):
        raise ValueError(value)
    converted = kind(value)
    if kind is float and converted != converted:  # NaN passes every range check silently
        raise ValueError(value)
    return converted


@dataclass
class Hyperparameters(HyperparameterSet):
    """Settings of every method trained by steps; each method extends this with its own."""

    steps: int = setting(1000, 1, 200_000, label="Training steps")
    batch_size: int = setting(128, 2, 1024, label="Batch size (per domain)")
    lr: float = setting(1e-3, 1e-6, 1.0, label="Learning rate")
    lr_anneal: float = setting(
        0.0,
        0.0,
        100.0,
        label="Learning-rate decay",
        help="lr_p = lr / (1 + decay · p)^0.75 over progress p (DANN paper); 0 keeps it constant",
    )
    # two of the papers' ingredients, off unless a method or a sweep turns them on
    source_augment: bool = setting(
        False,
        label="Augment source images",
        help="shift, scale, rotate, re-light and add noise to every source batch, as self-ensembling "
        "and DIRT-T train",
    )
    weight_average: float = setting(
        0.0,
        0.0,
        0.9999,
        label="Weight averaging (EMA) decay",
        help="evaluate and keep a running average of the weights, as VADA/DIRT-T evaluate; 0 keeps "
        "the trained weights",
    )


class Method(nn.Module):
    """Base class of every method: subclasses set the class attributes and implement ``training_step``
    (step-trained) or derive from ``FittedMethod``."""

    name: ClassVar[str]
    title: ClassVar[str]
    #: position in menus and tables
    order: ClassVar[int] = 100
    hyperparameters_class: ClassVar[type[HyperparameterSet]] = Hyperparameters
    #: for the Learn tab: the idea in a few sentences, its formula (LaTeX) and when to prefer it
    learn: ClassVar[str] = ""
    #: the sweep's default grid (``python -m da_demo sweep``): setting → values to try, 4–8 settings
    #: in all; the label-free selection picks among them (see ``workflows.selection``)
    sweep_grid: ClassVar[dict[str, tuple[Any, ...]]] = {}
    #: the hyperparameter the app offers as the method's key weight (None: the method has none)
    alignment_parameter: ClassVar[str | None] = None
    #: the hyperparameter the app offers as "warm-up steps" (None: the method has none)
    warmup_parameter: ClassVar[str | None] = None
    #: metrics ``training_step`` reports only part of the time (after a warm-up, in a later phase), so
    #: live plots can reserve a line for them from the start
    late_metrics: ClassVar[tuple[str, ...]] = ()
    trained_by_steps: ClassVar[bool] = True

    @classmethod
    def total_steps(cls, hparams: HyperparameterSet) -> int:
        """How many steps (or fitting stages) a run of these settings takes."""
        return hparams.steps

    def __init__(self, classifier: DigitClassifier, hparams: HyperparameterSet) -> None:
        super().__init__()
        self.classifier = classifier
        self.hparams = hparams
        #: the running average of the classifier's weights (``weight_average`` > 0), from the first step
        self.averaged: DigitClassifier | None = None

    def training_step(
        self, source: SourceBatch, target_images: torch.Tensor, progress: float
    ) -> dict[str, torch.Tensor | float]:
        """One optimisation step on a labeled source batch and an unlabeled target batch."""
        raise NotImplementedError

    def set_progress(self, progress: float) -> None:
        """Called before each step: applies the learning-rate annealing."""
        factor = (1.0 + self.hparams.lr_anneal * progress) ** -0.75
        for optimizer in self._optimizers():
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
                group["lr"] = group["initial_lr"] * factor

    def _optimizers(self) -> list[torch.optim.Optimizer]:
        return [value for value in vars(self).values() if isinstance(value, torch.optim.Optimizer)]

    @classmethod
    def warm_start_from(cls, hparams: HyperparameterSet) -> str | None:
        """The method whose trained model (same pair and backbone) this one starts from, or None
        to start from freshly initialised weights. Most methods adapt the source-only model; those
        that declare a ``warm_start`` setting (``warm_start_setting``) let it decide."""
        return "source_only" if getattr(hparams, "warm_start", True) else None

    @classmethod
    def backbone_for(cls, backbone: str, hparams: HyperparameterSet) -> str:
        """The backbone these settings train on, given the pair's: itself, or a variant of it."""
        return backbone

    def extra_state(self) -> dict[str, nn.Module]:
        """Networks besides the classifier that a checkpoint must keep (e.g. CycleGAN generators)."""
        return {}

    @classmethod
    def inference_model(cls, checkpoint) -> nn.Module:
        """The network that predicts with a stored model of this method: ``images → (logits, features)``.
        ``checkpoint`` is an ``artifacts.checkpoints.Checkpoint`` (classifier, metadata, extras)."""
        return checkpoint.classifier.eval()

    @classmethod
    def feature_view(cls, source_features, target_features):
        """How this method's adapted features are best looked at: ``(source, target)`` arrays.

        By default the features themselves; a method that moves features after the network (optimal
        transport) returns the source features moved."""
        return source_features, target_features

    @torch.no_grad()
    def after_step(self) -> None:
        """Called after every training step: updates the weight average when there is one (the
        batch-norm statistics are the trained network's own)."""
        decay = getattr(self.hparams, "weight_average", 0.0)
        if not decay:
            return
        if self.averaged is None:
            self.averaged = copy.deepcopy(self.classifier).requires_grad_(False)
            return
        for average, weight in zip(self.averaged.parameters(), self.classifier.parameters()):
            average.lerp_(weight.detach(), 1.0 - decay)
        for average, buffer in zip(self.averaged.buffers(), self.classifier.buffers()):
            average.copy_(buffer)

    def kept_classifier(self) -> DigitClassifier:
        """The classifier a run keeps (snapshots, saves, ships): the weight average where there is one."""
        return self.averaged if self.averaged is not None else self.classifier

    def evaluation_classifier(self) -> nn.Module:
        """The network whose ``(logits, features)`` are evaluated (the kept classifier by default)."""
        return self.kept_classifier()

    def reference_classifiers(self) -> dict[str, nn.Module]:
        """Other networks worth scoring beside the method's own (e.g. a baseline it improves on):
        the evaluation reports ``<name>_target_acc`` for each."""
        return {}


class FittedMethod(Method):
    """A method fitted in a few stages on whole training sets instead of trained by steps."""

    trained_by_steps: ClassVar[bool] = False
    #: how many stages ``fit`` yields
    stages: ClassVar[int] = 1

    @classmethod
    def total_steps(cls, hparams: HyperparameterSet) -> int:
        return cls.stages

    def fit(
        self,
        source: LabeledImages,
        target: UnlabeledImages,
        *,
        seed: int = 0,
        device: torch.device | None = None,
    ) -> Iterator[dict[str, float]]:
        """Fit on the labeled source and the unlabeled target training sets, yielding the stage's
        metrics after each of ``stages`` stages. The model must be usable after any of them."""
        raise NotImplementedError

    def set_progress(self, progress: float) -> None:
        pass


@dataclass
class AlignmentHyperparameters(Hyperparameters):
    """Shared defaults: 1,500 steps of 64 source and 64 target images (what the sweep can afford on a
    2-core CPU), Adam 3e-4 annealed as in DANN."""

    steps: int = 1500
    batch_size: int = 64
    lr: float = 3e-4
    lr_anneal: float = 10.0
    #: weight of the target-entropy term ``H(softmax(g(f(x_T))))`` (0 turns it off), as DANN's option
    #: (Morerio et al.'s minimal-entropy alignment); whether it helps a method on a pair is left to the
    #: sweep, whose grids try 0 and 0.1 (see checkpoints/selection.json for each pick)
    entropy_weight: float = entropy_weight_setting(0.1)
    separate_batches: bool = separate_batches_setting()


class FeatureAlignmentMethod(Method):
    """Source cross-entropy plus an alignment term between source and target features, minimised
    together by one Adam optimizer: ``L = CE(source) + alignment [+ w_H · H(target predictions)]``.

    One forward pass covers both batches (source rows first; one per domain with
    ``separate_batches``). Subclasses implement ``alignment``,
    returning the weighted term to add and the metrics to report.
    """

    hyperparameters_class: ClassVar[type[HyperparameterSet]] = AlignmentHyperparameters

    def __init__(self, classifier: DigitClassifier, hparams: AlignmentHyperparameters) -> None:
        super().__init__(classifier, hparams)
        self.optimizer = torch.optim.Adam(self.classifier.parameters(), lr=hparams.lr)

    def alignment(
        self, source: SourceBatch, logits: torch.Tensor, features: torch.Tensor, progress: float
    ) -> tuple[torch.Tensor | float, dict[str, torch.Tensor]]:
        """``(weighted term, metrics)`` for ``logits``/``features`` of ``[source; target]``."""
        raise NotImplementedError

    def training_step(self, source: SourceBatch, target_images: torch.Tensor, progress: float) -> dict:
        logits, features = forward_domains(
            self.classifier, source.images, target_images, self.hparams.separate_batches
        )
        class_loss = F.cross_entropy(logits[: source.images.shape[0]].float(), source.labels)
        term, metrics = self.alignment(source, logits, features, progress)
        loss = class_loss + term
        if self.hparams.entropy_weight > 0:
            target_entropy = entropy_loss(logits[source.images.shape[0] :])
            loss = loss + self.hparams.entropy_weight * target_entropy
            metrics = {**metrics, "target_entropy": target_entropy.detach()}
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.detach(), "class_loss": class_loss.detach(), **metrics}
