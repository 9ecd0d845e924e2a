"""DANN: domain-adversarial training through a gradient reversal layer (Ganin & Lempitsky, 2015).

A domain head learns to tell source features from target features; the gradient reversal layer
flips its gradient on the way into the feature extractor, so the features learn to fool it while
the label head keeps them discriminative:

    L = CE(source) + w_d · BCE(domain head(GRL_λ(features)), domain) [+ w_H · H(target predictions)]

λ follows ``λ(p) = λ_max · (2 / (1 + e^(−10p)) − 1)`` over the training progress ``p``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..losses import entropy_loss
from ..models import domain_classifier, forward_domains, grl_lambda, reverse_gradient
from . import register
from .base import Hyperparameters, Method, SourceBatch
from .settings import entropy_weight_setting, separate_batches_setting, setting, warm_start_setting


@dataclass
class DANNHyperparameters(Hyperparameters):
    steps: int = 1500
    batch_size: int = 64
    lr: float = 1e-4  # feature extractor
    head_lr: float = setting(1e-4, 1e-6, 1.0, label="Label-head learning rate")
    domain_lr: float = setting(3e-3, 1e-6, 1.0, label="Domain-head learning rate")
    lr_anneal: float = 10.0  # lr / (1 + 10 p)^0.75, as in the DANN paper
    domain_weight: float = setting(1.0, 0.0, 100.0, label="Domain-loss weight")
    lambda_max: float = setting(
        1.0,
        0.0,
        10.0,
        label="Gradient-reversal strength λ",
        help="the reversed gradient's final scale; λ(p) grows from 0 to it",
    )
    entropy_weight: float = entropy_weight_setting(0.1)
    separate_batches: bool = separate_batches_setting()
    warm_start: bool = warm_start_setting()


@register
class DANN(Method):
    name = "dann"
    title = "DANN (gradient reversal)"
    order = 20
    hyperparameters_class = DANNHyperparameters
    alignment_parameter = "lambda_max"
    sweep_grid = {"lambda_max": (0.3, 1.0), "entropy_weight": (0.0, 0.1)}
    learn = r"""
Learn features that a **domain classifier cannot tell apart**. A small head $d$ predicts whether a
feature comes from the source or the target; the *gradient reversal layer* flips its gradient before
it reaches the feature extractor $f$, so $f$ learns to fool $d$ while the label head keeps the features
useful for classifying digits:

$$\min_{f, g} \max_{d} \; \mathrm{CE}\big(y^S, g(f(x^S))\big) - \lambda\, \mathrm{BCE}\big(\text{domain}, d(f(x))\big),
\qquad \lambda(p) = \frac{2}{1 + e^{-10p}} - 1$$

$\lambda$ grows from 0 over training progress $p$, so the domain head learns before it pushes. An
optional entropy term makes confident target predictions. **When to prefer it:** a strong, general
default when the label sets match; watch the domain-classifier accuracy fall towards 50%.
"""

    def __init__(self, classifier, hparams: DANNHyperparameters) -> None:
        super().__init__(classifier, hparams)
        self.domain_head = domain_classifier(classifier.feature_dim)
        self.optimizer = torch.optim.Adam(
            [
                {"params": classifier.extractor.parameters(), "lr": hparams.lr},
                {"params": classifier.head.parameters(), "lr": hparams.head_lr},
                {"params": self.domain_head.parameters(), "lr": hparams.domain_lr},
            ]
        )

    def adversarial_losses(self, source: SourceBatch, target_images: torch.Tensor, progress: float):
        """DANN's objective on one batch pair: ``(loss, metrics, logits, features)`` of the
        concatenated source and target batch (source rows first)."""
        hp = self.hparams
        count = source.images.shape[0]
        # by default one forward over both batches: half the kernel launches, and BN sees both domains
        logits, features = forward_domains(self.classifier, source.images, target_images, hp.separate_batches)
        class_loss = F.cross_entropy(logits[:count].float(), source.labels)

        grl_scale = grl_lambda(progress, hp.lambda_max)
        domain_logits = self.domain_head(reverse_gradient(features, grl_scale)).float().squeeze(1)
        domain_labels = torch.cat([torch.zeros(count), torch.ones(target_images.shape[0])]).to(
            domain_logits.device
        )
        domain_loss = F.binary_cross_entropy_with_logits(domain_logits, domain_labels)

        loss = class_loss + hp.domain_weight * domain_loss
        metrics = {"class_loss": class_loss.detach(), "domain_loss": domain_loss.detach()}
        if hp.entropy_weight > 0:
            target_entropy = entropy_loss(logits[count:])
            loss = loss + hp.entropy_weight * target_entropy
            metrics["target_entropy"] = target_entropy.detach()
        metrics["domain_acc"] = ((domain_logits.detach() > 0).float() == domain_labels).float().mean()
        metrics["grl_lambda"] = grl_scale
        return loss, metrics, logits, features

    def training_step(self, source: SourceBatch, target_images: torch.Tensor, progress: float) -> dict:
        loss, metrics, _, _ = self.adversarial_losses(source, target_images, progress)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.detach(), **metrics}
