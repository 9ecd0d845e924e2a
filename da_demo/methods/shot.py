"""SHOT (Liang et al., ICML 2020): source hypothesis transfer, the source-free method.

The classifier head (the "hypothesis") learned on the source is frozen; only the feature extractor
adapts, from **target images alone** (the source batch the engine hands it is ignored):

    L = L_IM + β · CE(p(x_t), ŷ_t)
    L_IM = E_t[H(p(x_t))] − H(E_t[p(x_t)])        information maximisation: confident and diverse

and ``ŷ_t`` are self-supervised pseudo-labels: class centroids in feature space, weighted by the
current predictions (``c_k = Σ p_k(x) f(x) / Σ p_k(x)``), then refined once with the hard labels,
label each target image by its nearest centroid (cosine distance). SHOT recomputes them over the
whole target set every epoch; here they are recomputed every ``refresh_every`` steps over a bank of
the most recent target images (``bank_size``), which costs one forward pass of the bank.

Departures from the paper: our source model has no bottleneck layer, weight-normalised head or
label smoothing (the shared source-only model is the start of every method), and Adam replaces SGD.
An option the paper does not have, ``keep_source_statistics``, leaves batch norm's running statistics
at the source's, so that ordinary (MNIST-like) handwriting keeps being normalised as it was trained.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..losses import entropy_loss
from ..models import frozen_batch_norm_statistics
from . import register
from .base import Hyperparameters, Method, SourceBatch
from .settings import setting


@dataclass
class SHOTHyperparameters(Hyperparameters):
    steps: int = 1500
    batch_size: int = 64
    lr: float = 1e-4
    lr_anneal: float = 10.0
    pseudo_label_weight: float = setting(
        0.3,
        0.0,
        10.0,
        label="Pseudo-label weight β",
        help="how much the centroid pseudo-labels count beside information maximisation",
    )
    diversity_weight: float = setting(
        1.0,
        0.0,
        10.0,
        label="Diversity weight",
        help="the −H(mean prediction) part of information maximisation",
    )
    refresh_every: int = setting(100, 1, 10_000, label="Steps between pseudo-label refreshes")
    bank_size: int = setting(2048, 64, 20_000, label="Target images the centroids are computed on")
    keep_source_statistics: bool = setting(
        False,
        label="Keep the source's batch-norm statistics",
        help="adapt the weights only: target batches are normalised by their own statistics while "
        "training but leave the running ones, so the model still predicts with the source's (ordinary "
        "handwriting is read as before)",
    )


def _augmented(features: torch.Tensor) -> torch.Tensor:
    """Features with a constant 1 appended, L2-normalised (SHOT's cosine-distance space)."""
    features = features.float()
    return F.normalize(torch.cat([features, torch.ones_like(features[:, :1])], dim=1), dim=1)


def shot_centroids(features: torch.Tensor, probabilities: torch.Tensor) -> torch.Tensor:
    """SHOT's class centroids ``(K, d + 1)`` for ``features (N, d)`` and predictions ``(N, K)``:
    prediction-weighted centroids, then the centroids of the nearest-centroid labels (unit length)."""
    features = _augmented(features)
    centroids = probabilities.T @ features / (probabilities.sum(0)[:, None] + 1e-8)
    labels = nearest_centroid(features, centroids)
    hard = F.one_hot(labels, probabilities.shape[1]).float()
    return F.normalize(hard.T @ features / (hard.sum(0)[:, None] + 1e-8), dim=1)


def nearest_centroid(features: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """The pseudo-label of each row: the centroid at the smallest cosine distance."""
    if features.shape[1] != centroids.shape[1]:
        features = _augmented(features)
    return (F.normalize(features, dim=1) @ F.normalize(centroids, dim=1).T).argmax(1)


@register
class SHOT(Method):
    name = "shot"
    title = "SHOT (source-free)"
    order = 85
    hyperparameters_class = SHOTHyperparameters
    alignment_parameter = "pseudo_label_weight"
    late_metrics = ("pseudo_label_loss",)
    sweep_grid = {"pseudo_label_weight": (0.0, 0.3), "lr": (1e-4, 3e-4)}
    learn = r"""
**Source-free**: the only method here that needs **no source data at adaptation time**, just the
source model and unlabeled target images (useful when the source data is private). The classifier
head learned on the source is frozen; only the feature extractor adapts, so that target features
fall where the frozen head is confident *and* uses every class (information maximisation), helped
by pseudo-labels from class centroids in feature space:

$$\mathcal{L} = \underbrace{\mathbb{E}_t\,H(p(x_t)) - H\big(\mathbb{E}_t\,p(x_t)\big)}_{\text{information maximisation}}
 + \beta\,\mathrm{CE}\big(p(x_t), \hat y_t\big), \qquad \hat y_t = \arg\min_k \cos\text{-dist}\big(f(x_t), c_k\big)$$

**When to prefer it:** the source data cannot travel with the model; or as a strong, simple
second stage after any source model. **Watch out:** with no source images to hold on to, the
extractor can forget them. On MNIST → USPS, adapting to USPS's thick, frame-filling digits costs
thin, ordinary handwriting: the models USPS likes best read drawn digits far worse than the
source-only model, so the shipped one is an early, gently adapted point that still reads them
(the Results tab shows the trade).
"""

    def __init__(self, classifier, hparams: SHOTHyperparameters) -> None:
        super().__init__(classifier, hparams)
        for parameter in classifier.head.parameters():
            parameter.requires_grad_(False)
        self.optimizer = torch.optim.Adam(classifier.extractor.parameters(), lr=hparams.lr)
        self.bank: list[torch.Tensor] = []
        self.centroids: torch.Tensor | None = None
        self.steps_done = 0

    def _refresh_centroids(self) -> None:
        """Centroids of the image bank under the current extractor (in eval mode, no gradient)."""
        images = torch.cat(self.bank)[-self.hparams.bank_size :]
        was_training = self.classifier.training
        self.classifier.eval()
        with torch.no_grad():
            logits, features = self.classifier(images)
        self.classifier.train(was_training)
        self.centroids = shot_centroids(features, F.softmax(logits.float(), dim=1))

    def training_step(self, source: SourceBatch, target_images: torch.Tensor, progress: float) -> dict:
        hp = self.hparams
        self.bank.append(target_images.detach())
        self.bank = self.bank[-(hp.bank_size // target_images.shape[0] + 1) :]
        if self.steps_done % hp.refresh_every == 0 and hp.pseudo_label_weight > 0:
            self._refresh_centroids()
        self.steps_done += 1

        with frozen_batch_norm_statistics(self.classifier) if hp.keep_source_statistics else nullcontext():
            logits, features = self.classifier(target_images)
        probabilities = F.softmax(logits.float(), dim=1)
        entropy = entropy_loss(logits)
        mean_prediction = probabilities.mean(0)
        diversity = -(mean_prediction * torch.log(mean_prediction + 1e-8)).sum()
        loss = entropy - hp.diversity_weight * diversity
        metrics = {"target_entropy": entropy.detach(), "diversity": diversity.detach()}
        if hp.pseudo_label_weight > 0 and self.centroids is not None:
            with torch.no_grad():
                pseudo_labels = nearest_centroid(features, self.centroids)
            pseudo_loss = F.cross_entropy(logits.float(), pseudo_labels)
            loss = loss + hp.pseudo_label_weight * pseudo_loss
            metrics["pseudo_label_loss"] = pseudo_loss.detach()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.detach(), **metrics}
