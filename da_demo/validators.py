"""Label-free validators: scores that rank trained models without a single target label.

Each is a pure function of what can be had without target labels: predictions on the **labeled
source validation split** (images no method trains on), predictions and features on **unlabeled
target training images**, and source features. No signature here takes a target label, so none
can use one. Every score is oriented so that **higher is better**.

* ``source_accuracy``: accuracy on the source validation split (DomainBed's "training-domain
  validation"): ignores the target entirely, a strong simple baseline.
* ``target_entropy``: minus the mean prediction entropy on the target (Morerio et al., 2018):
  confident target predictions.
* ``information_maximization``: entropy of the mean target prediction minus the mean entropy
  (Musgrave et al., 2022): confident *and* class-balanced.
* ``soft_neighborhood_density``: SND (Saito et al., ICCV 2021): how densely target points cluster
  in the space of their (normalised) softmax outputs.
* ``deep_embedded_validation``: DEV (You et al., ICML 2019): the source validation loss weighted by
  density ratios ``p_T(x)/p_S(x)`` from a domain classifier, with a control variate; minus that risk.

Two more need the sweep's other models, so the selection computes them from each evaluation point's
predicted target classes (recorded beside the scores):

* ``ensemble_agreement``: EnsV (Hu, Luo, Liang and Foo, NeurIPS 2024): how often a candidate's target
  predictions agree with the ensemble of all candidates of the same method and pair.
* ``prior_matched_im``: information maximisation with its class-balance term matched to a label-free
  estimate of the target's class mix instead of the uniform one (``estimated_prior``: the histogram
  of the majority vote of all the pair's candidates), for a target whose classes are not equally
  common (USPS). Pre-registered in ``docs/preregistration-prior-matched-im.md``.
* ``collapsed``: the collapse guard, not a score: a candidate whose target predictions use fewer
  classes than the source has, or whose class histogram's entropy is far below the source labels',
  is never picked, whatever a validator says.
* ``unreadable``: the handwriting guard, not a score either: a candidate that reads drawn-style digits
  (made from the source validation split) more than ``HANDWRITING_MARGIN`` worse than the pair's
  source-only model is never picked.
"""

from __future__ import annotations

import numpy as np

