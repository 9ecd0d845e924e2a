"""Optimal transport of features (Courty et al. 2017; the blog's pipeline), no retraining.

1. Extract features of source and target training images with the source-only model.
2. Fit an entropic OT plan (POT ``SinkhornTransport``, ``reg_e = 1e-2``, cost normalised by its
   max) between a subsample of each domain.
3. Move source features by the barycentric map ``T(x_i) = Σ_j γ_ij x_j^T / Σ_j γ_ij``; source
   points outside the fitted subsample are mapped out of sample (Ferradans et al.).
4. Classify each target feature by its nearest mapped source feature (1-NN); the same 1-NN against
   the unmapped source features is the baseline it is compared with. The unmoved source features
   stay among the references too (``keep_unmapped``), so inputs that look like the source, such as a
   visitor's drawing, are still read as the source-only features would read them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import ot
import torch
from torch import nn

from ..models import predict
from . import register
from .base import FittedMethod, HyperparameterSet
from .settings import setting


@dataclass
class SinkhornMappingHyperparameters(HyperparameterSet):
    fit_samples: int = setting(2000, 10, 20_000, label="Samples per domain for the plan")
    reg_e: float = setting(
        1e-2,
        1e-4,
        10.0,
        label="Entropic regularisation ε",
        help="larger ε: a blurrier plan, each source point spread over more targets",
    )
    max_iter: int = setting(1000, 1, 100_000, label="Sinkhorn iterations (at most)")
    # mapped source features kept for 1-NN (and in the checkpoint); beyond fit_samples the extra ones
    # are mapped out of sample. 2,000 keeps a shipped checkpoint near 0.5 MB (10,000 would be 2.5 MB).
    reference_samples: int = setting(2000, 10, 60_000, label="Mapped source features kept for 1-NN")
    keep_unmapped: bool = setting(
        True,
        label="Also compare with the unmoved source features",
        help="so source-like inputs (a drawn digit) still find their own class",
    )


class ReferenceFeatures(nn.Module):
    """Labeled points in feature space that 1-NN classification compares against."""

    def __init__(self, features: torch.Tensor | None = None, labels: torch.Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("features", features if features is not None else torch.zeros(0, 0))
        self.register_buffer("labels", labels if labels is not None else torch.zeros(0, dtype=torch.long))


class NearestNeighbourClassifier(nn.Module):
    """``(logits, features)`` like every classifier: ``logits_c = −min_i ‖f − r_i‖`` over the
    references ``r_i`` of class ``c``, so the argmax is the 1-NN prediction. Without references
    (a fit stopped before its first stage) it predicts as the network it wraps."""

    def __init__(self, classifier: nn.Module, references: ReferenceFeatures) -> None:
        super().__init__()
        self.classifier, self.references = classifier, references

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.references.features.numel() == 0:
            return self.classifier(images)
        features = self.classifier.extractor(images).float()
        scores = nearest_class_scores(
            features, self.references.features, self.references.labels, self.classifier.num_classes
        )
        return scores, features


def nearest_class_scores(
    features: torch.Tensor,
    references: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    chunk: int = 2048,
) -> torch.Tensor:
    """``(B, num_classes)``: minus the distance from each feature to the nearest reference of each class."""
    scores = torch.full((features.shape[0], num_classes), -float("inf"), device=features.device)
    for start in range(0, references.shape[0], chunk):
        distances = torch.cdist(features, references[start : start + chunk].to(features))
        for label in labels[start : start + chunk].unique():
            in_class = labels[start : start + chunk] == label
            nearest = -distances[:, in_class].min(dim=1).values
            scores[:, label] = torch.maximum(scores[:, label], nearest)
    return scores


@register
class SinkhornMapping(FittedMethod):
    name = "ot_sinkhorn"
    title = "OT: Sinkhorn mapping + 1-NN"
    order = 60
    hyperparameters_class = SinkhornMappingHyperparameters
    alignment_parameter = "reg_e"
    sweep_grid = {"reg_e": (0.003, 0.01, 0.03, 0.1)}
    stages = 3
    learn = r"""
Move the source features onto the target ones with **optimal transport**, then classify target
features by their nearest moved source feature (1-NN). An entropic plan $\gamma$ between the two
clouds solves

