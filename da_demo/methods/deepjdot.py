"""DeepJDOT (Damodaran et al., 2018): optimal transport between mini-batches in the joint
feature × label space, trained end to end.

Per step, an exact OT plan ``γ`` (POT) couples the source and target batch under the cost

    C_ij = α ‖f_i^S − f_j^T‖² + λ_t · ‖y_i^S − g(f_j^T)‖²

and the network then minimises ``CE(source) + Σ_ij γ_ij (α ‖f_i^S − f_j^T‖² + λ_t · CE(y_i^S, g(f_j^T)))``
with ``γ`` held fixed: target features move towards the source features they are coupled with, and
target predictions towards those samples' labels.

Trained as the paper and its reference code train it: 500 source and 500 target images per batch,
α = 0.001, λ_t = 0.0001, the source cross-entropy term at weight 1, Adam at 1e-4, no entropy term.
Departures: fewer steps (``steps``, for a CPU budget; the reference code runs 15,000), source
batches drawn at random rather than class-balanced unless ``balanced_source`` (MNIST's classes are
near balanced anyway), and the source-only start model is ours. The reference code pads USPS's
16-px digits to 28 px rather than resizing them as we do (as SKADA-Bench does), a smaller shift
than ours: its 95.7 on MNIST → USPS is not measured on the same images.

The reference's α was set for a 128-d **sigmoid** embedding, whose squared distances stay below 128;
ours are unbounded ReLU features, whose distances start ~50× larger, so at the same α the cheapest
way down is to shrink every feature. ``relative_distances`` measures distances in units of their
mean on the run's first batch (fixed from then on; the authors' code leaves ``C0 /= scale`` as a
comment), so α means what it means in the paper whatever the backbone's scale.

Two more ingredients of the authors' code are settings a validator can choose (besides
``balanced_source``): ``bounded_embedding`` trains the pair's backbone with the reference code's **sigmoid** embedding
(``models.bounded``: features in [0, 1], from a source-only model of the same network), and
``unbalanced`` couples the batches with JUMBOT's **unbalanced** entropic plan (Fatras et al.,
ICML 2021, the DeepJDOT authors' group: ε = 0.1, marginal penalty τ = 1, plan fitted on the same
cross-entropy cost it lowers, α = λ_t = 0.1 in its digits code). A balanced plan must move every
source sample's mass somewhere: where the target batch's class proportions differ from the
source's (USPS has twice MNIST's share of zeros), some of it lands on the wrong class, and training
longer moves target features further towards it; the unbalanced plan may leave that mass behind.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..losses import exact_plan, jdot_cost, jdot_plan_cost, unbalanced_plan
from ..models import bounded, standardised
from . import register
from .base import AlignmentHyperparameters, FeatureAlignmentMethod, SourceBatch
from .settings import setting, standardised_input_setting


@dataclass
class DeepJDOTHyperparameters(AlignmentHyperparameters):
    steps: int = 500
    batch_size: int = 500
    lr: float = 1e-4
    lr_anneal: float = 0.0
    entropy_weight: float = 0.0
    feature_weight: float = setting(0.001, 0.0, 100.0, label="Feature-distance weight α")
    label_weight: float = setting(0.0001, 0.0, 100.0, label="Label-loss weight λ_t")
    relative_distances: bool = setting(
        False,
        label="Feature distances relative to the first batch's",
        help="α then weighs distances in units of their mean at the start, whatever the features' scale",
    )
    bounded_embedding: bool = setting(
        False,
        label="Bounded (sigmoid) embedding",
        help="the reference code's network: features squashed into [0, 1] by a sigmoid (trained from a "
        "source-only model of the same network)",
    )
    balanced_source: bool = setting(
        False,
        label="Class-balanced source batches",
        help="every source batch holds the same number of each digit, as the reference code draws them",
    )
    unbalanced: bool = setting(
        False,
        label="Unbalanced plan (JUMBOT)",
        help="marginals penalised rather than imposed, so mass need not cross classes when the batches' "
        "class proportions differ",
    )
    plan_entropy: float = setting(0.1, 0.001, 10.0, label="Unbalanced plan's entropic regularisation ε")
    marginal_penalty: float = setting(1.0, 0.01, 100.0, label="Unbalanced plan's marginal penalty τ")
    standardised_input: bool = standardised_input_setting()


@register
class DeepJDOT(FeatureAlignmentMethod):
    name = "deepjdot"
    title = "DeepJDOT (joint OT)"
    order = 70
    hyperparameters_class = DeepJDOTHyperparameters
    alignment_parameter = "feature_weight"
    sweep_grid = {"feature_weight": (0.001, 0.01), "label_weight": (0.0001, 0.1)}

    @classmethod
    def backbone_for(cls, backbone: str, hparams: DeepJDOTHyperparameters) -> str:
        backbone = standardised(backbone) if hparams.standardised_input else backbone
        return bounded(backbone) if hparams.bounded_embedding else backbone

    learn = r"""
Optimal transport in the **joint** space of features and labels, learned end to end. For each pair
of mini-batches an exact plan $\gamma$ couples source and target samples under the cost

$$C_{ij} = \alpha \lVert f(x_i^S) - f(x_j^T) \rVert^2 + \lambda_t\, \mathrm{CE}\big(y_i^S, g(f(x_j^T))\big)$$

(the plan itself is fitted with the squared distance between $y_i^S$ and the target prediction,
as in the paper's code)

and the network then lowers $\sum_{ij}\gamma_{ij} C_{ij}$: target features move towards the source
samples they are coupled with, and take their labels. Two options come from the authors' code: a
**bounded embedding** (features squashed into [0, 1], the network their weights were set for) and an
**unbalanced plan** (JUMBOT): when the target's classes are not in the source's proportions, a
balanced plan must send some source mass to the wrong class; an unbalanced one may leave it.
**When to prefer it:** you want OT's
class-aware matching inside deep training rather than on frozen features.
"""

    def __init__(self, classifier, hparams: DeepJDOTHyperparameters) -> None:
        super().__init__(classifier, hparams)
        #: the mean squared feature distance of the run's first batch, once measured
        self.distance_scale: float | None = None

    def alpha(self, source_features, target_features) -> float:
        """α, per unit of squared distance (of the first batch's mean with ``relative_distances``)."""
        if not self.hparams.relative_distances:
            return self.hparams.feature_weight
        if self.distance_scale is None:
            with torch.no_grad():
                mean = torch.cdist(source_features.float(), target_features.float()).pow(2).mean()
            self.distance_scale = max(float(mean), 1e-12)
        return self.hparams.feature_weight / self.distance_scale

    def alignment(self, source: SourceBatch, logits, features, progress: float):
        hp = self.hparams
        count = source.images.shape[0]
        arguments = (
            features[:count],
            features[count:],
            source.labels,
            logits[count:],
            self.alpha(features[:count], features[count:]),
            hp.label_weight,
        )
        cost = jdot_cost(*arguments)
        if hp.unbalanced:  # JUMBOT fits the plan on the cost it lowers
            plan = unbalanced_plan(cost.detach(), hp.plan_entropy, hp.marginal_penalty)
        else:
            plan = exact_plan(jdot_plan_cost(*arguments))
        transport = (plan * cost).sum()
        return transport, {"transport_loss": transport.detach()}
