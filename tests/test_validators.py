"""Label-free validators: an invariant each, on small generated data, and their use in training."""

import inspect

import numpy as np
import pytest

from da_demo import validators as v
from da_demo.engine.spec import RunSpec


def logits_from(probabilities):
    return np.log(np.clip(np.asarray(probabilities, np.float64), 1e-9, 1.0))


def confident(labels, k=10, confidence=0.99):
    probabilities = np.full((len(labels), k), (1 - confidence) / (k - 1))
    probabilities[np.arange(len(labels)), labels] = confidence
    return logits_from(probabilities)


def test_no_validator_takes_a_target_label():
    for name in v.SELECTION_VALIDATORS:
        parameters = inspect.signature(getattr(v, name)).parameters
        assert not any("target" in p and "label" in p for p in parameters), (name, list(parameters))


def test_ensv_scores_agreement_with_the_majority_of_candidates():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 10, 500)
    noisy = [np.where(rng.random(500) < error, rng.integers(0, 10, 500), truth) for error in (0.1, 0.2, 0.4)]
    collapsed = np.zeros(500, np.int64)
    scores = v.ensemble_agreement(np.stack([*noisy, collapsed]))
    assert scores.shape == (4,) and np.all((0 <= scores) & (scores <= 1))
    assert scores[0] > scores[1] > scores[2] > scores[3]  # the least noisy agrees most; a collapse least
    assert v.ensemble_agreement(np.stack([truth, truth])).tolist() == [1.0, 1.0]


def test_the_collapse_guard_catches_missing_classes_and_lopsided_histograms():
    balanced = np.arange(1000) % 10
    reference = v.class_entropy(balanced)
    assert reference == pytest.approx(np.log(10))
    assert not v.collapsed(balanced, reference)
    assert v.collapsed(balanced % 9, reference)  # class 9 never predicted
    lopsided = np.where(np.arange(1000) < 700, 3, balanced)  # every class used, 3 for most images
    assert v.collapsed(lopsided, reference)


def test_the_handwriting_guard_stops_half_a_point_inside_the_three_point_goal():
    assert v.HANDWRITING_MARGIN == pytest.approx(0.025)
    assert not v.unreadable(0.880, 0.900)  # 2 points worse: read
    assert v.unreadable(0.872, 0.900)  # 2.8 points worse: within the goal's 3, but at the guard's edge
    assert not v.unreadable(None, 0.900) and not v.unreadable(0.5, None)  # records from before the guard


def test_predicted_classes_round_trip_through_text():
    classes = np.array([0, 9, 3, 3, 7])
    assert v.classes_to_text(classes) == "09337"
    assert v.classes_from_text(v.classes_to_text(classes)).tolist() == classes.tolist()


def test_source_accuracy_counts_correct_source_predictions():
    assert v.source_accuracy(confident(np.array([0, 1, 2, 3])), np.array([0, 1, 2, 9])) == 0.75


def test_entropy_prefers_confident_predictions():
    k = 10
    uniform = np.zeros((50, k))
    assert v.target_entropy(uniform) == pytest.approx(-np.log(k))
    assert v.target_entropy(confident(np.arange(50) % k)) > v.target_entropy(uniform)


def test_information_maximization_is_highest_for_confident_balanced_predictions():
    k = 10
    balanced = confident(np.arange(200) % k)
    one_class = confident(np.zeros(200, int))
    unsure = np.zeros((200, k))
    im_balanced = v.information_maximization(balanced)
    assert im_balanced > v.information_maximization(one_class) and im_balanced > v.information_maximization(
        unsure
    )
    assert im_balanced <= np.log(k) + 1e-9
    assert v.information_maximization(unsure) == pytest.approx(0.0, abs=1e-9)


