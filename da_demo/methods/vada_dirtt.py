"""VADA → DIRT-T (Shu, Bui, Narui & Ermon, ICLR 2018).

Phase 1, **VADA** (the first ``1 − dirtt_fraction`` of training): domain-adversarial training plus
the *cluster assumption*: decision boundaries should not cross dense regions of the target, so
target predictions are made confident (conditional entropy) and locally smooth (virtual
adversarial training, VAT):

    L_VADA = CE(source) + λ_d · L_domain + λ_s · VAT(source) + λ_t · (H(target) + VAT(target))

Phase 2, **DIRT-T** (decision-boundary iterative refinement): the source is dropped; the model keeps
pushing boundaries away from target clusters, while a KL term to the previous iterate (refreshed
every ``teacher_refresh`` steps) keeps each step small (a natural-gradient step in the paper):

    L_DIRT-T = λ_t · (H(target) + VAT(target)) + β · KL(h_prev(x_t) ‖ h(x_t))

VAT: ``r_adv = ε · g/‖g‖`` with ``g`` the gradient of ``KL(p(x) ‖ p(x + ξd))`` for a random ``d``
(one power iteration); the loss is ``KL(p(x) ‖ p(x + r_adv))``.

Departures from the paper: inputs are instance-normalised only where the pair's backbone does it
(``wide_gn_in`` on MNIST-M), the domain adversary is a gradient-reversal head (as in DANN) rather
than a separate GAN step, and both phases share one run. The paper's code (RuiShu/dirt-t) otherwise
sets: Adam 1e-3 with β1 0.5, batch 64, source VAT 1, domain and target weights 1e-2, KL β 1e-2,
an EMA of 0.998 evaluated, a teacher refreshed every 5,000 DIRT-T steps, and a VAT radius of 3.5
on 32×32 images in [-1, 1] (about 1.5 on our 28×28 images in [0, 1]: half the range, 28/32 the side),
and it passes the source and target batches through the network one at a time, only the target pass
updating batch norm's running statistics (our ``separate_batches``, off by default; it matters only
for a backbone with batch norm, not for MNIST-M's group-normalised one).

The paper trains VADA from freshly initialised weights; we start from the source-only model, or,
with ``dann_start``, from the DANN model (VADA is DANN plus the cluster terms, as DIRT-T is VADA plus
the refinement). On MNIST → MNIST-M the source-only model's target predictions lean towards a few
classes (2, 3 and 5 take 57% of them), and the entropy term sharpens that lean into one class;
DANN's predictions are spread over all ten.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..losses import entropy_loss
from ..models import (
    DigitClassifier,
    domain_classifier,
    forward_domains,
    frozen_batch_norm_statistics,
    reverse_gradient,
)
from . import register
from .base import Hyperparameters, Method, SourceBatch
from .settings import separate_batches_setting, setting


@dataclass
class VADADIRTTHyperparameters(Hyperparameters):
    steps: int = 1500
    batch_size: int = 64
    lr: float = 1e-4
    lr_anneal: float = 0.0
    dirtt_fraction: float = setting(0.4, 0.0, 1.0, label="Share of steps refining on the target (DIRT-T)")
    domain_weight: float = setting(0.01, 0.0, 10.0, label="Domain-adversarial weight λ_d")
    source_vat_weight: float = setting(0.0, 0.0, 10.0, label="Source smoothness (VAT) weight λ_s")
    target_weight: float = setting(
        0.1,
        0.0,
        10.0,
        label="Target cluster weight λ_t",
        help="conditional entropy plus VAT on target images",
    )
    kl_weight: float = setting(0.01, 0.0, 10.0, label="DIRT-T step-size weight β")
    vat_radius: float = setting(
        1.0, 0.0, 50.0, label="VAT radius ε", help="the size of the adversarial nudge"
    )
    teacher_refresh: int = setting(500, 1, 100_000, label="DIRT-T steps between teacher refreshes")
    domain_lr: float = setting(1e-3, 1e-6, 1.0, label="Domain-head learning rate")
    beta1: float = setting(
        0.9, 0.0, 0.999, label="Adam β1", help="the momentum of Adam's first moment; the paper's code uses 0.5"
    )
    separate_batches: bool = separate_batches_setting()
    dann_start: bool = setting(
        False,
        label="Start from the DANN model",
        help="VADA is DANN plus the cluster terms: starting where DANN's alignment ended keeps a biased "
        "source-only model's mistakes from being sharpened into one class",
    )


def _kl(reference_logits: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Mean ``KL(softmax(reference) ‖ softmax(logits))`` over a batch."""
    reference = F.log_softmax(reference_logits.float(), dim=1)
    return F.kl_div(F.log_softmax(logits.float(), dim=1), reference, log_target=True, reduction="batchmean")


def vat_loss(
    classifier: DigitClassifier, images: torch.Tensor, logits: torch.Tensor, radius: float, xi: float = 1e-6
) -> torch.Tensor:
    """Virtual adversarial loss ``KL(p(x) ‖ p(x + r_adv))`` (Miyato et al.), one power iteration.

    The clean and nudged passes see the same batch (``images`` alone), so batch normalisation treats
    them alike (the clean logits of a mixed source+target batch would not do: batch statistics
    differ, and the loss would teach the network to undo that difference); they leave the running
    statistics alone. ``logits`` is accepted for symmetry with the callers and not used."""
    with frozen_batch_norm_statistics(classifier):
        with torch.no_grad():
            clean = classifier(images)[0]
        return _vat(classifier, images, clean, radius, xi)


