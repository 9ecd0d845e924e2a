"""Optimal transport pieces, computed with POT: exact plans for mini-batches and the DeepJDOT cost."""

from __future__ import annotations

import numpy as np
import ot
import torch
import torch.nn.functional as F


def exact_plan(
    cost: torch.Tensor, source_weights: torch.Tensor | None = None, target_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Exact OT plan ``γ = argmin_{γ ∈ Π(a, b)} ⟨γ, C⟩`` for a cost ``(n, m)`` (POT's network simplex).

    ``a``, ``b`` default to uniform weights; the rows of ``γ`` sum to ``a`` and its columns to ``b``.
    Computed without gradient (the plan is treated as a constant, as in DeepJDOT).
    """
    n, m = cost.shape
    a = np.full(n, 1.0 / n) if source_weights is None else source_weights.detach().double().cpu().numpy()
    b = np.full(m, 1.0 / m) if target_weights is None else target_weights.detach().double().cpu().numpy()
    plan = ot.emd(a, b, cost.detach().double().cpu().numpy())
    return torch.as_tensor(plan, dtype=torch.float32, device=cost.device)


def unbalanced_plan(cost: torch.Tensor, epsilon: float, marginal_penalty: float) -> torch.Tensor:
    """Entropic **unbalanced** OT plan for a cost ``(n, m)`` between uniform weights (POT's
    ``sinkhorn_knopp_unbalanced``): the marginals are only penalised (KL, weight ``marginal_penalty``
    τ), not imposed, so a batch whose class proportions differ from the other's need not send mass
    across classes (JUMBOT, Fatras et al., 2021). ``epsilon`` is the entropic regularisation ε.
    Computed without gradient, like ``exact_plan``."""
    n, m = cost.shape
    plan = ot.unbalanced.sinkhorn_knopp_unbalanced(
        np.full(n, 1.0 / n),
        np.full(m, 1.0 / m),
        cost.detach().double().cpu().numpy(),
        epsilon,
        marginal_penalty,
    )
    return torch.as_tensor(plan, dtype=torch.float32, device=cost.device)


def jdot_cost(
    source_features: torch.Tensor,
    target_features: torch.Tensor,
    source_labels: torch.Tensor,
    target_logits: torch.Tensor,
    feature_weight: float,
    label_weight: float,
) -> torch.Tensor:
    """DeepJDOT's joint cost ``C_ij = α‖f_i^S − f_j^T‖² + λ_t · CE(y_i^S, g(f_j^T))``.

    ``source_features (n, d)``, ``target_features (m, d)``, ``source_labels (n,)`` and
    ``target_logits (m, K)`` → ``(n, m)``.
    """
    distances = torch.cdist(source_features.float(), target_features.float()).pow(2)
    target_log_probabilities = F.log_softmax(target_logits.float(), dim=1)  # (m, K)
    label_cost = -target_log_probabilities[:, source_labels].T  # (n, m): -log p_j(y_i)
    return feature_weight * distances + label_weight * label_cost


def jdot_plan_cost(
    source_features: torch.Tensor,
    target_features: torch.Tensor,
    source_labels: torch.Tensor,
    target_logits: torch.Tensor,
    feature_weight: float,
    label_weight: float,
) -> torch.Tensor:
    """The cost DeepJDOT's reference code couples batches with: ``α‖f_i^S − f_j^T‖² + λ_t ‖y_i^S − p_j^T‖²``
    (one-hot labels against target softmax outputs); the loss then uses ``jdot_cost``'s cross-entropy.

    Shapes as ``jdot_cost``; computed without gradient (the plan is a constant)."""
    with torch.no_grad():
        distances = torch.cdist(source_features.float(), target_features.float()).pow(2)
        one_hot = F.one_hot(source_labels, target_logits.shape[1]).float()
        label_cost = torch.cdist(one_hot, F.softmax(target_logits.float(), dim=1)).pow(2)
    return feature_weight * distances + label_weight * label_cost
