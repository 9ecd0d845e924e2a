"""DeepJDOT (Damodaran et al., 2018): optimal transport between mini-batches in the joint
feature × label space, trained end to end.

Per step, an exact OT plan ``γ`` (POT) couples the source and target batch under the cost

    C_ij = α ‖f_i^S − f_j^T‖² + λ_t · CE(y_i^S, g(f_j^T))

and the network then minimises ``CE(source) + Σ_ij γ_ij C_ij`` with ``γ`` held fixed: target
features move towards the source features they are coupled with, and target predictions towards
those samples' labels.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..losses import exact_plan, jdot_cost
from . import register
from .base import AlignmentHyperparameters, FeatureAlignmentMethod, SourceBatch, setting


@dataclass
class DeepJDOTHyperparameters(AlignmentHyperparameters):
    lr: float = 1e-4
    feature_weight: float = setting(0.01, 0.0, 100.0, label="Feature-distance weight α")
    label_weight: float = setting(0.5, 0.0, 100.0, label="Label-loss weight λ_t")


@register
class DeepJDOT(FeatureAlignmentMethod):
    name = "deepjdot"
    title = "DeepJDOT (joint OT)"
    order = 70
    hyperparameters_class = DeepJDOTHyperparameters
    alignment_parameter = "feature_weight"
    learn = r"""
Optimal transport in the **joint** space of features and labels, learned end to end. For each pair
of mini-batches an exact plan $\gamma$ couples source and target samples under the cost

$$C_{ij} = \alpha \lVert f(x_i^S) - f(x_j^T) \rVert^2 + \lambda_t\, \mathrm{CE}\big(y_i^S, g(f(x_j^T))\big)$$

and the network then lowers $\sum_{ij}\gamma_{ij} C_{ij}$: target features move towards the source
samples they are coupled with, and take their labels. **When to prefer it:** you want OT's
class-aware matching inside deep training rather than on frozen features.
"""

    def alignment(self, source: SourceBatch, logits, features, progress: float):
        hp = self.hparams
        count = source.images.shape[0]
        cost = jdot_cost(
            features[:count],
            features[count:],
            source.labels,
            logits[count:],
            hp.feature_weight,
            hp.label_weight,
        )
        transport = (exact_plan(cost) * cost).sum()
        return transport, {"transport_loss": transport.detach()}
