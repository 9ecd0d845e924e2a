"""Mutual-information maximization with confident pseudo-labels (after the MaNi README).

Starts from the DANN model and keeps DANN's class and domain losses. Target samples the model
already predicts with confidence ≥ 0.9 get that class as a pseudo-label; a critic on a
projection head scores every (source, target) pair, and the Jensen-Shannon MI bound between
same-class pairs (the "joint") and different-class pairs (the "marginals") is maximised:

    L = L_DANN − w · Î_JSD(h(f_S), h(f_T^confident))

so same-class source and target features are pulled into shared, class-specific directions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..losses import confident_pseudo_labels, jsd_mi_bound
from ..models import SeparableCritic
from . import register
from .base import SourceBatch
from .dann import DANN, DANNHyperparameters
from .settings import setting


@dataclass
class MIMaxHyperparameters(DANNHyperparameters):
    mi_weight: float = setting(0.1, 0.0, 100.0, label="Mutual-information weight")
    confidence_threshold: float = setting(0.9, 0.01, 1.0, label="Pseudo-label confidence threshold")
    projection_dim: int = setting(64, 2, 1024, label="Critic projection size")
    critic_lr: float = setting(1e-3, 1e-6, 1.0, label="Critic learning rate")


@register
class MIMax(DANN):
    name = "mi_max"
    title = "MI maximization (pseudo-labels + JSD critic)"
    order = 80
    hyperparameters_class = MIMaxHyperparameters
    alignment_parameter = "mi_weight"
    sweep_grid = {"mi_weight": (0.1, 0.3), "entropy_weight": (0.1, 0.3)}
    late_metrics = ("mi_bound",)
    learn = r"""
Start from DANN, then pull same-class source and target features together by **maximising mutual
information**. Target samples the model predicts with confidence $\geq 0.9$ get pseudo-labels; a critic
$T$ scores every (source, target) pair, and the Jensen-Shannon bound

$$\hat I_{JSD} = \mathbb{E}_{\text{same class}}\big[-\mathrm{sp}(-T)\big]
 - \mathbb{E}_{\text{different class}}\big[\mathrm{sp}(T)\big]$$

is maximised together with DANN's losses. **When to prefer it:** after a first alignment, when
many target predictions are already confident and you want to sharpen the classes.
"""

    def __init__(self, classifier, hparams: MIMaxHyperparameters) -> None:
        super().__init__(classifier, hparams)
        self.critic = SeparableCritic(classifier.feature_dim, hparams.projection_dim)
        self.optimizer.add_param_group({"params": self.critic.parameters(), "lr": hparams.critic_lr})

    @classmethod
    def warm_start_from(cls, hparams: MIMaxHyperparameters) -> str | None:
        return "dann" if hparams.warm_start else None

    def training_step(self, source: SourceBatch, target_images: torch.Tensor, progress: float) -> dict:
        loss, metrics, logits, features = self.adversarial_losses(source, target_images, progress)
        count = source.images.shape[0]
        confident, pseudo_labels = confident_pseudo_labels(logits[count:], self.hparams.confidence_threshold)
        if confident.numel() > 0:
            scores = self.critic(features[:count].float(), features[count:][confident].float())
            same_class = source.labels.unsqueeze(1) == pseudo_labels.unsqueeze(0)
            mi_bound = jsd_mi_bound(scores, same_class)
            loss = loss - self.hparams.mi_weight * mi_bound
            metrics["mi_bound"] = mi_bound.detach()
        metrics["confident_fraction"] = confident.numel() / target_images.shape[0]
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.detach(), **metrics}
