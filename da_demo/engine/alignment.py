"""How well two feature clouds are aligned: numbers to put beside the pictures.

* domain-classifier accuracy: a logistic-regression probe trained to tell source from target
  features, scored on held-out features (50% = indistinguishable);
* MMD² (multi-kernel Gaussian, as the MMD method uses);
* Sinkhorn distance (POT, entropic OT cost between the clouds, cost normalised by its max);
* the transport view: a Sinkhorn plan sorted by class, its share of mass on same-class pairs, and
  1-NN accuracy of target features against source features before and after mapping.

Target labels appear here only to *evaluate* (same-class mass, 1-NN accuracy), never to train.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ot
import torch

from ..losses import mmd_loss


def domain_probe_accuracy(source: np.ndarray, target: np.ndarray, seed: int = 0) -> float:
    """Held-out accuracy of a logistic regression telling source (0) from target (1) features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    features = np.concatenate([source, target])
    domains = np.concatenate([np.zeros(len(source)), np.ones(len(target))])
    train_x, test_x, train_y, test_y = train_test_split(
        features, domains, test_size=0.5, random_state=seed, stratify=domains
    )
    scaler = StandardScaler().fit(train_x)
    probe = LogisticRegression(max_iter=2000).fit(scaler.transform(train_x), train_y)
    return float(probe.score(scaler.transform(test_x), test_y))


def mmd(source: np.ndarray, target: np.ndarray) -> float:
    return float(mmd_loss(torch.from_numpy(source).float(), torch.from_numpy(target).float()))


def sinkhorn_distance(source: np.ndarray, target: np.ndarray, reg: float = 1e-2) -> float:
    """Entropic OT cost ``⟨γ*, C⟩`` with squared Euclidean cost scaled to max 1 (uniform weights)."""
    cost = ot.dist(source.astype(np.float64), target.astype(np.float64))
    cost /= cost.max()
    weights_s, weights_t = np.full(len(source), 1 / len(source)), np.full(len(target), 1 / len(target))
    return float(ot.sinkhorn2(weights_s, weights_t, cost, reg, method="sinkhorn", numItermax=2000))


@dataclass
class TransportView:
    plan: np.ndarray  # (n_s, n_t), rows and columns sorted by class
    source_labels: np.ndarray  # sorted
    target_labels: np.ndarray  # sorted (evaluation only)
    same_class_mass: float  # share of the plan's mass on pairs of the same class
    knn_before: float  # 1-NN accuracy of target against source features
    knn_after: float  # ... against the source features mapped by the plan


def transport_view(
    source: np.ndarray,
    source_labels: np.ndarray,
    target: np.ndarray,
    target_labels: np.ndarray,
    reg: float = 1e-2,
) -> TransportView:
    """Fit POT's Sinkhorn transport source → target and describe it (see module docstring)."""
    transport = ot.da.SinkhornTransport(
        reg_e=reg, norm="max", method="sinkhorn", out_of_sample_map="ferradans"
    )
    transport.fit(Xs=source.astype(np.float64), Xt=target.astype(np.float64))
    plan = np.asarray(transport.coupling_)
    mapped = np.asarray(transport.transform(Xs=source.astype(np.float64)))
    same_class = source_labels[:, None] == target_labels[None, :]
    order_s, order_t = np.argsort(source_labels, kind="stable"), np.argsort(target_labels, kind="stable")

    def nearest_accuracy(references: np.ndarray) -> float:
        nearest = ot.dist(target.astype(np.float64), references).argmin(axis=1)
        return float((source_labels[nearest] == target_labels).mean())

    return TransportView(
        plan[order_s][:, order_t],
        source_labels[order_s],
        target_labels[order_t],
        float(plan[same_class].sum() / plan.sum()),
        nearest_accuracy(source.astype(np.float64)),
        nearest_accuracy(mapped),
    )