def test_information_maximization_splits_into_evenness_and_unsureness():
    """The two terms come back from the recorded scores alone, and on confident predictions IM
    prefers the more even class histogram even when it is the wrong one: a target where zeros are
    common, read right, scores below one whose zeros are misread as other digits."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(300, 10)) * 3
    scores = {"information_maximization": v.information_maximization(logits), "target_entropy": v.target_entropy(logits)}
    evenness, unsureness = v.information_terms(scores)
    probabilities = v.softmax(logits)
    assert evenness == pytest.approx(float(v._entropy(probabilities.mean(axis=0))))
    assert unsureness == pytest.approx(float(v._entropy(probabilities).mean()))
    assert v.information_terms({"information_maximization": 2.0}) is None
    truth = np.where(np.arange(1000) < 300, 0, np.arange(1000) % 9 + 1)  # 30% zeros
    misread = np.where((truth == 0) & (np.arange(1000) % 2 == 0), np.arange(1000) % 9 + 1, truth)
    assert v.information_maximization(confident(misread)) > v.information_maximization(confident(truth))


def test_snd_prefers_tight_clusters():
    rng = np.random.default_rng(0)
    labels = np.arange(300) % 10
    tight = confident(labels, confidence=0.95) + rng.normal(scale=0.05, size=(300, 10))
    scattered = rng.normal(scale=2.0, size=(300, 10))
    assert v.soft_neighborhood_density(tight) > v.soft_neighborhood_density(scattered)


def test_dev_is_the_plain_source_validation_loss_when_the_domains_are_the_same():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(4000, 16))
    source_train, target, source_val = features[:1500], features[1500:3000], features[3000:]
    labels = rng.integers(0, 10, size=len(source_val))
    val_logits = rng.normal(size=(len(source_val), 10)) + 3 * np.eye(10)[labels]
    plain_loss = -np.log(v.softmax(val_logits)[np.arange(len(labels)), labels]).mean()
    score = v.deep_embedded_validation(source_train, target, source_val, val_logits, labels)
    assert -score == pytest.approx(plain_loss, rel=0.05)


def test_dev_weights_the_source_samples_that_look_like_the_target():
    """Target features sit where one class of the source lies; the model is wrong on that class
    only: DEV's risk is far above the plain validation loss, as the target's risk would be."""
    rng = np.random.default_rng(2)
    centres = rng.normal(scale=4, size=(10, 8))

    def cloud(labels):
        return centres[labels] + rng.normal(size=(len(labels), 8))

    train_labels, val_labels = rng.integers(0, 10, 2000), rng.integers(0, 10, 2000)
    target = cloud(np.full(1000, 3))
    val_logits = 4 * np.eye(10)[val_labels]
    val_logits[val_labels == 3] = 4 * np.eye(10)[5]  # always wrong on class 3
    plain_loss = -np.log(v.softmax(val_logits)[np.arange(2000), val_labels]).mean()
    risk = -v.deep_embedded_validation(cloud(train_labels), target, cloud(val_labels), val_logits, val_labels)
    assert risk > 3 * plain_loss


def test_validators_are_recorded_during_training_on_unlabeled_target_images(tiny_pair):
    from da_demo.engine.validation import ValidationSet
    from da_demo.workflows.training import TrainingJob

    validation = ValidationSet.of(tiny_pair)
    assert not hasattr(validation, "target_labels")
    allowed = {row.numpy().tobytes() for row in tiny_pair.target_train.images.flatten(1)}
    assert all(row.numpy().tobytes() in allowed for row in validation.target_images.flatten(1))
    job = TrainingJob(
        tiny_pair,
        RunSpec.resolve(tiny_pair.spec, "source_only", {"steps": 20, "batch_size": 16}),
        device="cpu",
        precision="fp32",
    )
    events = list(job.events(eval_every=10, validate=True))
    evaluated = [event for event in events if event.target_acc is not None]
    assert [event.step for event in evaluated] == [10, 20]
    for event in evaluated:
        assert set(event.validators) == set(v.VALIDATORS)
        assert all(np.isfinite(score) for score in event.validators.values())
    assert all(not event.validators for event in events if event.target_acc is None)


def test_the_estimated_prior_is_the_smoothed_histogram_of_the_candidates_vote():
    truth = np.array([0] * 60 + [1] * 30 + [2] * 10)
    wrong = np.where(np.arange(100) % 10 == 0, 3, truth)  # one candidate errs on every tenth image
    prior = v.estimated_prior(np.stack([truth, truth, wrong]), classes=4)
    assert prior.sum() == pytest.approx(1.0)
    assert prior.tolist() == pytest.approx([61 / 104, 31 / 104, 11 / 104, 1 / 104])  # the vote, +1 each


def test_the_prior_matched_im_prefers_the_class_mix_of_the_prior_over_an_even_one():
    prior = np.array([0.4, 0.3, 0.2, 0.1])
    matching = np.repeat(np.arange(4), [40, 30, 20, 10])
    even = np.repeat(np.arange(4), 25)
    assert v.prior_matched_im(matching, -0.2, prior) == pytest.approx(-0.2)  # no divergence left
    assert v.prior_matched_im(even, -0.2, prior) < v.prior_matched_im(matching, -0.2, prior)
    assert v.prior_matched_im(matching, -0.5, prior) < v.prior_matched_im(matching, -0.2, prior)  # less sure
    # plain IM would rank them the other way: the even mix has the higher class entropy
    assert v.class_entropy(even, 4) > v.class_entropy(matching, 4)
