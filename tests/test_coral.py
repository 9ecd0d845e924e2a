import torch

from da_demo.losses import coral_loss, covariance


def test_covariance_matches_numpy_definition():
    features = torch.randn(50, 6, dtype=torch.float64)
    assert torch.allclose(covariance(features), torch.cov(features.T))


def test_coral_is_zero_for_identical_batches_and_positive_otherwise():
    features = torch.randn(64, 16)
    assert coral_loss(features, features.clone()).item() < 1e-10
    assert coral_loss(features, 2.0 * features).item() > 0.0


def test_coral_ignores_a_mean_shift_but_grows_with_the_covariance_gap():
    features = torch.randn(256, 8)
    assert coral_loss(features, features + 5.0).item() < 1e-8
    assert coral_loss(features, 1.5 * features).item() < coral_loss(features, 3.0 * features).item()


def test_coral_formula_on_a_known_case():
    source = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])  # covariance diag(2, 0)
    target = torch.zeros(2, 2)  # covariance 0
    assert torch.isclose(coral_loss(source, target), torch.tensor(4.0 / (4 * 2 * 2)))