VALIDATORS = (
    "source_accuracy",
    "target_entropy",
    "information_maximization",
    "soft_neighborhood_density",
    "deep_embedded_validation",
)
#: scored from the sweep's candidates together (see ``ensemble_agreement``)
ENSEMBLE = "ensemble_agreement"
#: scored from a candidate's predicted classes and the pair's estimated target prior (``prior_matched_im``)
PRIOR_MATCHED = "prior_matched_im"
#: every validator the selection ranks points by
SELECTION_VALIDATORS = (*VALIDATORS, ENSEMBLE, PRIOR_MATCHED)
#: a class histogram with less than this fraction of the source labels' entropy is a collapse
COLLAPSE_ENTROPY_RATIO = 0.85
#: how much worse than the pair's source-only model a pick may read drawn-style digits: half a point
#: inside the 3-point goal (issue 19: plain handwriting stays read), which is measured on another
#: 2,000 drawn digits (the check set), so that a pick at the guard's edge still meets it there (the
#: source-only model alone reads the two sets 0.7 points apart)
HANDWRITING_MARGIN = 0.025
TITLES = {
    "source_accuracy": "source validation accuracy",
    "target_entropy": "target prediction entropy (negated)",
    "information_maximization": "information maximisation",
    "soft_neighborhood_density": "soft neighbourhood density (SND)",
    "deep_embedded_validation": "deep embedded validation (DEV, negated risk)",
    ENSEMBLE: "agreement with the ensemble (EnsV)",
    PRIOR_MATCHED: "prior-matched information maximisation",
}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``logits (N, K)``, computed stably in float64."""
    shifted = np.asarray(logits, np.float64) - np.max(logits, axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def _entropy(probabilities: np.ndarray, axis: int = -1) -> np.ndarray:
    return -(probabilities * np.log(np.clip(probabilities, 1e-12, 1.0))).sum(axis=axis)


def source_accuracy(source_logits: np.ndarray, source_labels: np.ndarray) -> float:
    """``mean[argmax(logits_i) = y_i]`` over the source validation split ``(N, K)``, ``(N,)``."""
    return float((np.asarray(source_logits).argmax(axis=1) == np.asarray(source_labels)).mean())


def target_entropy(target_logits: np.ndarray) -> float:
    """``−(1/N) Σ_i H(p_i)``, ``H(p) = −Σ_k p_k log p_k``, over target predictions ``(N, K)``.
    Highest (0) for one-hot predictions; ``−log K`` for uniform ones."""
    return float(-_entropy(softmax(target_logits)).mean())


def information_maximization(target_logits: np.ndarray) -> float:
    """``IM = H(p̄) − (1/N) Σ_i H(p_i)`` with ``p̄ = (1/N) Σ_i p_i``: high when each prediction is
    confident and the classes are used evenly; at most ``log K``."""
    probabilities = softmax(target_logits)
    return float(_entropy(probabilities.mean(axis=0)) - _entropy(probabilities).mean())


def information_terms(scores: dict[str, float | None]) -> tuple[float, float] | None:
    """The two terms of a model's information maximisation, from its recorded scores (IM and target
    entropy, negated): ``(H(p̄), (1/N) Σ_i H(p_i))``, how evenly it spreads its predictions over the
    classes and how unsure each one is (IM is the first minus the second). None when either score
    is missing. Once predictions are near one-hot, IM is little more than the first: it then prefers
    the model whose predicted classes are the most even, right or wrong."""
    information, entropy = scores.get("information_maximization"), scores.get("target_entropy")
    if information is None or entropy is None:
        return None
    return information - entropy, -entropy


def soft_neighborhood_density(target_logits: np.ndarray, temperature: float = 0.05) -> float:
    """SND: with ``q_i = p_i / ‖p_i‖`` the L2-normalised softmax outputs and ``S_ij = q_i·q_j`` for
    ``j ≠ i``, each row's neighbour distribution is ``P_ij = softmax_j(S_ij / τ)`` and

        SND = (1/N) Σ_i H(P_i)

    (τ = 0.05 as in the paper). A high entropy means each point has many close neighbours: dense,
    well-separated clusters score higher than scattered points."""
    probabilities = softmax(target_logits)
    normalised = probabilities / np.linalg.norm(probabilities, axis=1, keepdims=True)
    similarity = normalised @ normalised.T / temperature
    np.fill_diagonal(similarity, -np.inf)
    return float(_entropy(softmax(similarity)).mean())


def deep_embedded_validation(
    source_train_features: np.ndarray,
    target_features: np.ndarray,
    source_val_features: np.ndarray,
    source_val_logits: np.ndarray,
    source_val_labels: np.ndarray,
    seed: int = 0,
) -> float:
    """DEV, negated. A logistic-regression domain classifier is fitted on source-training features
    (label 0) against target features (label 1); for each source validation sample it gives the
    density ratio ``w_i = (n_S / n_T) · P(T | f_i) / P(S | f_i)`` (≈ p_T(f_i) / p_S(f_i)). With the
    validation losses ``ℓ_i = CE(y_i, p_i)``, the weighted losses ``L_i = w_i ℓ_i`` and the control
    variate ``η = −Cov(L, w) / Var(w)``,

        risk = mean(L) + η · mean(w) − η

    is an unbiased, lower-variance estimate of the target risk; the score is ``−risk``. When source
    and target look alike, ``w ≈ 1`` and the risk is the plain source validation loss."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    features = np.concatenate([source_train_features, target_features]).astype(np.float64)
    domains = np.concatenate([np.zeros(len(source_train_features)), np.ones(len(target_features))])
    scaler = StandardScaler().fit(features)
    classifier = LogisticRegression(max_iter=300, tol=1e-3, random_state=seed).fit(
        scaler.transform(features), domains
    )
    target_probability = classifier.predict_proba(
        scaler.transform(np.asarray(source_val_features, np.float64))
    )[:, 1]
    target_probability = np.clip(target_probability, 1e-6, 1 - 1e-6)
    weights = (
        (len(source_train_features) / len(target_features)) * target_probability / (1 - target_probability)
    )
    probabilities = softmax(source_val_logits)
    losses = -np.log(
        np.clip(probabilities[np.arange(len(probabilities)), np.asarray(source_val_labels)], 1e-12, 1.0)
    )
    weighted = weights * losses
    variance = weights.var(ddof=1)
    eta = -np.cov(weighted, weights, ddof=1)[0, 1] / variance if variance > 1e-12 else 0.0
    risk = weighted.mean() + eta * weights.mean() - eta
    return float(-risk)