$$\gamma^\star = \arg\min_{\gamma \in \Pi(a, b)} \langle \gamma, C \rangle - \varepsilon H(\gamma),
\qquad \hat{x}_i^S = \frac{\sum_j \gamma_{ij}\, x_j^T}{\sum_j \gamma_{ij}}$$

(Sinkhorn's algorithm, POT). Nothing is retrained. **When to prefer it:** you have a fixed feature
extractor and want a transparent, geometric adaptation you can inspect: the plan shows which
source points feed which target points.
"""

    def __init__(self, classifier, hparams: SinkhornMappingHyperparameters) -> None:
        super().__init__(classifier, hparams)
        self.references = ReferenceFeatures()
        self.unmapped_ = ReferenceFeatures()
        self.transport_: ot.da.SinkhornTransport | None = None

    def transport(self) -> ot.da.BaseTransport:
        """The POT estimator that fits the plan (an entropic Sinkhorn plan that ignores labels)."""
        hp = self.hparams
        return ot.da.SinkhornTransport(
            reg_e=hp.reg_e, norm="max", method="sinkhorn", max_iter=hp.max_iter, out_of_sample_map="ferradans"
        )

    def extra_state(self) -> dict[str, nn.Module]:
        return {"references": self.references}

    def evaluation_classifier(self) -> nn.Module:
        return NearestNeighbourClassifier(self.classifier, self.references)

    def reference_classifiers(self) -> dict[str, nn.Module]:
        """1-NN against the source features as they are: what the mapping is meant to improve on."""
        return {"baseline_1nn": NearestNeighbourClassifier(self.classifier, self.unmapped_)}

    @classmethod
    def feature_view(cls, source_features, target_features):
        """The source features moved onto the target by a Sinkhorn plan fitted on these very features."""
        transport = ot.da.SinkhornTransport(
            reg_e=SinkhornMappingHyperparameters.reg_e,
            norm="max",
            method="sinkhorn",
            out_of_sample_map="ferradans",
        )
        transport.fit(Xs=np.asarray(source_features, np.float64), Xt=np.asarray(target_features, np.float64))
        return np.asarray(
            transport.transform(Xs=np.asarray(source_features, np.float64)), np.float32
        ), target_features

    @classmethod
    def inference_model(cls, checkpoint) -> nn.Module:
        stored = checkpoint.extras["references"]
        references = ReferenceFeatures(stored["features"].float(), stored["labels"].long())
        return NearestNeighbourClassifier(checkpoint.classifier.eval(), references).eval()

    def fit(self, source, target, *, seed: int = 0, device=None) -> Iterator[dict[str, float]]:
        hp = self.hparams
        generator = torch.Generator().manual_seed(seed)
        source_index = torch.randperm(len(source), generator=generator)
        target_index = torch.randperm(len(target), generator=generator)[: hp.fit_samples]
        reference_index = source_index[: max(hp.reference_samples, hp.fit_samples)]
        # features of the references, the fitted subsample first, and of the target subsample
        _, source_features = predict(self.classifier, source.images[reference_index], device=device)
        _, target_features = predict(self.classifier, target.images[target_index], device=device)
        reference_labels = source.labels[reference_index]
        # until the plan is fitted, the model is plain 1-NN against the unmapped source features
        self.unmapped_ = ReferenceFeatures(source_features, reference_labels)
        self.references = ReferenceFeatures(source_features.clone(), reference_labels)
        yield {"features": float(source_features.shape[0] + target_features.shape[0])}

        self.transport_ = self.transport()
        self.transport_.fit(
            Xs=source_features[: hp.fit_samples].double().numpy(),
            ys=reference_labels[: hp.fit_samples].numpy(),
            Xt=target_features.double().numpy(),
        )
        yield {"plan_entropy": _entropy(self.transport_.coupling_)}

        mapped = torch.as_tensor(
            np.asarray(self.transport_.transform(Xs=source_features.double().numpy(), batch_size=4096)),
            dtype=torch.float32,
        )
        if hp.keep_unmapped:
            # target points lie nearer the moved copies; a drawn (source-like) digit nearer the originals
            self.references = ReferenceFeatures(
                torch.cat([mapped, source_features]), torch.cat([reference_labels, reference_labels])
            )
        else:
            self.references = ReferenceFeatures(mapped, reference_labels)
        yield {}


def _entropy(plan: np.ndarray) -> float:
    mass = np.asarray(plan).ravel()
    mass = mass[mass > 0] / mass.sum()
    return float(-(mass * np.log(mass)).sum())