def _vat(classifier: DigitClassifier, images: torch.Tensor, clean: torch.Tensor, radius: float, xi: float):
    direction = torch.randn_like(images)
    direction = xi * direction / direction.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, 1, 1, 1)
    direction.requires_grad_(True)
    (gradient,) = torch.autograd.grad(_kl(clean, classifier(images + direction)[0]), direction)
    adversarial = gradient / gradient.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, 1, 1, 1)
    return _kl(clean, classifier(images + radius * adversarial.detach())[0])


@register
class VADADIRTT(Method):
    name = "vada_dirtt"
    title = "VADA → DIRT-T"
    order = 95
    hyperparameters_class = VADADIRTTHyperparameters
    alignment_parameter = "target_weight"
    late_metrics = ("kl_loss",)
    sweep_grid = {"target_weight": (0.01, 0.1), "kl_weight": (0.01, 0.1)}
    learn = r"""
Two ideas on top of DANN. **VADA** adds the *cluster assumption*: a good decision boundary does not
cut through a dense cluster of target points, so target predictions are made confident (low
entropy) and stable under the worst small nudge of the image (virtual adversarial training):

$$\mathcal{L}_{VADA} = \mathrm{CE}(y^S, h(x^S)) + \lambda_d\,\mathcal{L}_{domain}
 + \lambda_t\,\big(H(h(x^T)) + \mathrm{VAT}(x^T)\big)$$

**DIRT-T** then drops the source and keeps refining on the target alone, moving the boundary a
little at a time (a KL term ties each model to the previous one):

$$\mathcal{L}_{DIRT\text{-}T} = \lambda_t\,\big(H(h(x^T)) + \mathrm{VAT}(x^T)\big)
 + \beta\,\mathrm{KL}\big(h_{prev}(x^T)\,\Vert\,h(x^T)\big)$$

**When to prefer it:** when the target forms clean clusters (digits do) and a feature-alignment
method has already brought the domains close; it reaches some of the best published digit results.
"""

    @classmethod
    def warm_start_from(cls, hparams: VADADIRTTHyperparameters) -> str | None:
        return "dann" if hparams.dann_start else "source_only"

    def __init__(self, classifier, hparams: VADADIRTTHyperparameters) -> None:
        super().__init__(classifier, hparams)
        self.domain_head = domain_classifier(classifier.feature_dim)
        self.optimizer = torch.optim.Adam(
            [
                {"params": classifier.parameters(), "lr": hparams.lr},
                {"params": self.domain_head.parameters(), "lr": hparams.domain_lr},
            ],
            betas=(hparams.beta1, 0.999),
        )
        self.teacher: DigitClassifier | None = None
        self.dirtt_steps = 0

    def training_step(self, source: SourceBatch, target_images: torch.Tensor, progress: float) -> dict:
        if progress < 1.0 - self.hparams.dirtt_fraction:
            return self._vada_step(source, target_images)
        return self._dirtt_step(target_images)

    def _cluster_terms(
        self, target_images: torch.Tensor, target_logits: torch.Tensor
    ) -> tuple[torch.Tensor, dict]:
        entropy = entropy_loss(target_logits)
        smoothness = vat_loss(self.classifier, target_images, target_logits, self.hparams.vat_radius)
        return entropy + smoothness, {
            "target_entropy": entropy.detach(),
            "target_vat_loss": smoothness.detach(),
        }

    def _vada_step(self, source: SourceBatch, target_images: torch.Tensor) -> dict:
        hp = self.hparams
        count = source.images.shape[0]
        logits, features = forward_domains(self.classifier, source.images, target_images, hp.separate_batches)
        class_loss = F.cross_entropy(logits[:count].float(), source.labels)
        domain_logits = self.domain_head(reverse_gradient(features, 1.0)).float().squeeze(1)
        domains = torch.cat([torch.zeros(count), torch.ones(target_images.shape[0])]).to(domain_logits.device)
        domain_loss = F.binary_cross_entropy_with_logits(domain_logits, domains)
        cluster, metrics = self._cluster_terms(target_images, logits[count:])
        loss = class_loss + hp.domain_weight * domain_loss + hp.target_weight * cluster
        if hp.source_vat_weight > 0:
            loss = loss + hp.source_vat_weight * vat_loss(
                self.classifier, source.images, logits[:count], hp.vat_radius
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        domain_acc = ((domain_logits.detach() > 0).float() == domains).float().mean()
        return {
            "loss": loss.detach(),
            "class_loss": class_loss.detach(),
            "domain_loss": domain_loss.detach(),
            "domain_acc": domain_acc,
            **metrics,
        }

    def _dirtt_step(self, target_images: torch.Tensor) -> dict:
        hp = self.hparams
        if self.teacher is None or self.dirtt_steps % hp.teacher_refresh == 0:
            self.teacher = copy.deepcopy(self.classifier).eval()
            for parameter in self.teacher.parameters():
                parameter.requires_grad_(False)
        self.dirtt_steps += 1
        logits, _ = self.classifier(target_images)
        with torch.no_grad():
            previous = self.teacher(target_images)[0]
        cluster, metrics = self._cluster_terms(target_images, logits)
        kl = _kl(previous, logits)
        loss = hp.target_weight * cluster + hp.kl_weight * kl
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.detach(), "kl_loss": kl.detach(), **metrics}
