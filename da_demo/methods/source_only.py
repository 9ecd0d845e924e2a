"""Source-only baseline: train on labeled source data alone, then test on the target domain.

This is the number every adaptation method must beat: the gap between its source and target
accuracy is the domain shift.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import register
from .base import Hyperparameters, Method, SourceBatch


@register
class SourceOnly(Method):
    name = "source_only"
    title = "Source only"
    order = 0
    learn = r"""
Train on the labeled source images alone, then use the model on the target domain unchanged.
It minimises only the source classification loss

$$\min_\theta \; \frac{1}{n}\sum_{i} \mathrm{CE}\big(y_i^S, g_\theta(x_i^S)\big)$$

and nothing tells it what target images look like, so whatever it learned that is specific to the
source's look (stroke width, digit size, a black background) can fail on the target.
**When to use it:** always, as the baseline. The gap between its source and target accuracy *is* the
domain shift every other method tries to close.
"""

    def __init__(self, classifier, hparams: Hyperparameters) -> None:
        super().__init__(classifier, hparams)
        self.optimizer = torch.optim.Adam(self.classifier.parameters(), lr=hparams.lr)

    @classmethod
    def warm_start_from(cls, hparams: Hyperparameters) -> str | None:
        return None

    def training_step(self, source: SourceBatch, target_images: torch.Tensor, progress: float) -> dict:
        logits, _ = self.classifier(source.images)
        loss = F.cross_entropy(logits.float(), source.labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.detach(), "class_loss": loss.detach()}
