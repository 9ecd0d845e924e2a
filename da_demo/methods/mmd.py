"""MMD (DAN-style, Long et al. 2015): shrink the multi-kernel Gaussian MMD between source and
target features while classifying the source.

    L = CE(source) + w · λ(p) · MMD²_k(f_S, f_T),   k = Σ_m exp(−‖a − b‖² / (m σ²))

λ(p) is the sigmoid warm-up used by DANN, so the alignment term grows in over training.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..losses import mmd_loss
from ..models import grl_lambda
from . import register
from .base import Hyperparameters, Method, SourceBatch


@dataclass
class MMDHyperparameters(Hyperparameters):
    lr: float = 1e-4
    mmd_weight: float = 1.0


@register
class MMD(Method):
    name = "mmd"
    title = "MMD (multi-kernel)"
    order = 40
    hyperparameters_class = MMDHyperparameters
    alignment_parameter = "mmd_weight"
    learn = r"""
Compare the two feature distributions through a kernel: the **maximum mean discrepancy** is the
distance between their mean embeddings, and it is zero only when the distributions are equal.

$$\mathrm{MMD}^2 = \mathbb{E}\,k(s, s') + \mathbb{E}\,k(t, t') - 2\,\mathbb{E}\,k(s, t),
\qquad k(a, b) = \sum_m e^{-\lVert a - b\rVert^2 / (m\,\sigma^2)}$$

Several bandwidths at once (multi-kernel) make it sensitive at every scale. **When to prefer it:**
a non-adversarial, stable alignment of the whole distribution; it ignores labels, so it may pull a
target 3 towards a source 8 if that makes the clouds overlap.
"""
    published = {"mnist-noisy": (96.0, "MMD vs LMMD tutorial, 96.x")}

    def __init__(self, classifier, hparams: MMDHyperparameters) -> None:
        super().__init__(classifier, hparams)
        self.optimizer = torch.optim.Adam(self.classifier.parameters(), lr=hparams.lr)

    def training_step(self, source: SourceBatch, target_images: torch.Tensor, progress: float) -> dict:
        count = source.images.shape[0]
        logits, features = self.classifier(torch.cat([source.images, target_images]))
        class_loss = F.cross_entropy(logits[:count].float(), source.labels)
        alignment = mmd_loss(features[:count], features[count:])
        loss = class_loss + self.hparams.mmd_weight * grl_lambda(progress) * alignment
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.detach(), "class_loss": class_loss.detach(), "mmd_loss": alignment.detach()}