def majority_vote(predictions: np.ndarray, classes: int = 10) -> np.ndarray:
    """``predictions (M, N)``: the predicted classes of ``M`` models on the same ``N`` images; the class
    most of them predict for each image (ties to the lower class): shape ``(N,)``."""
    predictions = np.asarray(predictions, np.int64)
    votes = np.zeros((predictions.shape[1], classes), np.int64)
    for row in predictions:
        votes[np.arange(len(row)), row] += 1
    return votes.argmax(axis=1)


def ensemble_agreement(predictions: np.ndarray, classes: int = 10) -> np.ndarray:
    """EnsV: each candidate's agreement with the ensemble of all candidates.

    ``predictions (M, N)``: the predicted classes of ``M`` candidate models on the same ``N``
    unlabeled target images. The ensemble's class for image ``n`` is the one most candidates predict
    (EnsV averages the candidates' probabilities; the sweep keeps classes only, so it is a vote,
    ``majority_vote``), and candidate ``m`` scores ``(1/N) Σ_n [pred_mn = ensemble_n]``: shape ``(M,)``.
    """
    predictions = np.asarray(predictions, np.int64)
    return (predictions == majority_vote(predictions, classes)[None, :]).mean(axis=1)


def estimated_prior(predictions: np.ndarray, classes: int = 10) -> np.ndarray:
    """A label-free estimate of the target's class mix: the Laplace-smoothed histogram of the majority
    vote of ``predictions (M, N)`` (``π̂_k = (n_k + 1) / (N + K)``): shape ``(K,)``, sums to 1."""
    counts = np.bincount(majority_vote(predictions, classes), minlength=classes).astype(np.float64)
    return (counts + 1) / (counts.sum() + classes)


def prior_matched_im(predicted: np.ndarray, target_entropy_score: float, prior: np.ndarray) -> float:
    """``−KL(h ‖ π̂) − (1/N) Σ_i H(p_i)``: information maximisation with its balance term
    ``H(p̄) = log K − KL(p̄ ‖ uniform)`` replaced by how close the histogram ``h`` of the predicted
    classes ``(N,)`` is to the estimated target prior ``π̂`` (``estimated_prior``), the constant dropped;
    ``target_entropy_score`` is the recorded ``target_entropy`` (already negated). At most 0."""
    counts = np.bincount(np.asarray(predicted, np.int64), minlength=len(prior)).astype(np.float64)
    histogram = counts / counts.sum()
    used = histogram > 0
    divergence = float((histogram[used] * np.log(histogram[used] / np.asarray(prior)[used])).sum())
    return -divergence + float(target_entropy_score)


def class_entropy(classes_of: np.ndarray, classes: int = 10) -> float:
    """Entropy (nats) of the histogram of ``classes_of (N,)``: ``log K`` when every class is as common."""
    counts = np.bincount(np.asarray(classes_of, np.int64), minlength=classes).astype(np.float64)
    return float(_entropy(counts / counts.sum()))


def collapsed(
    predicted: np.ndarray, reference_entropy: float, classes: int = 10, ratio: float = COLLAPSE_ENTROPY_RATIO
) -> bool:
    """Whether target predictions ``(N,)`` have collapsed: a class of the source never predicted, or
    a class histogram whose entropy is below ``ratio`` × ``reference_entropy`` (the source labels')."""
    used = len(np.unique(np.asarray(predicted)))
    return used < classes or class_entropy(predicted, classes) < ratio * reference_entropy


def unreadable(drawn_acc: float | None, reference: float | None, margin: float = HANDWRITING_MARGIN) -> bool:
    """The handwriting guard: drawn-style digits (made from the source validation split: no target
    label) read more than ``margin`` worse than the source-only model reads them (``reference``). A
    record from before the guard existed has neither number and passes."""
    return drawn_acc is not None and reference is not None and drawn_acc < reference - margin


def classes_to_text(predicted: np.ndarray) -> str:
    """Predicted classes ``(N,)`` as a compact string (one character each: ``"0"`` is class 0), as the
    sweep's records keep them."""
    return (np.asarray(predicted, np.uint8) + 48).tobytes().decode("ascii")


def classes_from_text(text: str) -> np.ndarray:
    """The inverse of ``classes_to_text``."""
    return np.frombuffer(text.encode("ascii"), np.uint8).astype(np.int64) - 48
