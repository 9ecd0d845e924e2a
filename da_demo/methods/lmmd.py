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
from .base import AlignmentHyperparameters, FeatureAlignmentMethod, SourceBatch
from .settings import setting, warm_start_setting


@dataclass
class LMMDHyperparameters(AlignmentHyperparameters):
    lmmd_weight: float = setting(1.0, 0.0, 1000.0, label="LMMD weight")
    warmup_steps: int = setting(
        200,
        0,
        200_000,
        label="Warm-up steps",
        help="source-only steps before the class-wise alignment starts (none if the "
        "warm-up is as long as the run)",
    )
    warm_start: bool = warm_start_setting()


@register
class LMMD(FeatureAlignmentMethod):
    name = "lmmd"
    title = "LMMD (class-wise MMD)"
    order = 50
    hyperparameters_class = LMMDHyperparameters
    alignment_parameter = "lmmd_weight"
    sweep_grid = {"lmmd_weight": (0.3, 1.0), "entropy_weight": (0.0, 0.1)}
    warmup_parameter = "warmup_steps"
    learn = r"""
**Class-wise** MMD: align the source 3s with the target 3s, the 7s with the 7s. Source samples are
weighted by their labels, target samples by the model's current softmax (soft pseudo-labels):

$$\mathrm{LMMD} = \frac{1}{C}\sum_c \Big\lVert \sum_i w_i^{S,c}\,\phi(s_i) - \sum_j w_j^{T,c}\,\phi(t_j) \Big\rVert^2$$

Because the weights of each class sum to one per domain, different class proportions do not
matter. A warm-up lets the predictions become sensible before they are trusted. **When to prefer
it:** the classes are well separated already and you want alignment without mixing classes.
"""

    def alignment(self, source: SourceBatch, logits, features, progress: float):
        hp = self.hparams
        count = source.images.shape[0]
        start = min(hp.warmup_steps / hp.steps, 1.0)  # alignment ramps up from where the warm-up ends
        target_probabilities = F.softmax(logits[count:].float().detach(), dim=1)
        if progress < start:
            with torch.no_grad():  # reported during the warm-up, not yet minimised
                return 0.0, {
                    "lmmd_loss": lmmd_loss(
                        features[:count], features[count:], source.labels, target_probabilities
                    )
                }
        alignment = lmmd_loss(features[:count], features[count:], source.labels, target_probabilities)
        ramp = grl_lambda((progress - start) / max(1.0 - start, 1e-6))
        return hp.lmmd_weight * ramp * alignment, {"lmmd_loss": alignment.detach()}
