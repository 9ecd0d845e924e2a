"""MCC, Minimum Class Confusion (Jin, Wang, Long and Wang, ECCV 2020): make target predictions
confuse classes less with one another.

    L = CE(source) + w · L_MCC(target logits / T) [+ w_H · H(target predictions)]

``L_MCC`` (``losses.class_confusion_loss``) is the off-diagonal mass of the certainty-weighted,
row-normalised class-correlation matrix of a target batch. No extra network, no adversary.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..losses import class_confusion_loss
from ..models import standardised
from . import register
from .base import AlignmentHyperparameters, FeatureAlignmentMethod, SourceBatch
from .settings import entropy_weight_setting, setting, standardised_input_setting, warm_start_setting


@dataclass
class MCCHyperparameters(AlignmentHyperparameters):
    mcc_weight: float = setting(1.0, 0.0, 100.0, label="Class-confusion weight")
    temperature: float = setting(
        2.5,
        0.1,
        10.0,
        label="Temperature T",
        help="softens predictions before measuring confusion (paper: 2.5)",
    )
    #: the paper's loss has no entropy term of its own
    entropy_weight: float = entropy_weight_setting(0.0)
    #: the paper fine-tunes ImageNet-trained networks; digits have no such start, so whether to begin
    #: from the source-only model or from fresh weights (as self-ensembling's code does) is the
    #: validators' choice
    warm_start: bool = warm_start_setting()
    standardised_input: bool = standardised_input_setting()


@register
class MCC(FeatureAlignmentMethod):
    name = "mcc"
    title = "MCC (minimum class confusion)"
    order = 45
    hyperparameters_class = MCCHyperparameters
    alignment_parameter = "mcc_weight"
    sweep_grid = {"mcc_weight": (1.0, 3.0), "temperature": (1.0, 2.5)}
    learn = r"""
Instead of aligning features, look at what the classifier says about a **batch of target images**:
if one image is 60% "3" and 40% "8", the classes 3 and 8 are *confused*. MCC adds up, for every pair
of classes, how much probability they share across the batch, and minimises it.

$$M = \hat P^\top \mathrm{diag}(w)\,\hat P,\qquad
\mathcal{L}_{\mathrm{MCC}} = \frac{1}{C}\sum_{j \ne k} \frac{M_{jk}}{\sum_{k'} M_{jk'}},\qquad
\mathcal{L} = \mathrm{CE}(y^S, g(f(x^S))) + w\,\mathcal{L}_{\mathrm{MCC}}$$

$\hat P$ are the batch's softened predictions (temperature $T$), $w$ weights confident images more.
Unlike plain entropy minimisation it looks at classes *pairwise* across the batch, so pushing every
image into one class does not lower it for free. **When to prefer it:** a cheap, stable add-on with
no extra network; among the best label-free results on MNIST → USPS in SKADA-Bench (2024).
"""

    @classmethod
    def backbone_for(cls, backbone: str, hparams: MCCHyperparameters) -> str:
        return standardised(backbone) if hparams.standardised_input else backbone

    def alignment(self, source: SourceBatch, logits, features, progress: float):
        count = source.images.shape[0]
        confusion = class_confusion_loss(logits[count:], self.hparams.temperature)
        return self.hparams.mcc_weight * confusion, {"mcc_loss": confusion.detach()}
