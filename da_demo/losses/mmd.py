"""Maximum mean discrepancy with a multi-kernel Gaussian (DAN, Long et al. 2015), and its
class-conditional, weighted form LMMD (DSAN, Zhu et al. 2020)."""

from __future__ import annotations

import torch

DEFAULT_MULTIPLIERS = (0.25, 0.5, 1.0, 2.0, 4.0)


def gaussian_kernels(
    source: torch.Tensor,
    target: torch.Tensor,
    multipliers: tuple[float, ...] = DEFAULT_MULTIPLIERS,
    bandwidth: float | torch.Tensor | None = None,
) -> torch.Tensor:
    """Sum of Gaussian kernels ``Σ_m exp(−‖a − b‖² / (m·σ²))`` over all rows of ``[source; target]``.

    ``source (n, d)``, ``target (m, d)`` → ``(n + m, n + m)``. ``σ²`` defaults to the mean squared
    pairwise distance (computed without gradient), so the kernels adapt to the feature scale.
    """
    points = torch.cat([source, target]).float()
    squared = torch.cdist(points, points).pow(2)
    if bandwidth is None:
        count = points.shape[0]
        bandwidth = squared.detach().sum() / max(count * count - count, 1)
    bandwidth = torch.clamp(torch.as_tensor(bandwidth, dtype=squared.dtype, device=squared.device), min=1e-8)
    return sum(torch.exp(-squared / (bandwidth * multiplier)) for multiplier in multipliers)


def mmd_loss(
    source: torch.Tensor,
    target: torch.Tensor,
    multipliers: tuple[float, ...] = DEFAULT_MULTIPLIERS,
    bandwidth: float | None = None,
) -> torch.Tensor:
    """Unbiased estimate of ``MMD² = E k(s, s') + E k(t, t') − 2 E k(s, t)``.

    ``source (n, d)``, ``target (m, d)`` → scalar. Near 0 (either sign) for samples of one
    distribution; grows as the distributions move apart.
    """
    n, m = source.shape[0], target.shape[0]
    kernels = gaussian_kernels(source, target, multipliers, bandwidth)
    ss, tt, st = kernels[:n, :n], kernels[n:, n:], kernels[:n, n:]
    # drop the diagonals: k(x, x) = len(multipliers) always, which biases the within-domain means
    within_source = (ss.sum() - ss.diagonal().sum()) / (n * (n - 1))
    within_target = (tt.sum() - tt.diagonal().sum()) / (m * (m - 1))
    return within_source + within_target - 2 * st.mean()


def lmmd_loss(
    source: torch.Tensor,
    target: torch.Tensor,
    source_labels: torch.Tensor,
    target_probabilities: torch.Tensor,
    multipliers: tuple[float, ...] = DEFAULT_MULTIPLIERS,
    bandwidth: float | None = None,
) -> torch.Tensor:
    """Local (class-wise) MMD: the mean over classes of a weighted MMD² between class ``c`` of each domain.

    Source weights ``w_s[i, c] = 1[y_i = c] / n_c`` come from the labels, target weights
    ``w_t[j, c] = p_jc / Σ_j p_jc`` from the current softmax ``target_probabilities (m, K)``:

        LMMD = 1/|C| Σ_c [ w_sᶜᵀ K_ss w_sᶜ + w_tᶜᵀ K_tt w_tᶜ − 2 w_sᶜᵀ K_st w_tᶜ ]

    (the within-domain terms leave out ``i = j`` pairs, as ``mmd_loss`` does).

    Each class's weights sum to 1 in each domain, so class *proportions* do not count, only how
    each class is distributed. Only classes present in the source batch and predicted in the
    target batch take part (``C``).
    """
    n, num_classes = source.shape[0], target_probabilities.shape[1]
    source_weights = torch.nn.functional.one_hot(source_labels, num_classes).float()
    target_weights = target_probabilities.float().detach()
    present = (source_weights.sum(0) > 0) & (
        torch.bincount(target_weights.argmax(1), minlength=num_classes) > 0
    )
    if not present.any():
        return source.sum() * 0.0
    source_weights = source_weights[:, present] / source_weights[:, present].sum(0, keepdim=True)
    target_weights = target_weights[:, present] / target_weights[:, present].sum(0, keepdim=True).clamp(
        min=1e-8
    )
    kernels = gaussian_kernels(source, target, multipliers, bandwidth)
    ss, tt, st = kernels[:n, :n], kernels[n:, n:], kernels[:n, n:]
    per_class = (
        _weighted_within(ss, source_weights)
        + _weighted_within(tt, target_weights)
        - 2 * ((source_weights.T @ st) * target_weights.T).sum(1)
    )
    return per_class.mean()


def _weighted_within(kernels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Per column c of ``weights (n, C)``: ``Σ_{i≠j} w_i w_j k_ij / Σ_{i≠j} w_i w_j``, the weighted mean
    kernel between *distinct* points (the diagonal, always ``k(x, x)``, would bias it upwards)."""
    full = ((weights.T @ kernels) * weights.T).sum(1)
    diagonal = (weights.pow(2) * kernels.diagonal().unsqueeze(1)).sum(0)
    pair_mass = 1.0 - weights.pow(2).sum(0)
    return (full - diagonal) / pair_mass.clamp(min=1e-8)
