"""What every adaptation method is: explicit hyperparameters and one ``training_step``.

A method owns the classifier it adapts, its extra networks and its optimizers. The trainer hands
it a labeled source batch and an **unlabeled** target batch (images only) per step, plus the
training progress ``p`` in [0, 1] for schedules. It returns its named losses and metrics.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..data import DomainPair
from ..losses import entropy_loss
from ..models import DigitClassifier

if TYPE_CHECKING:
    from ..artifacts.checkpoints import Checkpoint
    from ..engine.trainer import ProgressEvent


class SourceBatch(NamedTuple):
    """Labeled source images ``(B, C, H, W)`` and their labels ``(B,)``."""

    images: torch.Tensor
    labels: torch.Tensor


@dataclass
class HyperparameterSet:
    """A method's explicit settings: a dataclass that converts from and to plain dicts."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "HyperparameterSet":
        """Build from a dict, converting types and refusing unknown or invalid names with a clear message."""
        known = {field.name: field for field in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"Unknown hyperparameter(s) {', '.join(unknown)}; this method takes: {', '.join(known)}")
        converted = {}
        for name, value in values.items():
            default = getattr(cls(), name)
            try:
                converted[name] = _convert(value, type(default))
            except (TypeError, ValueError) as error:
                raise ValueError(f"Hyperparameter {name}={value!r} is not a valid {type(default).__name__}") from error
        params = cls(**converted)
        params.validate()
        return params

    def validate(self) -> None:
        """Raise ValueError with a clear message for values out of range."""


@dataclass
class Hyperparameters(HyperparameterSet):
    """Settings of every method trained by steps; each method extends this with its own."""

    steps: int = 1000
    batch_size: int = 128
    lr: float = 1e-3
    #: learning-rate annealing ``lr_p = lr / (1 + lr_anneal · p)^0.75`` (DANN paper); 0 keeps it constant
    lr_anneal: float = 0.0

    def validate(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be at least 2, got {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")


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
    return kind(value)


class Method(nn.Module):
    """Base class: subclasses set the class attributes and implement ``training_step``."""

    name: ClassVar[str]
    title: ClassVar[str]
    #: position in menus and tables
    order: ClassVar[int] = 100
    hyperparameters_class: ClassVar[type[HyperparameterSet]] = Hyperparameters
    #: for the Learn tab: the idea in a few sentences, its formula (LaTeX) and when to prefer it
    learn: ClassVar[str] = ""
    #: published accuracy (%) for a pair, and where it comes from, shown beside ours
    published: ClassVar[dict[str, tuple[float, str]]] = {}
    #: tuned settings per domain pair, over the dataclass defaults (e.g. more steps on a harder pair)
    pair_defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    #: the hyperparameter the app offers as "alignment weight" (None: the method has none)
    alignment_parameter: ClassVar[str | None] = None
    #: the hyperparameter the app offers as "warm-up steps" (None: the method has none)
    warmup_parameter: ClassVar[str | None] = None
    #: metrics ``training_step`` reports only part of the time (after a warm-up, in a later phase), so
    #: live plots can reserve a line for them from the start
    late_metrics: ClassVar[tuple[str, ...]] = ()
    #: adversarial training is unstable even with a fixed seed: pretraining runs several seeds
    adversarial: ClassVar[bool] = False

    @classmethod
    def hyperparameters_for(cls, pair: str, overrides: dict[str, Any] | None = None) -> HyperparameterSet:
        """The settings for ``pair``: dataclass defaults, then ``pair_defaults[pair]``, then ``overrides``."""
        return cls.hyperparameters_class.from_dict({**cls.pair_defaults.get(pair, {}), **(overrides or {})})

    def __init__(self, classifier: DigitClassifier, hparams: HyperparameterSet) -> None:
        super().__init__()
        self.classifier = classifier
        self.hparams = hparams

    def fit(self, pair: DomainPair, **train_options) -> Iterator[ProgressEvent]:
        """Train on ``pair``, yielding progress. The default is the trainer's step loop calling
        ``training_step``; a method fitted another way (e.g. a transport map) overrides this."""
        from ..engine.trainer import train

        return train(self, pair, **train_options)

    def training_step(self, source: SourceBatch, target_images: torch.Tensor, progress: float) -> dict[str, torch.Tensor | float]:
        """One optimisation step on a labeled source batch and an unlabeled target batch."""
        raise NotImplementedError

    def set_progress(self, progress: float) -> None:
        """Called by the trainer before each step: applies the learning-rate annealing."""
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
        to start from freshly initialised weights. Most methods adapt the source-only model."""
        return "source_only"

    def extra_state(self) -> dict[str, nn.Module]:
        """Networks besides the classifier that a checkpoint must keep (e.g. CycleGAN generators)."""
        return {}

    @classmethod
    def inference_model(cls, checkpoint: "Checkpoint") -> nn.Module:
        """The network that predicts with a stored model of this method: ``images → (logits, features)``."""
        return checkpoint.classifier.eval()

    @classmethod
    def feature_view(cls, source_features, target_features):
        """How this method's adapted features are best looked at: ``(source, target)`` arrays.

        By default the features themselves; a method that moves features after the network (optimal
        transport) returns the source features moved."""
        return source_features, target_features

    def evaluation_classifier(self) -> nn.Module:
        """The network whose ``(logits, features)`` are evaluated (the classifier itself by default)."""
        return self.classifier


@dataclass
class AlignmentHyperparameters(Hyperparameters):
    """Defaults measured on MNIST → USPS (see README): 6,000 steps, Adam 3e-4 annealed as in DANN."""

    steps: int = 6000
    lr: float = 3e-4
    lr_anneal: float = 10.0
    #: weight of the target-entropy term ``H(softmax(g(f(x_T))))`` (0 turns it off), as DANN's option;
    #: it took DeepCORAL from 86.1% to 92.9% on MNIST → USPS (Morerio et al.'s minimal-entropy alignment)
    entropy_weight: float = 0.1


class FeatureAlignmentMethod(Method):
    """Source cross-entropy plus an alignment term between source and target features, minimised
    together by one Adam optimizer: ``L = CE(source) + alignment [+ w_H · H(target predictions)]``.

    One forward pass covers both batches (source rows first). Subclasses implement ``alignment``,
    returning the weighted term to add and the metrics to report.
    """

    hyperparameters_class: ClassVar[type[HyperparameterSet]] = AlignmentHyperparameters

    def __init__(self, classifier: DigitClassifier, hparams: AlignmentHyperparameters) -> None:
        super().__init__(classifier, hparams)
        self.optimizer = torch.optim.Adam(self.classifier.parameters(), lr=hparams.lr)

    def alignment(self, source: SourceBatch, logits: torch.Tensor, features: torch.Tensor,
                  progress: float) -> tuple[torch.Tensor | float, dict[str, torch.Tensor]]:
        """``(weighted term, metrics)`` for ``logits``/``features`` of ``[source; target]``."""
        raise NotImplementedError

    def training_step(self, source: SourceBatch, target_images: torch.Tensor, progress: float) -> dict:
        logits, features = self.classifier(torch.cat([source.images, target_images]))
        class_loss = F.cross_entropy(logits[: source.images.shape[0]].float(), source.labels)
        term, metrics = self.alignment(source, logits, features, progress)
        loss = class_loss + term
        if self.hparams.entropy_weight > 0:
            target_entropy = entropy_loss(logits[source.images.shape[0]:])
            loss = loss + self.hparams.entropy_weight * target_entropy
            metrics = {**metrics, "target_entropy": target_entropy.detach()}
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.detach(), "class_loss": class_loss.detach(), **metrics}
