"""MMD (DAN-style, Long et al. 2015): shrink the multi-kernel Gaussian MMD between source and
target features while classifying the source.

    L = CE(source) + w · λ(p) · MMD²_k(f_S, f_T),   k = Σ_m exp(−‖a − b‖² / (m σ²))

λ(p) is the sigmoid warm-up used by DANN, so the alignment term grows in over training.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..losses import mmd_loss
from ..models import grl_lambda
from . import register
from .base import AlignmentHyperparameters, FeatureAlignmentMethod, SourceBatch
from .settings import setting


@dataclass
class MMDHyperparameters(AlignmentHyperparameters):
    mmd_weight: float = setting(1.0, 0.0, 1000.0, label="MMD weight")


@register
class MMD(FeatureAlignmentMethod):
    name = "mmd"
    title = "MMD (multi-kernel)"
    order = 40
    hyperparameters_class = MMDHyperparameters
    alignment_parameter = "mmd_weight"
    sweep_grid = {"mmd_weight": (0.3, 1.0), "entropy_weight": (0.0, 0.1)}
    learn = r"""
Compare the two feature distributions through a kernel: the **maximum mean discrepancy** is the
distance between their mean embeddings, and it is zero only when the distributions are equal.

$$\mathrm{MMD}^2 = \mathbb{E}\,k(s, s') + \mathbb{E}\,k(t, t') - 2\,\mathbb{E}\,k(s, t),
\qquad k(a, b) = \sum_m e^{-\lVert a - b\rVert^2 / (m\,\sigma^2)}$$

Several bandwidths at once (multi-kernel) make it sensitive at every scale. **When to prefer it:**
a non-adversarial, stable alignment of the whole distribution; it ignores labels, so it may pull a
target 3 towards a source 8 if that makes the clouds overlap.
"""

    def alignment(self, source: SourceBatch, logits, features, progress: float):
        count = source.images.shape[0]
        discrepancy = mmd_loss(features[:count], features[count:])
        return self.hparams.mmd_weight * grl_lambda(progress) * discrepancy, {
            "mmd_loss": discrepancy.detach()
        }
