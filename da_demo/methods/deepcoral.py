"""DeepCORAL (Sun & Saenko, 2016): match the covariance of source and target features.

    L = CE(source) + w · ‖C_S − C_T‖²_F / (4 d²)

where ``C_S`` and ``C_T`` are the ``d x d`` covariances of a source and a target batch of features.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..losses import coral_loss
from . import register
from .base import Hyperparameters, Method, SourceBatch


@dataclass
class DeepCORALHyperparameters(Hyperparameters):
    lr: float = 1e-4
    coral_weight: float = 500.0


@register
class DeepCORAL(Method):
    name = "deepcoral"
    title = "DeepCORAL"
    order = 30
    hyperparameters_class = DeepCORALHyperparameters
    alignment_parameter = "coral_weight"
    learn = r"""
Match the **second-order statistics** of the features: the covariance matrices of a source batch and a
target batch of $d$-dimensional features should be equal.

$$\mathcal{L} = \mathrm{CE}(y^S, g(f(x^S))) + w \cdot \frac{1}{4d^2}\,\lVert C_S - C_T \rVert_F^2$$

No adversary, no extra network: stable and cheap. **When to prefer it:** a quick, steady first try;
it aligns only means-free second moments, so it closes less of a large gap than DANN or MMD.
"""
    published = {"mnist-usps": (90.4, "lecture")}

    def __init__(self, classifier, hparams: DeepCORALHyperparameters) -> None:
        super().__init__(classifier, hparams)
        self.optimizer = torch.optim.Adam(self.classifier.parameters(), lr=hparams.lr)

    def training_step(self, source: SourceBatch, target_images: torch.Tensor, progress: float) -> dict:
        count = source.images.shape[0]
        logits, features = self.classifier(torch.cat([source.images, target_images]))
        class_loss = F.cross_entropy(logits[:count].float(), source.labels)
        alignment = coral_loss(features[:count], features[count:])
        loss = class_loss + self.hparams.coral_weight * alignment
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.detach(), "class_loss": class_loss.detach(), "coral_loss": alignment.detach()}
