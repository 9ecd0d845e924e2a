"""DeepCORAL (Sun & Saenko, 2016): match the covariance of source and target features.

    L = CE(source) + w · ‖C_S − C_T‖²_F / (4 d²) + w_H · H(target predictions)

where ``C_S`` and ``C_T`` are the ``d x d`` covariances of a source and a target batch of features,
and the entropy term (``entropy_weight``, 0 for plain DeepCORAL) makes target predictions confident.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..losses import coral_loss
from . import register
from .base import AlignmentHyperparameters, FeatureAlignmentMethod, SourceBatch
from .settings import setting


@dataclass
class DeepCORALHyperparameters(AlignmentHyperparameters):
    coral_weight: float = setting(1000.0, 0.0, 100_000.0, label="CORAL weight")


@register
class DeepCORAL(FeatureAlignmentMethod):
    name = "deepcoral"
    title = "DeepCORAL"
    order = 30
    hyperparameters_class = DeepCORALHyperparameters
    alignment_parameter = "coral_weight"
    sweep_grid = {"coral_weight": (100.0, 1000.0), "entropy_weight": (0.0, 0.1)}
    learn = r"""
Match the **second-order statistics** of the features: the covariance matrices of a source batch and a
target batch of $d$-dimensional features should be equal.

$$\mathcal{L} = \mathrm{CE}(y^S, g(f(x^S))) + w \cdot \frac{1}{4d^2}\,\lVert C_S - C_T \rVert_F^2$$

No adversary, no extra network: stable and cheap. As in minimal-entropy correlation alignment, a
small target-entropy term can join it (aligned covariances alone leave target points near class
boundaries); whether it does for a pair was chosen without target labels (see Results).
**When to prefer it:** a quick, steady first try; it aligns only mean-free second moments, so it
closes less of a large gap than DANN or MMD.
"""

    def alignment(self, source: SourceBatch, logits, features, progress: float):
        count = source.images.shape[0]
        coral = coral_loss(features[:count], features[count:])
        return self.hparams.coral_weight * coral, {"coral_loss": coral.detach()}
