"""LMMD (DSAN, Zhu et al. 2020): align each class of the source with the same class of the target.

Source samples are weighted by their labels, target samples by the current softmax, so the
alignment is class-conditional and insensitive to class proportions:

    L = CE(source) + w · λ(p) · LMMD(f_S, f_T; y_S, softmax(g(f_T)))

The target weights come from the model's own predictions, so they must be sensible first: the
first ``warmup_steps`` train on the source alone (after the source-only warm start, if any).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..losses import lmmd_loss
from ..models import grl_lambda
from . import register
from .base import Hyperparameters, Method, SourceBatch


@dataclass
class LMMDHyperparameters(Hyperparameters):
    lr: float = 1e-4
    lmmd_weight: float = 1.0
    warmup_steps: int = 200       # source-only steps before the alignment starts
    warm_start: bool = True       # start from the source-only model


@register
class LMMD(Method):
    name = "lmmd"
    title = "LMMD (class-wise MMD)"
    order = 50
    hyperparameters_class = LMMDHyperparameters
    alignment_parameter = "lmmd_weight"
    late_metrics = ("lmmd_loss",)
    warmup_parameter = "warmup_steps"
    learn = r"""
**Class-wise** MMD: align the source 3s with the target 3s, the 7s with the 7s. Source samples are
weighted by their labels, target samples by the model's current softmax (soft pseudo-labels):

$$\mathrm{LMMD} = \frac{1}{C}\sum_c \Big\lVert \sum_i w_i^{S,c}\,\phi(s_i) - \sum_j w_j^{T,c}\,\phi(t_j) \Big\rVert^2$$

Because the weights of each class sum to one per domain, different class proportions do not
matter. A warm-up lets the predictions become sensible before they are trusted. **When to prefer
it:** the classes are well separated already and you want alignment without mixing classes.
"""
    published = {"mnist-noisy": (97.0, "MMD vs LMMD tutorial, 97.x")}

    def __init__(self, classifier, hparams: LMMDHyperparameters) -> None:
        super().__init__(classifier, hparams)
        self.optimizer = torch.optim.Adam(self.classifier.parameters(), lr=hparams.lr)
        self.steps_done = 0

    @classmethod
    def warm_start_from(cls, hparams: LMMDHyperparameters) -> str | None:
        return "source_only" if hparams.warm_start else None

    def training_step(self, source: SourceBatch, target_images: torch.Tensor, progress: float) -> dict:
        hp = self.hparams
        count = source.images.shape[0]
        logits, features = self.classifier(torch.cat([source.images, target_images]))
        class_loss = F.cross_entropy(logits[:count].float(), source.labels)
        metrics = {"class_loss": class_loss.detach()}
        loss = class_loss
        if self.steps_done >= hp.warmup_steps:
            start = hp.warmup_steps / hp.steps  # the ramp starts where the warm-up ends
            ramp = grl_lambda((progress - start) / max(1.0 - start, 1e-6))
            target_probabilities = F.softmax(logits[count:].float(), dim=1)
            alignment = lmmd_loss(features[:count], features[count:], source.labels, target_probabilities)
            loss = loss + hp.lmmd_weight * ramp * alignment
            metrics["lmmd_loss"] = alignment.detach()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.steps_done += 1
        return {"loss": loss.detach(), **metrics}
