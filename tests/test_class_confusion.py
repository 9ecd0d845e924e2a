"""Minimum class confusion: invariants of the loss on small generated predictions."""

import torch

from da_demo.losses import class_confusion_loss


def test_confident_predictions_spread_over_the_classes_confuse_nothing():
    logits = 30.0 * torch.nn.functional.one_hot(torch.arange(40) % 10, 10).float()
    assert class_confusion_loss(logits, temperature=1.0).item() < 1e-6


def test_uniform_predictions_confuse_every_class_with_every_other():
    # every row of the normalised class-correlation matrix is uniform: (C - 1) / C off the diagonal
    assert torch.isclose(class_confusion_loss(torch.zeros(32, 10), 2.5), torch.tensor(0.9), atol=1e-5)


def test_sharing_probability_between_two_classes_raises_the_loss_and_its_gradient_separates_them():
    confident = 8.0 * torch.nn.functional.one_hot(torch.arange(40) % 10, 10).float()
    mixed = confident.clone()
    mixed[:8, 8] = mixed[:8, 3] = 4.0  # some images torn between 3 and 8
    assert class_confusion_loss(mixed, 2.5) > class_confusion_loss(confident, 2.5)
    logits = mixed.clone().requires_grad_(True)
    class_confusion_loss(logits, 2.5).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_the_certainty_weights_are_constants_for_the_gradient():
    torch.manual_seed(0)
    logits = torch.randn(16, 10, requires_grad=True)
    class_confusion_loss(logits, 2.5).backward()

    # the same loss with its weights computed beforehand, outside the graph
    fixed = logits.detach().clone().requires_grad_(True)
    probabilities = torch.softmax(fixed / 2.5, dim=1)
    with torch.no_grad():
        entropy = -(probabilities * torch.log(probabilities + 1e-5)).sum(dim=1)
        weights = 1 + torch.exp(-entropy)
        weights = (16 * weights / weights.sum()).unsqueeze(1)
    confusion = (probabilities * weights).T @ probabilities
    confusion = confusion / confusion.sum(dim=1, keepdim=True)
    ((confusion.sum() - torch.trace(confusion)) / 10).backward()
    assert torch.allclose(logits.grad, fixed.grad, atol=1e-6)


def test_mcc_with_a_standardised_input_trains_that_variant_and_is_judged_beside_the_pairs_backbone():
    """``standardised_input`` trains on the pair's backbone with an instance-normalised input, from a
    start model of that variant; its handwriting guard compares with the pair's own source-only model,
    and selection counts its records as the pair's (MNIST-M's backbone standardises already)."""
    from da_demo.engine.spec import RunSpec
    from da_demo.models import backbone_variants, build_classifier, standardised
    from da_demo.workflows.tasks import handwriting_reference

    spec = RunSpec.resolve("mnist-usps", "mcc", {"standardised_input": True, "warm_start": True})
    assert (spec.backbone, spec.start.backbone, spec.base_backbone) == ("lean_in", "lean_in", "lean")
    assert handwriting_reference(spec).backbone == "lean"
    assert RunSpec.resolve("mnist-mnistm", "mcc", {"standardised_input": True}).backbone == "wide_gn_in"
    assert standardised("lean_sigmoid") == "lean_in_sigmoid" and standardised("lean_in") == "lean_in"
    assert backbone_variants("lean") == ("lean", "lean_sigmoid", "lean_in", "lean_in_sigmoid")
    assert "wide_gn" not in backbone_variants("wide_gn_in")  # the pair's earlier backbone is not a variant
    # every image comes out with zero mean and unit variance, whatever its brightness
    classifier = build_classifier(spec.backbone, 1)
    first = classifier.extractor[0]
    images = torch.rand(3, 1, 28, 28) * torch.tensor([1.0, 5.0, 0.2]).view(3, 1, 1, 1) + 2.0
    out = first(images)
    assert torch.allclose(out.mean((1, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(out.std((1, 2, 3), unbiased=False), torch.ones(3), atol=1e-2)
